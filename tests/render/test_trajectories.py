"""Named export trajectories: frame counts, distances, start/end poses, speed per second, genres."""

import math
from importlib.resources import files
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from t2v import genres
from t2v.errors import ConfigError
from t2v.genres import GenrePreset
from t2v.render import (
    TRAJECTORIES,
    CameraStart,
    VolumeRenderer,
    genre_trajectory_cameras,
    trajectory_cameras,
)
from t2v.render.trajectories import SPEED_UNITS
from t2v.scene import render_along_trajectory
from t2v.schema import parse

FRAMES = 9


def genre(path: Path) -> GenrePreset:
    return parse(GenrePreset, OmegaConf.to_container(OmegaConf.load(path)), "genre")


def cams(name, frames=FRAMES, **kw):
    return trajectory_cameras(name, frames, 32, 18, **kw)


def forward(cameras):
    return -cameras.c2w[0, :, :3, 2]


def angle_deg(a, b):
    # atan2 of |a x b| and a.b stays accurate near 0, where acos loses float32 precision.
    return torch.rad2deg(torch.atan2(torch.linalg.cross(a, b).norm(dim=-1), (a * b).sum(-1)))


def test_every_trajectory_starts_near_the_front_view_with_the_right_shape():
    front = cams("static", elevation_deg=10.0, distance=3.0)
    assert list(TRAJECTORIES) == ["orbit", "static", "dolly", "pan", "crane", "handheld"]
    for name in TRAJECTORIES:
        cameras = cams(name, elevation_deg=10.0, distance=3.0, fov_deg=50.0)
        assert cameras.batch_shape == (1, FRAMES), name
        assert (cameras.width, cameras.height) == (32, 18)
        assert torch.equal(cameras.fov_y_deg, torch.full((1, FRAMES), 50.0))
        assert torch.allclose(cameras.positions[0, 0], front.positions[0, 0], atol=1e-5), name
        rotation = cameras.c2w[0, :, :3, :3]
        identity = rotation.transpose(-1, -2) @ rotation
        assert torch.allclose(identity, torch.eye(3).expand_as(identity), atol=1e-5), name


def test_static_is_constant_and_looks_from_the_front():
    cameras = cams("static", speed=3.0, elevation_deg=0.0, distance=2.5)
    assert torch.equal(cameras.c2w[0], cameras.c2w[0, :1].expand(FRAMES, 4, 4))
    assert torch.allclose(cameras.positions[0, 0], torch.tensor([0.0, 0.0, 2.5]), atol=1e-6)
    left_point = torch.tensor([-0.5, 0.0, 0.0]).expand(1, FRAMES, 1, 3)
    pixels = cameras.project(left_point)
    assert (pixels[..., 0] < 16).all()  # world -x is screen-left


def test_orbit_keeps_its_distance_and_turns_by_its_speed_per_second_of_video():
    for speed, fps in ((24.0, 8.0), (30.0, 24.0)):
        cameras = cams("orbit", frames=8, speed=speed, fps=fps, distance=2.0, elevation_deg=20.0)
        positions = cameras.positions[0]
        assert torch.allclose(positions.norm(dim=-1), torch.full((8,), 2.0), atol=1e-5)
        assert torch.allclose(positions[:, 1], torch.full((8,), 2.0 * math.sin(0.349066)))
        azimuth = torch.rad2deg(torch.atan2(positions[:, 0], positions[:, 2]))
        error = torch.remainder(azimuth - torch.arange(8) / fps * speed + 180, 360) - 180
        assert error.abs().max() < 1e-3
        origin = torch.zeros(1, 8, 1, 3)
        assert torch.allclose(cameras.project(origin)[0, :, 0], torch.tensor([16.0, 9.0]))
    # At t = 1 s (frame 8 at 8 fps) the orbit has turned by speed_deg_s.
    one_second = cams("orbit", frames=9, speed=24.0, fps=8.0, elevation_deg=0.0).positions[0, 8]
    turned_deg = math.degrees(math.atan2(one_second[0].item(), one_second[2].item()))
    assert turned_deg == pytest.approx(24.0, abs=1e-3)


def test_dolly_moves_in_by_its_speed_in_units_per_second():
    slow = cams("dolly", speed=0.1, fps=8.0, distance=3.0)
    fast = cams("dolly", speed=0.2, fps=8.0, distance=3.0)
    slow_distance = slow.positions[0].norm(dim=-1)
    fast_distance = fast.positions[0].norm(dim=-1)
    assert fast_distance[0].item() == pytest.approx(3.0)
    assert fast_distance[-1].item() == pytest.approx(3.0 - 0.2 * (FRAMES - 1) / 8.0)
    travelled = (3.0 - fast_distance[-1]).item()
    assert travelled == pytest.approx(2 * (3.0 - slow_distance[-1]).item(), rel=1e-5)
    assert (fast_distance.diff() < 0).all()
    assert angle_deg(forward(fast), -fast.positions[0]).max() < 1e-3  # still aims at the origin
    # Twice the frame rate covers half the distance in as many frames.
    double = cams("dolly", speed=0.2, fps=16.0, distance=3.0).positions[0].norm(dim=-1)
    assert (3.0 - double[-1]).item() == pytest.approx(travelled / 2, rel=1e-5)
    # It never comes closer than a tenth of its distance.
    assert cams("dolly", speed=5.0, distance=3.0).positions[0, -1].norm() == pytest.approx(0.3)


def test_pan_turns_in_place_about_the_front_by_its_speed_per_second():
    for speed in (6.0, 12.0):
        cameras = cams("pan", speed=speed, fps=8.0, elevation_deg=0.0)
        assert torch.allclose(cameras.positions[0], cameras.positions[0, :1].expand(FRAMES, 3))
        yaw = torch.rad2deg(torch.atan2(forward(cameras)[:, 0], -forward(cameras)[:, 2]))
        half = speed * (FRAMES - 1) / 8.0 / 2  # deg turned in half the clip
        assert yaw[0].item() == pytest.approx(-half, abs=1e-3)
        assert yaw[-1].item() == pytest.approx(half, abs=1e-3)
        assert yaw[FRAMES // 2].item() == pytest.approx(0.0, abs=1e-3)
        assert yaw.diff().mean().item() == pytest.approx(speed / 8.0, abs=1e-3)  # deg a frame


def test_crane_rises_by_its_speed_in_degrees_per_second():
    for speed in (5.0, 10.0):
        cameras = cams("crane", speed=speed, fps=8.0, elevation_deg=5.0, distance=2.0)
        positions = cameras.positions[0]
        assert torch.allclose(positions.norm(dim=-1), torch.full((FRAMES,), 2.0), atol=1e-5)
        elevation = torch.rad2deg(torch.asin(positions[:, 1] / 2.0))
        assert elevation[0].item() == pytest.approx(5.0, abs=1e-3)
        assert elevation[-1].item() == pytest.approx(5.0 + speed * (FRAMES - 1) / 8, abs=1e-3)
        assert (elevation.diff() > 0).all()


def test_handheld_shakes_within_its_amplitude_and_sways_at_its_rate_per_second():
    front = forward(cams("static"))
    shaky = cams("handheld", shake=2.0, seed=1, speed=0.5)
    deviation = angle_deg(forward(shaky), front)
    assert deviation[0].item() == pytest.approx(0.0, abs=1e-2)
    assert 0.2 < deviation.max().item() < 2 * 2.0 * math.sqrt(2)  # two axes of <= 2x shake
    assert torch.allclose(shaky.positions[0], cams("static").positions[0], atol=1e-5)
    assert torch.equal(shaky.c2w, cams("handheld", shake=2.0, seed=1, speed=0.5).c2w)
    assert not torch.allclose(shaky.c2w, cams("handheld", shake=2.0, seed=2, speed=0.5).c2w)
    calm = cams("handheld", shake=0.0)
    assert torch.allclose(calm.c2w, cams("static").c2w, atol=1e-6)
    # At double the rate, frame k shows what the normal rate shows at frame 2k; and so does
    # the normal rate at half the frame rate (the shake is per second of video).
    fast = cams("handheld", shake=2.0, seed=1, speed=1.0)
    assert torch.allclose(fast.c2w[0, :5], shaky.c2w[0, ::2], atol=1e-5)
    slow_video = cams("handheld", shake=2.0, seed=1, speed=0.5, fps=4.0)
    assert torch.allclose(slow_video.c2w[0, :5], shaky.c2w[0, ::2], atol=1e-5)


def turned(points, azimuth_deg):
    """Points (..., 3) turned about world +y by azimuth_deg (+z towards +x)."""
    a = math.radians(azimuth_deg)
    rotation = torch.tensor(
        [[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]]
    )
    return points @ rotation.T


def test_a_start_azimuth_of_90_looks_from_plus_x_along_minus_x():
    for azimuth, side in ((90.0, 1.0), (-90.0, -1.0), (180.0, None)):
        cameras = cams("static", azimuth_deg=azimuth, elevation_deg=0.0, distance=2.5)
        if side is None:  # from behind: on -z, looking along +z
            expected_eye, expected_view = [0.0, 0.0, -2.5], [0.0, 0.0, 1.0]
        else:
            expected_eye, expected_view = [2.5 * side, 0.0, 0.0], [-side, 0.0, 0.0]
        assert cameras.positions[0, 0].tolist() == pytest.approx(expected_eye, abs=1e-5)
        assert forward(cameras)[0].tolist() == pytest.approx(expected_view, abs=1e-5)
    # From +x, world +z (the front) is screen-left and world +y stays up.
    side = cams("static", azimuth_deg=90.0, elevation_deg=0.0)
    pixels = side.project(torch.tensor([[0.0, 0.0, 0.5], [0.0, 0.5, 0.0]]).expand(1, FRAMES, 2, 3))
    assert (pixels[0, :, 0, 0] < 16).all() and (pixels[0, :, 1, 1] < 9).all()
    raised = cams("static", azimuth_deg=90.0, elevation_deg=20.0, distance=2.0)
    assert raised.positions[0, 0, 1].item() == pytest.approx(2.0 * math.sin(math.radians(20)))


@pytest.mark.parametrize("name", list(TRAJECTORIES))
def test_a_trajectory_from_an_azimuth_is_the_front_one_turned(name):
    """Every trajectory from azimuth A is the front one turned by A: it starts where the fixed
    view at A is, and moves as it does from the front."""
    kw = {"elevation_deg": 10.0, "distance": 3.0, "shake": 2.0, "seed": 1}
    front, turned_cams = cams(name, **kw), cams(name, azimuth_deg=130.0, **kw)
    assert torch.allclose(turned_cams.positions[0], turned(front.positions[0], 130.0), atol=1e-5)
    assert torch.allclose(forward(turned_cams), turned(forward(front), 130.0), atol=1e-5)
    fixed = cams("static", azimuth_deg=130.0, elevation_deg=10.0, distance=3.0)
    assert torch.allclose(turned_cams.positions[0, 0], fixed.positions[0, 0], atol=1e-5)
    if name != "pan":  # a pan starts turned back by half its sweep, on the spot
        assert torch.allclose(turned_cams.c2w[0, 0], fixed.c2w[0, 0], atol=1e-5)


def test_an_orbit_from_an_azimuth_starts_there_and_turns_on():
    cameras = cams(
        "orbit", frames=8, speed=24.0, fps=8.0, azimuth_deg=-60.0, elevation_deg=0.0, distance=2.0
    )
    positions = cameras.positions[0]
    azimuth = torch.rad2deg(torch.atan2(positions[:, 0], positions[:, 2]))
    error = torch.remainder(azimuth - (-60.0 + torch.arange(8) * 3.0) + 180, 360) - 180
    assert error.abs().max() < 1e-3


def test_a_view_from_behind_mirrors_an_off_centre_object(make_sphere):
    """A ball at world +x is right of centre from the front and as far left from behind
    (azimuth 180), and in the middle seen from +x (azimuth 90), where it is nearer and larger."""
    none = genre(Path(str(files("t2v.conf") / "genre")) / "none.yaml")
    field = make_sphere(radius=0.25, start=(0.5, 0.0, 0.0), colour=(1, 1, 1), background=(0, 0, 0))
    renderer = VolumeRenderer(num_samples=96)
    size = 32
    columns = torch.arange(size, dtype=torch.float32) + 0.5 - size / 2
    seen = {}
    for azimuth in (0.0, 180.0, 90.0):
        start = CameraStart(azimuth_deg=azimuth)
        video = render_along_trajectory(
            field, renderer, none, 1, size, size, "static", grading=False, camera=start
        )
        weight = video[0].mean(0)  # white ball on black: its opacity
        seen[azimuth] = (float((weight.sum(0) * columns).sum() / weight.sum()), float(weight.sum()))
    (front_x, front_area), (back_x, back_area), (side_x, side_area) = seen.values()
    assert front_x > 4.0  # pixels right of centre
    assert back_x == pytest.approx(-front_x, abs=0.1)
    assert back_area == pytest.approx(front_area, rel=0.02)
    assert abs(side_x) < 0.1 and side_area > 1.2 * front_area


def test_a_start_camera_keeps_the_genre_values_it_does_not_name():
    style = genre(Path(str(files("t2v.conf") / "genre")) / "none.yaml").camera
    default = genre_trajectory_cameras(style, 3, 8, 8, start=CameraStart())
    assert torch.equal(default.c2w, genre_trajectory_cameras(style, 3, 8, 8).c2w)
    moved = genre_trajectory_cameras(style, 3, 8, 8, "static", start=CameraStart(0.0, None, 4.0))
    assert moved.positions[0, 0].norm().item() == pytest.approx(4.0, rel=1e-5)
    elevation = math.degrees(math.asin(moved.positions[0, 0, 1].item() / 4.0))
    assert elevation == pytest.approx(style.elevation_deg, abs=1e-3)


def test_unknown_trajectory_and_bad_values_raise_config_errors():
    with pytest.raises(ConfigError, match="orbit, static, dolly, pan, crane, handheld"):
        cams("spiral")
    with pytest.raises(ConfigError, match="at least 1 frame"):
        cams("orbit", frames=0)
    with pytest.raises(ConfigError, match="field of view"):
        cams("orbit", fov_deg=180.0)
    with pytest.raises(ConfigError, match="azimuth"):
        cams("orbit", azimuth_deg=math.inf)
    single = cams("dolly", frames=1)
    assert single.batch_shape == (1, 1)


def test_genre_presets_pick_their_trajectory():
    genre_dir = Path(str(files("t2v.conf") / "genre"))
    action = genre(genre_dir / "action.yaml")
    cameras = genre_trajectory_cameras(action.camera, 6, 16, 16, seed=0)
    expected = cams(
        action.camera.trajectory,
        frames=6,
        speed=action.camera.shake_hz,
        elevation_deg=action.camera.elevation_deg,
        distance=action.camera.distance,
        fov_deg=action.camera.fov_deg,
        shake=action.camera.shake,
    )
    assert action.camera.trajectory == "handheld"
    assert torch.equal(cameras.c2w, expected.c2w)
    assert cameras.fov_y_deg[0, 0].item() == action.camera.fov_deg
    overridden = genre_trajectory_cameras(action.camera, 6, 16, 16, trajectory="static")
    assert torch.equal(overridden.c2w[0, 0], overridden.c2w[0, -1])
    # The render command's `speed` multiplies the genre's per-second speed.
    doubled = genre_trajectory_cameras(action.camera, 6, 16, 16, speed=2.0, fps=16.0)
    assert torch.allclose(doubled.c2w, genre_trajectory_cameras(action.camera, 6, 16, 16).c2w)
    for path in sorted(genre_dir.glob("*.yaml")):
        preset = genre(path)
        cameras = genre_trajectory_cameras(preset.camera, 4, 8, 8)
        distance = cameras.positions[0, 0].norm().item()
        assert distance == pytest.approx(preset.camera.distance, rel=1e-5), path.stem


def test_genre_cameras_move_at_a_pace_a_viewer_can_watch():
    """Per second of video: orbits and pans turn at most 40 deg/s (the old `none` orbit turned
    360 deg in 2 s), dollies close at most a tenth of their distance a second."""
    genre_dir = Path(str(files("t2v.conf") / "genre"))
    for path in sorted(genre_dir.glob("*.yaml")):
        camera = genre(path).camera
        unit = SPEED_UNITS[camera.trajectory]
        speed = camera.speed_for(camera.trajectory)
        if unit == "deg/s":
            assert 2.0 <= speed <= 40.0, path.stem
        elif unit == "units/s":
            assert 0.0 < speed <= 0.1 * camera.distance, path.stem
    none = genre(genre_dir / "none.yaml").camera
    cameras = genre_trajectory_cameras(none, 9, 8, 8, fps=8.0)  # frame 8 is t = 1 s
    at_one_second = cameras.positions[0, 8]
    turned_deg = math.degrees(math.atan2(at_one_second[0].item(), at_one_second[2].item()))
    assert turned_deg == pytest.approx(none.speed_deg_s, abs=1e-3)
    assert 20.0 <= none.speed_deg_s <= 30.0


def test_genres_name_exactly_the_renderer_trajectories():
    assert tuple(TRAJECTORIES) == genres.TRAJECTORIES
