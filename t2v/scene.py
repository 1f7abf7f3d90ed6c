"""`Scene`: a run's field and renderer as a stage left them, and the stage hand-off file.

Stages hand the field on through `checkpoints/<stage>.pt` (field and renderer state, i.e. the
occupancy grid, loaded with `weights_only=True`). A finished scene renders along its genre's
export cameras at any length and size (`frames`), graded or not.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from t2v.config.generate import GenerateConfig
from t2v.errors import ConfigError
from t2v.field.base import Field
from t2v.genres import GenrePreset
from t2v.render import Cameras, CameraStart, VolumeRenderer, genre_trajectory_cameras
from t2v.render.trajectories import DEFAULT_FPS


@dataclass
class Scene:
    """A field, its renderer and the configuration of the run that made them."""

    config: GenerateConfig
    field: Field
    renderer: VolumeRenderer
    checkpoint: Path | None = None

    @classmethod
    def build(cls, config: GenerateConfig) -> Scene:
        """A fresh field and renderer for `config` (what the first stage starts from)."""
        return cls(config, config.field.build(), config.renderer.build())

    @classmethod
    def load(cls, config: GenerateConfig, checkpoint: Path, device: str = "cpu") -> Scene:
        scene = cls.build(config)
        load_stage_state(checkpoint, scene.field, scene.renderer)
        scene.field.to(device)
        scene.renderer.to(device)
        scene.checkpoint = checkpoint
        return scene

    def frames(
        self,
        frames: int,
        width: int,
        height: int,
        trajectory: str | None = None,
        speed: float | None = None,
        grading: bool | None = None,
        camera: CameraStart | None = None,
        fps: float | None = None,
    ) -> torch.Tensor:
        """`(frames, 3, H, W)` along the genre's camera (or `trajectory`, from `camera`, at
        `speed` x the genre's speed) over the whole scene time, for a video at `fps` (None: the
        run's); graded as the run's exports are unless `grading` says otherwise."""
        grade = self.config.export_grading if grading is None else grading
        return render_along_trajectory(
            self.field,
            self.renderer,
            self.config.genre,
            frames,
            width,
            height,
            trajectory=trajectory,
            speed=speed,
            grading=grade,
            seed=self.config.seed,
            camera=camera,
            fps=fps if fps is not None else self.config.fps,
        )


def render_along_trajectory(
    field: Field,
    renderer: VolumeRenderer,
    genre: GenrePreset,
    frames: int,
    width: int,
    height: int,
    trajectory: str | None = None,
    speed: float | None = None,
    grading: bool = True,
    seed: int = 0,
    camera: CameraStart | None = None,
    fps: float = DEFAULT_FPS,
) -> torch.Tensor:
    """`(frames, 3, H, W)` along a trajectory (from `camera`; None: the genre's front) over the
    whole scene time, its camera moving per second of a video at `fps`, graded by the genre."""
    parameter = next(iter(renderer.buffers()), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    cameras = genre_trajectory_cameras(
        genre.camera, frames, width, height, trajectory, speed, seed=seed, start=camera, fps=fps
    ).to(device)
    times = scene_times(frames, device)[None]
    renderer.eval()
    field.static_only = False
    with torch.no_grad():
        video = renderer.render(field, cameras, times).rgb[0]
    return genre.grading.apply(video, seed=seed) if grading else video


def scene_times(frames: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """The scene time (frames,) in [0, 1] of each frame of a clip over the whole scene time:
    what the video, re-renders and exports show at frame k."""
    return torch.linspace(0.0, 1.0, frames, device=device)


def front_camera(genre: GenrePreset, width: int, height: int) -> Cameras:
    """The genre's front view (1, 1): where every export trajectory starts (azimuth 0, the
    genre's elevation, distance and field of view)."""
    return genre_trajectory_cameras(genre.camera, 1, width, height, trajectory="static")


def save_stage_state(
    path: Path, field: Field, renderer: VolumeRenderer, stage: str, steps: int
) -> None:
    partial = path.with_suffix(".partial")
    state = {
        "field": field.state_dict(),
        "renderer": renderer.state_dict(),
        "stage": stage,
        "steps": steps,
    }
    torch.save(state, partial)
    partial.replace(path)


def load_stage_state(path: Path, field: Field, renderer: VolumeRenderer) -> None:
    try:
        state = torch.load(path, weights_only=True, map_location="cpu")
        field.load_state_dict(state["field"])
        renderer.load_state_dict(state["renderer"])
    except Exception as error:  # corrupt, truncated, or from another field configuration
        raise ConfigError(f"checkpoint {path} cannot be loaded ({error})") from None
