"""What a run that trains needs: its guidance (priors, prompt, reference clip) and the stages,
each a Lightning Trainer's fit over the shared field, resumable from its last checkpoint."""

from __future__ import annotations

import functools
import logging
import time
import warnings
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.utilities import rank_zero_only

from t2v.callbacks import (
    FieldLogger,
    GaussianDensification,
    NonFiniteLossGuard,
    RegularizerRamps,
    StageProgressBar,
    VideoLogger,
)
from t2v.cluster import PERIODIC_CHECKPOINT, resume_checkpoint
from t2v.config.generate import GenerateConfig
from t2v.field.gaussians import GaussianField
from t2v.generation.job import StageReport
from t2v.render import genre_trajectory_cameras
from t2v.rundir import RunDir
from t2v.scene import Scene, load_stage_state, save_stage_state
from t2v.stages.base import Guidance, Preview, StageContext, StageModule
from t2v.stages.spec import StageSpec
from t2v.stages.stages import STAGE_MODULES
from t2v.text.prompt import PromptEncoder

log = logging.getLogger(__name__)
# Lightning's banners (accelerator summary, logger tips) drown the stage progress bars.
logging.getLogger("lightning.pytorch.utilities.rank_zero").setLevel(logging.WARNING)
warnings.filterwarnings("ignore", message="The `srun` command is available")


class GuidanceFactory:
    """Loads priors and encodes the prompt once per device; every stage shares the result."""

    def __init__(self, config: GenerateConfig) -> None:
        self.config = config
        self.built: dict[str, Guidance] = {}

    def __call__(self, device: torch.device) -> Guidance:
        key = str(device)
        if key not in self.built:
            self.built[key] = self._build(device)
        return self.built[key]

    def _build(self, device: torch.device) -> Guidance:
        preset = self.config.prior
        video = preset.load("video", device=device)
        image = preset.load("image", device=device) or video
        sr = preset.load("sr", device=device)
        video_cond = self.encode(video, device)
        image_cond = self.encode(image, device)
        sr_cond = self.encode(sr, device) if sr is not None else None
        # Seeded by the run's seed: every rank and every resume draws the same clip.
        reference = preset.reference_clip(video, video_cond, self.config.seed)
        return Guidance(
            video=video,
            video_cond=video_cond,
            image=image,  # type: ignore[arg-type]
            image_cond=image_cond,
            sr=sr,  # type: ignore[arg-type]
            sr_cond=sr_cond,
            reference=reference,
        )

    def encode(self, prior: Any, device: torch.device) -> Any:
        encoder = PromptEncoder.for_prior(prior, cache_dir=self.config.cache_dir, device=device)
        conditioning = encoder.encode(self.config.prompt, self.config.genre)
        encoder.release()  # the text encoder is not needed once the prompt is embedded
        return conditioning


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch, and tell DDP's processes the seed (Lightning's way)."""
    pl.seed_everything(seed, workers=True, verbose=False)


def is_rank_zero() -> bool:
    """Rank zero as Lightning knows it: the launcher's, or the one a Trainer set up."""
    return rank_zero_only.rank == 0


def run_stages(
    config: GenerateConfig, scene: Scene, run: RunDir, previous: Path | None
) -> tuple[Path, list[StageReport]]:
    """Run (or skip, where finished) every stage in order, the first loading `previous` if
    given; the last stage's hand-off file and a report per stage that ran."""
    guidance = GuidanceFactory(config)
    logger = config.logger.build() if config.logger is not None else False
    reports = []
    for spec in config.stages:
        finished = run.stage_file(spec.name)
        if finished.is_file():
            log.info("stage %s already finished: %s", spec.name, finished)
        else:
            if previous is not None:
                load_stage_state(previous, scene.field, scene.renderer)
            reports.append(run_stage(config, spec, scene, guidance, logger, run))
        previous = finished
    assert previous is not None, "run_stages needs at least one stage"
    return previous, reports


def stage_context(
    config: GenerateConfig, spec: StageSpec, scene: Scene, guidance: GuidanceFactory
) -> StageContext:
    camera = config.genre.camera
    preview = genre_trajectory_cameras(
        camera, spec.frames if spec.frames > 1 else 8, spec.base_width, spec.base_height
    )
    return StageContext(
        field=scene.field,
        renderer=scene.renderer,
        spec=spec,
        seed=config.seed,
        guidance=guidance,
        optimizer=config.optimizer.build(),
        # A partial, not a lambda: `ddp_spawn` pickles the stage module.
        reference_cameras=functools.partial(
            genre_trajectory_cameras,
            camera,
            width=spec.base_width,
            height=spec.base_height,
            trajectory="static",
        ),
        preview=Preview(preview, torch.linspace(0, 1, preview.batch_shape[1])[None]),
    )


def run_stage(
    config: GenerateConfig,
    spec: StageSpec,
    scene: Scene,
    guidance: GuidanceFactory,
    logger: Any,
    run: RunDir,
) -> StageReport:
    module: StageModule = STAGE_MODULES[spec.name](stage_context(config, spec, scene, guidance))
    stage_dir = run.stage_dir(spec.name)
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
        FieldLogger(),
        StageProgressBar(spec.name, len(config.stages), config.stages.index(spec)),
    ]
    if isinstance(scene.field, GaussianField):
        callbacks.append(GaussianDensification(scene.field.densify))
    if spec.preview_every > 0:
        callbacks.append(VideoLogger(spec.preview_every, run.media, spec.name, config.fps))
    trainer = pl.Trainer(
        **config.trainer,
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
        save_stage_state(
            run.stage_file(spec.name), scene.field, scene.renderer, spec.name, spec.steps
        )
    trainer.strategy.barrier("stage-saved")  # other ranks load it before the next stage
    return StageReport(
        spec.name, spec.steps, time.perf_counter() - began, resume.global_step if resume else 0
    )
