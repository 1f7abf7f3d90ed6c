"""The fitting helper: input checks, PSNR, and a few steps that lower the loss."""

from __future__ import annotations

import math

import pytest
import torch

from t2v.errors import ConfigError
from t2v.field import PlaneSpec, SceneField
from t2v.fit import PosedFrames, fit_field, psnr, render_psnr
from t2v.render import OccupancyConfig, VolumeRenderer, orbit_cameras


def grey_frames(views: int, frames: int, size: int, value: float) -> PosedFrames:
    azimuth = torch.linspace(-40, 40, views)[:, None].expand(views, frames)
    cameras = orbit_cameras(
        azimuth,
        torch.full_like(azimuth, 10.0),
        torch.full_like(azimuth, 3.0),
        torch.full_like(azimuth, 40.0),
        size,
        size,
    )
    images = torch.full((views, frames, 3, size, size), value)
    times = torch.linspace(0, 1, frames).expand(views, frames)
    return PosedFrames(images, cameras, times)


def test_psnr_values() -> None:
    target = torch.zeros(2, 3, 4, 4)
    assert psnr(target + 0.1, target) == pytest.approx(20.0)
    assert psnr(target + 0.01, target) == pytest.approx(40.0)


def test_posed_frames_checks_shapes() -> None:
    frames = grey_frames(2, 3, 8, 0.5)
    with pytest.raises(ConfigError, match="images must be"):
        PosedFrames(frames.images[:, :2], frames.cameras, frames.times)
    with pytest.raises(ConfigError, match="times must be"):
        PosedFrames(frames.images, frames.cameras, frames.times[:, :2])


def test_a_few_steps_move_the_field_towards_the_images() -> None:
    # Frames of a uniform dark grey over a white background: the blob must turn dark.
    train = grey_frames(2, 2, 8, 0.2)
    planes = PlaneSpec(features=2, resolutions=[8], time_resolution=2)
    field = SceneField(planes, planes, hidden_dim=16, background="solid", solid_color=(1, 1, 1))
    renderer = VolumeRenderer(num_samples=16, occupancy=OccupancyConfig(enabled=False))
    before = render_psnr(field, renderer, train)
    result = fit_field(
        field, renderer, train, steps=30, rays_per_step=128, held_out=train, eval_every=10
    )
    assert result.steps == [10, 20, 30]
    assert len(result.train_psnr) == 3 and len(result.held_out_psnr) == 3
    assert result.held_out_psnr[-1] > before + 3.0
    assert all(math.isfinite(v) for v in result.train_psnr)
