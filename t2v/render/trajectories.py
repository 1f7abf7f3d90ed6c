"""Named export camera trajectories (orbit, static, dolly, pan, crane, handheld) as Cameras.

Every trajectory starts at the given camera (azimuth, elevation, distance, looking at the
origin; azimuth 0 is the front view on +z, where screen-left is world -x, and positive azimuth
turns towards +x) and moves at `speed` per second of VIDEO (frame k is at t = k / fps
seconds), in the trajectory's unit (`SPEED_UNITS`), so a clip's camera moves as fast to a
viewer at any length. Each is built from the front and then turned about the world's vertical
axis by the azimuth, so a trajectory from azimuth A is the front one seen from A:

- orbit: the azimuth turns by speed x t deg.
- static: the start view, unchanged; speed has no effect.
- dolly: the camera moves straight towards the origin, speed x t distance units (never
  closer than `MIN_DOLLY_FRACTION` of the start distance).
- pan: the camera stays put and turns about its vertical axis by speed x (t - the clip's middle)
  deg, so the pan is centred on the front view (the scene drifts across from right to left).
- crane: the camera rises, elevation + speed x t deg, still looking at the origin.
- handheld: the start view with smooth random shake of `shake` deg (yaw, pitch, roll), its
  slowest sway at `speed` cycles per second; deterministic for a seed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from t2v.errors import ConfigError
from t2v.genres import CameraStyle
from t2v.render.cameras import Cameras, check_fov, look_at, spherical_positions

SPEED_UNITS = {
    "orbit": "deg/s",
    "static": "none",
    "dolly": "units/s",
    "pan": "deg/s",
    "crane": "deg/s",
    "handheld": "Hz",
}
DEFAULT_FPS = 8.0  # `t2v generate`'s default frame rate
MIN_DOLLY_FRACTION = 0.1  # dolly never comes closer than this fraction of the distance
MAX_CRANE_ELEVATION_DEG = 85.0
MAX_ELEVATION_DEG = 89.0  # the view stays off the poles, where "up" is undefined


@dataclass(frozen=True)
class TrajectorySpec:
    """What every trajectory is built from."""

    frames: int
    fps: float
    speed: float  # per second of video, in SPEED_UNITS[trajectory]
    elevation_deg: float
    distance: float
    fov_deg: float
    shake: float
    seed: int


@dataclass(frozen=True)
class CameraStart:
    """Where a trajectory starts; None keeps the genre's own elevation or distance."""

    azimuth_deg: float = 0.0
    elevation_deg: float | None = None
    distance: float | None = None


Pose = tuple[Tensor, Tensor, Tensor]  # eyes (N, 3), targets (N, 3), up vectors (N, 3)


def _seconds(spec: TrajectorySpec) -> Tensor:
    """Each frame's time (frames,) in seconds of video."""
    return torch.arange(spec.frames, dtype=torch.float64) / spec.fps


def _front_eye(spec: TrajectorySpec, frames: int) -> Tensor:
    zero = torch.zeros(frames, dtype=torch.float64)
    return spherical_positions(zero, zero + spec.elevation_deg, zero + spec.distance)


def _world_up(frames: int) -> Tensor:
    return torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64).expand(frames, 3)


def _orbit(spec: TrajectorySpec) -> Pose:
    n = spec.frames
    azimuth = spec.speed * _seconds(spec)
    eyes = spherical_positions(
        azimuth,
        torch.full_like(azimuth, spec.elevation_deg),
        torch.full_like(azimuth, spec.distance),
    )
    return eyes, torch.zeros_like(eyes), _world_up(n)


def _static(spec: TrajectorySpec) -> Pose:
    eyes = _front_eye(spec, spec.frames)
    return eyes, torch.zeros_like(eyes), _world_up(spec.frames)


def _dolly(spec: TrajectorySpec) -> Pose:
    scale = (1.0 - spec.speed * _seconds(spec) / spec.distance).clamp_min(MIN_DOLLY_FRACTION)
    eyes = _front_eye(spec, spec.frames) * scale[:, None]
    return eyes, torch.zeros_like(eyes), _world_up(spec.frames)


def _pan(spec: TrajectorySpec) -> Pose:
    eyes = _front_eye(spec, spec.frames)
    seconds = _seconds(spec)
    yaw = torch.deg2rad(spec.speed * (seconds - seconds[-1] / 2))
    # Turn the view vector (eye -> origin) about world +y; positive yaw looks towards +x.
    view = -eyes
    cos, sin = torch.cos(yaw), torch.sin(yaw)
    turned = torch.stack(
        [cos * view[:, 0] - sin * view[:, 2], view[:, 1], sin * view[:, 0] + cos * view[:, 2]], -1
    )
    return eyes, eyes + turned, _world_up(spec.frames)


def _crane(spec: TrajectorySpec) -> Pose:
    n = spec.frames
    elevation = (spec.elevation_deg + spec.speed * _seconds(spec)).clamp(
        max=MAX_CRANE_ELEVATION_DEG
    )
    eyes = spherical_positions(
        torch.zeros(n, dtype=torch.float64), elevation, torch.full((n,), spec.distance).double()
    )
    return eyes, torch.zeros_like(eyes), _world_up(n)


def _handheld(spec: TrajectorySpec) -> Pose:
    n = spec.frames
    generator = torch.Generator().manual_seed(spec.seed)
    # Three sinusoids per axis (yaw, pitch, roll) at incommensurate rates: smooth, aperiodic.
    rates = torch.tensor([0.7, 1.3, 2.9], dtype=torch.float64) / 0.7  # x the slowest sway
    amplitudes = torch.tensor([0.6, 0.3, 0.1], dtype=torch.float64)
    phases = torch.rand(3, 3, generator=generator, dtype=torch.float64) * 2 * math.pi
    seconds = _seconds(spec)[:, None, None]
    wave = torch.sin(2 * math.pi * rates * spec.speed * seconds + phases) * amplitudes
    # Subtract the first frame so the clip starts exactly at the front view.
    angles = (wave.sum(-1) - wave[:1].sum(-1)) * spec.shake  # (N, 3) in degrees
    yaw, pitch, roll = torch.deg2rad(angles).unbind(-1)
    eyes = _front_eye(spec, n)
    zero = torch.zeros(n, dtype=torch.float64)
    offset = spherical_positions(
        torch.rad2deg(yaw), zero + spec.elevation_deg + torch.rad2deg(pitch), zero + spec.distance
    )
    # Aim from the eye along the view of the shaken pose: the origin seen off by the angles.
    targets = eyes - offset
    base = look_at(eyes, targets)
    right, up = base[:, :3, 0], base[:, :3, 1]
    rolled_up = torch.cos(roll)[:, None] * up + torch.sin(roll)[:, None] * right
    return eyes, targets, rolled_up


def _turned(pose: Pose, azimuth_deg: float) -> Pose:
    """The pose turned about world +y by `azimuth_deg` (the front view +z goes to that
    azimuth, as in `spherical_positions`)."""
    angle = math.radians(azimuth_deg)
    cos, sin = math.cos(angle), math.sin(angle)
    rotation = torch.tensor(
        [[cos, 0.0, sin], [0.0, 1.0, 0.0], [-sin, 0.0, cos]], dtype=torch.float64
    )
    eyes, targets, ups = pose
    return eyes @ rotation.T, targets @ rotation.T, ups @ rotation.T


TRAJECTORIES: dict[str, Callable[[TrajectorySpec], Pose]] = {
    "orbit": _orbit,
    "static": _static,
    "dolly": _dolly,
    "pan": _pan,
    "crane": _crane,
    "handheld": _handheld,
}


def trajectory_cameras(
    name: str,
    frames: int,
    width: int,
    height: int,
    speed: float = 24.0,
    elevation_deg: float = 15.0,
    distance: float = 2.5,
    fov_deg: float = 40.0,
    shake: float = 1.0,
    seed: int = 0,
    device: torch.device | str = "cpu",
    azimuth_deg: float = 0.0,
    fps: float = DEFAULT_FPS,
) -> Cameras:
    """Cameras (1, frames) following the named trajectory from the camera at (azimuth_deg,
    elevation_deg, distance), at `speed` per second of video in the trajectory's unit
    (`SPEED_UNITS`) for a video at `fps`; ConfigError on a bad argument."""
    if name not in TRAJECTORIES:
        raise ConfigError(
            f"trajectory '{name}' is unknown; choose one of: {', '.join(TRAJECTORIES)}"
        )
    if frames < 1:
        raise ConfigError(f"a trajectory needs at least 1 frame, got {frames}")
    if speed < 0 or distance <= 0 or shake < 0 or not fps > 0:
        raise ConfigError("trajectory speed and shake must be >= 0, distance and fps > 0")
    if not -MAX_ELEVATION_DEG <= elevation_deg <= MAX_ELEVATION_DEG:
        raise ConfigError(f"trajectory elevation {elevation_deg} deg must lie in [-89, 89]")
    if not math.isfinite(azimuth_deg):
        raise ConfigError(f"trajectory azimuth {azimuth_deg} deg must be a finite number")
    check_fov(fov_deg)
    spec = TrajectorySpec(frames, fps, speed, elevation_deg, distance, fov_deg, shake, seed)
    eyes, targets, ups = _turned(TRAJECTORIES[name](spec), azimuth_deg)
    c2w = look_at(eyes, targets, ups).float()[None].to(device)
    fov = torch.full((1, frames), float(fov_deg), device=device)
    return Cameras(c2w, fov, width, height)


def genre_trajectory_cameras(
    style: CameraStyle,
    frames: int,
    width: int,
    height: int,
    trajectory: str | None = None,
    speed: float | None = None,
    seed: int = 0,
    device: torch.device | str = "cpu",
    start: CameraStart | None = None,
    fps: float = DEFAULT_FPS,
) -> Cameras:
    """Cameras from a genre's `CameraStyle` (`GenrePreset.camera`), starting at `start` (None
    keeps the genre's own: its front view), at the genre's speed for the trajectory times
    `speed` (None: 1), for a video at `fps`."""
    start = start or CameraStart()
    elevation_deg, distance = start.elevation_deg, start.distance
    name = trajectory if trajectory is not None else style.trajectory
    return trajectory_cameras(
        name,
        frames,
        width,
        height,
        speed=style.speed_for(name) * (speed if speed is not None else 1.0),
        elevation_deg=elevation_deg if elevation_deg is not None else style.elevation_deg,
        distance=distance if distance is not None else style.distance,
        fov_deg=style.fov_deg,
        shake=style.shake,
        seed=seed,
        device=device,
        azimuth_deg=start.azimuth_deg,
        fps=fps,
    )
