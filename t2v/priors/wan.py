"""Wan 2.1 text-to-video as a flow prior: `WanTransformer3DModel` over `AutoencoderKLWan` latents.

The causal VAE packs 4 frames into one latent frame after the first (clips of 4k + 1 frames)
and 8×8 pixels into 16 channels; latents are normalised per channel by the VAE config's
`latents_mean` / `latents_std` as the Wan pipeline does. Text is UMT5 token states with the
padding zeroed (the pipeline's convention). The shift is the scheduler's `flow_shift` (3 for
the 1.3B at 480p). The 1.3B and the 14B differ only in their folders.
"""

from __future__ import annotations

from dataclasses import dataclass

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

WAN_FRAME_STRIDE = 4
WAN_RESOLUTION = (480, 832)  # the 1.3B's training size (the 14B also runs 720×1280)


@dataclass(eq=False)
class WanModel:
    """The loaded parts of one Wan folder (weak-referenced by `shared`)."""

    transformer: torch.nn.Module
    vae: torch.nn.Module
    flow_shift: float


def load_wan(
    model: str, local_files_only: bool | None, device: torch.device, dtype: torch.dtype
) -> WanModel:
    from diffusers import AutoencoderKLWan, UniPCMultistepScheduler, WanTransformer3DModel

    def build() -> WanModel:
        load = {"local_files_only": local_files_only, "device": device}
        transformer = load_component(
            WanTransformer3DModel, model, "transformer", dtype=dtype, **load
        )
        vae = load_component(AutoencoderKLWan, model, "vae", dtype=dtype, **load)
        scheduler = load_component(UniPCMultistepScheduler, model, "scheduler", **load)
        return WanModel(transformer, vae, float(scheduler.config.get("flow_shift") or 1.0))

    key = ("wan", resolve_model(model), str(device), dtype, is_local_only(local_files_only))
    return shared(key, build)


class WanVideoPrior(FlowPrior, VideoPrior):
    """Wan 2.1 T2V: clips `(B, 4k + 1, 3, H, W)` noised jointly at one level per clip.

    `checkpoint_vae` recomputes the VAE encoder's activations in backward instead of holding
    them while the transformer runs; `vae_tiling` encodes in overlapping spatial tiles (for
    sizes above the 480p default).
    """

    frame_stride = WAN_FRAME_STRIDE

    def __init__(
        self,
        wan: WanModel,
        *,
        text_encoder_spec: TextEncoderSpec,
        config: SDSConfig,
        resolution: tuple[int, int] | None = WAN_RESOLUTION,
        shift: float | None = None,
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
        vae_config = wan.vae.config
        checked_stride("Wan", int(vae_config.scale_factor_temporal), self.frame_stride)
        self.wan = wan  # held, so a sibling role loading the same folder shares it
        self.transformer = wan.transformer
        self.vae = wan.vae
        self.shift = shift if shift is not None else wan.flow_shift
        self.checkpoint_vae = checkpoint_vae
        channels = (1, -1, 1, 1, 1)
        self.latents_mean = torch.tensor(vae_config.latents_mean).view(channels).to(self.device)
        self.latents_std = torch.tensor(vae_config.latents_std).view(channels).to(self.device)

    @classmethod
    def from_pretrained(
        cls,
        model: Text,
        *,
        sds: SDSConfig | None = None,
        resolution: Size | None = WAN_RESOLUTION,
        shift: PositiveFloat | None = None,
        checkpoint_vae: Bool = True,
        vae_tiling: Bool = False,
        local_files_only: Bool | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> WanVideoPrior:
        """Load `transformer/`, `vae/`, `scheduler/` (and, when text is encoded, `text_encoder/`
        and `tokenizer/`) of a Wan 2.1 diffusers folder or hub id; `shift`: the scheduler's
        `flow_shift` if null."""
        device = torch.device(device or default_device())
        dtype = dtype or flow_dtype(device)
        wan = load_wan(model, local_files_only, device, dtype)
        if vae_tiling:
            wan.vae.enable_tiling()
        spec = TextEncoderSpec(
            "umt5", resolve_model(model), local_files_only=is_local_only(local_files_only)
        )
        return cls(
            wan,
            text_encoder_spec=spec,
            config=sds or SDSConfig(),
            resolution=tuple(resolution) if resolution is not None else None,
            shift=shift,
            checkpoint_vae=checkpoint_vae,
            device=device,
            dtype=dtype,
        )

    def shift_for(self, sample: torch.Tensor) -> float:
        return self.shift

    def encode(self, clips: SDSBatch) -> torch.Tensor:
        """Frames `(B, 4k + 1, 3, H, W)` in [0, 1] -> normalised latents `(B, 16, k + 1, h, w)`."""
        check_clip_length(self, clips.length)
        pixels = self.resize(clips.frames.flatten(0, 1)) * 2.0 - 1.0
        video = pixels.unflatten(0, (clips.batch, clips.length)).transpose(1, 2)
        encode = self._encode_video
        return checkpointed(encode, video) if self.checkpoint_vae else encode(video)

    def _encode_video(self, video: torch.Tensor) -> torch.Tensor:
        latents = self.vae.encode(video.to(self.dtype)).latent_dist.mean.float()
        return (latents - self.latents_mean) / self.latents_std

    def denoiser(self, cond: TextConditioning, clips: SDSBatch) -> Predictor:
        text = cond.batch(clips.views, clips.batch, self.device, self.dtype)
        both = torch.cat([text.cond, text.uncond])

        def predict(noisy: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            output = self.transformer(
                hidden_states=torch.cat([noisy, noisy]).to(self.dtype),
                timestep=torch.cat([t, t]),
                encoder_hidden_states=both,
                return_dict=False,
            )[0]
            return output.chunk(2)

        return predict


class WanImagePrior(OneFrameImagePrior):
    """Wan 2.1 asked about single frames (the static stage), on the video role's weights when
    both roles name one folder."""

    @classmethod
    def from_pretrained(
        cls,
        model: Text,
        *,
        sds: SDSConfig | None = None,
        resolution: Size | None = WAN_RESOLUTION,
        shift: PositiveFloat | None = None,
        checkpoint_vae: Bool = True,
        local_files_only: Bool | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> WanImagePrior:
        """As `WanVideoPrior.from_pretrained`; each image is a one-frame clip."""
        config = sds or SDSConfig()
        video = WanVideoPrior.from_pretrained(
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
