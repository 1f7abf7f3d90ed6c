"""`PriorPreset`: a `conf/prior/*.yaml` node checked once; it loads each role's prior on a device.

Each role (`image`, `video`, `sr`) is a `_target_` node naming the prior's loader (e.g.
`t2v.priors.PixelVideoPrior.from_folder`); its other keys are the loader's arguments (`model`,
`resolution`, `noise_level`, ...), checked against the loader's signature and annotations, plus
the SDS settings every prior shares (`guidance_scale`, `weighting`, `snr_gamma`, `timesteps`),
which t2v hands the loader as `sds`. `device`, `dtype` and the preset's `local_files_only` are
passed by t2v too. A null image or SR role means the preset has none; a video prior is required.

Everything is checked when the preset is parsed, before a run writes anything. Weights are
loaded only by `load`, in a stage's setup, so no frozen prior enters a checkpoint.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal, overload

import torch
from hydra.errors import InstantiationException
from pydantic import BeforeValidator, InstanceOf, ValidationInfo

from t2v.errors import ConfigError, T2VError
from t2v.priors.base import ClipSampler, DiffusionPrior, ImagePrior, SRPrior, VideoPrior
from t2v.priors.hybrid import HybridSettings
from t2v.priors.loading import check_cached, is_local_only
from t2v.priors.reference import ReferenceClip, ReferenceSettings, needs_sampler, sample_reference
from t2v.priors.sds import SDSConfig
from t2v.schema import Bool, Text, parse, settings
from t2v.targets import HYDRA_KEYS, Target, check_target, import_target
from t2v.text.conditioning import TextConditioning

WHERE = "prior"
SDS_KEYS = ("guidance_scale", "weighting", "snr_gamma", "timesteps")
PASSED = ("sds", "device", "dtype", "local_files_only")  # loader arguments t2v sets itself
ROLES: dict[str, type[DiffusionPrior]] = {"image": ImagePrior, "video": VideoPrior, "sr": SRPrior}
Role = Literal["image", "video", "sr"]


@dataclass(frozen=True)
class PriorRole:
    """One role of a preset: its checked loader node and its SDS settings."""

    where: str  # e.g. "prior.video", for messages
    loader: Target  # the `_target_` node without the SDS keys
    sds: SDSConfig
    builds: type | None  # the class the loader returns, where the `_target_` says so
    reads_local_files_only: bool  # hub loaders; a bundled folder is local anyway

    @classmethod
    def from_node(cls, where: str, node: Any, role: type[DiffusionPrior]) -> PriorRole:
        if not isinstance(node, Mapping) or "_target_" not in node:
            raise ConfigError(f"{where} must be a prior loader node with a _target_, or null")
        target = import_target(where, str(node["_target_"]))
        named = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        parameters = {
            name: parameter
            for name, parameter in inspect.signature(target).parameters.items()
            if parameter.kind in named
        }
        arguments = [name for name in parameters if name not in PASSED]
        # The SDS keys are not the loader's: check_target would not name them among the known.
        for key in node:
            if key not in (*arguments, *SDS_KEYS, *PASSED, *HYDRA_KEYS):
                known = ", ".join(sorted({*arguments, *SDS_KEYS}))
                raise ConfigError(f"{where} has unknown key '{key}'; known: {known}")
        for name in arguments:
            if name not in node and parameters[name].default is inspect.Parameter.empty:
                hint = ": a hub id, a folder or a pkg:// path" if name == "model" else ""
                raise ConfigError(f"{where}.{name} is missing{hint}")
        sds = parse(SDSConfig, {key: node[key] for key in SDS_KEYS if key in node}, where)
        loader = check_target(
            where, {key: value for key, value in node.items() if key not in SDS_KEYS}, takes=PASSED
        )
        builds = built_class(target)
        if builds is not None and not issubclass(builds, role):
            raise ConfigError(
                f"{where}._target_ {loader.name} builds a {builds.__name__}, not a {role.__name__}"
            )
        return cls(where, loader, sds, builds, "local_files_only" in parameters)

    @property
    def samples_clips(self) -> bool:
        return self.builds is not None and issubclass(self.builds, ClipSampler)

    def load(
        self,
        *,
        local_files_only: bool | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> DiffusionPrior:
        passed: dict[str, Any] = {"sds": self.sds, "device": device, "dtype": dtype}
        if self.reads_local_files_only:
            passed["local_files_only"] = local_files_only
        try:
            return self.loader.build(**passed)
        except InstantiationException as error:
            # A user's error (a missing model) stays its one line, not hydra's wrapper of it.
            if isinstance(error.__cause__, T2VError):
                raise error.__cause__ from None
            raise


def built_class(target: Any) -> type | None:
    """The class a `_target_` builds: the class itself, or the owner of a classmethod."""
    if inspect.isclass(target):
        return target
    owner = getattr(target, "__self__", None)
    return owner if inspect.ismethod(target) and inspect.isclass(owner) else None


def _role(value: Any, info: ValidationInfo) -> PriorRole | None:
    if value is None or isinstance(value, PriorRole):
        return value
    name = str(info.field_name)
    return PriorRole.from_node(f"{WHERE}.{name}", value, ROLES[name])


RoleNode = Annotated[InstanceOf[PriorRole] | None, BeforeValidator(_role)]


@settings
class PriorPreset:
    """`prior`: the priors of a run, the reference clip, hybrid guidance and export grading."""

    name: Text = "custom"
    video: RoleNode = None
    image: RoleNode = None  # null: the static stage asks the video prior
    sr: RoleNode = None  # null: the high-resolution stages have no SR term
    local_files_only: Bool | None = None  # null: follow HF_HUB_OFFLINE; true: never download
    # Grade exported frames with the genre's look; a prior that learned each genre's look from
    # graded clips already carries it, and grading again doubles it.
    export_grading: Bool = True
    reference: ReferenceSettings | None = None  # null: no reference clip
    hybrid: HybridSettings = HybridSettings()

    def __post_init__(self) -> None:
        if self.video is None:
            raise ConfigError(f"prior '{self.name}' has no video prior (prior.video)")
        if self.draws_reference and not self.video.samples_clips:
            raise needs_sampler(self.video.loader.name)

    def check_weights(self) -> None:
        """Offline (`local_files_only`, or HF_HUB_OFFLINE), every hub model a role names must
        be cached: one line naming the download otherwise, before a run writes anything."""
        if not is_local_only(self.local_files_only):
            return
        for role in ROLES:
            node: PriorRole | None = getattr(self, role)
            if node is not None and node.reads_local_files_only and "model" in node.loader.node:
                check_cached(str(node.loader.node["model"]))

    def clip_frames(self, frames: int) -> int:
        """The training clip length for a wish of `frames`: what the video prior takes (Wan
        4k + 1, LTX 8k + 1, the others any), known from its class before weights load."""
        builds = self.video.builds if self.video is not None else None
        if builds is None or not issubclass(builds, DiffusionPrior):
            return frames
        return builds.accepted_frames(frames)

    @property
    def draws_reference(self) -> bool:
        """Whether a stage pays for a reference clip, so one is sampled."""
        return self.reference is not None and self.reference.drawn

    def reference_weights(self, stages: Sequence[str]) -> dict[str, float]:
        """The reference term's weight in each of `stages` (0 without a clip); refuses a
        weight named for a stage not among them."""
        if self.reference is None:
            return dict.fromkeys(stages, 0.0)
        return self.reference.weights(stages)

    def reference_clip(
        self, video: VideoPrior, cond: TextConditioning, seed: int
    ) -> ReferenceClip | None:
        """The video prior's sample of the prompt, seeded by the run; None when no stage
        pays for one."""
        if self.reference is None or not self.reference.drawn:
            return None
        return sample_reference(video, cond, self.reference, seed)

    @overload
    def load(
        self,
        role: Literal["video"],
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> VideoPrior: ...
    @overload
    def load(
        self,
        role: Literal["image"],
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> ImagePrior | None: ...
    @overload
    def load(
        self,
        role: Literal["sr"],
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> SRPrior | None: ...
    def load(
        self,
        role: Role,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> DiffusionPrior | None:
        """The `role` prior, frozen on `device` (default: CUDA if available), or None if the
        preset has none; `dtype` defaults to half precision on CUDA, float32 elsewhere."""
        if role not in ROLES:
            raise ValueError(f"prior role '{role}' is unknown; choose one of {', '.join(ROLES)}")
        node: PriorRole | None = getattr(self, role)
        if node is None:
            return None
        prior = node.load(local_files_only=self.local_files_only, device=device, dtype=dtype)
        if not isinstance(prior, ROLES[role]):
            raise ConfigError(
                f"{node.where}._target_ {node.loader.name} built a {type(prior).__name__}, "
                f"not a {ROLES[role].__name__}"
            )
        return prior
