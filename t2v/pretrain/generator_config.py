"""`SceneGeneratorSettings`: the typed `pretrain` node of `t2v pretrain pretrain=scene_generator`.

The scene generator trains through the same pieces as `t2v generate`: its `field` (the template
it modulates), `prior` (SDS and reference clips), `renderer`, `schedule` and `resolution` nodes
are the generate groups, parsed by the same settings classes, and each genre's stage specs
(training cameras, clip times) come from `build_stage_specs` as a generate run of that genre
would get them. What is specific to the generator (prompts, held-out split, weights, optimiser,
EMA) is typed here.
"""

from __future__ import annotations

import functools
import importlib.resources
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, TypeVar

from pydantic import Field

from t2v.config.generate import Resolution, spec_inputs
from t2v.errors import ConfigError
from t2v.genres import GenrePreset
from t2v.priors import PriorPreset
from t2v.render import RendererSettings
from t2v.schema import (
    Bool,
    NonNegativeFloat,
    PositiveFloat,
    PositiveInt,
    Text,
    parse,
    settings,
)
from t2v.stages.spec import ScheduleSettings, StageSpec, build_stage_specs
from t2v.targets import Target, check_target

Fraction = Annotated[float, Field(strict=True, gt=0, le=1)]
Decay = Annotated[float, Field(strict=True, ge=0, lt=1)]
# The stages whose cameras and clip times the generator trains with.
TRAINED_STAGES = ("static", "dynamic")
T = TypeVar("T")


@settings
class GeneratorModel:
    """`pretrain.model`: sizes of the conditioning network (`t2v.generator.SceneGenerator`)."""

    genre_dim: PositiveInt = 16
    hidden_dim: PositiveInt = 256
    max_offset: PositiveFloat = 0.8  # bound of the trajectory's knots, world units
    # Queries of the motion head over MiniLM's token states (0: the trajectory is read from
    # the sentence vector like the FiLM; `t2v.generator.model` says why not).
    motion_heads: Annotated[int, Field(strict=True, ge=0, le=64)] = 0


@settings
class GeneratorRates:
    """`pretrain.lr`: Adam's rate for the conditioning network and each template group."""

    generator: PositiveFloat = 1e-3
    static: NonNegativeFloat = 0.01
    dynamic: NonNegativeFloat = 0.01
    heads: NonNegativeFloat = 0.005
    background: NonNegativeFloat = 0.01


@settings
class GeneratorWeights:
    """`pretrain.weights`: the terms of each prompt's loss (0: off)."""

    static: NonNegativeFloat = 1.0  # image-prior SDS of one view from all round
    dynamic: NonNegativeFloat = 1.0  # video-prior SDS of a clip in the frontal band
    reference: NonNegativeFloat = 10.0  # the front view against the prior's sample of the prompt
    # The predicted trajectory, seen from the front camera, against the object's track in that
    # sample (screen displacement and log size change): motion without rendering.
    track: NonNegativeFloat = 0.0
    # The motion head's read against the evaluator's read of that sample (cross-entropy).
    motion: NonNegativeFloat = 0.0


@settings
class SceneGeneratorSettings:
    """`pretrain.*` of `pretrain=scene_generator`."""

    kind: Literal["scene_generator"]
    genres: Annotated[tuple[Text, ...], Field(min_length=1)]
    prompts: PositiveInt  # training captions drawn from the vocabulary's train split
    heldout_every: Annotated[int, Field(strict=True, ge=2)]  # 1 combination in N never trained
    reference_steps: PositiveInt  # DDIM steps of each prompt's reference clip
    render_scale: Fraction  # training renders at this fraction of the resolution's size
    batch_size: PositiveInt
    max_steps: PositiveInt
    checkpoint_every: PositiveInt
    ema_decay: Decay
    export: Bool
    export_only: Bool
    field: dict[str, Any]  # a `_target_` node: checked by `scene_inputs`
    prior: dict[str, Any]
    renderer: dict[str, Any]
    schedule: dict[str, Any]
    resolution: dict[str, Any]
    model: GeneratorModel = field(default_factory=GeneratorModel)
    lr: GeneratorRates = field(default_factory=GeneratorRates)
    weights: GeneratorWeights = field(default_factory=GeneratorWeights)
    num_threads: Annotated[int, Field(strict=True, ge=0, le=1024)] | None = None
    progress_every: PositiveInt = 10
    # A generator folder (or pkg://) whose weights the run starts from (fine-tuning); its
    # manifest must build the same network. A resumed run continues from its checkpoint.
    init_from: Text | None = None

    def __post_init__(self) -> None:
        if len(set(self.genres)) != len(self.genres):
            raise ConfigError("pretrain.genres must be unique")
        known = known_genres()
        strangers = [name for name in self.genres if name not in known]
        if strangers:
            raise ConfigError(
                f"pretrain.genres: {strangers[0]!r} has no conf/genre file "
                f"(known: {', '.join(sorted(known))})"
            )


@dataclass(frozen=True)
class SceneInputs:
    """The generate pieces the generator trains through, checked."""

    field: Target
    prior: PriorPreset
    renderer: RendererSettings
    resolution: Resolution
    genres: dict[str, GenrePreset]
    specs: dict[str, dict[str, StageSpec]]  # genre -> stage -> spec


def scene_inputs(settings: SceneGeneratorSettings) -> SceneInputs:
    """Parse the generate nodes of `settings` and resolve each genre's stage specs."""
    field_node = check_target("pretrain.field", settings.field)
    if field_node.name != "t2v.field.SceneField":
        raise ConfigError("pretrain.field must be a t2v.field.SceneField (field=hexplane)")
    # A prior role and a stage's cameras name their keys from `prior.` and `schedule.`.
    prior = prefixed(parse, "prior.")(PriorPreset, settings.prior, "pretrain.prior")
    renderer = parse(RendererSettings, settings.renderer, "pretrain.renderer")
    resolution = parse(Resolution, settings.resolution, "pretrain.resolution")
    schedule = parse(ScheduleSettings, settings.schedule, "pretrain.schedule")
    if prior.reference is None and settings.weights.reference > 0:
        raise ConfigError("pretrain.weights.reference > 0 needs pretrain.prior.reference")
    genres = {name: genre_preset(name) for name in settings.genres}
    specs = {}
    for name, genre in genres.items():
        built = prefixed(build_stage_specs, "schedule.")(
            schedule, spec_inputs(resolution, prior, renderer, genre, 2.0)
        )
        specs[name] = {spec.name: spec for spec in built if spec.name in TRAINED_STAGES}
        missing = [stage for stage in TRAINED_STAGES if stage not in specs[name]]
        if missing:
            raise ConfigError(f"pretrain.schedule needs a {missing[0]} stage with steps > 0")
    return SceneInputs(field_node, prior, renderer, resolution, genres, specs)


def prefixed(function: Callable[..., T], names: str) -> Callable[..., T]:
    """`function`, whose ConfigErrors naming a key under `names` name it under `pretrain.`."""

    def call(*args: Any, **kwargs: Any) -> T:
        try:
            return function(*args, **kwargs)
        except ConfigError as error:
            text = str(error)
            raise ConfigError(f"pretrain.{text}" if text.startswith(names) else text) from None

    return call


@functools.cache
def known_genres() -> frozenset[str]:
    folder = importlib.resources.files("t2v.conf") / "genre"
    return frozenset(
        item.name.removesuffix(".yaml") for item in folder.iterdir() if item.name.endswith(".yaml")
    )


@functools.cache
def genre_preset(name: str) -> GenrePreset:
    """The genre of `conf/genre/<name>.yaml`, as `genre=<name>` gives it to a generate run."""
    import yaml

    folder = importlib.resources.files("t2v.conf") / "genre"
    node = yaml.safe_load((folder / f"{name}.yaml").read_text(encoding="utf-8"))
    node = {key: value for key, value in node.items() if key != "defaults"}
    return parse(GenrePreset, node, f"genre {name}")
