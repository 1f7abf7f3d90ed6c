"""`run_generate`: the scene generator's field, the stages, then video.mp4 and metrics.json.

Stages hand the field on through `checkpoints/<stage>.pt` (`t2v.scene`); inside a stage,
Lightning's `checkpoints/<stage>/last.ckpt` is the resume point of an interrupted run.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from t2v.config.generate import GenerateConfig
from t2v.errors import ConfigError
from t2v.field.gaussians import GaussianField
from t2v.rundir import RunDir
from t2v.scene import Scene, load_stage_state, save_stage_state
from t2v.stages.spec import GENERATOR_STAGE
from t2v.video import write_video

# The environment variables a launcher (torchrun, srun, jsrun) states the rank in, in the order
# Lightning reads them before a Trainer exists.
RANK_VARIABLES = ("RANK", "LOCAL_RANK", "SLURM_PROCID", "JSM_NAMESPACE_RANK")


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


def run_generate(config: GenerateConfig, run: RunDir) -> dict[str, Any]:
    """Make (or resume) the run's scene, then write video.mp4 and metrics.json into `run`."""
    if launcher_rank() == 0:
        # config.yaml before anything else: a DDP sibling that checks run_dir a moment later
        # must find this run in it, not a bare checkpoints/ folder it would refuse.
        run.write_config(config.resolved)
        run.checkpoints.mkdir(exist_ok=True)
    if config.stages:
        from t2v.generation import training  # the priors and Lightning: a run that trains

        training.seed_everything(config.seed)
    else:
        torch.manual_seed(config.seed)
    scene = Scene.build(config)
    if isinstance(scene.field, GaussianField) and scene.field.init_from is not None:
        # Gaussians where a finished run's field is dense (a resumed stage then loads its own).
        scene.field.place_from(RunDir(scene.field.init_from).load_scene().field)
    reports: list[StageReport] = []
    previous: Path | None = None  # a hand-off file the first stage to run loads
    last: Path | None = None  # the field the run ends with
    if config.generator is not None:
        last = run.stage_file(GENERATOR_STAGE)
        if last.is_file():
            previous = last  # a resumed run: the stages start from the field it made
        else:
            # Every rank makes the same field; rank zero writes the hand-off file.
            reports.append(start_from_generator(config, scene, run))
    if config.stages:
        last, trained = training.run_stages(config, scene, run, previous)
        reports += trained
        rank_zero = training.is_rank_zero()  # the rank a Trainer set up
    else:
        rank_zero = launcher_rank() == 0
    assert last is not None
    if not rank_zero:
        return {}  # DDP: one process writes the video and the metrics
    load_stage_state(last, scene.field, scene.renderer)
    if not config.stages:
        # No stage trained an occupancy grid: one built from the field lets the render skip
        # the empty space that is most of the box.
        scene.renderer.occupancy.refresh(scene.field)
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
    text = GeneratorText().encode([config.prompt], tokens=generator.reads_tokens)[0]
    field = generator.field_for(text, config.genre.name)
    try:
        scene.field.load_state_dict(field.state_dict())
    except RuntimeError as error:  # the door compared the configurations; this is a backstop
        raise ConfigError(f"the scene generator's field does not fit field: {error}") from None
    if launcher_rank() == 0:
        save_stage_state(
            run.stage_file(GENERATOR_STAGE), scene.field, scene.renderer, GENERATOR_STAGE, 0
        )
    return StageReport(GENERATOR_STAGE, 0, time.perf_counter() - began, 0)


def launcher_rank() -> int:
    """This process's rank as its launcher states it (0 where none does)."""
    for name in RANK_VARIABLES:
        value = os.environ.get(name)
        if value is not None:
            return int(value)
    return 0


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
