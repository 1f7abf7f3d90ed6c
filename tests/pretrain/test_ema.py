"""EMA arithmetic: warm-up decay and the parameter/buffer update."""

import pytest
import torch

from t2v.pretrain.ema import ema_decay_at, update_ema


def test_decay_warms_up_then_caps():
    assert ema_decay_at(0, 0.999) == pytest.approx(0.1)
    assert ema_decay_at(90, 0.999) == pytest.approx(0.91)
    assert ema_decay_at(100_000, 0.999) == pytest.approx(0.999)


def test_update_moves_parameters_by_one_minus_decay_and_copies_buffers():
    average = torch.nn.BatchNorm1d(2)
    model = torch.nn.BatchNorm1d(2)
    with torch.no_grad():
        average.weight.fill_(0.0)
        model.weight.fill_(1.0)
        model.running_mean.fill_(3.0)
    update_ema(average, model, decay=0.9)
    assert average.weight.tolist() == pytest.approx([0.1, 0.1])
    update_ema(average, model, decay=0.9)
    assert average.weight.tolist() == pytest.approx([0.19, 0.19])
    assert average.running_mean.tolist() == [3.0, 3.0]
    assert model.weight.tolist() == [1.0, 1.0]
