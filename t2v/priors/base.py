"""Prior interfaces (`ImagePrior`, `VideoPrior`, `SRPrior`) and the machinery they share.

Priors are plain Python objects, never `nn.Module`s: a LightningModule that holds one as an
attribute does not register its weights, so they stay out of `state_dict`, checkpoints and the
optimiser. Build them in `setup`/`on_fit_start`. Their weights are frozen (`requires_grad`
False, eval mode), half precision on CUDA, and attention runs through PyTorch SDPA (diffusers'
default `AttnProcessor2_0`).

Every `sds` takes frames `(B, T, 3, H, W)` in [0, 1] and returns `SDSOutput`; the gradient of
its loss w.r.t. the frames is the SDS gradient (see `t2v.priors.sds`). Shared keywords:
`views` (one view bucket per clip, see `t2v.text.views`; None: no view suffix), `step` (the
training step, for the timestep schedule), `generator` (a CPU `torch.Generator` for noise and
timesteps), and `noise` / `timesteps` to fix both (tests, reproductions).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from t2v.priors.sds import Predictor, SDSConfig, SDSOutput, score_distillation
from t2v.text.conditioning import TextConditioning
from t2v.text.encoders import TextEncoderSpec


class DiffusionPrior:
    """State every prior has: a frozen denoiser's schedule, SDS settings, text encoder, genres."""

    def __init__(
        self,
        *,
        alphas_cumprod: torch.Tensor,
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
        self.alphas_cumprod = alphas_cumprod.to(self.device, torch.float32)
        self.num_train_timesteps = int(alphas_cumprod.shape[0])
        self.prediction_type = prediction_type
        self.config = config
        self.text_encoder_spec = text_encoder_spec
        self.genres = tuple(genres)
        self.resolution = tuple(resolution) if resolution is not None else None
        self.uses_negative_prompt = True  # CFG's unconditional branch reads the negative prompt
        self.uses_view_suffixes = True  # prompts get ", front view" etc. from the camera

    def sample_timesteps(
        self, batch: int, step: int, generator: torch.Generator | None
    ) -> torch.Tensor:
        return self.config.schedule.sample(step, batch, self.num_train_timesteps, generator)

    def sample_noise(
        self, shape: torch.Size | tuple[int, ...], generator: torch.Generator | None
    ) -> torch.Tensor:
        return randn(shape, generator, self.device)

    def resize(self, images: torch.Tensor, size: tuple[int, int] | None = None) -> torch.Tensor:
        """Images `(N, C, H, W)` resized (differentiably) to `size`, default the prior's own."""
        size = size or self.resolution
        if size is None or tuple(images.shape[-2:]) == tuple(size):
            return images
        shrinking = images.shape[-2] > size[0] or images.shape[-1] > size[1]
        return F.interpolate(
            images, size=tuple(size), mode="bilinear", align_corners=False, antialias=shrinking
        )

    def distil(
        self,
        sample: torch.Tensor,
        predict: Predictor,
        *,
        step: int,
        generator: torch.Generator | None,
        noise: torch.Tensor | None,
        timesteps: torch.Tensor | None,
        timestep_groups: int | None = None,
    ) -> SDSOutput:
        """SDS on `sample (N, ...)`; `timestep_groups` shares one timestep within groups."""
        count = sample.shape[0]
        if timesteps is None:
            groups = timestep_groups or count
            timesteps = self.sample_timesteps(groups, step, generator)
            timesteps = timesteps.repeat_interleave(count // groups)
        timesteps = timesteps.to(self.device).long()
        if noise is None:
            noise = self.sample_noise(sample.shape, generator)
        return score_distillation(
            sample,
            predict,
            timesteps,
            noise,
            self.alphas_cumprod,
            self.prediction_type,
            self.config,
            self.num_train_timesteps,
        )


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


class ImagePrior(ABC):
    """A text-to-image prior: the T frames of each clip are distilled as B·T separate images."""

    genres: tuple[str, ...]
    text_encoder_spec: TextEncoderSpec

    @abstractmethod
    def sds(
        self,
        frames: torch.Tensor,
        cond: TextConditioning,
        *,
        views: Sequence[str] | None = None,
        step: int = 0,
        generator: torch.Generator | None = None,
        noise: torch.Tensor | None = None,
        timesteps: torch.Tensor | None = None,
    ) -> SDSOutput: ...


class VideoPrior(ABC):
    """A text-to-video prior: each clip is noised and denoised jointly at one timestep."""

    genres: tuple[str, ...]
    text_encoder_spec: TextEncoderSpec

    @abstractmethod
    def sds(
        self,
        frames: torch.Tensor,
        cond: TextConditioning,
        *,
        views: Sequence[str] | None = None,
        step: int = 0,
        generator: torch.Generator | None = None,
        noise: torch.Tensor | None = None,
        timesteps: torch.Tensor | None = None,
    ) -> SDSOutput: ...


class SRPrior(ABC):
    """A super-resolution prior: high-res frames distilled given their low-res render."""

    genres: tuple[str, ...]
    text_encoder_spec: TextEncoderSpec

    @abstractmethod
    def sds(
        self,
        frames: torch.Tensor,
        cond: TextConditioning,
        low_res: torch.Tensor,
        *,
        views: Sequence[str] | None = None,
        step: int = 0,
        generator: torch.Generator | None = None,
        noise: torch.Tensor | None = None,
        timesteps: torch.Tensor | None = None,
    ) -> SDSOutput: ...
