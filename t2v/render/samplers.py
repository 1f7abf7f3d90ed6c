"""Training-time samplers: random cameras (optionally moving within a clip) and clip times.

Motion words are screen-space (DESIGN.md, pitfalls): seen from behind, world-left is
screen-right, so SDS from cameras all around would pull motion both ways. The default
azimuth range is therefore a frontal band (FRONTAL_AZIMUTH_DEG); the static stage, which has
no motion to protect, asks for FULL_AZIMUTH_DEG.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import torch
from torch import Tensor

from t2v.errors import ConfigError
from t2v.render.cameras import Cameras, orbit_cameras

FRONTAL_AZIMUTH_DEG = (-30.0, 30.0)
FULL_AZIMUTH_DEG = (-180.0, 180.0)
MAX_ELEVATION_DEG = 85.0


@dataclass(frozen=True)
class CameraSamplerConfig:
    """Ranges (low, high) of the random training views, and how cameras move within a clip.

    A clip's camera moves with probability `dynamic_probability`: its end pose differs from
    its start pose by up to +-dynamic_* in azimuth, elevation and distance, and the pose is
    interpolated linearly over the T frames.
    """

    azimuth_deg: tuple[float, float] = FRONTAL_AZIMUTH_DEG
    elevation_deg: tuple[float, float] = (0.0, 30.0)
    distance: tuple[float, float] = (2.0, 2.8)
    fov_deg: tuple[float, float] = (35.0, 50.0)
    dynamic_probability: float = 0.0
    dynamic_azimuth_deg: float = 15.0
    dynamic_elevation_deg: float = 5.0
    dynamic_distance: float = 0.2

    @classmethod
    def full(cls, **overrides: Any) -> CameraSamplerConfig:
        """Views from all around (the static stage)."""
        return cls(azimuth_deg=FULL_AZIMUTH_DEG, **overrides)

    @classmethod
    def from_config(cls, node: Any) -> CameraSamplerConfig:
        values = _known_values(cls, node, "cameras")
        for name in ("azimuth_deg", "elevation_deg", "distance", "fov_deg"):
            if name in values:
                values[name] = tuple(float(v) for v in values[name])
        config = cls(**values)
        config.check()
        return config

    def check(self) -> None:
        for name in ("azimuth_deg", "elevation_deg", "distance", "fov_deg"):
            low, high = getattr(self, name)
            if low > high:
                raise ConfigError(f"cameras.{name} range ({low}, {high}) has low > high")
        if self.elevation_deg[0] < -MAX_ELEVATION_DEG or self.elevation_deg[1] > MAX_ELEVATION_DEG:
            raise ConfigError(f"cameras.elevation_deg must stay within +-{MAX_ELEVATION_DEG}")
        if self.distance[0] <= 0:
            raise ConfigError("cameras.distance must be > 0")
        if self.fov_deg[0] <= 0 or self.fov_deg[1] >= 180:
            raise ConfigError("cameras.fov_deg must lie in (0, 180)")
        if not 0.0 <= self.dynamic_probability <= 1.0:
            raise ConfigError("cameras.dynamic_probability must lie in [0, 1]")


@dataclass(frozen=True)
class ClipTimeConfig:
    """Random frame rate: a clip of T frames covers a random fraction of scene time [0, 1].

    span: (low, high) fraction of [0, 1] between a clip's first and last frame, i.e. the
    stride between frames is span / (T - 1): a larger span is a lower frame rate.
    """

    span: tuple[float, float] = (0.5, 1.0)

    @classmethod
    def from_config(cls, node: Any) -> ClipTimeConfig:
        values = _known_values(cls, node, "times")
        if "span" in values:
            values["span"] = tuple(float(v) for v in values["span"])
        config = cls(**values)
        config.check()
        return config

    def check(self) -> None:
        low, high = self.span
        if not 0.0 <= low <= high <= 1.0:
            raise ConfigError(f"times.span ({low}, {high}) must satisfy 0 <= low <= high <= 1")


@dataclass
class SampledCameras:
    """Cameras (B, T) and the view parameters that made them, each (B, T)."""

    cameras: Cameras
    azimuth_deg: Tensor  # wrapped to [-180, 180)
    elevation_deg: Tensor
    distance: Tensor
    moving: Tensor  # (B,) bool: whether this clip's camera moves


def sample_training_cameras(
    batch: int,
    frames: int,
    width: int,
    height: int,
    config: CameraSamplerConfig | None = None,
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
) -> SampledCameras:
    """Random views looking at the origin; deterministic given `generator`."""
    config = config or CameraSamplerConfig()
    config.check()

    def uniform(low: float, high: float, shape: tuple[int, ...]) -> Tensor:
        return low + (high - low) * torch.rand(shape, generator=generator)

    start_azimuth = uniform(*config.azimuth_deg, (batch,))
    start_elevation = uniform(*config.elevation_deg, (batch,))
    start_distance = uniform(*config.distance, (batch,))
    fov = uniform(*config.fov_deg, (batch,))
    moving = torch.rand(batch, generator=generator) < config.dynamic_probability
    change = torch.rand(batch, 3, generator=generator) * 2 - 1
    scale = torch.tensor(
        [config.dynamic_azimuth_deg, config.dynamic_elevation_deg, config.dynamic_distance]
    )
    change = change * scale * moving[:, None]
    progress = torch.linspace(0.0, 1.0, frames) if frames > 1 else torch.zeros(1)
    azimuth = start_azimuth[:, None] + change[:, :1] * progress
    elevation = (start_elevation[:, None] + change[:, 1:2] * progress).clamp(
        -MAX_ELEVATION_DEG, MAX_ELEVATION_DEG
    )
    distance = (start_distance[:, None] + change[:, 2:3] * progress).clamp_min(0.1)
    fov = fov[:, None].expand(batch, frames)
    cameras = orbit_cameras(azimuth, elevation, distance, fov, width, height).to(device)
    wrapped = torch.remainder(azimuth + 180.0, 360.0) - 180.0
    return SampledCameras(
        cameras=cameras,
        azimuth_deg=wrapped.to(device),
        elevation_deg=elevation.to(device),
        distance=distance.to(device),
        moving=moving.to(device),
    )


def sample_clip_times(
    batch: int,
    frames: int,
    config: ClipTimeConfig | None = None,
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
) -> Tensor:
    """Scene times (B, T): t0 + stride * k with a random stride (frame rate) per clip.

    The span stride * (T - 1) is drawn from `config.span` and t0 from [0, 1 - span], so every
    clip stays inside [0, 1]. A single frame gets a uniform random time.
    """
    config = config or ClipTimeConfig()
    config.check()
    low, high = config.span
    span = low + (high - low) * torch.rand(batch, generator=generator)
    if frames == 1:
        span = torch.zeros(batch)
    start = torch.rand(batch, generator=generator) * (1.0 - span)
    steps = torch.arange(frames, dtype=torch.float32) / max(frames - 1, 1)
    times = start[:, None] + span[:, None] * steps
    return times.clamp(0.0, 1.0).to(device)


def _known_values(cls: type, node: Any, where: str) -> dict[str, Any]:
    values = dict(node or {})
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(
            f"{where} has unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    return values
