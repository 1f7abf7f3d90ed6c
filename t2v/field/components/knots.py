"""Piecewise-linear curves over time: hat weights between knots, and how many knots are allowed.

The global trajectory and the exposure curve are learned values at knots spread evenly over
[0, 1], read between them linearly. A curve needs two knots to exist; 0 switches it off.
"""

from __future__ import annotations

from typing import Annotated

import torch
from pydantic import AfterValidator
from torch import Tensor

from t2v.errors import ConfigError
from t2v.schema import Int

KNOTS_RULE = "must be 0 (off) or >= 2"


def _off_or_at_least_two(knots: int) -> int:
    if knots != 0 and knots < 2:
        raise ValueError(KNOTS_RULE)
    return knots


# A knot count as a typed setting: refused at the door (`t2v.targets`) unless 0 or >= 2.
KnotCount = Annotated[Int, AfterValidator(_off_or_at_least_two)]


def check_knots(name: str, knots: object) -> None:
    """0 (off) or at least 2 knots; a ConfigError naming `field.<name>` otherwise."""
    whole = isinstance(knots, int) and not isinstance(knots, bool)
    if not (whole and (knots == 0 or knots >= 2)):
        raise ConfigError(f"field.{name} = {knots!r} {KNOTS_RULE}")


def hat_weights(times: Tensor, knots: int) -> Tensor:
    """(N, knots) weights of piecewise-linear interpolation between `knots` evenly spread over
    [0, 1], at times (N, 1). Multiplying by the knot values is a dense matmul, whose backward is
    ~3x faster on a CPU than scattering millions of samples' gradients into a few rows."""
    index = torch.arange(knots, device=times.device, dtype=times.dtype)
    position = times.clamp(0.0, 1.0) * (knots - 1)
    return (1.0 - (position - index).abs()).clamp(min=0.0)
