"""Ray-box intersection and stratified sampling of distances along rays.

Each sample stands for its own bin: a ray's [near, far] span is cut into `num_samples` equal
bins, a sample sits at the bin's midpoint (evaluation) or at a uniformly jittered point in it
(training), and its `delta` is the bin width. The deltas of a ray therefore sum to exactly
far - near, which is what makes a constant-density segment composite to 1 - exp(-sigma * L).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass
class RaySamples:
    """Distances along each ray, (R, S), and the bin width each sample stands for, (R, S)."""

    distances: Tensor
    deltas: Tensor


def intersect_box(
    origins: Tensor, directions: Tensor, radius: float = 1.0, min_near: float = 0.0
) -> tuple[Tensor, Tensor, Tensor]:
    """Entry and exit distances of rays through the box [-radius, radius]^3 (slab method).

    origins, directions: (R, 3). Returns near (R,), far (R,) and hit (R,) bool. The near
    distance is clamped to `min_near` so a camera inside the box starts at itself; rays that
    miss get near = far = min_near.
    """
    safe = torch.where(directions.abs() < 1e-12, torch.full_like(directions, 1e-12), directions)
    inverse = 1.0 / safe
    t_low = (-radius - origins) * inverse
    t_high = (radius - origins) * inverse
    near = torch.minimum(t_low, t_high).amax(dim=-1).clamp_min(min_near)
    far = torch.maximum(t_low, t_high).amin(dim=-1)
    hit = far > near
    far = torch.where(hit, far, near)
    return near, far, hit


def stratified_samples(
    near: Tensor, far: Tensor, num_samples: int, jitter: Tensor | None = None
) -> RaySamples:
    """`num_samples` distances per ray between near (R,) and far (R,), one per equal bin.

    jitter: (R, S) uniform values in [0, 1) placing each sample inside its bin; None puts
    samples at bin midpoints.
    """
    offsets = jitter if jitter is not None else torch.full_like(near, 0.5)[:, None]
    bins = torch.arange(num_samples, dtype=near.dtype, device=near.device)
    width = ((far - near) / num_samples)[:, None]
    distances = near[:, None] + (bins[None, :] + offsets) * width
    return RaySamples(distances=distances, deltas=width.expand_as(distances))
