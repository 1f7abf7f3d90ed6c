"""`t2v evaluate`: score finished runs into their metrics.json and one markdown (and W&B) table.

Per run: CLIP R-precision and CLIP score of sampled video frames (`t2v.eval.clip`), temporal
consistency and motion (`t2v.eval.temporal`), attribute accuracy where the prompt is in the
bundled prior's domain (`t2v.eval.attributes`), of the video and of the final field seen from
the genre's front camera, and multi-view consistency of the final field (`t2v.eval.multiview`).
Whatever cannot be measured for a run is left out with a note in its "notes" list, never
guessed.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from omegaconf import DictConfig, OmegaConf

from t2v.errors import ConfigError, RunDirError, T2VError
from t2v.eval.clip import ClipEncoder, clip_metrics, load_clip, sample_frame_indices
from t2v.eval.multiview import MultiViewConfig, multiview_consistency, multiview_options
from t2v.eval.prompts import build_prompt_set, normalise, prompt_attributes
from t2v.eval.report import atomic_write_text, log_wandb_table, markdown_table, merge_evaluation
from t2v.eval.temporal import FlowConfig, temporal_metrics
from t2v.rundir import CONFIG_FILE, VIDEO_FILE
from t2v.video import read_video

if TYPE_CHECKING:
    from t2v.render import VolumeRenderer

log = logging.getLogger(__name__)
TABLE_FILE = "evaluation.md"


@dataclass
class FinishedRun:
    """A run dir checked for evaluation: its saved config and where its video is.

    Videos are decoded one run at a time, so a sweep of long HD runs never sits in memory.
    """

    run_dir: Path
    config: DictConfig
    video: Path

    @property
    def prompt(self) -> str:
        return str(self.config.get("prompt") or "")

    @property
    def genre(self) -> str:
        genre = self.config.get("genre")
        if isinstance(genre, DictConfig):
            return str(genre.get("name") or "none")
        return str(genre or "none")


def run(cfg: DictConfig) -> None:
    from t2v.cli import register_resolvers

    register_resolvers()  # the logger node interpolates t2v resolvers
    threads = cfg.get("threads")
    with torch_threads(int(threads) if threads else None):
        evaluate_runs(cfg)


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


def evaluate_runs(cfg: DictConfig) -> None:
    """Score every requested run, merge each metrics.json, write and print the table."""
    run_dirs = requested_run_dirs(cfg)
    runs = [load_run(run_dir) for run_dir in run_dirs]  # every run is checked before any write
    device = torch.device(str(cfg.get("device") or "cpu"))
    torch.manual_seed(int(cfg.get("seed") or 0))
    clip = load_clip(str(cfg.clip_model), device) if cfg.get("clip_model") else None
    prompt_set = build_prompt_set([r.prompt for r in runs], cfg.get("prompt_set"))
    text_embeds = clip.embed_texts(prompt_set) if clip is not None else None
    results = []
    for finished in runs:
        frames, fps = read_video(finished.video)
        evaluation = evaluate_run(finished, frames, fps, cfg, clip, prompt_set, text_embeds)
        merge_evaluation(finished.run_dir, evaluation)
        results.append((finished.run_dir.name or str(finished.run_dir), evaluation))
    table = markdown_table(results)
    output = Path(cfg.output) if cfg.get("output") else run_dirs[0].resolve().parent / TABLE_FILE
    output.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(output, table)
    print(table, end="")
    print(f"t2v evaluate: scored {len(runs)} run(s); table in {output}")
    logger = cfg.get("logger")
    if logger is not None and str(logger.get("_target_", "")).endswith("WandbLogger"):
        node = OmegaConf.to_container(logger, resolve=True)
        save_dir = Path(node.get("save_dir") or output.parent)  # type: ignore[union-attr]
        where = log_wandb_table(results, node, save_dir)  # type: ignore[arg-type]
        print(f"t2v evaluate: logged the table to W&B ({where})")


def requested_run_dirs(cfg: DictConfig) -> list[Path]:
    dirs = [Path(str(item)) for item in (cfg.get("run_dirs") or [])]
    if cfg.get("run_dir"):
        dirs.insert(0, Path(str(cfg.run_dir)))
    if not dirs:
        raise ConfigError("no run to evaluate: pass run_dir=DIR or run_dirs=[DIR,DIR]")
    unique: list[Path] = []
    for item in dirs:
        if item.resolve() not in {d.resolve() for d in unique}:
            unique.append(item)
    return unique


def load_run(run_dir: Path) -> FinishedRun:
    config_file = run_dir / CONFIG_FILE
    if not config_file.is_file():
        raise RunDirError(f"{run_dir} holds no t2v run (no {CONFIG_FILE})")
    try:
        config = OmegaConf.load(config_file)
    except Exception as error:  # any YAML failure means the same to the user
        raise RunDirError(f"{config_file} cannot be read ({error})") from None
    if not isinstance(config, DictConfig) or not config.get("prompt"):
        raise RunDirError(f"{config_file} is not a t2v generate config (no prompt)")
    video = run_dir / VIDEO_FILE
    if not video.is_file():
        raise RunDirError(f"{run_dir} has no {VIDEO_FILE} yet: finish it with t2v generate")
    return FinishedRun(run_dir, config, video)


def evaluate_run(
    finished: FinishedRun,
    frames: torch.Tensor,
    fps: float,
    cfg: DictConfig,
    clip: ClipEncoder | None,
    prompt_set: list[str],
    text_embeds: torch.Tensor | None,
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
        chosen = sample_frame_indices(frames.shape[0], int(cfg.get("frames") or 0))
        image_embeds = clip.embed_images(frames[chosen])
        target = [normalise(p) for p in prompt_set].index(normalise(finished.prompt))
        evaluation["clip"] = {
            **clip_metrics(image_embeds, text_embeds.to(image_embeds.device), target).to_dict(),
            "model": clip.name,
            "prompt_set": str(cfg.get("prompt_set") or "built-in"),
        }
    else:
        notes.append("clip: skipped (clip_model=null)")
    flow = FlowConfig(max_side=int(cfg.get("flow_max_side") or FlowConfig.max_side))
    evaluation["temporal"] = temporal_metrics(frames, flow).to_dict()
    attributes = attribute_scores(frames, finished.prompt, finished.genre, notes)
    if attributes is not None:
        evaluation["attributes"] = attributes
    front = attributes is not None and front_view_enabled(cfg)
    multiview = multiview_enabled(cfg)
    if not multiview:
        notes.append("multiview: skipped (multiview.enabled=false)")
    final = load_final_field(finished, cfg, notes) if front or multiview else None
    if final is not None and front:
        evaluation["attributes_front"] = front_view_attributes(final, frames.shape, notes)
    if final is not None and multiview:
        evaluation["multiview"] = field_consistency(final, cfg, clip)
    evaluation["notes"] = notes
    return evaluation


def multiview_enabled(cfg: DictConfig) -> bool:
    node = cfg.get("multiview")
    return node is not None and bool(node.get("enabled", True))


def front_view_enabled(cfg: DictConfig) -> bool:
    value = cfg.get("front_view", True)
    if not isinstance(value, bool):
        raise ConfigError(f"front_view = {value!r} must be true or false")
    return value


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


@dataclass
class FinalField:
    """A run's field and renderer as its last finished stage left them."""

    run: FinishedRun
    field: torch.nn.Module
    renderer: VolumeRenderer
    checkpoint: Path


def load_final_field(finished: FinishedRun, cfg: DictConfig, notes: list[str]) -> FinalField | None:
    """The run's last stage checkpoint loaded on `cfg.device`; None (and a note) without one."""
    from t2v.commands.render import last_stage_checkpoint
    from t2v.generation import build_field, build_renderer, load_stage_state

    saved = finished.config
    skipped = "(front view and multiview skipped)"
    if saved.get("field") is None or saved.get("renderer") is None:
        notes.append(f"field: config.yaml has no field/renderer node {skipped}")
        return None
    try:
        checkpoint = last_stage_checkpoint(finished.run_dir)
    except T2VError:
        notes.append(f"field: the run has no checkpoints/<stage>.pt {skipped}")
        return None
    field = build_field(saved)
    renderer = build_renderer(saved)
    load_stage_state(checkpoint, field, renderer)
    device = torch.device(str(cfg.get("device") or "cpu"))
    return FinalField(finished, field.to(device), renderer.to(device), checkpoint)


def front_view_attributes(
    final: FinalField, video_shape: torch.Size, notes: list[str]
) -> dict[str, Any] | None:
    """Attribute accuracy of the scene seen from the genre's front camera (`trajectory=static`),
    over the video's length, at its aspect ratio and graded as it was.

    The evaluator is fitted and validated on still-camera clips, and motion words are
    screen-space seen from the front (DESIGN.md); the exported video's own camera (an orbit, a
    dolly) adds its motion to what the evaluator reads there. Rendered at the evaluator's
    analysis size, so it costs the same for an HD run.
    """
    from t2v.eval.attributes import ANALYSIS_SIDE
    from t2v.generation import export_frames, export_grading
    from t2v.genres import GenrePreset

    saved = final.run.config
    frames, _, height, width = video_shape
    scale = min(1.0, ANALYSIS_SIDE / min(height, width))
    video = export_frames(
        final.field,
        final.renderer,
        GenrePreset.from_config(saved.genre),
        int(frames),
        max(1, round(width * scale)),
        max(1, round(height * scale)),
        trajectory="static",
        grading=export_grading(saved),
        seed=int(saved.seed),
    )
    return attribute_scores(video, final.run.prompt, final.run.genre, notes)


def field_consistency(final: FinalField, cfg: DictConfig, clip: ClipEncoder | None) -> dict:
    """Multi-view consistency of the run's last field checkpoint, from its genre's camera."""
    from t2v.genres import GenrePreset

    camera = GenrePreset.from_config(final.run.config.genre).camera
    config = MultiViewConfig(
        **multiview_options(cfg.multiview),
        elevation_deg=float(camera.elevation_deg),
        distance=float(camera.distance),
        fov_deg=float(camera.fov_deg),
    )
    metrics = multiview_consistency(final.field, final.renderer, config, clip).to_dict()
    return {**metrics, "checkpoint": final.checkpoint.name}
