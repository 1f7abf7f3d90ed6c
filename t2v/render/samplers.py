"""Training-time samplers: random cameras (optionally moving within a clip) and clip times.

Motion words are screen-space (DESIGN.md, pitfalls): seen from behind, world-left is
screen-right, so SDS from cameras all around would pull motion both ways. The default
azimuth range is therefore a frontal band (FRONTAL_AZIMUTH_DEG); the static stage, which has
no motion to protect, asks for FULL_AZIMUTH_DEG.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Annotated, Any

import torch
from pydantic import AfterValidator, Field
from torch import Tensor

from t2v.render.cameras import Cameras, orbit_cameras
from t2v.schema import Float, NonNegativeFloat, PositiveFloat, UnitFloat, parse, settings

FRONTAL_AZIMUTH_DEG = (-30.0, 30.0)
FULL_AZIMUTH_DEG = (-180.0, 180.0)
MAX_ELEVATION_DEG = 85.0


def _rising(pair: tuple[float, float]) -> tuple[float, float]:
    low, high = pair
    if low > high:
        raise ValueError(f"range ({low}, {high}) has low > high")
    return pair


Elevation = Annotated[Float, Field(ge=-MAX_ELEVATION_DEG, le=MAX_ELEVATION_DEG)]
FieldOfView = Annotated[Float, Field(gt=0, lt=180)]
AngleRange = Annotated[tuple[Float, Float], AfterValidator(_rising)]
ElevationRange = Annotated[tuple[Elevation, Elevation], AfterValidator(_rising)]
DistanceRange = Annotated[tuple[PositiveFloat, PositiveFloat], AfterValidator(_rising)]
FieldOfViewRange = Annotated[tuple[FieldOfView, FieldOfView], AfterValidator(_rising)]
SpanRange = Annotated[tuple[UnitFloat, UnitFloat], AfterValidator(_rising)]


@settings
class CameraSamplerConfig:
    """Ranges (low, high) of the random training views, and how cameras move within a clip.

    A clip's camera moves with probability `dynamic_probability`: its end pose differs from
    its start pose by up to +-dynamic_* in azimuth, elevation and distance, and the pose is
    interpolated linearly over the T frames.
    """

    azimuth_deg: AngleRange = FRONTAL_AZIMUTH_DEG
    elevation_deg: ElevationRange = (0.0, 30.0)
    distance: DistanceRange = (2.0, 2.8)
    fov_deg: FieldOfViewRange = (35.0, 50.0)
    dynamic_probability: UnitFloat = 0.0
    dynamic_azimuth_deg: NonNegativeFloat = 15.0
    dynamic_elevation_deg: NonNegativeFloat = 5.0
    dynamic_distance: NonNegativeFloat = 0.2

    @classmethod
    def full(cls, **overrides: Any) -> CameraSamplerConfig:
        """Views from all around (the static stage)."""
        return cls(azimuth_deg=FULL_AZIMUTH_DEG, **overrides)

    def patched(self, overrides: Mapping[str, Any] | None, where: str) -> CameraSamplerConfig:
        """These settings with `overrides` (some keys, e.g. a schedule stage's `cameras`) on
        top, checked as a whole; a bad key or value is one ConfigError naming `where.<key>`."""
        if not overrides:
            return self
        return parse(CameraSamplerConfig, {**asdict(self), **overrides}, where)


@settings
class ClipTimeConfig:
    """Random frame rate: a clip of T frames covers a random fraction of scene time [0, 1].

    span: (low, high) fraction of [0, 1] between a clip's first and last frame, i.e. the
    stride between frames is span / (T - 1): a larger span is a lower frame rate.
    """

    span: SpanRange = (0.5, 1.0)


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
    low, high = config.span
    span = low + (high - low) * torch.rand(batch, generator=generator)
    if frames == 1:
        span = torch.zeros(batch)
    start = torch.rand(batch, generator=generator) * (1.0 - span)
    steps = torch.arange(frames, dtype=torch.float32) / max(frames - 1, 1)
    times = start[:, None] + span[:, None] * steps
    return times.clamp(0.0, 1.0).to(device)
