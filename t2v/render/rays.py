"""Camera rays through pixel centres (or given points in the pixels), for a whole batch of
cameras or any subset of its pixels.

Rays are indexed flat over (B, T, H, W) in that order, so a renderer can build them chunk by
chunk and never hold every ray of a large render at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from t2v.render.cameras import Cameras


@dataclass
class Rays:
    """Origins and unit directions, (..., 3) each, in world space."""

    origins: Tensor
    directions: Tensor


def num_rays(cameras: Cameras) -> int:
    batch, frames = cameras.batch_shape
    return batch * frames * cameras.height * cameras.width


def rays_for_indices(
    cameras: Cameras, flat_indices: Tensor, pixel_offsets: Tensor | None = None
) -> Rays:
    """Rays of the pixels at `flat_indices` (R,) into the flattened (B, T, H, W) grid.

    pixel_offsets: (R, 2) points (x right, y down) in [0, 1)^2 inside each pixel for its ray to
    pass through; None: the pixel centres (0.5, 0.5).
    """
    width, height = cameras.width, cameras.height
    column = flat_indices % width
    row = (flat_indices // width) % height
    frame_index = flat_indices // (width * height)  # index into the flattened (B, T)
    c2w = cameras.c2w.reshape(-1, 4, 4)[frame_index]
    tan_half_y = torch.tan(torch.deg2rad(cameras.fov_y_deg.reshape(-1)[frame_index]) / 2)
    tan_half_x = tan_half_y * (width / height)
    dtype = c2w.dtype
    offset_x, offset_y = (0.5, 0.5) if pixel_offsets is None else pixel_offsets.to(dtype).unbind(-1)
    # Points in their pixels in normalised device coordinates: x right, y up, both in (-1, 1).
    ndc_x = (column.to(dtype) + offset_x) / width * 2 - 1
    ndc_y = 1 - (row.to(dtype) + offset_y) / height * 2
    local = torch.stack([ndc_x * tan_half_x, ndc_y * tan_half_y, -torch.ones_like(ndc_x)], -1)
    directions = torch.einsum("rij,rj->ri", c2w[:, :3, :3], local)
    directions = directions / directions.norm(dim=-1, keepdim=True)
    return Rays(origins=c2w[:, :3, 3], directions=directions)


def camera_rays(cameras: Cameras) -> Rays:
    """Every ray of the cameras, shaped (B, T, H, W, 3)."""
    batch, frames = cameras.batch_shape
    indices = torch.arange(num_rays(cameras), device=cameras.c2w.device)
    rays = rays_for_indices(cameras, indices)
    shape = (batch, frames, cameras.height, cameras.width, 3)
    return Rays(rays.origins.reshape(shape), rays.directions.reshape(shape))
