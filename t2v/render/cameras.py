"""Pinhole cameras batched over (batch, frame), with look-at and spherical placement helpers.

Convention (OpenGL, as in the shared contract): a camera looks down its own -z axis, +y is up
and +x is right in the image; world +y is up. The default front camera sits on +z and looks
at the origin, so screen-left is world -x. Azimuth 0 is that front view; positive azimuth
turns the camera towards +x (the scene's right side).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from t2v.errors import ConfigError

WORLD_UP = (0.0, 1.0, 0.0)


@dataclass
class Cameras:
    """Pinhole cameras, one per (batch, frame): a per-frame pose lets a camera move in a clip.

    c2w: (B, T, 4, 4) camera-to-world matrices. fov_y_deg: (B, T) vertical field of view;
    the horizontal one follows from the aspect ratio. width, height: image size in pixels.
    """

    c2w: Tensor
    fov_y_deg: Tensor
    width: int
    height: int

    def __post_init__(self) -> None:
        if self.c2w.dim() != 4 or self.c2w.shape[-2:] != (4, 4):
            raise ValueError(f"c2w must be (B, T, 4, 4), got {tuple(self.c2w.shape)}")
        if self.fov_y_deg.shape != self.c2w.shape[:2]:
            raise ValueError(
                f"fov_y_deg must be {tuple(self.c2w.shape[:2])}, got {tuple(self.fov_y_deg.shape)}"
            )
        if int(self.width) < 1 or int(self.height) < 1:
            raise ConfigError(f"image size {self.width}x{self.height} must be at least 1x1")
        self.width, self.height = int(self.width), int(self.height)

    @classmethod
    def look_at(
        cls,
        eyes: Tensor,
        targets: Tensor,
        fov_y_deg: Tensor | float,
        width: int,
        height: int,
        up: Tensor | None = None,
    ) -> Cameras:
        """Cameras at `eyes` (B, T, 3) looking at `targets` (B, T, 3); `up` defaults to +y."""
        c2w = look_at(eyes, targets, up)
        fov = torch.as_tensor(fov_y_deg, dtype=c2w.dtype, device=c2w.device)
        return cls(c2w, fov.expand(c2w.shape[:2]).clone(), width, height)

    @property
    def batch_shape(self) -> tuple[int, int]:
        return (self.c2w.shape[0], self.c2w.shape[1])

    @property
    def aspect(self) -> float:
        return self.width / self.height

    @property
    def positions(self) -> Tensor:
        """Camera centres in world space, (B, T, 3)."""
        return self.c2w[..., :3, 3]

    @property
    def fov_x_deg(self) -> Tensor:
        """Horizontal field of view implied by fov_y and the aspect ratio, (B, T)."""
        half_y = torch.deg2rad(self.fov_y_deg) / 2
        return torch.rad2deg(2 * torch.atan(torch.tan(half_y) * self.aspect))

    @property
    def focal_px(self) -> Tensor:
        """Focal length in pixels (square pixels), (B, T)."""
        return (self.height / 2) / torch.tan(torch.deg2rad(self.fov_y_deg) / 2)

    def resized(self, width: int, height: int) -> Cameras:
        """Same poses and vertical field of view at another image size."""
        return Cameras(self.c2w, self.fov_y_deg, width, height)

    def to(self, device: torch.device | str) -> Cameras:
        return Cameras(self.c2w.to(device), self.fov_y_deg.to(device), self.width, self.height)

    def project(self, points: Tensor) -> Tensor:
        """Pixel coordinates (x right, y down; pixel i spans [i, i+1]) of world points.

        points: (B, T, N, 3) -> (B, T, N, 2). Points behind the camera give meaningless values.
        """
        rotation = self.c2w[..., :3, :3]
        local = torch.einsum("btji,btnj->btni", rotation, points - self.positions[:, :, None])
        depth = -local[..., 2].clamp(max=-1e-9)
        focal = self.focal_px[..., None]
        x = self.width / 2 + focal * local[..., 0] / depth
        y = self.height / 2 - focal * local[..., 1] / depth
        return torch.stack([x, y], dim=-1)


def look_at(eyes: Tensor, targets: Tensor, up: Tensor | None = None) -> Tensor:
    """Camera-to-world matrices (..., 4, 4) for cameras at `eyes` looking at `targets`.

    The camera's -z points at the target, +x is right and +y is as close to `up` as it can be.
    """
    if up is None:
        up = eyes.new_tensor(WORLD_UP)
    up = up.expand_as(eyes)
    forward = _normalize(targets - eyes)
    right = torch.linalg.cross(forward, up)
    # Looking straight along `up` leaves "right" undefined: fall back to world +x.
    degenerate = right.norm(dim=-1, keepdim=True) < 1e-6
    right = _normalize(torch.where(degenerate, eyes.new_tensor([1.0, 0.0, 0.0]), right))
    true_up = torch.linalg.cross(right, forward)
    c2w = torch.zeros(*eyes.shape[:-1], 4, 4, dtype=eyes.dtype, device=eyes.device)
    c2w[..., :3, 0] = right
    c2w[..., :3, 1] = true_up
    c2w[..., :3, 2] = -forward
    c2w[..., :3, 3] = eyes
    c2w[..., 3, 3] = 1.0
    return c2w


def spherical_positions(azimuth_deg: Tensor, elevation_deg: Tensor, distance: Tensor) -> Tensor:
    """Points at (azimuth, elevation, distance) around the origin, (..., 3).

    Azimuth 0 is the front (+z); positive azimuth turns towards +x; elevation is above the
    horizontal plane.
    """
    azimuth = torch.deg2rad(azimuth_deg)
    elevation = torch.deg2rad(elevation_deg)
    return torch.stack(
        [
            distance * torch.cos(elevation) * torch.sin(azimuth),
            distance * torch.sin(elevation),
            distance * torch.cos(elevation) * torch.cos(azimuth),
        ],
        dim=-1,
    )


def orbit_cameras(
    azimuth_deg: Tensor,
    elevation_deg: Tensor,
    distance: Tensor,
    fov_y_deg: Tensor,
    width: int,
    height: int,
    targets: Tensor | None = None,
) -> Cameras:
    """Cameras placed on spheres around `targets` (default: the origin); all inputs (B, T)."""
    eyes = spherical_positions(azimuth_deg, elevation_deg, distance)
    if targets is None:
        targets = torch.zeros_like(eyes)
    return Cameras.look_at(eyes + targets, targets, fov_y_deg, width, height)


def _normalize(vectors: Tensor) -> Tensor:
    return vectors / vectors.norm(dim=-1, keepdim=True).clamp_min(1e-12)


def check_fov(fov_deg: float) -> None:
    if not 0.0 < fov_deg < 180.0 or math.isnan(fov_deg):
        raise ConfigError(f"field of view {fov_deg} deg must lie in (0, 180)")
