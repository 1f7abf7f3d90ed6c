"""`GenerateConfig`: the typed configuration of `t2v generate`, parsed once from the composed one.

Everything a run reads (prompt, genre, resolution, video length, field, renderer, priors,
stages, trainer, logger, optimiser) is checked here before anything is written; below this
layer nothing reads a config node again. `resolved` keeps the plain composed configuration:
it is what `config.yaml` holds and what decides whether a run directory may be resumed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from t2v.config.lightning import logger_target, trainer_arguments
from t2v.config.paths import check_writable_folder
from t2v.errors import ConfigError
from t2v.generator.shipped import SHIPPED, read_manifest, resolve_folder
from t2v.genres import GenrePreset
from t2v.priors import PriorPreset
from t2v.render import RendererSettings
from t2v.schema import Int, PositiveInt, Text, parse, settings
from t2v.stages.spec import (
    STAGE_ORDER,
    ScheduleSettings,
    SpecInputs,
    StageSpec,
    build_stage_specs,
)
from t2v.targets import Target, check_target

MIN_SIDE, MAX_SIDE, SIDE_MULTIPLE = 16, 4096, 8
MAX_CLIP_FRAMES = 256
MAX_VIDEO_FRAMES = 100_000
MAX_PROMPT = 1000
# The optimiser's parameters come from the stage (its parameter groups and rates).
OPTIMIZER_TAKES = ("params", "lr")

Side = Annotated[int, Field(strict=True, ge=MIN_SIDE, le=MAX_SIDE, multiple_of=SIDE_MULTIPLE)]
Seconds = Annotated[float, Field(strict=True, gt=0)]
FramesPerSecond = Annotated[float, Field(strict=True, gt=0, le=240)]


@settings
class Resolution:
    """Render sizes of the base and the high-resolution stages, and frames per training clip."""

    name: Text
    width: Side
    height: Side
    frames: Annotated[PositiveInt, Field(le=MAX_CLIP_FRAMES)]
    sr_width: Side
    sr_height: Side

    def __post_init__(self) -> None:
        if self.sr_width < self.width or self.sr_height < self.height:
            raise ValueError(
                f"sr_width x sr_height ({self.sr_width}x{self.sr_height}) must be at least "
                f"width x height ({self.width}x{self.height})"
            )


@settings
class GenerateNode:
    """The top level of `conf/generate.yaml`: its scalars typed, its groups read below."""

    prompt: Annotated[str, Field(strict=True, max_length=MAX_PROMPT)]
    run_dir: Text | None = None
    # scratch: the first stage starts from the field's own init; amortised: from the scene
    # generator's field for the prompt (`schedule=instant` always uses it, and runs no stage).
    init: Literal["scratch", "amortised"] = "scratch"
    generator: Text = SHIPPED  # the scene generator's folder, or pkg://
    seed: Int = 0
    duration: Seconds = 2.0
    fps: FramesPerSecond = 8.0
    cache_dir: Text | None = None
    genre: dict[str, Any] | None = None
    resolution: dict[str, Any] | None = None
    schedule: dict[str, Any] | None = None
    prior: dict[str, Any] | None = None
    field: dict[str, Any] | None = None
    renderer: dict[str, Any] | None = None
    trainer: dict[str, Any] | None = None
    logger: dict[str, Any] | None = None
    optimizer: dict[str, Any] | None = None

    @field_validator("prompt")
    @classmethod
    def _not_blank(cls, prompt: str) -> str:
        if not prompt.strip():
            raise ValueError('the prompt is empty: pass one, e.g. prompt="a red ball bouncing"')
        return prompt

    def __post_init__(self) -> None:
        frames = round(self.duration * self.fps)  # before the floor of one frame: 0 is refused
        if not 1 <= frames <= MAX_VIDEO_FRAMES:
            raise ValueError(
                f"duration x fps = {self.duration} x {self.fps} gives {frames} frames; "
                f"it must give between 1 and {MAX_VIDEO_FRAMES}"
            )


@dataclass(frozen=True)
class GenerateConfig:
    prompt: str
    run_dir: Path | None
    seed: int
    duration: float  # seconds of scene time in the video
    fps: float
    cache_dir: Path | None  # prompt embeddings, keyed by (model, text)
    genre: GenrePreset
    resolution: Resolution
    field: Target
    renderer: RendererSettings
    prior: PriorPreset
    stages: tuple[StageSpec, ...]
    trainer: Mapping[str, Any]  # Lightning Trainer arguments
    logger: Target | None
    optimizer: Target  # a `_partial_` optimiser: called with the stage's parameter groups
    resolved: Mapping[str, Any]  # the composed configuration, interpolations resolved
    # The scene generator's folder where the run starts from its field (`init=amortised`,
    # `schedule=instant`); None: the stages start from the field's own init.
    generator: Path | None = None

    @property
    def video_frames(self) -> int:
        """Frames of the exported video: duration x fps."""
        return self.frames_at(self.fps)

    def frames_at(self, fps: float) -> int:
        """Frames of the whole scene time shown at `fps` (at least one)."""
        return max(1, round(self.duration * fps))

    @property
    def export_grading(self) -> bool:
        """Whether exports get the genre's colour grading (a prior that learned the genres'
        looks itself, like the bundled one, says no)."""
        return self.prior.export_grading


def parse_generate(resolved: Mapping[str, Any]) -> GenerateConfig:
    """`resolved`, the composed `t2v generate` configuration as plain containers (no `hydra`
    node), as a GenerateConfig; one ConfigError naming the first bad key."""
    top = parse(GenerateNode, {key: value for key, value in resolved.items()}, "")
    genre = parse(GenrePreset, required(top.genre, "genre"), "genre")
    resolution = parse(Resolution, required(top.resolution, "resolution"), "resolution")
    field = check_target("field", required(top.field, "field"))
    renderer = parse(RendererSettings, required(top.renderer, "renderer"), "renderer")
    prior = parse(PriorPreset, required(top.prior, "prior"), "prior")
    schedule = parse(ScheduleSettings, required(top.schedule, "schedule"), "schedule")
    stages = build_stage_specs(
        schedule, spec_inputs(resolution, prior, renderer, genre, top.duration)
    )
    for key in ("run_dir", "cache_dir"):
        folder = getattr(top, key)
        if folder:
            check_writable_folder(key, Path(folder).expanduser())
    optimizer = check_target(
        "optimizer", required(top.optimizer, "optimizer"), takes=OPTIMIZER_TAKES
    )
    if optimizer.node.get("_partial_") is not True:
        raise ConfigError("optimizer needs _partial_: true (the stage passes its parameters)")
    generator = None
    if top.init == "amortised" or schedule.instant:
        generator = check_generator(top.generator, field, genre.name, top.prompt)
    return GenerateConfig(
        prompt=top.prompt,
        run_dir=Path(top.run_dir) if top.run_dir else None,
        seed=top.seed,
        duration=top.duration,
        fps=top.fps,
        cache_dir=Path(top.cache_dir).expanduser() if top.cache_dir else None,
        genre=genre,
        resolution=resolution,
        field=field,
        renderer=renderer,
        prior=prior,
        stages=stages,
        # A run that trains nothing (`schedule=instant`) builds no Trainer and no logger: they
        # are not checked, and Lightning (seconds to import) is not imported.
        trainer=trainer_arguments(top.trainer) if stages else {},
        logger=logger_target(top.logger) if stages else None,
        optimizer=optimizer,
        resolved=dict(resolved),
        generator=generator,
    )


def spec_inputs(
    resolution: Resolution,
    prior: PriorPreset,
    renderer: RendererSettings,
    genre: GenrePreset,
    duration: float,
) -> SpecInputs:
    """What the stage specs take from the other groups of a run's configuration."""
    return SpecInputs(
        width=resolution.width,
        height=resolution.height,
        sr_width=resolution.sr_width,
        sr_height=resolution.sr_height,
        frames=prior.clip_frames(resolution.frames),
        duration=duration,
        genre=genre,
        static_cameras=renderer.cameras.static,
        dynamic_cameras=renderer.cameras.dynamic,
        reference_weights=prior.reference_weights(STAGE_ORDER),
        image_probability=prior.hybrid.p_image,
        image_frames=prior.hybrid.image_frames,
    )


def check_generator(location: str, field: Target, genre: str, prompt: str) -> Path:
    """The scene generator's folder, once it is known to make this run's field for this genre
    and to read this prompt; one ConfigError naming what does not fit otherwise."""
    from t2v.generator.shipped import GeneratorText

    folder = resolve_folder(location)
    manifest = read_manifest(folder)
    difference = first_difference(manifest["field"], dict(field.node), "field")
    if difference is not None:
        raise ConfigError(
            f"the scene generator makes the field it was trained with (field=hexplane); "
            f"this run's {difference}"
        )
    if genre not in manifest["genres"]:
        raise ConfigError(
            f"genre {genre}: the scene generator does not know it "
            f"(knows: {', '.join(manifest['genres'])})"
        )
    GeneratorText().check(prompt)
    GeneratorText.check_length(prompt)
    return folder


def first_difference(theirs: Any, ours: Any, where: str) -> str | None:
    """`where.key = value` of the first value of `ours` that differs from `theirs`."""
    if isinstance(theirs, Mapping) and isinstance(ours, Mapping):
        for key in dict.fromkeys([*theirs, *ours]):
            found = first_difference(theirs.get(key), ours.get(key), f"{where}.{key}")
            if found is not None:
                return found
        return None
    if isinstance(theirs, list | tuple) and isinstance(ours, list | tuple):
        theirs, ours = list(theirs), list(ours)
    return None if theirs == ours else f"{where} = {ours!r} (the generator's: {theirs!r})"


def required(node: Any, name: str) -> Any:
    if node is None:
        raise ConfigError(f"{name} is missing: pick one of conf/{name}/ (e.g. {name}=...)")
    return node
