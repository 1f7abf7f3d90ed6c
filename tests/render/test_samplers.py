"""Training camera and clip-time samplers: ranges, dynamic cameras, random fps, determinism."""

import pytest
import torch

from t2v.errors import ConfigError
from t2v.render import (
    CameraSamplerConfig,
    ClipTimeConfig,
    sample_clip_times,
    sample_training_cameras,
)
from t2v.schema import parse


def sample(config=None, seed=0, batch=256, frames=4):
    return sample_training_cameras(
        batch, frames, 32, 24, config, generator=torch.Generator().manual_seed(seed)
    )


def test_default_views_stay_in_the_frontal_band_and_in_range():
    views = sample()
    assert views.cameras.batch_shape == (256, 4)
    assert views.azimuth_deg.min() >= -30 and views.azimuth_deg.max() <= 30
    assert views.azimuth_deg.min() < -25 and views.azimuth_deg.max() > 25  # the band is used
    assert views.elevation_deg.min() >= 0 and views.elevation_deg.max() <= 30
    assert views.distance.min() >= 2.0 and views.distance.max() <= 2.8
    fov = views.cameras.fov_y_deg
    assert fov.min() >= 35 and fov.max() <= 50
    assert not views.moving.any()
    # Positions agree with the reported parameters, and every camera looks at the origin.
    positions = views.cameras.positions
    assert torch.allclose(positions.norm(dim=-1), views.distance, atol=1e-5)
    front_facing = positions[..., 2] / positions[..., [0, 2]].norm(dim=-1)
    assert front_facing.min() > 0.86  # cos(30 deg)
    origin = torch.zeros(256, 4, 1, 3)
    centre = torch.tensor([16.0, 12.0])
    assert torch.allclose(
        views.cameras.project(origin)[:, :, 0], centre.expand(256, 4, 2), atol=1e-3
    )


def test_full_range_views_come_from_all_around():
    views = sample(CameraSamplerConfig.full())
    azimuth = views.azimuth_deg[:, 0]
    behind = azimuth.abs() > 150
    assert behind.sum() > 10  # about 1/6 of 256 views look from behind
    assert (azimuth < -90).sum() > 30 and (azimuth > 90).sum() > 30
    assert (views.cameras.positions[behind, 0, 2] < 0).all()


def test_dynamic_cameras_interpolate_between_start_and_end_poses():
    config = CameraSamplerConfig(
        dynamic_probability=0.5, dynamic_azimuth_deg=20, dynamic_elevation_deg=6
    )
    views = sample(config, frames=5)
    moving = views.moving
    assert 90 < moving.sum() < 166  # about half of 256
    azimuth = views.azimuth_deg
    change = azimuth[:, -1] - azimuth[:, 0]
    assert (change[~moving] == 0).all()
    assert torch.allclose(views.cameras.c2w[~moving, 0], views.cameras.c2w[~moving, -1])
    assert change[moving].abs().max() <= 20 and change[moving].abs().max() > 15
    # Linear in the frame index: constant steps.
    steps = azimuth.diff(dim=1)
    assert torch.allclose(steps, steps[:, :1].expand_as(steps), atol=1e-4)
    elevation_change = views.elevation_deg[:, -1] - views.elevation_deg[:, 0]
    assert elevation_change.abs().max() <= 6
    distance_change = views.distance[:, -1] - views.distance[:, 0]
    assert distance_change.abs().max() <= 0.2 and distance_change[moving].abs().max() > 0.1
    always = sample(CameraSamplerConfig(dynamic_probability=1.0), frames=3)
    assert always.moving.all()


def test_camera_sampling_is_deterministic_for_a_generator():
    first, again, other = sample(seed=5), sample(seed=5), sample(seed=6)
    assert torch.equal(first.cameras.c2w, again.cameras.c2w)
    assert torch.equal(first.cameras.fov_y_deg, again.cameras.fov_y_deg)
    assert not torch.allclose(first.cameras.c2w, other.cameras.c2w)


def test_clip_times_use_a_random_frame_rate_inside_scene_time():
    generator = torch.Generator().manual_seed(0)
    times = sample_clip_times(512, 8, ClipTimeConfig(span=(0.25, 0.75)), generator)
    assert times.shape == (512, 8)
    assert times.min() >= 0 and times.max() <= 1
    stride = times.diff(dim=1)
    assert torch.allclose(stride, stride[:, :1].expand_as(stride), atol=1e-6)  # even spacing
    span = times[:, -1] - times[:, 0]
    assert span.min() >= 0.25 - 1e-6 and span.max() <= 0.75 + 1e-6
    assert span.min() < 0.3 and span.max() > 0.7  # frame rate varies over the range
    assert times[:, 0].min() < 0.05 and times[:, -1].max() > 0.95  # all of [0, 1] is reached
    again = sample_clip_times(512, 8, ClipTimeConfig(span=(0.25, 0.75)), torch.Generator())
    assert not torch.equal(times, again)
    same = sample_clip_times(
        512, 8, ClipTimeConfig(span=(0.25, 0.75)), torch.Generator().manual_seed(0)
    )
    assert torch.equal(times, same)
    whole = sample_clip_times(2, 5, ClipTimeConfig(span=(1.0, 1.0)))
    assert torch.allclose(whole, torch.linspace(0, 1, 5).expand(2, 5))
    single = sample_clip_times(100, 1, generator=generator)
    assert single.shape == (100, 1) and single.std() > 0.2


def test_sampler_configs_reject_bad_ranges():
    with pytest.raises(ConfigError, match=r"cameras.azimuth_deg: range \(30.0, -30.0\) has low"):
        parse(CameraSamplerConfig, {"azimuth_deg": [30, -30]}, "cameras")
    with pytest.raises(ConfigError, match="cameras has unknown key 'azimuth'"):
        parse(CameraSamplerConfig, {"azimuth": [0, 1]}, "cameras")
    with pytest.raises(ConfigError, match=r"cameras.dynamic_probability = 1.5"):
        parse(CameraSamplerConfig, {"dynamic_probability": 1.5}, "cameras")
    with pytest.raises(ConfigError, match=r"cameras.elevation_deg.1 = 90"):
        parse(CameraSamplerConfig, {"elevation_deg": [0, 90]}, "cameras")
    with pytest.raises(ConfigError, match=r"times.span.1 = 1.5"):
        parse(ClipTimeConfig, {"span": [0.5, 1.5]}, "times")
    with pytest.raises(ValueError, match="dynamic_probability"):
        CameraSamplerConfig(dynamic_probability=1.5)


def test_a_stage_patches_the_renderer_cameras_and_is_checked_as_a_whole():
    defaults = CameraSamplerConfig(dynamic_probability=0.5)
    assert defaults.patched(None, "schedule.dynamic.cameras") is defaults
    patched = defaults.patched(
        {"azimuth_deg": [-45, 45], "dynamic_probability": 0}, "schedule.dynamic.cameras"
    )
    assert patched == CameraSamplerConfig(azimuth_deg=(-45.0, 45.0), dynamic_probability=0.0)
    assert isinstance(patched.azimuth_deg[0], float)
    with pytest.raises(ConfigError) as error:
        defaults.patched({"fov_deg": [60, 40]}, "schedule.dynamic.cameras")
    assert str(error.value) == "schedule.dynamic.cameras.fov_deg: range (60.0, 40.0) has low > high"
    with pytest.raises(ConfigError, match=r"schedule.static.cameras has unknown key 'fov'"):
        defaults.patched({"fov": [30, 40]}, "schedule.static.cameras")
