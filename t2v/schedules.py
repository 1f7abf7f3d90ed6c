"""Explicit schedules read by stages and callbacks: a value as a function of the global step."""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import model_validator

from t2v.schema import Float, NonNegativeInt, settings


@settings
class Ramp:
    """`start` until `start_step`, then linear (or cosine) to `end` at `end_step`, then `end`.

    Read from a config node, a number is a constant weight and a mapping gives the fields:
    `parse(Ramp, 0.3, where)` or `parse(Ramp, {"start_step": 0, "end_step": 500, ...}, where)`.
    """

    start_step: NonNegativeInt
    end_step: NonNegativeInt
    start: Float
    end: Float
    shape: Literal["linear", "cosine"] = "linear"

    @model_validator(mode="before")
    @classmethod
    def _number_is_constant(cls, data: Any) -> Any:
        if isinstance(data, int | float) and not isinstance(data, bool):
            return {"start_step": 0, "end_step": 0, "start": data, "end": data}
        return data

    def __post_init__(self) -> None:
        if self.end_step < self.start_step:
            raise ValueError(
                f"the ramp ends (end_step {self.end_step}) before it starts "
                f"(start_step {self.start_step})"
            )

    def __call__(self, step: int) -> float:
        if step <= self.start_step:
            return self.start
        if step >= self.end_step:
            return self.end
        progress = (step - self.start_step) / (self.end_step - self.start_step)
        if self.shape == "cosine":
            progress = 0.5 - 0.5 * math.cos(math.pi * progress)
        return self.start + (self.end - self.start) * progress

    @classmethod
    def constant(cls, value: float) -> Ramp:
        return cls(0, 0, value, value)
