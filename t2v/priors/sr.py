"""Super-resolution priors: the SD x4 upscaler (latent, per frame) and the bundled PixelSRUNet.

Both are conditioned on the low-resolution render (in [-1, 1], noise-augmented to
`noise_level` as in training) and on the text; SDS acts on the high-resolution frames only:
the low-res input is a condition and gets no gradient.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

import torch
from pydantic import Field

from t2v.priors.base import SDSBatch, SRPrior, randn
from t2v.priors.loading import (
    default_device,
    default_dtype,
    is_local_only,
    load_component,
    resolve_model,
)
from t2v.priors.sds import Predictor, SDSConfig
from t2v.priors.video import _sample_of, read_manifest
from t2v.schema import Bool, Int, Text
from t2v.text.conditioning import TextConditioning
from t2v.text.encoders import TextEncoderSpec

# A timestep of the low-res noise schedule (1000 steps in every model t2v loads).
NoiseLevel = Annotated[Int, Field(ge=0, le=999)]


def augment_low_res(
    low_res: torch.Tensor,
    noise_level: int,
    alphas_cumprod: torch.Tensor,
    generator: torch.Generator | None,
) -> torch.Tensor:
    """Noise `low_res` (in [-1, 1]) to timestep `noise_level` of a DDPM schedule; 0 keeps it."""
    if noise_level <= 0:
        return low_res
    alpha_bar = alphas_cumprod[noise_level].to(low_res)
    noise = randn(low_res.shape, generator, low_res.device).to(low_res.dtype)
    return alpha_bar.sqrt() * low_res + (1.0 - alpha_bar).sqrt() * noise


class UpscalerSRPrior(SRPrior):
    """Stable Diffusion x4 upscaler: 7-channel UNet (4 latents + 3 low-res pixels), noise-level
    class labels, and a VAE whose latents have the low-res image's size (4x downsampling)."""

    def __init__(
        self,
        unet: torch.nn.Module,
        vae: torch.nn.Module,
        scheduler: Any,
        low_res_scheduler: Any,
        *,
        text_encoder_spec: TextEncoderSpec,
        config: SDSConfig,
        noise_level: int = 20,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__(
            alphas_cumprod=scheduler.alphas_cumprod,
            prediction_type=scheduler.config.prediction_type,
            config=config,
            text_encoder_spec=text_encoder_spec,
            device=device,
            dtype=dtype,
        )
        self.unet = unet
        self.vae = vae
        self.low_res_alphas_cumprod = low_res_scheduler.alphas_cumprod.to(self.device)
        self.noise_level = int(noise_level)
        self.factor = 2 ** (len(vae.config.block_out_channels) - 1)

    @classmethod
    def from_pretrained(
        cls,
        model: Text,
        *,
        sds: SDSConfig | None = None,
        noise_level: NoiseLevel = 20,
        local_files_only: Bool | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> UpscalerSRPrior:
        """Load `unet/`, `vae/`, `scheduler/`, `low_res_scheduler/` of an upscaler folder."""
        from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel

        device = torch.device(device or default_device())
        dtype = dtype or default_dtype(device)
        load = {"local_files_only": local_files_only, "device": device}
        unet = load_component(UNet2DConditionModel, model, "unet", dtype=dtype, **load)
        vae = load_component(AutoencoderKL, model, "vae", dtype=dtype, **load)
        scheduler = load_component(DDPMScheduler, model, "scheduler", **load)
        low_res_scheduler = load_component(DDPMScheduler, model, "low_res_scheduler", **load)
        spec = TextEncoderSpec(
            "clip", resolve_model(model), local_files_only=is_local_only(local_files_only)
        )
        return cls(
            unet,
            vae,
            scheduler,
            low_res_scheduler,
            text_encoder_spec=spec,
            config=sds or SDSConfig(guidance_scale=20.0),
            noise_level=noise_level,
            device=device,
            dtype=dtype,
        )

    def low_res_pixels(self, clips: SDSBatch) -> torch.Tensor:
        """The low-res render as `(B·T, 3, h, w)` images in [-1, 1] (no gradient)."""
        assert clips.low_res is not None
        return clips.low_res.detach().flatten(0, 1).to(self.device) * 2.0 - 1.0

    def encode(self, clips: SDSBatch) -> torch.Tensor:
        small = self.low_res_pixels(clips)
        size = (small.shape[-2] * self.factor, small.shape[-1] * self.factor)
        pixels = self.resize(clips.frames.flatten(0, 1), size) * 2.0 - 1.0
        sample = self.vae.encode(pixels.to(self.dtype)).latent_dist.mean
        return sample * self.vae.config.scaling_factor

    def denoiser(self, cond: TextConditioning, clips: SDSBatch) -> Predictor:
        small = self.low_res_pixels(clips)
        text = cond.batch(clips.frame_views(), small.shape[0], self.device, self.dtype)
        condition = augment_low_res(
            small, self.noise_level, self.low_res_alphas_cumprod, clips.generator
        )
        levels = torch.full((2 * small.shape[0],), self.noise_level, device=self.device)

        def predict(noisy: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            inputs = torch.cat([noisy, condition.to(noisy)], dim=1)
            output = self.unet(
                torch.cat([inputs, inputs]).to(self.dtype),
                torch.cat([t, t]),
                encoder_hidden_states=torch.cat([text.cond, text.uncond]),
                class_labels=levels,
            ).sample
            return output[:, : noisy.shape[1]].chunk(2)

        return predict


class PixelSRPrior(SRPrior):
    """The bundled pixel-space video SR prior (`t2v.models.PixelSRUNet`, MiniLM text, genres)."""

    def __init__(
        self,
        unet: torch.nn.Module,
        scheduler: Any,
        *,
        config: SDSConfig,
        genres: Sequence[str],
        sr_factor: int,
        noise_level: int = 20,
        text_encoder_spec: TextEncoderSpec | None = None,
        uses_view_suffixes: bool = False,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__(
            alphas_cumprod=scheduler.alphas_cumprod,
            prediction_type=getattr(unet.config, "prediction_type", None)
            or scheduler.config.prediction_type,
            config=config,
            text_encoder_spec=text_encoder_spec or TextEncoderSpec("minilm"),
            genres=genres,
            device=device,
            dtype=dtype,
        )
        self.unet = unet
        self.uses_negative_prompt = False
        self.uses_view_suffixes = uses_view_suffixes
        self.sr_factor = int(sr_factor)
        self.noise_level = int(noise_level)

    @classmethod
    def from_folder(
        cls,
        model: Text,
        *,
        sds: SDSConfig | None = None,
        noise_level: NoiseLevel = 20,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> PixelSRPrior:
        """Load `sr_unet/`, `sr_scheduler/` and `t2v_prior.json` of a bundled prior folder."""
        from diffusers import DDPMScheduler

        from t2v.models import PixelSRUNet

        folder = resolve_model(model)
        manifest = read_manifest(folder, model)
        device = torch.device(device or default_device())
        dtype = dtype or default_dtype(device)
        load = {"local_files_only": True, "device": device}
        unet = load_component(PixelSRUNet, folder, "sr_unet", dtype=dtype, **load)
        scheduler = load_component(DDPMScheduler, folder, "sr_scheduler", **load)
        return cls(
            unet,
            scheduler,
            config=sds or SDSConfig(guidance_scale=5.0),
            genres=manifest.get("genres") or unet.config.genres,
            sr_factor=int(manifest.get("sr_factor", 2)),
            noise_level=noise_level,
            text_encoder_spec=TextEncoderSpec(str(manifest.get("text_encoder", "minilm"))),
            uses_view_suffixes=bool(manifest.get("view_suffixes", False)),
            device=device,
            dtype=dtype,
        )

    def low_res_clips(self, clips: SDSBatch) -> torch.Tensor:
        """The low-res render as clips `(B, 3, T, h, w)` in [-1, 1] (no gradient)."""
        assert clips.low_res is not None
        return (clips.low_res.detach().to(self.device) * 2.0 - 1.0).transpose(1, 2)

    def encode(self, clips: SDSBatch) -> torch.Tensor:
        small = self.low_res_clips(clips)
        size = (small.shape[-2] * self.sr_factor, small.shape[-1] * self.sr_factor)
        flat = self.resize(clips.frames.flatten(0, 1), size)
        pixels = flat.unflatten(0, (clips.batch, clips.length))
        return (pixels * 2.0 - 1.0).transpose(1, 2)

    def denoiser(self, cond: TextConditioning, clips: SDSBatch) -> Predictor:
        small = self.low_res_clips(clips)
        text = cond.batch(clips.views, clips.batch, self.device, self.dtype)
        condition = augment_low_res(small, self.noise_level, self.alphas_cumprod, clips.generator)
        levels = torch.full(
            (2 * clips.batch,), self.noise_level, dtype=torch.long, device=self.device
        )

        def predict(noisy: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            output = self.unet(
                torch.cat([noisy, noisy]).to(self.dtype),
                torch.cat([t, t]),
                torch.cat([condition, condition]).to(self.dtype),
                levels,
                torch.cat([text.cond, text.uncond]),
                torch.cat([text.genre_ids, text.uncond_genre_ids]),
            )
            return _sample_of(output).chunk(2)

        return predict
