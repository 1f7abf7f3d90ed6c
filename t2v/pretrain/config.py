"""`PretrainConfig`: the typed configuration of `t2v pretrain`, parsed once from the composed one.

Every key of `conf/pretrain.yaml` and `conf/pretrain/` has a type and a range here, checked
before anything is written; below the command layer the pretraining code reads these
dataclasses, never a config node. `resolved` keeps the plain composed configuration: it is what
the run dir's `config.yaml` holds and what decides whether a run dir may be resumed.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field

from t2v.config.lightning import logger_target, trainer_arguments
from t2v.config.paths import check_writable_folder
from t2v.errors import ConfigError
from t2v.models import PixelSRUNet, PixelVideoUNet
from t2v.models.video_unet import UNCONDITIONAL_GENRES
from t2v.pretrain.generator_config import SceneGeneratorSettings, scene_inputs
from t2v.schema import (
    Bool,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    Text,
    UnitFloat,
    parse,
    settings,
)
from t2v.targets import Target, check_target

Stage = Literal["video", "sr"]
# Arguments of the data source that each stage fills in itself (clip size, seed, stream offset).
DATA_TAKES = ("frames", "height", "width", "seed", "start")
MAX_SEED = 2**32 - 1  # Lightning's seed_everything draws a random seed outside [0, 2**32)
MAX_FRAMES = 256
MAX_CHANNELS = 4096

Seed = Annotated[int, Field(strict=True, ge=0, le=MAX_SEED)]
Channels = Annotated[int, Field(strict=True, ge=1, le=MAX_CHANNELS)]
FrameCount = Annotated[int, Field(strict=True, ge=2, le=MAX_FRAMES)]
Fraction = Annotated[float, Field(strict=True, gt=0, le=1)]
PredictionType = Literal["epsilon", "v_prediction", "sample"]
NonEmptyText = Annotated[str, Field(strict=True, min_length=1)]


@settings
class UNetSettings:
    """Arguments of a pixel UNet that a recipe may set; t2v sets its genres, frames and sizes.

    Unset (None) arguments keep the model's default and stay out of its saved config."""

    model_class: ClassVar[type[PixelVideoUNet] | type[PixelSRUNet]] = PixelVideoUNet

    block_channels: Annotated[tuple[Channels, ...], Field(min_length=1, max_length=8)] | None = None
    embed_dim: Channels | None = None
    norm_groups: Channels | None = None
    max_frames: Annotated[int, Field(strict=True, ge=1, le=MAX_FRAMES)] | None = None
    prediction_type: PredictionType | None = None
    text_scale: PositiveFloat | None = None
    text_pathway: Literal["linear", "mlp", "attention"] | None = None

    def value(self, name: str) -> Any:
        """The argument the model is built with: the one given, or the model's default."""
        given = getattr(self, name)
        if given is not None:
            return given
        return inspect.signature(self.model_class).parameters[name].default

    def arguments(self) -> dict[str, Any]:
        """The given arguments as the model's keyword arguments (lists, as YAML gives them)."""
        given = {item.name: getattr(self, item.name) for item in fields(self)}
        return {
            name: list(value) if isinstance(value, tuple) else value
            for name, value in given.items()
            if value is not None
        }

    def levels(self) -> int:
        return len(self.value("block_channels"))


@settings
class VideoModelSettings(UNetSettings):
    """`pretrain.video.model`: PixelVideoUNet's arguments."""

    model_class: ClassVar[type[PixelVideoUNet]] = PixelVideoUNet

    frame_mixing: Bool | None = None
    coordinates: Bool | None = None
    layout_channels: Annotated[int, Field(strict=True, ge=0, le=MAX_CHANNELS)] | None = None


@settings
class SRModelSettings(UNetSettings):
    """`pretrain.sr.model`: PixelSRUNet's arguments."""

    model_class: ClassVar[type[PixelSRUNet]] = PixelSRUNet

    max_noise_level: NonNegativeInt | None = None


@settings
class NoiseSchedule:
    """`pretrain.scheduler`: diffusers `DDPMScheduler` arguments, shared by both priors.

    Unset (None) arguments keep diffusers' defaults; an empty node means the cosine,
    v-prediction schedule of `t2v.pretrain.modules.default_scheduler_config`."""

    num_train_timesteps: Annotated[int, Field(strict=True, ge=2, le=100_000)] | None = None
    beta_start: PositiveFloat | None = None
    beta_end: PositiveFloat | None = None
    beta_schedule: Literal["linear", "scaled_linear", "squaredcos_cap_v2", "sigmoid"] | None = None
    variance_type: (
        Literal[
            "fixed_small",
            "fixed_small_log",
            "fixed_large",
            "fixed_large_log",
            "learned",
            "learned_range",
        ]
        | None
    ) = None
    clip_sample: Bool | None = None
    clip_sample_range: PositiveFloat | None = None
    prediction_type: PredictionType | None = None
    thresholding: Bool | None = None
    dynamic_thresholding_ratio: UnitFloat | None = None
    sample_max_value: PositiveFloat | None = None
    timestep_spacing: Literal["linspace", "leading", "trailing"] | None = None
    steps_offset: NonNegativeInt | None = None
    rescale_betas_zero_snr: Bool | None = None

    def __post_init__(self) -> None:
        start, end = self.beta_start, self.beta_end
        if start is not None and end is not None and start >= end:
            raise ConfigError(f"pretrain.scheduler.beta_start = {start} must be below beta_end")

    def arguments(self) -> dict[str, Any]:
        """The given arguments, as `DDPMScheduler(**arguments)` takes them."""
        given = {item.name: getattr(self, item.name) for item in fields(self)}
        return {name: value for name, value in given.items() if value is not None}

    @property
    def timesteps(self) -> int:
        return self.num_train_timesteps or 1000  # diffusers' default


@settings
class StageSettings:
    """Optimisation and data of one prior stage (`pretrain.video`, `pretrain.sr`)."""

    max_steps: PositiveInt
    batch_size: PositiveInt
    pool_size: PositiveInt  # clips kept in memory (`t2v.pretrain.clip_pool`)
    pool_refresh: Fraction  # new clips rendered per clip drawn
    lr: PositiveFloat
    weight_decay: NonNegativeFloat
    foreground_weight: NonNegativeFloat = 0.0
    attribute_weight: NonNegativeFloat = 0.0
    init_from: NonEmptyText | None = None  # a stage checkpoint or a prior folder


@settings
class VideoStage(StageSettings):
    """`pretrain.video`: the video prior at the base resolution."""

    model: VideoModelSettings = field(default_factory=VideoModelSettings)


@settings
class SRStage(StageSettings):
    """`pretrain.sr`: the SR prior at `size * sr_factor`, trained on square crops if given."""

    model: SRModelSettings = field(default_factory=SRModelSettings)
    crop_size: PositiveInt | None = None


@settings
class PretrainSettings:
    """`pretrain.*`: what is trained (models, data, objective) and how long."""

    stages: tuple[Stage, ...]
    genres: Annotated[tuple[Text, ...], Field(min_length=1)]
    frames: FrameCount
    size: Annotated[int, Field(strict=True, ge=8, le=1024)]  # base resolution (square)
    sr_factor: Annotated[int, Field(strict=True, ge=2, le=8)]
    text_encoder: Literal["minilm"]
    checkpoint_every: PositiveInt
    export_only: Bool
    export: Bool
    ema_decay: Annotated[float, Field(strict=True, ge=0, lt=1)]
    text_dropout: UnitFloat
    genre_dropout: UnitFloat
    scheduler: NoiseSchedule
    data: dict[str, Any]  # a `_target_` node: checked by `read_config`
    video: VideoStage | None = None
    sr: SRStage | None = None
    num_threads: Annotated[int, Field(strict=True, ge=0, le=1024)] | None = None  # 0: as is

    def __post_init__(self) -> None:
        if len(set(self.stages)) != len(self.stages):
            raise ConfigError(f"pretrain.stages = {list(self.stages)} lists a stage twice")
        if self.genres[0] not in UNCONDITIONAL_GENRES:
            raise ConfigError('pretrain.genres must start with the dropped genre: "" or none')
        if len(set(self.genres)) != len(self.genres) or "" in self.genres[1:]:
            raise ConfigError("pretrain.genres must be unique, and only the first may be empty")
        for name in self.stages:
            self.check_stage(name)

    def check_stage(self, name: Stage) -> None:
        """What one key alone cannot say: the stage's model must fit its clips and schedule."""
        stage, where = self.stage(name), f"pretrain.{name}"
        model = stage.model
        groups = model.value("norm_groups")
        uneven = [channels for channels in model.value("block_channels") if channels % groups]
        if uneven:
            raise ConfigError(
                f"{where}.model.norm_groups = {groups} must divide every entry of "
                f"{where}.model.block_channels (not {uneven[0]})"
            )
        if self.frames > model.value("max_frames"):
            raise ConfigError(
                f"{where}.model.max_frames = {model.value('max_frames')} must be at least "
                f"pretrain.frames ({self.frames})"
            )
        if isinstance(stage, SRStage):
            if stage.crop_size is not None and (
                stage.crop_size > self.stage_size(name) or stage.crop_size % self.sr_factor
            ):
                raise ConfigError(
                    f"{where}.crop_size = {stage.crop_size} must fit size * sr_factor "
                    f"({self.stage_size(name)}) and be a multiple of sr_factor ({self.sr_factor})"
                )
            if stage.model.value("max_noise_level") >= self.scheduler.timesteps:
                raise ConfigError(
                    f"{where}.model.max_noise_level must be below "
                    f"pretrain.scheduler.num_train_timesteps ({self.scheduler.timesteps})"
                )
        side, halvings = self.trained_side(name), model.levels() - 1
        if side % 2**halvings:
            raise ConfigError(
                f"{where}: {side}x{side} training clips cannot pass {model.levels()} UNet levels "
                f"(pretrain.size and crop_size must give a multiple of {2**halvings})"
            )

    def stage(self, name: Stage) -> VideoStage | SRStage:
        stage = self.video if name == "video" else self.sr
        if stage is None:
            raise ConfigError(f"pretrain.{name} is missing (pretrain.stages lists it)")
        return stage

    def stage_size(self, name: Stage) -> int:
        """Side of the clips a stage's data source renders."""
        return self.size * (self.sr_factor if name == "sr" else 1)

    def trained_side(self, name: Stage) -> int:
        """Side of the clips the stage's model sees (the SR stage may crop)."""
        stage = self.stage(name)
        crop = stage.crop_size if isinstance(stage, SRStage) else None
        return crop or self.stage_size(name)

    def model_arguments(self, name: Stage) -> dict[str, Any]:
        """The stage model's constructor arguments: the recipe's, plus what t2v sets."""
        arguments = self.stage(name).model.arguments()
        arguments.update(
            genres=list(self.genres), num_frames=self.frames, sample_size=self.stage_size(name)
        )
        if name == "sr":
            arguments["sr_factor"] = self.sr_factor
        return arguments


@settings
class PretrainNode:
    """The top level of `conf/pretrain.yaml`: its scalars typed, its groups read below."""

    output_dir: NonEmptyText  # where the trained prior folder is written
    pretrain: dict[str, Any]
    run_dir: NonEmptyText | None = None
    seed: Seed = 0
    trainer: dict[str, Any] | None = None
    logger: dict[str, Any] | None = None


@dataclass(frozen=True)
class PretrainConfig:
    """Everything a `t2v pretrain` run reads, checked."""

    output_dir: Path
    run_dir: Path | None  # the door sets it to Hydra's job folder where it is not given
    seed: int
    # The priors' recipe, or the scene generator's (`pretrain.kind: scene_generator`)
    pretrain: PretrainSettings | SceneGeneratorSettings
    data: Target | None  # the priors' video-text source (each stage passes DATA_TAKES)
    trainer: Mapping[str, Any]  # Lightning Trainer arguments
    logger: Target | None  # each stage passes its own save_dir
    resolved: Mapping[str, Any]  # the composed configuration, interpolations resolved


def read_config(resolved: Mapping[str, Any]) -> PretrainConfig:
    """`resolved`, the composed `t2v pretrain` configuration as plain containers (no `hydra`
    node), as a PretrainConfig; one ConfigError naming the first bad key. Reads the file
    system (where things go, what init_from names), writes nothing."""
    top = parse(PretrainNode, dict(resolved), "")
    pretrain: PretrainSettings | SceneGeneratorSettings
    data: Target | None = None
    if "kind" in top.pretrain:  # only the scene generator's recipe has one
        pretrain = parse(SceneGeneratorSettings, top.pretrain, "pretrain")
        scene_inputs(pretrain)  # the generate nodes it trains through, checked
    else:
        pretrain = parse(PretrainSettings, top.pretrain, "pretrain")
        data = check_target("pretrain.data", pretrain.data, takes=DATA_TAKES)
        check_data_source(data, pretrain)
        for name in pretrain.stages:
            init_from = pretrain.stage(name).init_from
            if init_from is not None and not Path(init_from).exists():
                raise ConfigError(f"pretrain.{name}.init_from: {init_from} does not exist")
    check_writable_folder("output_dir", Path(top.output_dir))
    if top.run_dir is not None:
        check_writable_folder("run_dir", Path(top.run_dir))
    return PretrainConfig(
        output_dir=Path(top.output_dir),
        run_dir=Path(top.run_dir) if top.run_dir is not None else None,
        seed=top.seed,
        pretrain=pretrain,
        data=data,
        trainer=trainer_arguments(top.trainer),
        logger=stage_logger(top.logger),
        resolved=dict(resolved),
    )


def check_data_source(data: Target, pretrain: PretrainSettings) -> None:
    """Build the source once as the video stage would (cheap: a stream renders nothing until
    read), so that values its annotations cannot state (vocabulary, probabilities) are
    refused here rather than once the run dir exists."""
    try:
        data.build(frames=pretrain.frames, height=pretrain.size, width=pretrain.size, seed=0)
    except Exception as error:  # Hydra wraps the source's own refusal of a value
        problem = " ".join(str(error.__cause__ or error).split())
        raise ConfigError(f"pretrain.data: {problem}") from None


def stage_logger(node: Mapping[str, Any] | None) -> Target | None:
    """The checked logger node without `save_dir`: each stage logs under its own folder of the
    run dir (a given `save_dir`, usually `${run_dir}`, is checked, then replaced)."""
    if node is None:
        return None
    without = {key: value for key, value in node.items() if key != "save_dir"}
    logger_target(node if node.get("save_dir") is not None else without)
    return Target(without)
