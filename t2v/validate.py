"""Checks of a composed config, run before anything is written: one clear ConfigError each."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import MissingMandatoryValue

from t2v.errors import ConfigError
from t2v.genres import GenrePreset
from t2v.priors.reference import ReferenceSettings, needs_pixel_video
from t2v.rundir import check_run_dir

MIN_SIDE, MAX_SIDE, SIDE_MULTIPLE = 16, 4096, 8
MAX_CLIP_FRAMES = 256
MAX_VIDEO_FRAMES = 100_000
RESOLUTION_KEYS = ("name", "width", "height", "frames", "sr_width", "sr_height")
PRETRAIN_KEYS = (
    "stages",
    "genres",
    "frames",
    "size",
    "sr_factor",
    "text_encoder",
    "num_threads",
    "checkpoint_every",
    "export_only",
    "export",
    "ema_decay",
    "text_dropout",
    "genre_dropout",
    "scheduler",
    "data",
    "video",
    "sr",
)
PRETRAIN_STAGE_KEYS = (
    "max_steps",
    "batch_size",
    "foreground_weight",
    "attribute_weight",
    "init_from",
    "pool_size",
    "pool_refresh",
    "lr",
    "weight_decay",
    "model",
    "crop_size",
)
HYDRA_KEYS = ("_target_", "_partial_", "_convert_", "_recursive_", "_args_")
# Trainer arguments the stages and pre-training set themselves (steps come from the schedule).
RESERVED_TRAINER_KEYS = (
    "max_steps",
    "max_epochs",
    "callbacks",
    "logger",
    "default_root_dir",
    "limit_val_batches",
    "num_sanity_val_steps",
    "use_distributed_sampler",
)


def validate_generate(cfg: DictConfig, run_dir: Path | None) -> None:
    prompt = _required_text(cfg, "prompt", 'pass one, e.g. prompt="a red ball bouncing"')
    if len(prompt) > 1000:
        raise ConfigError(f"prompt is {len(prompt)} characters long; keep it under 1000")
    GenrePreset.from_config(cfg.genre)
    check_resolution(cfg.resolution)
    check_video_length(cfg)
    check_field_and_renderer(cfg)
    check_priors(cfg)
    check_schedule(cfg)
    check_trainer(cfg)
    check_logger(cfg)
    if not isinstance(cfg.prior.get("export_grading", True), bool):
        raise ConfigError(
            f"prior.export_grading = {cfg.prior.export_grading!r} must be true or false"
        )
    if run_dir is not None:
        resolved = OmegaConf.to_container(cfg, resolve=True)
        check_run_dir(run_dir, {k: v for k, v in resolved.items() if k != "hydra"})


def validate_render(cfg: DictConfig, run_dir: Path | None) -> None:
    source = Path(_required_text(cfg, "run_dir", "pass the finished run, e.g. run_dir=runs/dog"))
    if not (source / "config.yaml").is_file():
        raise ConfigError(f"run_dir {source} holds no t2v run (no config.yaml)")
    for key in ("width", "height"):
        value = cfg.get(key)
        if value is not None and not (
            _is_whole(value) and 2 <= value <= MAX_SIDE and value % 2 == 0
        ):
            raise ConfigError(
                f"{key} = {value!r} must be an even number of pixels, 2 to {MAX_SIDE}"
            )
    frames, fps = cfg.get("frames"), cfg.get("fps")
    if frames is not None and not (_is_whole(frames) and 1 <= frames <= MAX_VIDEO_FRAMES):
        raise ConfigError(f"frames = {frames!r} must be a whole number in [1, {MAX_VIDEO_FRAMES}]")
    if fps is not None and not (isinstance(fps, int | float) and 0 < fps <= 240):
        raise ConfigError(f"fps = {fps!r} must be in (0, 240]")
    grading = cfg.get("grading")
    if grading is not None and not isinstance(grading, bool):
        raise ConfigError(f"grading = {grading!r} must be true, false or null (as the run did)")


def validate_evaluate(cfg: DictConfig, run_dir: Path | None) -> None:
    dirs = list(cfg.get("run_dirs") or [])
    if cfg.get("run_dir"):
        dirs.append(cfg.run_dir)
    if not dirs:
        raise ConfigError("no run to evaluate: pass run_dir=DIR or run_dirs=[DIR,DIR]")
    for item in dirs:
        if not (Path(item) / "config.yaml").is_file():
            raise ConfigError(f"{item} holds no t2v run (no config.yaml)")
    if isinstance(cfg.get("multiview"), DictConfig):
        from t2v.eval.multiview import multiview_options

        multiview_options(cfg.multiview)
    from t2v.commands.evaluate import front_view_enabled

    front_view_enabled(cfg)


def validate_pretrain(cfg: DictConfig, run_dir: Path | None) -> None:
    _required_text(cfg, "output_dir", "pass where the prior goes, e.g. output_dir=priors/mine")
    check_trainer(cfg)
    check_logger(cfg)
    check_pretrain_keys(cfg)


VALIDATORS: dict[str, Callable[[DictConfig, Path | None], None]] = {
    "generate": validate_generate,
    "render": validate_render,
    "evaluate": validate_evaluate,
    "pretrain": validate_pretrain,
}


def check_schedule(cfg: DictConfig) -> None:
    """Every stage's settings (steps, learning rates, cameras, regularizers and what they
    need): otherwise they would fail only once the run directory exists."""
    from t2v.stages.spec import build_stage_specs

    try:
        build_stage_specs(cfg)
    except (TypeError, ValueError) as error:  # e.g. a ramp that ends before it starts
        raise ConfigError(f"schedule '{cfg.schedule.get('name')}': {error}") from None


def check_priors(cfg: DictConfig) -> None:
    """Each role's kind, keys and SDS settings (guidance, weighting, timesteps), and a video
    prior at all: otherwise they would fail only once the run directory exists."""
    from t2v.priors.build import KINDS, check_prior

    checked = {role: check_prior(cfg.prior, role) for role in KINDS}
    if checked["video"] is None:
        raise ConfigError(f"prior '{cfg.prior.get('name')}' has no video prior")
    check_reference(cfg.prior.get("reference"), checked["video"][1])


def check_reference(node: Any, video_kind: str) -> None:
    """`prior.reference`: null, weight 0, or {steps >= 1, guidance >= 0, weight >= 0} with a
    pixel video prior (only a pixel prior samples a clip)."""
    from t2v.stages.spec import STAGE_ORDER

    settings = ReferenceSettings.from_config(node, STAGE_ORDER)
    if settings is not None and video_kind != "pixel_video":
        raise needs_pixel_video(video_kind)


def check_field_and_renderer(cfg: DictConfig) -> None:
    """The field backend (known, and able to run here) and the renderer settings: otherwise
    they would fail only once the run directory exists."""
    from t2v.field.hashgrid import resolve_backend
    from t2v.field.scene_field import check_knots
    from t2v.render import RendererConfig

    backend = OmegaConf.select(cfg, "field.backend")
    if backend is not None:
        resolve_backend(str(backend))
    if isinstance(cfg.get("field"), DictConfig):
        check_target_node("field", cfg.field)
    for name in ("trajectory_knots", "exposure_knots"):
        knots = OmegaConf.select(cfg, f"field.{name}")
        if knots is not None:
            check_knots(name, knots)
    if cfg.get("renderer") is not None:
        RendererConfig.from_config(OmegaConf.to_container(cfg.renderer, resolve=True))


def check_known_keys(where: str, node: Any, known: Iterable[str]) -> None:
    """A typo in a config node must not be ignored: one line naming the unknown key(s)."""
    if not isinstance(node, Mapping):
        raise ConfigError(f"{where} must be a mapping, got {node!r}")
    unknown = sorted(set(map(str, node.keys())) - set(known))
    if unknown:
        raise ConfigError(f"{where} has unknown key(s) {', '.join(unknown)}")


def check_pretrain_keys(cfg: DictConfig) -> None:
    """`pretrain.*`, its stages' options and model arguments, and the data source's."""
    from t2v.models import PixelSRUNet, PixelVideoUNet

    node = cfg.get("pretrain")
    if node is None:
        return
    check_known_keys("pretrain", node, PRETRAIN_KEYS)
    if isinstance(node.get("data"), DictConfig):
        check_target_node("pretrain.data", node.data)
    for stage, model_class in (("video", PixelVideoUNet), ("sr", PixelSRUNet)):
        if node.get(stage) is None:
            continue
        check_known_keys(f"pretrain.{stage}", node[stage], PRETRAIN_STAGE_KEYS)
        if isinstance(node[stage].get("model"), DictConfig):
            check_keywords(f"pretrain.{stage}.model", model_class, node[stage].model.keys())


def check_trainer(cfg: DictConfig) -> None:
    """`trainer.*` become Lightning `Trainer` arguments: a typo, or a key t2v sets itself, would
    fail as a TypeError once the run directory exists."""
    import lightning.pytorch as pl

    node = cfg.get("trainer")
    if not isinstance(node, DictConfig):
        return
    reserved = sorted(set(node.keys()) & set(RESERVED_TRAINER_KEYS))
    if reserved:
        raise ConfigError(
            f"trainer.{reserved[0]} is set by t2v (steps: schedule.<stage>.steps); remove it"
        )
    check_keywords("trainer", pl.Trainer, node.keys())


def check_logger(cfg: DictConfig) -> None:
    """`logger.*` are the logger class's arguments (W&B's take anything)."""
    if isinstance(cfg.get("logger"), DictConfig):
        check_target_node("logger", cfg.logger)


def check_target_node(where: str, node: DictConfig) -> None:
    """A node Hydra instantiates (`_target_`), and the ones nested in it: every key must be an
    argument of its target (otherwise: a TypeError once the run directory exists)."""
    target = node.get("_target_")
    if target is not None:
        module, _, name = str(target).rpartition(".")
        try:
            callable_ = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError, ValueError):
            raise ConfigError(f"{where}._target_ {target!r} cannot be imported") from None
        check_keywords(where, callable_, node.keys())
    for key, value in node.items():
        if isinstance(value, DictConfig):
            check_target_node(f"{where}.{key}", value)


def check_keywords(where: str, target: Callable[..., Any], keys: Iterable[Any]) -> None:
    parameters = inspect.signature(target).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return  # takes anything
    known = {
        name
        for name, p in parameters.items()
        if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    } - {"self"}
    unknown = sorted(set(map(str, keys)) - known - set(HYDRA_KEYS))
    if unknown:
        raise ConfigError(
            f"{where} has unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )


def check_resolution(resolution: Any) -> None:
    name = resolution.get("name", "?")
    check_known_keys("resolution", resolution, RESOLUTION_KEYS)
    for key in ("width", "height", "sr_width", "sr_height"):
        if key not in resolution:
            raise ConfigError(f"resolution '{name}' is missing {key}")
        _check_side(f"resolution.{key}", resolution[key])
    if resolution.sr_width < resolution.width or resolution.sr_height < resolution.height:
        raise ConfigError(
            f"resolution.sr_width x sr_height ({resolution.sr_width}x{resolution.sr_height}) must "
            f"be at least width x height ({resolution.width}x{resolution.height})"
        )
    frames = resolution.get("frames")
    if (
        not isinstance(frames, int)
        or isinstance(frames, bool)
        or not 1 <= frames <= MAX_CLIP_FRAMES
    ):
        raise ConfigError(
            f"resolution.frames = {frames!r} must be a whole number in [1, {MAX_CLIP_FRAMES}]"
        )


def check_video_length(cfg: DictConfig) -> None:
    duration, fps = cfg.duration, cfg.fps
    if not isinstance(fps, int | float) or isinstance(fps, bool) or not 0 < fps <= 240:
        raise ConfigError(f"fps = {fps!r} must be in (0, 240]")
    if not isinstance(duration, int | float) or isinstance(duration, bool) or duration <= 0:
        raise ConfigError(f"duration = {duration!r} must be a positive number of seconds")
    frames = round(duration * fps)
    if not 1 <= frames <= MAX_VIDEO_FRAMES:
        raise ConfigError(
            f"duration x fps = {duration} x {fps} gives {frames} frames; "
            f"it must give between 1 and {MAX_VIDEO_FRAMES}"
        )


def _check_side(name: str, value: Any) -> None:
    if (
        not isinstance(value, int)
        or isinstance(value, bool)
        or not MIN_SIDE <= value <= MAX_SIDE
        or value % SIDE_MULTIPLE
    ):
        raise ConfigError(
            f"{name} = {value!r} cannot work: sizes must be multiples of {SIDE_MULTIPLE} "
            f"between {MIN_SIDE} and {MAX_SIDE}"
        )


def _required_text(cfg: DictConfig, key: str, hint: str) -> str:
    try:
        value = cfg.get(key)
    except MissingMandatoryValue:
        value = None
    if value is None or not str(value).strip():
        raise ConfigError(f"{key} is empty: {hint}")
    return str(value).strip()


def _is_whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
