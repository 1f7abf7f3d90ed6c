"""Ramp: explicit schedule objects."""

import pytest

from t2v.errors import ConfigError
from t2v.schedules import Ramp
from t2v.schema import parse


def test_linear_ramp_holds_then_interpolates_then_holds() -> None:
    ramp = Ramp(start_step=10, end_step=30, start=0.0, end=2.0)
    assert [ramp(s) for s in (0, 10, 20, 25, 30, 100)] == [0.0, 0.0, 1.0, 1.5, 2.0, 2.0]


def test_cosine_ramp_is_slow_at_both_ends() -> None:
    ramp = Ramp(0, 100, 0.0, 1.0, shape="cosine")
    assert ramp(50) == pytest.approx(0.5)
    assert ramp(10) < 0.1 < Ramp(0, 100, 0.0, 1.0)(10) + 1e-9


def test_ramps_from_config_values_and_bad_ramps() -> None:
    assert parse(Ramp, 0.3, "weight")(1000) == 0.3
    assert parse(Ramp, 2, "weight") == Ramp.constant(2.0)
    assert parse(Ramp, {"start_step": 0, "end_step": 4, "start": 1, "end": 0}, "weight")(2) == 0.5
    with pytest.raises(ConfigError) as error:
        parse(Ramp, {"start_step": 5, "end_step": 1, "start": 0.0, "end": 1.0}, "weight")
    assert str(error.value) == "weight: the ramp ends (end_step 1) before it starts (start_step 5)"
    with pytest.raises(ConfigError, match=r"weight.shape = 'step'"):
        parse(
            Ramp,
            {"start_step": 0, "end_step": 1, "start": 0.0, "end": 1.0, "shape": "step"},
            "weight",
        )
    with pytest.raises(ConfigError, match=r"weight = True"):
        parse(Ramp, True, "weight")
    with pytest.raises(ConfigError, match=r"weight.end_step is missing"):
        parse(Ramp, {"start_step": 0, "start": 0.0, "end": 1.0}, "weight")
    with pytest.raises(ValueError, match="end_step"):
        Ramp(5, 1, 0.0, 1.0)
