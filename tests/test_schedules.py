"""Ramp: explicit schedule objects."""

import pytest

from t2v.schedules import Ramp


def test_linear_ramp_holds_then_interpolates_then_holds() -> None:
    ramp = Ramp(start_step=10, end_step=30, start=0.0, end=2.0)
    assert [ramp(s) for s in (0, 10, 20, 25, 30, 100)] == [0.0, 0.0, 1.0, 1.5, 2.0, 2.0]


def test_cosine_ramp_is_slow_at_both_ends() -> None:
    ramp = Ramp(0, 100, 0.0, 1.0, shape="cosine")
    assert ramp(50) == pytest.approx(0.5)
    assert ramp(10) < 0.1 < Ramp(0, 100, 0.0, 1.0)(10) + 1e-9


def test_from_config_and_bad_ramps() -> None:
    assert Ramp.from_config(0.3)(1000) == 0.3
    assert Ramp.from_config({"start_step": 0, "end_step": 4, "start": 1, "end": 0})(2) == 0.5
    with pytest.raises(ValueError, match="end_step"):
        Ramp(5, 1, 0.0, 1.0)
    with pytest.raises(ValueError, match="shape"):
        Ramp(0, 1, 0.0, 1.0, shape="step")
