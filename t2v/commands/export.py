"""`t2v export`: a finished run's 4D scene as animated assets (GLB, OBJ sequence, Gaussian PLYs)."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from t2v.commands.door import resolved
from t2v.config.export import ExportConfig
from t2v.errors import RunDirError
from t2v.rundir import RunDir
from t2v.schema import parse

FRAME_NAME = "frame"  # files of a sequence: frame_000001.obj, ...


def settings(cfg: DictConfig) -> ExportConfig:
    """The typed options, the run finished (or the asked stage), the output not there yet."""
    config = parse(ExportConfig, resolved(cfg), "")
    run = RunDir(config.run_dir)
    saved = run.load_config()
    if config.stage is None and not run.is_finished():
        finished = ", ".join(run.finished_stages()) or "none"
        raise RunDirError(
            f"run_dir {run.root} is not a finished run (no video.mp4 and metrics.json); "
            f"export a stage it finished with stage=NAME (finished: {finished})"
        )
    run.stage_checkpoint(config.stage)
    output = output_path(config, run, config.frames or saved.video_frames)
    if output.exists() or output.is_symlink():
        raise RunDirError(f"output {output} exists; remove it or pass another output=PATH")
    return config


def output_path(config: ExportConfig, run: RunDir, frames: int) -> Path:
    """The GLB file, or the folder of an OBJ or PLY sequence."""
    if config.output is not None:
        return Path(config.output)
    stage = config.stage or run.finished_stages()[-1]
    name = f"{stage}_{frames}f_{config.grid}"
    return run.exports / (f"{name}.glb" if config.format == "glb" else f"{name}_{config.format}")


def run(config: ExportConfig) -> None:
    from t2v.export import (
        MeshOptions,
        atomic_output,
        field_meshes,
        field_splats,
        write_glb,
        write_obj_sequence,
        write_ply_sequence,
    )
    from t2v.scene import scene_times

    run_dir = RunDir(config.run_dir)
    scene = run_dir.load_scene(config.stage)
    saved = scene.config
    frames = config.frames or saved.video_frames
    times = scene_times(frames).tolist()
    fps = frames / saved.duration  # the export spans the scene time, as the video does
    options = MeshOptions(
        resolution=config.grid,
        box_radius=scene.renderer.config.box_radius,
        decimate=config.decimate,
    )
    output = output_path(config, run_dir, frames)
    scene.field.eval()
    if config.format == "ply":
        splats = [field_splats(scene.field, time, options) for time in times]
        with atomic_output(output, folder=True) as partial:
            write_ply_sequence(splats, times, fps, partial, FRAME_NAME)
        sizes = [len(s) for s in splats]
        what = f"{min(sizes)}-{max(sizes)} Gaussians a frame"
    else:
        meshes = field_meshes(scene.field, times, options)
        if config.format == "glb":
            with atomic_output(output) as partial:
                write_glb(meshes, fps, partial)
        else:
            with atomic_output(output, folder=True) as partial:
                write_obj_sequence(meshes, partial, FRAME_NAME)
        sizes = [len(m.faces) for m in meshes]
        what = f"{min(sizes)}-{max(sizes)} faces a frame"
    print(f"t2v export: wrote {output} ({frames} frames at {fps:g} fps, {what})")
