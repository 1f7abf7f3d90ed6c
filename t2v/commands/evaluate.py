"""`t2v evaluate`: score finished runs into their metrics.json and one markdown (and W&B) table.

Per run: CLIP R-precision and CLIP score of sampled video frames (`t2v.eval.clip`), temporal
consistency and motion (`t2v.eval.temporal`), attribute accuracy where the prompt is in the
bundled prior's domain (`t2v.eval.attributes`), of the video and of the final field seen from
the genre's front camera, side and back reads and haze of the final field (`t2v.eval.views`),
and multi-view consistency of the final field (`t2v.eval.multiview`).
Whatever cannot be measured for a run is left out with a note in its "notes" list, never
guessed; a CLIP hub id missing from the local cache on an offline machine skips the CLIP
metrics with one line saying how to fetch it.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig

from t2v.commands.door import resolved
from t2v.config.evaluate import EvaluateConfig
from t2v.config.generate import GenerateConfig
from t2v.errors import RunDirError
from t2v.eval.clip import (
    ClipEncoder,
    clip_metrics,
    load_clip,
    missing_offline,
    sample_frame_indices,
)
from t2v.eval.multiview import multiview_consistency
from t2v.eval.prompts import build_prompt_set, normalise, prompt_attributes
from t2v.eval.report import json_ready, log_wandb_table, markdown_table
from t2v.eval.temporal import FlowConfig, temporal_metrics
from t2v.eval.views import FRONT, ViewRender, render_fixed_views, view_reads
from t2v.rundir import RunDir, atomic_write_text
from t2v.scene import Scene, scene_times
from t2v.schema import parse
from t2v.targets import check_target
from t2v.video import read_video

log = logging.getLogger(__name__)
TABLE_FILE = "evaluation.md"


@dataclass
class FinishedRun:
    """A run folder checked for evaluation: its configuration and its video.

    Videos are decoded one run at a time, so a sweep of long HD runs never sits in memory.
    """

    run: RunDir
    config: GenerateConfig

    @property
    def prompt(self) -> str:
        return self.config.prompt

    @property
    def genre(self) -> str:
        return self.config.genre.name


def settings(cfg: DictConfig) -> EvaluateConfig:
    """The typed options, and every requested run readable and finished."""
    config = parse(EvaluateConfig, resolved(cfg), "")
    if config.logger is not None:
        check_target("logger", config.logger)
    for run_dir in config.runs():
        load_run(run_dir)
    return config


def run(config: EvaluateConfig) -> None:
    with torch_threads(config.threads):
        evaluate_runs(config)


@contextlib.contextmanager
def torch_threads(count: int | None) -> Iterator[None]:
    """Limit torch's intra-op threads inside the block (None: leave them as they are)."""
    before = torch.get_num_threads()
    if count:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def evaluate_runs(config: EvaluateConfig) -> None:
    """Score every requested run, merge each metrics.json, write and print the table."""
    run_dirs = config.runs()
    runs = [load_run(run_dir) for run_dir in run_dirs]  # every run is checked before any write
    device = torch.device(config.device)
    torch.manual_seed(config.seed)
    clip, skipped = open_clip(config.clip_model, device)
    prompt_set = build_prompt_set([r.prompt for r in runs], config.prompt_set)
    text_embeds = clip.embed_texts(prompt_set) if clip is not None else None
    results = []
    for finished in runs:
        frames, fps = read_video(finished.run.video_file)
        evaluation = evaluate_run(
            finished, frames, fps, config, clip, prompt_set, text_embeds, skipped
        )
        finished.run.update_metrics({"evaluation": json_ready(evaluation)})
        results.append((finished.run.root.name or str(finished.run.root), evaluation))
    table = markdown_table(results)
    output = Path(config.output) if config.output else run_dirs[0].resolve().parent / TABLE_FILE
    atomic_write_text(output, table)
    print(table, end="")
    print(f"t2v evaluate: scored {len(runs)} run(s); table in {output}")
    logger = config.logger
    if logger is not None and str(logger.get("_target_", "")).endswith("WandbLogger"):
        save_dir = Path(logger.get("save_dir") or output.parent)
        where = log_wandb_table(results, logger, save_dir)
        print(f"t2v evaluate: logged the table to W&B ({where})")


def open_clip(model: str | None, device: torch.device) -> tuple[ClipEncoder | None, str]:
    """The CLIP encoder and, without one, why (the note each run's metrics.json keeps).

    A hub id that is not cached on an offline machine skips the CLIP metrics with one line on
    stderr saying how to get them, so everything else is still scored; a CLIP folder that
    cannot load stays an error.
    """
    if not model:
        return None, "clip_model=null"
    missing = missing_offline(model)
    if missing is None:
        return load_clip(model, device), ""
    print(
        f"t2v evaluate: CLIP R-precision, CLIP score and multiview clip_spread skipped: "
        f"{missing}, or pass clip_model=null to skip them without this note",
        file=sys.stderr,
    )
    return None, f"{model} is not in the local Hugging Face cache"


def load_run(run_dir: Path) -> FinishedRun:
    run = RunDir(run_dir)
    config = run.load_config()
    if not run.video_file.is_file():
        raise RunDirError(
            f"{run_dir} has no {run.video_file.name} yet: finish it with t2v generate"
        )
    return FinishedRun(run, config)


def evaluate_run(
    finished: FinishedRun,
    frames: torch.Tensor,
    fps: float,
    config: EvaluateConfig,
    clip: ClipEncoder | None,
    prompt_set: list[str],
    text_embeds: torch.Tensor | None,
    clip_skipped: str = "clip_model=null",
) -> dict[str, Any]:
    """Every metric of one run (frames (T, 3, H, W) in [0, 1]), as metrics.json's "evaluation"."""
    notes: list[str] = []
    evaluation: dict[str, Any] = {
        "prompt": finished.prompt,
        "genre": finished.genre,
        "video": {
            "frames": int(frames.shape[0]),
            "fps": fps,
            "width": int(frames.shape[-1]),
            "height": int(frames.shape[-2]),
        },
    }
    if clip is not None and text_embeds is not None:
        chosen = sample_frame_indices(frames.shape[0], config.frames)
        image_embeds = clip.embed_images(frames[chosen])
        target = [normalise(p) for p in prompt_set].index(normalise(finished.prompt))
        evaluation["clip"] = {
            **clip_metrics(image_embeds, text_embeds.to(image_embeds.device), target).to_dict(),
            "model": clip.name,
            "prompt_set": config.prompt_set or "built-in",
        }
    else:
        notes.append(f"clip: skipped ({clip_skipped})")
    flow = FlowConfig(max_side=config.flow_max_side)
    evaluation["temporal"] = temporal_metrics(frames, flow).to_dict()
    attributes = attribute_scores(frames, finished.prompt, finished.genre, notes)
    if attributes is not None:
        evaluation["attributes"] = attributes
    front = attributes is not None and config.front_view
    sides = config.side_views
    multiview = config.multiview.enabled
    if not multiview:
        notes.append("multiview: skipped (multiview.enabled=false)")
    if not sides:
        notes.append("views: skipped (side_views=false)")
    needed = front or multiview or sides
    scene = final_scene(finished, config.device, notes) if needed else None
    if scene is not None and sides:
        renders = fixed_views(scene, frames.shape)
        expected = attributes["expected"] if attributes is not None else {}
        evaluation.update(view_reads(renders, expected, grader(scene)))
        if front:
            front_video = grader(scene)(renders[FRONT].rgb)
            scores = attribute_scores(front_video, finished.prompt, finished.genre, notes)
            evaluation["attributes_front"] = scores
    elif scene is not None and front:
        evaluation["attributes_front"] = front_view_attributes(finished, scene, frames.shape, notes)
    if scene is not None and multiview:
        evaluation["multiview"] = field_consistency(scene, config, clip)
    evaluation["notes"] = notes
    return evaluation


def attribute_scores(
    frames: torch.Tensor, prompt: str, genre: str, notes: list[str]
) -> dict[str, Any] | None:
    """Expected (from the prompt and genre) versus measured (from the video) attributes.

    Motions compare as they look on screen (approach looks like grow); the genre look is
    compared only for genres the evaluator knows.
    """
    from t2v.data.looks import GENRES
    from t2v.eval.attributes import describe, screen_motion

    expected: dict[str, str] = prompt_attributes(prompt)
    if not expected:
        notes.append("attributes: the prompt names no colour or motion of the bundled domain")
        return None
    if "motion" in expected:
        expected["motion"] = screen_motion(expected["motion"])
    if genre in GENRES:
        expected["genre"] = genre
    measured = describe(frames)
    predicted = {key: str(getattr(measured, key)) for key in expected}
    correct = {key: predicted[key] == value for key, value in expected.items()}
    return {
        "expected": expected,
        "predicted": predicted,
        "correct": correct,
        "accuracy": sum(correct.values()) / len(correct),
    }


def final_scene(finished: FinishedRun, device: str, notes: list[str]) -> Scene | None:
    """The run's field after its last finished stage, on `device`; None (and a note) without
    one."""
    try:
        return finished.run.load_scene(device=device)
    except RunDirError:
        notes.append(
            "field: the run has no checkpoints/<stage>.pt (front view and multiview skipped)"
        )
        return None


def analysis_shape(video_shape: torch.Size) -> tuple[int, int, int]:
    """(frames, width, height) of the field's fixed views: the video's length and aspect ratio
    at the attribute evaluator's analysis size, so an HD run costs the same."""
    from t2v.eval.attributes import ANALYSIS_SIDE

    frames, _, height, width = video_shape
    scale = min(1.0, ANALYSIS_SIDE / min(height, width))
    return int(frames), max(1, round(width * scale)), max(1, round(height * scale))


def grader(scene: Scene) -> Callable[[torch.Tensor], torch.Tensor]:
    """The run's export grading (none when the run exports ungraded), as `Scene.frames`."""
    config = scene.config
    if not config.export_grading:
        return lambda video: video
    return lambda video: config.genre.grading.apply(video, seed=config.seed)


def fixed_views(scene: Scene, video_shape: torch.Size) -> dict[str, ViewRender]:
    """The field from the front, both sides and behind (`t2v.eval.views`) at the clip's scene
    times, through the renderer the run used."""
    frames, width, height = analysis_shape(video_shape)
    buffer = next(iter(scene.renderer.buffers()), None)
    times = scene_times(frames, buffer.device if buffer is not None else "cpu")
    return render_fixed_views(
        scene.field, scene.renderer, scene.config.genre.camera, times, width, height
    )


def front_view_attributes(
    finished: FinishedRun, scene: Scene, video_shape: torch.Size, notes: list[str]
) -> dict[str, Any] | None:
    """Attribute accuracy of the scene seen from the genre's front camera (`trajectory=static`),
    over the video's length, at its aspect ratio and graded as it was.

    The evaluator is fitted and validated on still-camera clips, and motion words are
    screen-space seen from the front (DESIGN.md); the exported video's own camera (an orbit, a
    dolly) adds its motion to what the evaluator reads there. Rendered at the evaluator's
    analysis size, so it costs the same for an HD run.
    """
    video = scene.frames(*analysis_shape(video_shape), trajectory="static")
    return attribute_scores(video, finished.prompt, finished.genre, notes)


def field_consistency(scene: Scene, config: EvaluateConfig, clip: ClipEncoder | None) -> dict:
    """Multi-view consistency of the run's last field checkpoint, from its genre's camera."""
    camera = scene.config.genre.camera
    views = config.multiview.for_camera(camera.elevation_deg, camera.distance, camera.fov_deg)
    metrics = multiview_consistency(scene.field, scene.renderer, views, clip).to_dict()
    checkpoint = scene.checkpoint.name if scene.checkpoint is not None else None
    return {**metrics, "checkpoint": checkpoint}
