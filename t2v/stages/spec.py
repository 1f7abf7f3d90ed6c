"""`StageSpec`: one stage's resolved settings, from schedule x resolution x genre x video length."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from omegaconf import DictConfig, OmegaConf

from t2v.errors import ConfigError
from t2v.genres import GenrePreset
from t2v.priors.reference import ReferenceSettings
from t2v.render import CameraSamplerConfig, ClipTimeConfig
from t2v.schedules import Ramp
from t2v.validate import check_known_keys

STAGE_ORDER = ("static", "dynamic", "superres", "temporal")
PARAMETER_GROUPS = ("static", "dynamic", "heads", "background", "trajectory", "exposure")
MOTION_REGULARIZERS = ("temporal_smoothness", "dynamic_sparsity", "frame_consistency")
REGULARIZERS = (*MOTION_REGULARIZERS, "opacity_sparsity")
SCHEDULE_KEYS = ("name", "batch_size", "checkpoint_every", "preview_every", *STAGE_ORDER)
STAGE_KEYS = (
    "steps",
    "batch_size",
    "lr",
    "cameras",
    "clip_seconds",
    "static_time",
    "sr_weight",
    "base_weight",
    "regularizers",
    "regularizer_points",
)


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
    checkpoint_every: int = 50
    preview_every: int = 0

    @property
    def trains_motion(self) -> bool:
        return self.static_time is None


def build_stage_specs(cfg: DictConfig) -> list[StageSpec]:
    """Every stage of `cfg.schedule` with steps > 0, in order, scaled by the genre's style."""
    schedule = cfg.schedule
    genre = GenrePreset.from_config(cfg.genre)
    resolution = cfg.resolution
    reference = _reference_settings(cfg)  # parsed once, weighed per stage
    check_known_keys("schedule", schedule, SCHEDULE_KEYS)  # a typo must not be ignored
    specs = []
    for index, name in enumerate(STAGE_ORDER):
        node = schedule.get(name)
        if node is None:
            continue
        check_known_keys(f"schedule.{name}", node, STAGE_KEYS)
        if int(node.get("steps", 0)) <= 0:
            continue
        high_res = name in ("superres", "temporal")
        width = resolution.sr_width if high_res else resolution.width
        height = resolution.sr_height if high_res else resolution.height
        spec = StageSpec(
            name=name,
            index=index,
            steps=int(node.steps),
            batch_size=int(node.get("batch_size", schedule.get("batch_size", 1))),
            width=int(width),
            height=int(height),
            frames=1 if name == "static" else int(resolution.frames),
            base_width=int(resolution.width),
            base_height=int(resolution.height),
            lr=_learning_rates(name, node.get("lr")),
            cameras=_cameras(cfg, name, node),
            times=_clip_times(node, cfg.duration),
            static_time=float(node.static_time) if name == "static" else None,
            image_probability=_hybrid_probability(cfg) if name == "dynamic" else 0.0,
            image_frames=OmegaConf.select(cfg, "prior.hybrid.image_frames", default=None),
            sr_weight=float(node.get("sr_weight", 1.0 if high_res else 0.0)),
            base_weight=float(node.get("base_weight", 1.0)),
            regularizers=_regularizers(name, node.get("regularizers"), genre),
            regularizer_points=int(node.get("regularizer_points", 4096)),
            reference_weight=reference.weight(name) if reference is not None else 0.0,
            checkpoint_every=int(schedule.get("checkpoint_every", 50)),
            preview_every=int(schedule.get("preview_every", 0)),
        )
        specs.append(_styled(spec, genre))
    if not specs:
        raise ConfigError(f"schedule '{schedule.get('name')}' has no stage with steps > 0")
    return specs


def _reference_settings(cfg: DictConfig) -> ReferenceSettings | None:
    """`prior.reference`: the clip belongs to the prior preset (only a pixel video prior
    samples one), so its pull per stage does too; None without a reference clip."""
    return ReferenceSettings.from_config(OmegaConf.select(cfg, "prior.reference"), STAGE_ORDER)


def _learning_rates(stage: str, node: Any) -> dict[str, float]:
    values = _plain(node) or {}
    unknown = sorted(set(values) - set(PARAMETER_GROUPS))
    if unknown:
        raise ConfigError(f"schedule.{stage}.lr has unknown group(s) {', '.join(unknown)}")
    rates = {group: float(values.get(group, 0.0)) for group in PARAMETER_GROUPS}
    if any(rate < 0 for rate in rates.values()) or not any(rates.values()):
        raise ConfigError(f"schedule.{stage}.lr needs rates >= 0, at least one > 0")
    return rates


def _hybrid_probability(cfg: DictConfig) -> float:
    """4D-fy's hybrid steps belong to the prior preset: worth it with a real image prior
    (SD, IF), not with a still-clip view of the video prior itself (the bundled preset)."""
    probability = float(OmegaConf.select(cfg, "prior.hybrid.p_image", default=0.0) or 0.0)
    if not 0.0 <= probability <= 1.0:
        raise ConfigError(f"prior.hybrid.p_image = {probability} must lie in [0, 1]")
    return probability


def _cameras(cfg: DictConfig, stage: str, node: DictConfig) -> CameraSamplerConfig:
    """The renderer's camera defaults for static / moving stages, patched by the schedule."""
    defaults = (cfg.renderer.get("cameras") or {}).get("static" if stage == "static" else "dynamic")
    merged = OmegaConf.merge(defaults or {}, node.get("cameras") or {})
    return CameraSamplerConfig.from_config(OmegaConf.to_container(merged, resolve=True))


def _clip_times(node: DictConfig, duration: float) -> ClipTimeConfig:
    """Clips cover `clip_seconds` of scene time, as a fraction of the whole video's duration.

    A video longer than the prior's window is thus trained by windows at random offsets and
    strides across its whole span.
    """
    low, high = (float(v) for v in node.get("clip_seconds", (1.0, 2.0)))
    return ClipTimeConfig.from_config(
        {"span": (min(low / duration, 1.0), min(high / duration, 1.0))}
    )


def _regularizers(stage: str, node: Any, genre: GenrePreset) -> dict[str, Ramp]:
    values = _plain(node) or {}
    unknown = sorted(set(values) - set(REGULARIZERS))
    if unknown:
        raise ConfigError(
            f"schedule.{stage}.regularizers has unknown term(s) {', '.join(unknown)}; "
            f"known: {', '.join(REGULARIZERS)}"
        )
    ramps = {name: Ramp.from_config(value) for name, value in values.items()}
    # Genre motion style: more motion loosens the motion regularizers, smoothness tightens them;
    # opacity sparsity is not about motion and keeps its weight.
    scale = dict.fromkeys(REGULARIZERS, 1.0) | {
        "temporal_smoothness": genre.motion.smoothness / max(genre.motion.amount, 1e-3),
        "frame_consistency": genre.motion.smoothness / max(genre.motion.amount, 1e-3),
        "dynamic_sparsity": 1.0 / max(genre.motion.amount, 1e-3),
    }
    return {
        name: replace(ramp, start=ramp.start * scale[name], end=ramp.end * scale[name])
        for name, ramp in ramps.items()
    }


def _styled(spec: StageSpec, genre: GenrePreset) -> StageSpec:
    """Genre speed: faster motion covers more scene time per clip; camera speed moves cameras."""
    low, high = spec.times.span
    speed = genre.motion.speed
    times = ClipTimeConfig(span=(min(low * speed, 1.0), min(high * speed, 1.0)))
    cameras = replace(
        spec.cameras,
        dynamic_azimuth_deg=spec.cameras.dynamic_azimuth_deg * genre.camera.speed,
        dynamic_elevation_deg=spec.cameras.dynamic_elevation_deg * genre.camera.speed,
        dynamic_distance=spec.cameras.dynamic_distance * genre.camera.speed,
    )
    return replace(spec, times=times, cameras=cameras)


def _plain(node: Any) -> Any:
    return OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig) else node
