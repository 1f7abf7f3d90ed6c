"""Explicit schedules read by stages and callbacks: a value as a function of the global step."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Ramp:
    """`start` until `start_step`, then linear (or cosine) to `end` at `end_step`, then `end`."""

    start_step: int
    end_step: int
    start: float
    end: float
    shape: str = "linear"  # "linear" | "cosine"

    def __post_init__(self) -> None:
        if self.end_step < self.start_step:
            raise ValueError(f"Ramp end_step {self.end_step} < start_step {self.start_step}")
        if self.shape not in ("linear", "cosine"):
            raise ValueError(f"Ramp shape must be 'linear' or 'cosine', got {self.shape!r}")

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

    @classmethod
    def from_config(cls, node: object) -> Ramp:
        """A number means a constant; a mapping gives the fields."""
        if isinstance(node, int | float):
            return cls.constant(float(node))
        values = dict(node)  # type: ignore[call-overload]
        return cls(
            start_step=int(values["start_step"]),
            end_step=int(values["end_step"]),
            start=float(values["start"]),
            end=float(values["end"]),
            shape=str(values.get("shape", "linear")),
        )
