"""`StageSpec`: one stage's resolved settings, from schedule x resolution x genre x video length.

`ScheduleSettings` is the typed `schedule` node (steps, learning rates per parameter group,
cameras, clip lengths, regularizer ramps per stage); `build_stage_specs` resolves it once per
run against the resolution, the genre's motion and camera style and the prior preset.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from t2v.errors import ConfigError
from t2v.genres import GenrePreset
from t2v.render import CameraSamplerConfig, ClipTimeConfig
from t2v.schedules import Ramp
from t2v.schema import (
    Bool,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    Text,
    UnitFloat,
    settings,
)

STAGE_ORDER = ("static", "dynamic", "superres", "temporal")
# The field the pre-trained scene generator made (`schedule=instant`, `init=amortised`): handed on
# like a stage's, before the first stage.
GENERATOR_STAGE = "generator"
HANDOFF_ORDER = (GENERATOR_STAGE, *STAGE_ORDER)
MOTION_REGULARIZERS = ("temporal_smoothness", "dynamic_sparsity", "frame_consistency")
REGULARIZERS = (*MOTION_REGULARIZERS, "opacity_sparsity", "background_anchor")
HIGH_RESOLUTION_STAGES = ("superres", "temporal")


@settings
class LearningRates:
    """Learning rate per parameter group of the field (0: the group is frozen)."""

    static: NonNegativeFloat = 0.0
    dynamic: NonNegativeFloat = 0.0
    heads: NonNegativeFloat = 0.0
    background: NonNegativeFloat = 0.0
    trajectory: NonNegativeFloat = 0.0
    exposure: NonNegativeFloat = 0.0


@settings
class WeightRamp(Ramp):
    """A regularizer's weight over the stage's steps: never negative."""

    start: NonNegativeFloat
    end: NonNegativeFloat


@settings
class Regularizers:
    """Weight ramps of the regularizers (a number is a constant weight; absent: off)."""

    temporal_smoothness: WeightRamp | None = None
    dynamic_sparsity: WeightRamp | None = None
    frame_consistency: WeightRamp | None = None
    opacity_sparsity: WeightRamp | None = None
    background_anchor: WeightRamp | None = None


@settings
class AllRoundSettings:
    """The sides and back in a stage that trains motion, whose clips come from the frontal band
    (a 2D prior's motion words are screen-space):

    - `weight`: image-prior SDS on one more view from all round, at one of the clip's times,
      each step (4D-fy's hybrid SDS, with its views all round): one more prior call a step;
    - `clips`: the fraction of steps whose clip is seen from all round instead, by the stage's
      own priors, with only the `groups` learning from it: the look of every side follows the
      front's, and the motion stays what the frontal clips make it. Costs nothing more.
    """

    weight: NonNegativeFloat = 0.0
    clips: UnitFloat = 0.0
    groups: tuple[str, ...] = ("heads", "background", "exposure")
    cameras: dict[str, Any] | None = None  # patches the renderer's static-stage cameras

    def __post_init__(self) -> None:
        known = [item.name for item in fields(LearningRates)]
        unknown = [name for name in self.groups if name not in known]
        if unknown:
            raise ValueError(f"groups: '{unknown[0]}' is not one of {', '.join(known)}")


@settings
class StageSettings:
    """One stage of a schedule, as written in `conf/schedule/*.yaml` (steps 0: skipped)."""

    steps: NonNegativeInt = 0
    batch_size: PositiveInt | None = None  # None: the schedule's batch_size
    lr: LearningRates = field(default_factory=LearningRates)
    cameras: dict[str, Any] | None = None  # patches the renderer's training cameras
    clip_seconds: tuple[PositiveFloat, PositiveFloat] = (1.0, 2.0)
    static_time: UnitFloat = 0.0  # the static stage's one scene time
    sr_weight: NonNegativeFloat | None = None  # None: 1 at high resolution, else 0
    base_weight: NonNegativeFloat = 1.0
    regularizers: Regularizers = field(default_factory=Regularizers)
    regularizer_points: PositiveInt = 4096
    all_round: AllRoundSettings = field(default_factory=AllRoundSettings)

    def __post_init__(self) -> None:
        low, high = self.clip_seconds
        if low > high:
            raise ValueError(f"clip_seconds ({low}, {high}) must not fall")


@settings
class ScheduleSettings:
    """The `schedule` node: its stages in `STAGE_ORDER`, and what they share."""

    name: Text = "custom"
    # No stage at all: the scene generator's field for the prompt is the run's result.
    instant: Bool = False
    batch_size: PositiveInt = 1
    checkpoint_every: PositiveInt = 50  # steps between resume points
    preview_every: NonNegativeInt = 0  # steps between preview videos (0: off)
    static: StageSettings | None = None
    dynamic: StageSettings | None = None
    superres: StageSettings | None = None
    temporal: StageSettings | None = None


@dataclass(frozen=True)
class StageSpec:
    name: str
    index: int  # position in STAGE_ORDER: seeds differ per stage
    steps: int
    batch_size: int
    width: int  # render size of the stage's SDS
    height: int
    frames: int  # frames per training clip
    base_width: int  # what the base (video/image) prior sees
    base_height: int
    lr: dict[str, float]
    cameras: CameraSamplerConfig
    times: ClipTimeConfig
    static_time: float | None = None  # the static stage renders one fixed scene time
    image_probability: float = 0.0  # hybrid steps: image-prior SDS instead of video SDS
    image_frames: int | None = None  # frames of the clip the image prior sees (None: all)
    sr_weight: float = 0.0
    base_weight: float = 1.0
    regularizers: dict[str, Ramp] = field(default_factory=dict)
    regularizer_points: int = 4096
    reference_weight: float = 0.0  # the front view against the prior's sample (prior.reference)
    all_round_weight: float = 0.0  # image-prior SDS of one view from all round (AllRoundSettings)
    all_round_clips: float = 0.0  # fraction of steps with a clip from all round
    all_round_groups: tuple[str, ...] = ()  # the groups those steps train
    all_round_cameras: CameraSamplerConfig | None = None
    checkpoint_every: int = 50
    preview_every: int = 0

    @property
    def trains_motion(self) -> bool:
        return self.static_time is None


@dataclass(frozen=True)
class SpecInputs:
    """What a schedule is resolved against (all typed, from the run's configuration)."""

    width: int  # base render size
    height: int
    sr_width: int  # high-resolution render size
    sr_height: int
    frames: int  # frames per training clip
    duration: float  # seconds of scene time in the video
    genre: GenrePreset
    static_cameras: CameraSamplerConfig  # the renderer's defaults per kind of stage
    dynamic_cameras: CameraSamplerConfig
    reference_weights: Mapping[str, float] = field(default_factory=dict)
    image_probability: float = 0.0  # the prior preset's hybrid steps (dynamic stage)
    image_frames: int | None = None


def build_stage_specs(schedule: ScheduleSettings, inputs: SpecInputs) -> tuple[StageSpec, ...]:
    """Every stage of `schedule` with steps > 0, in order, scaled by the genre's style (none
    for an `instant` schedule)."""
    if schedule.instant:
        stages = {name: getattr(schedule, name) for name in STAGE_ORDER}
        running = [name for name, stage in stages.items() if stage is not None and stage.steps > 0]
        if running:
            raise ConfigError(
                f"schedule.instant runs no stage; schedule.{running[0]}.steps must be 0"
            )
        return ()
    specs = []
    for index, name in enumerate(STAGE_ORDER):
        stage: StageSettings | None = getattr(schedule, name)
        if stage is None or stage.steps <= 0:
            continue
        rates = asdict(stage.lr)
        if not any(rates.values()):
            raise ConfigError(f"schedule.{name}.lr needs at least one rate > 0")
        high_res = name in HIGH_RESOLUTION_STAGES
        defaults = inputs.static_cameras if name == "static" else inputs.dynamic_cameras
        spec = StageSpec(
            name=name,
            index=index,
            steps=stage.steps,
            batch_size=stage.batch_size or schedule.batch_size,
            width=inputs.sr_width if high_res else inputs.width,
            height=inputs.sr_height if high_res else inputs.height,
            frames=1 if name == "static" else inputs.frames,
            base_width=inputs.width,
            base_height=inputs.height,
            lr=rates,
            cameras=defaults.patched(stage.cameras, f"schedule.{name}.cameras"),
            times=clip_times(stage.clip_seconds, inputs.duration),
            static_time=stage.static_time if name == "static" else None,
            image_probability=inputs.image_probability if name == "dynamic" else 0.0,
            image_frames=inputs.image_frames,
            sr_weight=stage.sr_weight if stage.sr_weight is not None else float(high_res),
            base_weight=stage.base_weight,
            regularizers=regularizer_ramps(stage.regularizers, inputs.genre),
            regularizer_points=stage.regularizer_points,
            reference_weight=inputs.reference_weights.get(name, 0.0),
            all_round_weight=stage.all_round.weight if name != "static" else 0.0,
            all_round_clips=stage.all_round.clips if name != "static" else 0.0,
            all_round_groups=tuple(stage.all_round.groups),
            all_round_cameras=inputs.static_cameras.patched(
                stage.all_round.cameras, f"schedule.{name}.all_round.cameras"
            ),
            checkpoint_every=schedule.checkpoint_every,
            preview_every=schedule.preview_every,
        )
        specs.append(styled(spec, inputs.genre))
    if not specs:
        raise ConfigError(f"schedule '{schedule.name}' has no stage with steps > 0")
    return tuple(specs)


def clip_times(clip_seconds: tuple[float, float], duration: float) -> ClipTimeConfig:
    """Clips cover `clip_seconds` of scene time, as a fraction of the whole video's duration.

    A video longer than the prior's window is thus trained by windows at random offsets and
    strides across its whole span.
    """
    low, high = clip_seconds
    return ClipTimeConfig(span=(min(low / duration, 1.0), min(high / duration, 1.0)))


def regularizer_ramps(values: Regularizers, genre: GenrePreset) -> dict[str, Ramp]:
    """The stage's ramps, the motion terms scaled by the genre's motion style: more motion
    loosens them, smoothness tightens them; opacity sparsity and the background anchor are not
    about motion."""
    given = {item.name: getattr(values, item.name) for item in fields(values)}
    ramps = {name: ramp for name, ramp in given.items() if ramp is not None}
    scale = dict.fromkeys(REGULARIZERS, 1.0) | {
        "temporal_smoothness": genre.motion.smoothness / max(genre.motion.amount, 1e-3),
        "frame_consistency": genre.motion.smoothness / max(genre.motion.amount, 1e-3),
        "dynamic_sparsity": 1.0 / max(genre.motion.amount, 1e-3),
    }
    return {
        name: replace(ramp, start=ramp.start * scale[name], end=ramp.end * scale[name])
        for name, ramp in ramps.items()
    }


def styled(spec: StageSpec, genre: GenrePreset) -> StageSpec:
    """Genre speed: faster motion covers more scene time per clip; the camera's clip sweep moves
    the training cameras within a clip."""
    low, high = spec.times.span
    speed = genre.motion.speed
    times = ClipTimeConfig(span=(min(low * speed, 1.0), min(high * speed, 1.0)))
    cameras = replace(
        spec.cameras,
        dynamic_azimuth_deg=spec.cameras.dynamic_azimuth_deg * genre.camera.clip_sweep,
        dynamic_elevation_deg=spec.cameras.dynamic_elevation_deg * genre.camera.clip_sweep,
        dynamic_distance=spec.cameras.dynamic_distance * genre.camera.clip_sweep,
    )
    return replace(spec, times=times, cameras=cameras)
