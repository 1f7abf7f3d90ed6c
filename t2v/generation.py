"""The main job: build the scene, run the stages in order over it, export video and metrics.

Stages hand the field on through `checkpoints/<stage>.pt` (`t2v.scene`); inside a stage,
Lightning's `checkpoints/<stage>/last.ckpt` is the resume point of an interrupted run.
"""

from __future__ import annotations

import functools
import logging
import time
import warnings
from dataclasses import dataclass
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
from t2v.errors import ConfigError
from t2v.field.gaussians import GaussianField
from t2v.render import genre_trajectory_cameras
from t2v.rundir import RunDir
from t2v.scene import Scene, load_stage_state, render_along_trajectory, save_stage_state
from t2v.stages import (
    GENERATOR_STAGE,
    STAGE_MODULES,
    Guidance,
    Preview,
    StageContext,
    StageModule,
    StageSpec,
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


def run_generate(config: GenerateConfig, run: RunDir) -> dict[str, Any]:
    """Run (or resume) every stage, then write video.mp4 and metrics.json into `run`."""
    if is_rank_zero():
        # config.yaml before anything else: a DDP sibling that checks run_dir a moment later
        # must find this run in it, not a bare checkpoints/ folder it would refuse.
        run.write_config(config.resolved)
        run.checkpoints.mkdir(exist_ok=True)
    pl.seed_everything(config.seed, workers=True, verbose=False)
    scene = Scene.build(config)
    if isinstance(scene.field, GaussianField) and scene.field.init_from is not None:
        # Gaussians where a finished run's field is dense (a resumed stage then loads its own).
        scene.field.place_from(RunDir(scene.field.init_from).load_scene().field)
    guidance = GuidanceFactory(config)
    logger = config.logger.build() if config.logger is not None else False
    reports = []
    previous: Path | None = None  # the hand-off file the next stage loads
    last: Path | None = None  # the field the run ends with
    if config.generator is not None:
        last = run.stage_file(GENERATOR_STAGE)
        if last.is_file():
            previous = last  # a resumed run: the stages start from the field it made
        else:
            # Every rank makes the same field; rank zero writes the hand-off file.
            reports.append(start_from_generator(config, scene, run))
    for spec in config.stages:
        finished = run.stage_file(spec.name)
        if finished.is_file():
            log.info("stage %s already finished: %s", spec.name, finished)
        else:
            if previous is not None:
                load_stage_state(previous, scene.field, scene.renderer)
            reports.append(run_stage(config, spec, scene, guidance, logger, run))
        previous = last = finished
    assert last is not None
    if not is_rank_zero():
        return {}  # DDP: one process writes the video and the metrics
    load_stage_state(last, scene.field, scene.renderer)
    video = scene.frames(
        config.video_frames, config.resolution.sr_width, config.resolution.sr_height
    )
    write_video(run.video_file, video, config.fps)
    return write_metrics(config, run, reports)


def start_from_generator(config: GenerateConfig, scene: Scene, run: RunDir) -> StageReport:
    """Put the scene generator's field for the prompt into `scene` and hand it on as
    `checkpoints/generator.pt` (what `schedule=instant` renders, `init=amortised` optimises)."""
    from t2v.generator import GeneratorText, load_generator

    assert config.generator is not None
    began = time.perf_counter()
    generator = load_generator(config.generator)
    text = GeneratorText().encode([config.prompt])[0]
    field = generator.field_for(text, config.genre.name)
    try:
        scene.field.load_state_dict(field.state_dict())
    except RuntimeError as error:  # the door compared the configurations; this is a backstop
        raise ConfigError(f"the scene generator's field does not fit field: {error}") from None
    if is_rank_zero():
        save_stage_state(
            run.stage_file(GENERATOR_STAGE), scene.field, scene.renderer, GENERATOR_STAGE, 0
        )
    return StageReport(GENERATOR_STAGE, 0, time.perf_counter() - began, 0)


def is_rank_zero() -> bool:
    """Rank from the launcher's environment (srun, torchrun), known before any Trainer exists."""
    return rank_zero_only.rank == 0


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


def write_metrics(
    config: GenerateConfig, run: RunDir, reports: list[StageReport]
) -> dict[str, Any]:
    stages = dict(run.read_metrics().get("stages", {}))
    for report in reports:
        stages[report.name] = {
            "steps": report.steps,
            "resumed_from_step": report.resumed_from_step,
            "seconds": round(report.seconds, 3),
            "it_per_s": round(report.iterations_per_second, 3),
        }
    return run.update_metrics(
        {
            "stages": stages,
            "video": {
                "path": run.video_file.name,
                "frames": config.video_frames,
                "fps": config.fps,
                "width": config.resolution.sr_width,
                "height": config.resolution.sr_height,
            },
            "prompt": config.prompt,
            "genre": config.genre.name,
        }
    )


__all__ = ["GuidanceFactory", "render_along_trajectory", "run_generate"]
