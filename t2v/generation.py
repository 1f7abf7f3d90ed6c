"""The main job: build the field, run the stages in order over it, export video and metrics.

Stages hand the field on through explicit files, `checkpoints/<stage>.pt` (field and
occupancy grid only, loaded with `weights_only=True`); inside a stage, Lightning's
`checkpoints/<stage>/last.ckpt` is the resume point of an interrupted run.
"""

from __future__ import annotations

import json
import logging
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from hydra.utils import instantiate
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig, OmegaConf

from t2v.callbacks import NonFiniteLossGuard, RegularizerRamps, StageProgressBar, VideoLogger
from t2v.cluster import PERIODIC_CHECKPOINT, resume_checkpoint
from t2v.errors import ConfigError
from t2v.genres import GenrePreset
from t2v.priors.build import load_prior
from t2v.priors.reference import ReferenceSettings, needs_pixel_video
from t2v.render import RendererConfig, VolumeRenderer, genre_trajectory_cameras
from t2v.rundir import CHECKPOINT_DIR, CONFIG_FILE, METRICS_FILE, VIDEO_FILE
from t2v.stages import (
    STAGE_MODULES,
    STAGE_ORDER,
    Guidance,
    StageModule,
    StageSpec,
    build_stage_specs,
)
from t2v.text.prompt import PromptEncoder
from t2v.video import write_video

log = logging.getLogger(__name__)
# Lightning's banners (accelerator summary, logger tips) drown the stage progress bars.
logging.getLogger("lightning.pytorch.utilities.rank_zero").setLevel(logging.WARNING)
warnings.filterwarnings("ignore", message="The `srun` command is available")


@dataclass
class StageReport:
    name: str
    steps: int
    seconds: float
    resumed_from_step: int

    @property
    def iterations_per_second(self) -> float:
        done = self.steps - self.resumed_from_step
        return done / self.seconds if self.seconds > 0 else 0.0


def build_field(cfg: DictConfig) -> torch.nn.Module:
    return instantiate(cfg.field, _convert_="object")


def build_renderer(cfg: DictConfig) -> VolumeRenderer:
    return VolumeRenderer(RendererConfig.from_config(OmegaConf.to_container(cfg.renderer)))


class GuidanceFactory:
    """Loads priors and encodes the prompt once per device; every stage shares the result."""

    def __init__(self, cfg: DictConfig, genre: GenrePreset, cache_dir: Path | None) -> None:
        self.cfg = cfg
        self.genre = genre
        self.cache_dir = cache_dir
        self.built: dict[str, Guidance] = {}

    def __call__(self, device: torch.device) -> Guidance:
        key = str(device)
        if key not in self.built:
            self.built[key] = self._build(device)
        return self.built[key]

    def _build(self, device: torch.device) -> Guidance:
        prior = self.cfg.prior
        video = load_prior(prior, "video", device=device)
        if video is None:
            raise ConfigError(f"prior '{prior.get('name')}' has no video prior")
        image = load_prior(prior, "image", device=device) or video
        sr = load_prior(prior, "sr", device=device)
        video_cond = self.encode(video, device)
        return Guidance(
            video=video,
            video_cond=video_cond,
            image=image,  # type: ignore[arg-type]
            image_cond=self.encode(image, device),
            sr=sr,  # type: ignore[arg-type]
            sr_cond=self.encode(sr, device) if sr is not None else None,
            reference=self.reference(video, video_cond),
        )

    def reference(self, video: Any, cond: Any) -> torch.Tensor | None:
        """The video prior's own sample of the prompt (`prior.reference`), seeded by the run's
        seed so every rank and every resume draws the same clip; None when not asked for."""
        settings = ReferenceSettings.from_config(self.cfg.prior.get("reference"), STAGE_ORDER)
        if settings is None:
            return None
        if not hasattr(video, "sample"):
            raise needs_pixel_video(self.cfg.prior.video.get("kind"))
        generator = torch.Generator().manual_seed(int(self.cfg.seed))
        return video.sample(
            cond, steps=settings.steps, guidance=settings.guidance, generator=generator
        )

    def encode(self, prior: Any, device: torch.device) -> Any:
        encoder = PromptEncoder.for_prior(prior, cache_dir=self.cache_dir, device=device)
        conditioning = encoder.encode(self.cfg.prompt, self.genre)
        encoder.release()  # the text encoder is not needed once the prompt is embedded
        return conditioning


def run_generate(cfg: DictConfig, run_dir: Path) -> dict[str, Any]:
    """Run (or resume) every stage, then write video.mp4 and metrics.json into `run_dir`."""
    genre = GenrePreset.from_config(cfg.genre)
    specs = build_stage_specs(cfg)
    checkpoints = run_dir / CHECKPOINT_DIR
    if is_rank_zero():
        # config.yaml before anything else: a DDP sibling that checks run_dir a moment later
        # must find this run in it, not a bare checkpoints/ folder it would refuse.
        run_dir.mkdir(parents=True, exist_ok=True)
        if not (run_dir / CONFIG_FILE).exists():
            (run_dir / CONFIG_FILE).write_text(OmegaConf.to_yaml(cfg, resolve=True))
        checkpoints.mkdir(exist_ok=True)
    pl.seed_everything(int(cfg.seed), workers=True, verbose=False)
    field = build_field(cfg)
    renderer = build_renderer(cfg)
    cache = Path(cfg.cache_dir).expanduser() if cfg.get("cache_dir") else None
    guidance = GuidanceFactory(cfg, genre, cache)
    logger = instantiate(cfg.logger) if cfg.get("logger") else False
    reports = []
    previous: Path | None = None
    for spec in specs:
        finished = checkpoints / f"{spec.name}.pt"
        if finished.is_file():
            log.info("stage %s already finished: %s", spec.name, finished)
        else:
            if previous is not None:
                load_stage_state(previous, field, renderer)
            reports.append(
                run_stage(cfg, spec, specs, field, renderer, guidance, logger, run_dir, genre)
            )
        previous = finished
    assert previous is not None
    if not is_rank_zero():
        return {}  # DDP: one process writes the video and the metrics
    load_stage_state(previous, field, renderer)
    video_path = export_video(cfg, field, renderer, genre, run_dir / VIDEO_FILE)
    return write_metrics(cfg, run_dir, reports, video_path)


def is_rank_zero() -> bool:
    """Rank from the launcher's environment (srun, torchrun), known before any Trainer exists."""
    return rank_zero_only.rank == 0


def run_stage(
    cfg: DictConfig,
    spec: StageSpec,
    specs: list[StageSpec],
    field: torch.nn.Module,
    renderer: VolumeRenderer,
    guidance: Callable[[torch.device], Guidance],
    logger: Any,
    run_dir: Path,
    genre: GenrePreset,
) -> StageReport:
    module: StageModule = STAGE_MODULES[spec.name](field, renderer, spec, int(cfg.seed))
    module.guidance_factory = guidance
    module.preview_cameras = genre_trajectory_cameras(
        genre.camera, spec.frames if spec.frames > 1 else 8, spec.base_width, spec.base_height
    )
    module.preview_times = torch.linspace(0, 1, module.preview_cameras.batch_shape[1])[None]
    module.reference_cameras = lambda frames: genre_trajectory_cameras(
        genre.camera, frames, spec.base_width, spec.base_height, trajectory="static"
    )
    stage_dir = run_dir / CHECKPOINT_DIR / spec.name
    resume = resume_checkpoint(stage_dir)  # periodic last.ckpt or Slurm's requeue hpc_ckpt
    callbacks: list[pl.Callback] = [
        ModelCheckpoint(
            dirpath=stage_dir,
            filename="step{step}",
            save_last=True,
            save_top_k=0,
            every_n_train_steps=spec.checkpoint_every,
            save_on_train_epoch_end=False,
        ),
        NonFiniteLossGuard(spec.name),
        RegularizerRamps(spec.regularizers),
        StageProgressBar(spec.name, len(specs), specs.index(spec)),
    ]
    if spec.preview_every > 0:
        callbacks.append(VideoLogger(spec.preview_every, run_dir / "media", spec.name, cfg.fps))
    trainer_args = OmegaConf.to_container(cfg.trainer, resolve=True)
    trainer = pl.Trainer(
        **trainer_args,
        max_steps=spec.steps,
        max_epochs=-1,
        callbacks=callbacks,
        logger=logger,
        # The stage's own directory: Lightning's requeue checkpoint lands there, never where
        # the next stage would pick it up.
        default_root_dir=str(stage_dir),
        limit_val_batches=0,
        num_sanity_val_steps=0,
        use_distributed_sampler=False,
    )
    began = time.perf_counter()
    trainer.fit(module, ckpt_path=resume.path if resume else None, weights_only=True)
    # `last` = the end of the stage, optimizer state included (a full checkpoint, not weights only)
    trainer.save_checkpoint(stage_dir / PERIODIC_CHECKPOINT, weights_only=False)
    if trainer.is_global_zero:
        save_stage_state(run_dir / CHECKPOINT_DIR / f"{spec.name}.pt", field, renderer, spec)
    trainer.strategy.barrier("stage-saved")  # other ranks load it before the next stage
    return StageReport(
        spec.name, spec.steps, time.perf_counter() - began, resume.global_step if resume else 0
    )


def save_stage_state(
    path: Path, field: torch.nn.Module, renderer: VolumeRenderer, spec: StageSpec
) -> None:
    partial = path.with_suffix(".partial")
    state = {
        "field": field.state_dict(),
        "renderer": renderer.state_dict(),
        "stage": spec.name,
        "steps": spec.steps,
    }
    torch.save(state, partial)
    partial.replace(path)


def load_stage_state(path: Path, field: torch.nn.Module, renderer: VolumeRenderer) -> None:
    try:
        state = torch.load(path, weights_only=True, map_location="cpu")
        field.load_state_dict(state["field"])
        renderer.load_state_dict(state["renderer"])
    except Exception as error:  # corrupt, truncated, or from another field configuration
        raise ConfigError(f"checkpoint {path} cannot be loaded ({error})") from None


def export_frames(
    field: torch.nn.Module,
    renderer: VolumeRenderer,
    genre: GenrePreset,
    frames: int,
    width: int,
    height: int,
    trajectory: str | None = None,
    speed: float | None = None,
    grading: bool = True,
    seed: int = 0,
) -> torch.Tensor:
    """`(frames, 3, H, W)` along a trajectory over the whole scene time, graded by the genre."""
    cameras = genre_trajectory_cameras(
        genre.camera, frames, width, height, trajectory=trajectory, speed=speed, seed=seed
    )
    times = torch.linspace(0.0, 1.0, frames)[None]
    renderer.eval()
    field.static_only = False
    with torch.no_grad():
        video = renderer.render(field, cameras, times).rgb[0]
    return genre.grading.apply(video, seed=seed) if grading else video


def export_video(
    cfg: DictConfig,
    field: torch.nn.Module,
    renderer: VolumeRenderer,
    genre: GenrePreset,
    path: Path,
) -> Path:
    frames = max(1, round(cfg.duration * cfg.fps))
    video = export_frames(
        field,
        renderer,
        genre,
        frames,
        cfg.resolution.sr_width,
        cfg.resolution.sr_height,
        grading=export_grading(cfg),
        seed=int(cfg.seed),
    )
    return write_video(path, video, cfg.fps)


def export_grading(cfg: DictConfig) -> bool:
    """Whether a run's exports get the genre's colour grading: the prior's `export_grading`
    (false for a prior that learned the genres' looks itself, like the bundled one)."""
    return bool(cfg.prior.get("export_grading", True))


def write_metrics(
    cfg: DictConfig, run_dir: Path, reports: list[StageReport], video: Path
) -> dict[str, Any]:
    path = run_dir / METRICS_FILE
    metrics: dict[str, Any] = json.loads(path.read_text()) if path.is_file() else {}
    stages = metrics.setdefault("stages", {})
    for report in reports:
        stages[report.name] = {
            "steps": report.steps,
            "resumed_from_step": report.resumed_from_step,
            "seconds": round(report.seconds, 3),
            "it_per_s": round(report.iterations_per_second, 3),
        }
    metrics["video"] = {
        "path": video.name,
        "frames": max(1, round(cfg.duration * cfg.fps)),
        "fps": cfg.fps,
        "width": cfg.resolution.sr_width,
        "height": cfg.resolution.sr_height,
    }
    metrics["prompt"] = cfg.prompt
    metrics["genre"] = cfg.genre.name
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(metrics, indent=2))
    partial.replace(path)
    return metrics
