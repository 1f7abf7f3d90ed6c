"""LTX-Video as a flow prior: `LTXVideoTransformer3DModel` over `AutoencoderKLLTXVideo` latents.

The causal VAE packs 8 frames into one latent frame after the first (clips of 8k + 1 frames)
and 32×32 pixels into 128 channels, normalised by its own `latents_mean` / `latents_std`
buffers and `scaling_factor`. The transformer reads latents packed into tokens (patches of
`patch_size_t × patch_size²`), rotary positions scaled by the VAE's compression and the frame
rate, and T5 states under an attention mask (recovered from the zeroed padding of the
"t5_masked" encoder). Its shift depends on the token count: e^μ with μ linear in the sequence
length between the scheduler's (base_image_seq_len, base_shift) and (max_image_seq_len,
max_shift), as the pipeline computes it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from t2v.priors.base import SDSBatch, Size, VideoPrior
from t2v.priors.flow import (
    FlowPrior,
    OneFrameImagePrior,
    check_clip_length,
    checked_stride,
    checkpointed,
    flow_dtype,
    shared,
)
from t2v.priors.loading import default_device, is_local_only, load_component, resolve_model
from t2v.priors.sds import Predictor, SDSConfig
from t2v.schema import Bool, PositiveFloat, Text
from t2v.text.conditioning import TextConditioning
from t2v.text.encoders import TextEncoderSpec

LTX_FRAME_STRIDE = 8
LTX_RESOLUTION = (480, 704)  # the pipeline's default size (multiples of 32)
LTX_FRAME_RATE = 25.0  # the pipeline's default; scales the temporal rotary positions


@dataclass(eq=False)
class LTXModel:
    """The loaded parts of one LTX-Video folder (weak-referenced by `shared`)."""

    transformer: torch.nn.Module
    vae: torch.nn.Module
    scheduler_config: dict[str, Any]


def load_ltx(
    model: str, local_files_only: bool | None, device: torch.device, dtype: torch.dtype
) -> LTXModel:
    from diffusers import (
        AutoencoderKLLTXVideo,
        FlowMatchEulerDiscreteScheduler,
        LTXVideoTransformer3DModel,
    )

    def build() -> LTXModel:
        load = {"local_files_only": local_files_only, "device": device}
        transformer = load_component(
            LTXVideoTransformer3DModel, model, "transformer", dtype=dtype, **load
        )
        vae = load_component(AutoencoderKLLTXVideo, model, "vae", dtype=dtype, **load)
        scheduler = load_component(FlowMatchEulerDiscreteScheduler, model, "scheduler", **load)
        return LTXModel(transformer, vae, dict(scheduler.config))

    key = ("ltx", resolve_model(model), str(device), dtype, is_local_only(local_files_only))
    return shared(key, build)


def pack(latents: torch.Tensor, patch: int, patch_t: int) -> torch.Tensor:
    """`(B, C, F, H, W)` -> tokens `(B, F/pt · H/p · W/p, C · pt · p · p)` (LTX's order)."""
    b, c, f, h, w = latents.shape
    x = latents.reshape(b, c, f // patch_t, patch_t, h // patch, patch, w // patch, patch)
    return x.permute(0, 2, 4, 6, 1, 3, 5, 7).flatten(4, 7).flatten(1, 3)


def unpack(tokens: torch.Tensor, shape: torch.Size, patch: int, patch_t: int) -> torch.Tensor:
    """The inverse of `pack` for latents of `shape`."""
    b, c, f, h, w = shape
    x = tokens.reshape(b, f // patch_t, h // patch, w // patch, c, patch_t, patch, patch)
    return x.permute(0, 4, 1, 5, 2, 6, 3, 7).reshape(shape)


class LTXVideoPrior(FlowPrior, VideoPrior):
    """LTX-Video: clips `(B, 8k + 1, 3, H, W)` noised jointly at one level per clip.

    `shift` fixes the shift; null follows the scheduler (resolution-dependent when it says
    `use_dynamic_shifting`). `checkpoint_vae` and `vae_tiling` as for Wan.
    """

    frame_stride = LTX_FRAME_STRIDE

    def __init__(
        self,
        ltx: LTXModel,
        *,
        text_encoder_spec: TextEncoderSpec,
        config: SDSConfig,
        resolution: tuple[int, int] | None = LTX_RESOLUTION,
        shift: float | None = None,
        frame_rate: float = LTX_FRAME_RATE,
        checkpoint_vae: bool = True,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__(
            config=config,
            text_encoder_spec=text_encoder_spec,
            resolution=resolution,
            device=device,
            dtype=dtype,
        )
        self.ltx = ltx  # held, so a sibling role loading the same folder shares it
        self.transformer = ltx.transformer
        self.vae = ltx.vae
        self.patch = int(self.transformer.config.patch_size)
        self.patch_t = int(self.transformer.config.patch_size_t)
        self.temporal_ratio = int(self.vae.temporal_compression_ratio)
        self.spatial_ratio = int(self.vae.spatial_compression_ratio)
        checked_stride("LTX-Video", self.temporal_ratio * self.patch_t, self.frame_stride)
        self.scheduler_config = ltx.scheduler_config
        self.shift = shift
        self.frame_rate = frame_rate
        self.checkpoint_vae = checkpoint_vae
        channels = (1, -1, 1, 1, 1)
        self.latents_mean = self.vae.latents_mean.float().view(channels).to(self.device)
        self.latents_std = self.vae.latents_std.float().view(channels).to(self.device)
        self.scaling_factor = float(self.vae.config.scaling_factor)

    @classmethod
    def from_pretrained(
        cls,
        model: Text,
        *,
        sds: SDSConfig | None = None,
        resolution: Size | None = LTX_RESOLUTION,
        shift: PositiveFloat | None = None,
        frame_rate: PositiveFloat = LTX_FRAME_RATE,
        checkpoint_vae: Bool = True,
        vae_tiling: Bool = False,
        local_files_only: Bool | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> LTXVideoPrior:
        """Load `transformer/`, `vae/`, `scheduler/` (and, when text is encoded, `text_encoder/`
        and `tokenizer/`) of an LTX-Video diffusers folder or hub id."""
        device = torch.device(device or default_device())
        dtype = dtype or flow_dtype(device)
        ltx = load_ltx(model, local_files_only, device, dtype)
        if vae_tiling:
            ltx.vae.enable_tiling()
        spec = TextEncoderSpec(
            "t5_masked", resolve_model(model), local_files_only=is_local_only(local_files_only)
        )
        return cls(
            ltx,
            text_encoder_spec=spec,
            config=sds or SDSConfig(),
            resolution=tuple(resolution) if resolution is not None else None,
            shift=shift,
            frame_rate=frame_rate,
            checkpoint_vae=checkpoint_vae,
            device=device,
            dtype=dtype,
        )

    def shift_for(self, sample: torch.Tensor) -> float:
        if self.shift is not None:
            return self.shift
        config = self.scheduler_config
        if not config.get("use_dynamic_shifting", False):
            return float(config.get("shift", 1.0))
        _, _, frames, height, width = sample.shape
        tokens = frames // self.patch_t * (height // self.patch) * (width // self.patch)
        base_len, max_len = config["base_image_seq_len"], config["max_image_seq_len"]
        base_shift, max_shift = config["base_shift"], config["max_shift"]
        mu = base_shift + (max_shift - base_shift) * (tokens - base_len) / (max_len - base_len)
        return math.exp(mu)

    def encode(self, clips: SDSBatch) -> torch.Tensor:
        """Frames `(B, 8k + 1, 3, H, W)` in [0, 1] -> normalised latents `(B, C, k + 1, h, w)`."""
        check_clip_length(self, clips.length)
        pixels = self.resize(clips.frames.flatten(0, 1)) * 2.0 - 1.0
        video = pixels.unflatten(0, (clips.batch, clips.length)).transpose(1, 2)
        encode = self._encode_video
        return checkpointed(encode, video) if self.checkpoint_vae else encode(video)

    def _encode_video(self, video: torch.Tensor) -> torch.Tensor:
        latents = self.vae.encode(video.to(self.dtype)).latent_dist.mean.float()
        return (latents - self.latents_mean) * self.scaling_factor / self.latents_std

    def denoiser(self, cond: TextConditioning, clips: SDSBatch) -> Predictor:
        text = cond.batch(clips.views, clips.batch, self.device, self.dtype)
        states = torch.cat([text.cond, text.uncond])
        # Padding is zeroed by the "t5_masked" encoder: the mask is where a state is not.
        mask = (states.abs().amax(dim=-1) > 0).to(self.dtype)
        rope_scale = (self.temporal_ratio / self.frame_rate, self.spatial_ratio, self.spatial_ratio)

        def predict(noisy: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            both = torch.cat([noisy, noisy])
            _, _, frames, height, width = both.shape
            output = self.transformer(
                hidden_states=pack(both, self.patch, self.patch_t).to(self.dtype),
                encoder_hidden_states=states,
                timestep=torch.cat([t, t]),
                encoder_attention_mask=mask,
                num_frames=frames // self.patch_t,
                height=height // self.patch,
                width=width // self.patch,
                rope_interpolation_scale=rope_scale,
                return_dict=False,
            )[0]
            return unpack(output, both.shape, self.patch, self.patch_t).chunk(2)

        return predict


class LTXImagePrior(OneFrameImagePrior):
    """LTX-Video asked about single frames (the static stage), on the video role's weights
    when both roles name one folder."""

    @classmethod
    def from_pretrained(
        cls,
        model: Text,
        *,
        sds: SDSConfig | None = None,
        resolution: Size | None = LTX_RESOLUTION,
        shift: PositiveFloat | None = None,
        checkpoint_vae: Bool = True,
        local_files_only: Bool | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> LTXImagePrior:
        """As `LTXVideoPrior.from_pretrained`; each image is a one-frame clip."""
        config = sds or SDSConfig()
        video = LTXVideoPrior.from_pretrained(
            model,
            sds=config,
            resolution=resolution,
            shift=shift,
            checkpoint_vae=checkpoint_vae,
            local_files_only=local_files_only,
            device=device,
            dtype=dtype,
        )
        return cls(video, config)
