"""Signed distance functions of the procedural objects, in object space (radius about 1).

Each returns a lower bound of the distance (exact or scaled to stay 1-Lipschitz), which is
all sphere tracing needs. Points come as separate coordinate tensors `x, y, z` of one shape
(component arithmetic is several times faster than last-axis norms on the CPU); +y is the
object's up axis.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

Sdf = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def _length(*components: torch.Tensor) -> torch.Tensor:
    return sum(c * c for c in components).sqrt()  # type: ignore[union-attr]


def sphere(x: torch.Tensor, y: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    return _length(x, y, z) - 1.0


def cube(
    x: torch.Tensor, y: torch.Tensor, z: torch.Tensor, half: float = 0.72, rounding: float = 0.06
) -> torch.Tensor:
    ex, ey, ez = (c.abs() - (half - rounding) for c in (x, y, z))
    outside = _length(ex.clamp(min=0.0), ey.clamp(min=0.0), ez.clamp(min=0.0))
    inside = torch.maximum(torch.maximum(ex, ey), ez).clamp(max=0.0)
    return outside + inside - rounding


def cone(
    x: torch.Tensor, y: torch.Tensor, z: torch.Tensor, height: float = 1.8, radius: float = 0.85
) -> torch.Tensor:
    apex_y = height / 2
    # Distance to the slanted side line through (0, apex) and (radius, -apex), and to the base.
    side = (_length(x, z) * height + (y - apex_y) * radius) / math.hypot(height, radius)
    return torch.maximum(side, -(y + apex_y))


def cylinder(
    x: torch.Tensor, y: torch.Tensor, z: torch.Tensor, height: float = 1.6, radius: float = 0.7
) -> torch.Tensor:
    return torch.maximum(_length(x, z) - radius, y.abs() - height / 2)


def torus(
    x: torch.Tensor, y: torch.Tensor, z: torch.Tensor, major: float = 0.7, minor: float = 0.3
) -> torch.Tensor:
    # The ring stands up facing the camera (axis along z), so it reads as a ring, not a line.
    return _length(_length(x, y) - major, z) - minor


def star(
    x: torch.Tensor,
    y: torch.Tensor,
    z: torch.Tensor,
    outer: float = 1.05,
    inner: float = 0.45,
    depth: float = 0.22,
) -> torch.Tensor:
    # A five-pointed star prism facing the camera; the polar outline is piecewise linear in
    # angle, and the 0.5 factor keeps the bound 1-Lipschitz near the points.
    angle = torch.atan2(x, y)  # 0 at +y, so one point is straight up
    sector = torch.remainder(angle / (2 * math.pi / 5), 1.0)
    outline = inner + (outer - inner) * (2 * sector - 1).abs()
    flat = 0.5 * (_length(x, y) - outline)
    return torch.maximum(flat, z.abs() - depth)


SHAPE_SDFS: dict[str, Sdf] = {
    "sphere": sphere,
    "cube": cube,
    "cone": cone,
    "cylinder": cylinder,
    "torus": torus,
    "star": star,
}

# Flat shapes face the camera and spin in their own plane (like a pinwheel), so spinning
# never turns them edge-on, which would read as shrinking.
FACING = frozenset({"torus", "star"})
# Shapes that look the same while spinning about their axis get painted stripes.
STRIPED = frozenset({"sphere", "cone", "cylinder", "torus"})
