"""The generator's track term measures a predicted trajectory as the evaluator's tracker
measures the rendered clip: a ball carried by the trajectory gives the same screen track both
ways."""

from __future__ import annotations

import torch

from t2v.field import PlaneSpec, SceneField
from t2v.pretrain.generator_config import genre_preset
from t2v.pretrain.scene_generator import object_tracks, screen_track
from t2v.render import VolumeRenderer, genre_trajectory_cameras

FRAMES = 6


def red_ball(offsets: torch.Tensor) -> SceneField:
    """The field's blob (radius 0.25) in constant red on a grey backdrop, carried along
    `offsets (knots, 3)` by the global trajectory."""
    torch.manual_seed(0)
    planes = PlaneSpec(features=2, resolutions=(8,), time_resolution=4)
    field = SceneField(
        planes,
        planes,
        backend="torch",
        hidden_dim=8,
        trajectory_knots=offsets.shape[0],
        density_blob_radius=0.25,
    )
    with torch.no_grad():
        for head in (field.density_head[-1], field.color_head[-1], field.background_head[-1]):
            head.weight.zero_()
            head.bias.zero_()
        field.color_head[-1].bias.copy_(torch.tensor([4.0, -4.0, -4.0]))
        field.trajectory.offsets.copy_(offsets)
    return field.eval()


def test_predicted_track_matches_the_tracker_on_the_rendered_clip() -> None:
    # Right and up across the frame, then towards the camera (the ball grows).
    offsets = torch.tensor([[-0.3, -0.2, 0.0], [0.0, 0.0, 0.0], [0.3, 0.2, 0.0], [0.3, 0.2, 0.6]])
    field = red_ball(offsets)
    camera = genre_preset("none").camera
    cameras = genre_trajectory_cameras(camera, FRAMES, 48, 48, trajectory="static")
    times = torch.linspace(0.0, 1.0, FRAMES)
    with torch.no_grad():
        clip = VolumeRenderer().eval().render(field, cameras, times[None]).rgb[0]
        predicted = screen_track(cameras, field.trajectory(times[:, None]))
    measured = object_tracks(clip[None])[0]
    assert predicted[-1, 0] > 0.15 and predicted[-1, 1] > 0.1 and predicted[-1, 2] > 0.2
    torch.testing.assert_close(predicted[:, :2], measured[:, :2], atol=0.015, rtol=0)
    torch.testing.assert_close(predicted[:, 2], measured[:, 2], atol=0.05, rtol=0)


def test_a_still_trajectory_has_a_zero_track() -> None:
    camera = genre_preset("noir").camera
    cameras = genre_trajectory_cameras(camera, FRAMES, 32, 24, trajectory="static")
    assert screen_track(cameras, torch.zeros(FRAMES, 3)).abs().max() == 0


def test_init_from_starts_both_generators_from_the_saved_weights(tmp_path) -> None:
    import pytest

    from t2v.errors import ConfigError
    from t2v.generator import build_generator, save_generator
    from t2v.pretrain.scene_generator import SceneGeneratorModule, start_from

    planes = {"_target_": "t2v.field.PlaneSpec", "features": 2, "resolutions": [8]}
    field = {
        "_target_": "t2v.field.SceneField",
        "static_encoding": planes,
        "dynamic_encoding": planes,
        "backend": "torch",
        "hidden_dim": 8,
        "trajectory_knots": 4,
    }
    manifest = {"field": field, "genres": ["none", "noir"], "text_dim": 384}
    manifest |= {"genre_dim": 4, "hidden_dim": 16, "max_offset": 0.8}
    saved = build_generator(manifest)
    with torch.no_grad():
        saved.out.weight.normal_(0, 0.3)
    save_generator(saved, tmp_path / "saved", manifest)
    module = SceneGeneratorModule(manifest, {"generator": 1e-3}, {"reference": 1.0}, 0.9, 0.5)
    assert not torch.equal(module.generator.out.weight, saved.out.weight)
    start_from(module, str(tmp_path / "saved"))
    for generator in (module.generator, module.ema_generator):
        assert all(
            torch.equal(value, saved.state_dict()[name])
            for name, value in generator.state_dict().items()
        )
    other = SceneGeneratorModule(
        {**manifest, "hidden_dim": 8}, {"generator": 1e-3}, {"reference": 1.0}, 0.9, 0.5
    )
    with pytest.raises(ConfigError, match="another network"):
        start_from(other, str(tmp_path / "saved"))
