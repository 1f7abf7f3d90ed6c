"""The prior template: one `sds` for every prior; subclasses say how they encode and predict.

Priors are plain Python objects, never `nn.Module`s: a LightningModule that holds one as an
attribute does not register its weights, so they stay out of `state_dict`, checkpoints and the
optimiser. Build them in `setup`/`on_fit_start`. Their weights are frozen (`requires_grad`
False, eval mode), half precision on CUDA, and attention runs through PyTorch SDPA (diffusers'
default `AttnProcessor2_0`).

`DiffusionPrior.sds` takes frames `(B, T, 3, H, W)` in [0, 1] and returns `SDSOutput`; the
gradient of its loss w.r.t. the frames is the SDS gradient (see `t2v.priors.sds`). A subclass
writes two hooks: `encode` (the clean sample that is noised: pixels in [-1, 1] or latents) and
`denoiser` (the model's conditional and unconditional outputs for a noisy sample). The roles
the stages type against are `ImagePrior`, `VideoPrior` and `SRPrior`; an SR prior also takes
the low-resolution render, `sds(frames, cond, low_res, ...)`.

Keywords of `sds`: `views` (one view bucket per clip, see `t2v.text.views`; None: no view
suffix), `step` (the training step, for the timestep schedule), `generator` (a CPU
`torch.Generator` for noise and timesteps), and `noise` / `timesteps` to fix both (tests,
reproductions; a flow prior's timesteps are noise fractions τ, see `t2v.priors.flow`).
Random draws come in a fixed order: what `encode` draws (a latent prior's choice of frames),
what `denoiser` draws (an SR prior's low-res augmentation), the timesteps, the noise.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, ClassVar, Protocol, runtime_checkable

import torch
import torch.nn.functional as F
from pydantic import Field

from t2v.priors.sds import Predictor, SDSConfig, SDSOutput, score_distillation
from t2v.schema import PositiveInt
from t2v.text.conditioning import TextConditioning
from t2v.text.encoders import TextEncoderSpec

# (height, width) a prior's loader resizes renders to; YAML writes it as a list.
Size = Annotated[Sequence[PositiveInt], Field(min_length=2, max_length=2)]


@dataclass(frozen=True)
class SDSBatch:
    """One `sds` call's inputs, as the hooks read them."""

    frames: torch.Tensor  # (B, T, 3, H, W) in [0, 1], with grad
    views: list[str] | None  # one view bucket per clip; None: no view suffix
    low_res: torch.Tensor | None  # SR priors: (B, T, 3, h, w) in [0, 1], a condition
    generator: torch.Generator | None

    @property
    def batch(self) -> int:
        return self.frames.shape[0]

    @property
    def length(self) -> int:
        return self.frames.shape[1]

    def frame_views(self) -> list[str] | None:
        """Each clip's view repeated for its frames: the views of the B·T images."""
        if self.views is None:
            return None
        return [view for view in self.views for _ in range(self.length)]


class DiffusionPrior(ABC):
    """A frozen denoiser's schedule, SDS settings, text encoder and genres, and `sds`."""

    takes_low_res: ClassVar[bool] = False  # SR priors: sds(frames, cond, low_res, ...)
    # True: one timestep per clip (its frames noised alike); False: one per sample
    one_timestep_per_clip: ClassVar[bool] = True
    # Clips it takes have `frame_stride`·k + 1 frames (a VAE packing frames in time); 1: any
    frame_stride: ClassVar[int] = 1

    def __init__(
        self,
        *,
        alphas_cumprod: torch.Tensor | None,
        prediction_type: str,
        config: SDSConfig,
        text_encoder_spec: TextEncoderSpec,
        genres: Sequence[str] = ("none",),
        resolution: tuple[int, int] | None = None,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> None:
        self.device = torch.device(device)
        self.dtype = dtype
        # None for flow priors, whose schedule is σ itself (`t2v.priors.flow`)
        self.alphas_cumprod = (
            alphas_cumprod.to(self.device, torch.float32) if alphas_cumprod is not None else None
        )
        # Flow models read σ·1000 as their timestep: 1000 steps for the logs' fractions too.
        self.num_train_timesteps = (
            int(alphas_cumprod.shape[0]) if alphas_cumprod is not None else 1000
        )
        self.prediction_type = prediction_type
        self.config = config
        self.text_encoder_spec = text_encoder_spec
        self.genres = tuple(genres)
        self.resolution = tuple(resolution) if resolution is not None else None
        self.uses_negative_prompt = True  # CFG's unconditional branch reads the negative prompt
        self.uses_view_suffixes = True  # prompts get ", front view" etc. from the camera

    @classmethod
    def accepted_frames(cls, frames: int) -> int:
        """The clip length this prior takes for a wish of `frames`: the least
        `frame_stride`·k + 1 at or above it (at least 1), so a clip never gets shorter."""
        stride = cls.frame_stride
        return stride * -(-(max(frames, 1) - 1) // stride) + 1

    @abstractmethod
    def encode(self, clips: SDSBatch) -> torch.Tensor:
        """The clean sample SDS noises, `(N, ...)` with grad: pixels in [-1, 1] or latents."""

    @abstractmethod
    def denoiser(self, cond: TextConditioning, clips: SDSBatch) -> Predictor:
        """`predict(noisy, timesteps) -> (conditional, unconditional)` raw model outputs for
        noisy samples shaped like `encode`'s, with this call's text (and condition)."""

    def sds(
        self,
        frames: torch.Tensor,
        cond: TextConditioning,
        low_res: torch.Tensor | None = None,
        *,
        views: Sequence[str] | None = None,
        step: int = 0,
        generator: torch.Generator | None = None,
        noise: torch.Tensor | None = None,
        timesteps: torch.Tensor | None = None,
    ) -> SDSOutput:
        """SDS of `frames (B, T, 3, H, W)` in [0, 1] under `cond` (SR priors: given
        `low_res (B, T, 3, h, w)`, which gets no gradient)."""
        batch, _ = check_frames(frames)
        if self.takes_low_res != (low_res is not None):
            needs = "needs the low-res render" if self.takes_low_res else "takes no low_res"
            raise TypeError(f"{type(self).__name__}.sds {needs}")
        if low_res is not None:
            check_frames(low_res, "low_res")
        clips = SDSBatch(frames, clip_views(views, batch), low_res, generator)
        sample = self.encode(clips)
        predict = self.denoiser(cond, clips)
        return self.distil(sample, predict, batch, step, generator, noise, timesteps)

    def distil(
        self,
        sample: torch.Tensor,
        predict: Predictor,
        batch: int,
        step: int,
        generator: torch.Generator | None,
        noise: torch.Tensor | None,
        timesteps: torch.Tensor | None,
    ) -> SDSOutput:
        """The SDS loss of `encode`'s sample under `denoiser`'s predictor: noise levels (one per
        clip or per sample) and noise drawn in that order unless given, then `distil_at`."""
        count = sample.shape[0]
        if timesteps is None:
            groups = batch if self.one_timestep_per_clip else count
            timesteps = self.sample_timesteps(groups, step, generator)
            timesteps = timesteps.repeat_interleave(count // groups)
        if noise is None:
            noise = randn(sample.shape, generator, self.device)
        return self.distil_at(sample, predict, timesteps, noise)

    def distil_at(
        self,
        sample: torch.Tensor,
        predict: Predictor,
        timesteps: torch.Tensor,
        noise: torch.Tensor,
    ) -> SDSOutput:
        """SDS at given levels and noise: ε-prediction SDS here (`t2v.priors.sds`); flow priors
        distil velocities (`t2v.priors.flow`)."""
        assert self.alphas_cumprod is not None  # every ε/v-prediction prior has a schedule
        return score_distillation(
            sample,
            predict,
            timesteps.to(self.device).long(),
            noise,
            self.alphas_cumprod,
            self.prediction_type,
            self.config,
            self.num_train_timesteps,
        )

    def sample_timesteps(
        self, batch: int, step: int, generator: torch.Generator | None
    ) -> torch.Tensor:
        return self.config.timesteps.sample(step, batch, self.num_train_timesteps, generator)

    def resize(self, images: torch.Tensor, size: tuple[int, int] | None = None) -> torch.Tensor:
        """Images `(N, C, H, W)` resized (differentiably) to `size`, default the prior's own."""
        size = size or self.resolution
        if size is None or tuple(images.shape[-2:]) == tuple(size):
            return images
        shrinking = images.shape[-2] > size[0] or images.shape[-1] > size[1]
        return F.interpolate(
            images, size=tuple(size), mode="bilinear", align_corners=False, antialias=shrinking
        )


class ImagePrior(DiffusionPrior):
    """A text-to-image prior: the T frames of each clip are distilled as B·T separate images,
    each at its own timestep."""

    one_timestep_per_clip = False


class VideoPrior(DiffusionPrior):
    """A text-to-video prior: each clip is noised and denoised jointly at one timestep."""


class SRPrior(DiffusionPrior):
    """A super-resolution prior: high-res frames distilled given their low-res render, one
    timestep per clip so the frames of a clip are refined alike."""

    takes_low_res = True


@runtime_checkable
class ClipSampler(Protocol):
    """A video prior that can draw a clip of its own (the reference clip)."""

    def sample(
        self,
        cond: TextConditioning,
        *,
        steps: int,
        guidance: float,
        generator: torch.Generator | None,
    ) -> torch.Tensor: ...


def randn(
    shape: torch.Size | tuple[int, ...],
    generator: torch.Generator | None,
    device: torch.device | str,
) -> torch.Tensor:
    """Standard normal noise on `device`, drawn from `generator` (on whatever device it lives)."""
    if generator is None:
        return torch.randn(shape, device=device)
    return torch.randn(shape, generator=generator, device=generator.device).to(device)


def check_frames(frames: torch.Tensor, name: str = "frames") -> tuple[int, int]:
    """Checks `(B, T, 3, H, W)`; returns (B, T)."""
    if frames.dim() != 5 or frames.shape[2] != 3:
        raise ValueError(f"{name} must be (B, T, 3, H, W); got {tuple(frames.shape)}")
    return frames.shape[0], frames.shape[1]


def clip_views(views: Sequence[str] | None, batch: int) -> list[str] | None:
    if views is not None and len(views) != batch:
        raise ValueError(f"{len(views)} views for {batch} clips: give one view per clip")
    return list(views) if views is not None else None
