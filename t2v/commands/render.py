"""`t2v render`: re-render a finished run at any trajectory, length, size and frame rate."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from t2v.errors import ConfigError
from t2v.rundir import CHECKPOINT_DIR, CONFIG_FILE
from t2v.stages import STAGE_ORDER


def run(cfg: DictConfig) -> None:
    from t2v.generation import (
        build_field,
        build_renderer,
        export_frames,
        export_grading,
        load_stage_state,
    )
    from t2v.genres import GenrePreset
    from t2v.video import write_video

    source = Path(cfg.run_dir)
    saved = OmegaConf.load(source / CONFIG_FILE)
    stage = cfg.get("stage")
    final = stage_checkpoint(source, stage)
    genre = GenrePreset.from_config(saved.genre)
    fps = float(cfg.fps if cfg.fps is not None else saved.fps)
    frames = int(cfg.frames if cfg.frames is not None else max(1, round(saved.duration * fps)))
    width = int(cfg.width if cfg.width is not None else saved.resolution.sr_width)
    height = int(cfg.height if cfg.height is not None else saved.resolution.sr_height)
    if width % 2 or height % 2:
        raise ConfigError(f"video size {width}x{height} must have even sides for H.264")
    field = build_field(saved)
    renderer = build_renderer(saved)
    load_stage_state(final, field, renderer)
    video = export_frames(
        field,
        renderer,
        genre,
        frames,
        width,
        height,
        trajectory=cfg.trajectory,
        speed=cfg.speed,
        grading=export_grading(saved) if cfg.grading is None else bool(cfg.grading),
        seed=int(saved.seed),
    )
    name = cfg.trajectory or genre.camera.trajectory
    after = f"_{stage}" if stage else ""
    output = (
        Path(cfg.output)
        if cfg.output
        else (source / "renders" / f"{name}_{width}x{height}_{frames}f{after}.mp4")
    )
    write_video(output, video, fps)
    print(f"t2v render: wrote {output} ({frames} frames, {width}x{height}, {fps:g} fps)")


def stage_checkpoint(run_dir: Path, stage: str | None) -> Path:
    """The field after `stage` (e.g. checkpoints/static.pt), or after the last finished stage."""
    if not stage:
        return last_stage_checkpoint(run_dir)
    if stage not in STAGE_ORDER:
        raise ConfigError(f"stage '{stage}' is unknown; choose one of: {', '.join(STAGE_ORDER)}")
    path = run_dir / CHECKPOINT_DIR / f"{stage}.pt"
    if not path.is_file():
        raise ConfigError(f"run_dir {run_dir} has not finished stage {stage} (no {path.name})")
    return path


def last_stage_checkpoint(run_dir: Path) -> Path:
    """The field after the last stage that finished, e.g. checkpoints/superres.pt."""
    for stage in reversed(STAGE_ORDER):
        path = run_dir / CHECKPOINT_DIR / f"{stage}.pt"
        if path.is_file():
            return path
    raise ConfigError(f"run_dir {run_dir} has no finished stage yet (no checkpoints/<stage>.pt)")
