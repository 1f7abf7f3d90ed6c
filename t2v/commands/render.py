"""`t2v render`: re-render a finished run at any trajectory, camera, length, size and frame rate."""

from __future__ import annotations

from omegaconf import DictConfig

from t2v.commands.door import resolved
from t2v.config.render import RenderConfig
from t2v.genres import CameraStyle
from t2v.render import CameraStart
from t2v.rundir import RunDir
from t2v.schema import parse


def settings(cfg: DictConfig) -> RenderConfig:
    """The typed options, the run's own configuration readable and the stage finished."""
    config = parse(RenderConfig, resolved(cfg), "")
    run = RunDir(config.run_dir)
    run.load_config()
    run.stage_checkpoint(config.stage)
    return config


def camera_tag(camera: CameraStart, style: CameraStyle) -> str:
    """The camera in a file name (`az180_el15_d2.5`), the genre's values where none is given,
    so renders of one run from two views never share a file."""
    elevation = camera.elevation_deg if camera.elevation_deg is not None else style.elevation_deg
    distance = camera.distance if camera.distance is not None else style.distance
    return f"az{camera.azimuth_deg:g}_el{elevation:g}_d{distance:g}"


def run(config: RenderConfig) -> None:
    from t2v.video import write_video

    run_dir = RunDir(config.run_dir)
    scene = run_dir.load_scene(config.stage)
    saved = scene.config
    fps = config.fps if config.fps is not None else saved.fps
    frames = config.frames if config.frames is not None else saved.frames_at(fps)
    width = config.width if config.width is not None else saved.resolution.sr_width
    height = config.height if config.height is not None else saved.resolution.sr_height
    video = scene.frames(
        frames,
        width,
        height,
        trajectory=config.trajectory,
        speed=config.speed,
        grading=config.grading,
        camera=config.camera,
        fps=fps,
    )
    trajectory = config.trajectory or saved.genre.camera.trajectory
    camera = config.camera
    view = camera_tag(camera, saved.genre.camera) if camera is not None else None
    output = config.output or run_dir.render_file(
        trajectory, width, height, frames, config.stage, view
    )
    write_video(output, video, fps)
    print(f"t2v render: wrote {output} ({frames} frames, {width}x{height}, {fps:g} fps)")
