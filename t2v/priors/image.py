"""Image priors: diffusers `UNet2DConditionModel`s (Stable Diffusion, DeepFloyd IF) and the
bundled video prior asked about still clips.

SD 2.1 base denoises VAE latents of 512² images with CLIP token states; IF stage I denoises
64² pixels with T5 token states and predicts ε plus a learned variance (6 output channels, of
which the first 3 are ε). Both are `DiffusionImagePrior`: with a VAE it works in latent space,
without one in pixel space ([-1, 1]). Which of the two a folder is (`family`) decides its text
encoder, native size and VAE, things a hub id does not say before it is downloaded.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

import torch

from t2v.priors.base import ImagePrior, SDSBatch, Size, VideoPrior
from t2v.priors.loading import (
    default_device,
    default_dtype,
    is_local_only,
    load_component,
    resolve_model,
)
from t2v.priors.sds import Predictor, SDSConfig
from t2v.priors.video import PixelVideoPrior
from t2v.schema import Bool, Text
from t2v.text.conditioning import TextConditioning
from t2v.text.encoders import TextEncoderSpec

Family = Literal["sd", "deepfloyd"]
FAMILIES: dict[str, tuple[str, tuple[int, int], bool]] = {
    # family: (text encoder, native resolution, has a VAE)
    "sd": ("clip", (512, 512), True),
    "deepfloyd": ("t5", (64, 64), False),
}


class DiffusionImagePrior(ImagePrior):
    """A frozen `UNet2DConditionModel` (+ optional `AutoencoderKL`) used for image SDS."""

    def __init__(
        self,
        unet: torch.nn.Module,
        scheduler: object,
        *,
        vae: torch.nn.Module | None,
        text_encoder_spec: TextEncoderSpec,
        config: SDSConfig,
        resolution: tuple[int, int] | None = None,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__(
            alphas_cumprod=scheduler.alphas_cumprod,
            prediction_type=scheduler.config.prediction_type,
            config=config,
            text_encoder_spec=text_encoder_spec,
            resolution=resolution,
            device=device,
            dtype=dtype,
        )
        self.unet = unet
        self.vae = vae

    @classmethod
    def from_pretrained(
        cls,
        model: Text,
        *,
        family: Family = "sd",
        sds: SDSConfig | None = None,
        resolution: Size | None = None,
        local_files_only: Bool | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> DiffusionImagePrior:
        """Load `unet/`, `scheduler/` and (for "sd") `vae/` of a diffusers folder or hub id;
        `sds`: its SDS settings; `resolution`: what renders are resized to (default: native)."""
        from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel

        text_kind, native_resolution, has_vae = FAMILIES[family]
        device = torch.device(device or default_device())
        dtype = dtype or default_dtype(device)
        load = {"local_files_only": local_files_only, "device": device}
        unet = load_component(UNet2DConditionModel, model, "unet", dtype=dtype, **load)
        scheduler = load_component(DDPMScheduler, model, "scheduler", **load)
        vae = load_component(AutoencoderKL, model, "vae", dtype=dtype, **load) if has_vae else None
        spec = TextEncoderSpec(
            text_kind, resolve_model(model), local_files_only=is_local_only(local_files_only)
        )
        return cls(
            unet,
            scheduler,
            vae=vae,
            text_encoder_spec=spec,
            config=sds or SDSConfig(),
            resolution=resolution or native_resolution,
            device=device,
            dtype=dtype,
        )

    def encode_images(self, images: torch.Tensor) -> torch.Tensor:
        """Images `(N, 3, H, W)` in [0, 1] -> what the UNet denoises (latents or [-1, 1])."""
        pixels = self.resize(images) * 2.0 - 1.0
        if self.vae is None:
            return pixels
        posterior = self.vae.encode(pixels.to(self.dtype)).latent_dist
        return posterior.mean * self.vae.config.scaling_factor

    def encode(self, clips: SDSBatch) -> torch.Tensor:
        return self.encode_images(clips.frames.flatten(0, 1))

    def denoiser(self, cond: TextConditioning, clips: SDSBatch) -> Predictor:
        images = clips.batch * clips.length
        text = cond.batch(clips.frame_views(), images, self.device, self.dtype)

        def predict(noisy: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            output = self.unet(
                torch.cat([noisy, noisy]).to(self.dtype),
                torch.cat([t, t]),
                encoder_hidden_states=torch.cat([text.cond, text.uncond]),
            ).sample
            return output[:, : noisy.shape[1]].chunk(2)  # IF: drop the learned-variance channels

        return predict


class StillClipImagePrior(ImagePrior):
    """An image prior from a video prior: each image becomes a still clip of `frames` frames.

    For priors that come without an image model (the bundled one): the static stage still gets
    an image SDS, asking the video prior what a clip that does not move should look like.
    """

    def __init__(self, video_prior: VideoPrior, frames: int) -> None:
        super().__init__(
            alphas_cumprod=video_prior.alphas_cumprod,
            prediction_type=video_prior.prediction_type,
            config=video_prior.config,
            text_encoder_spec=video_prior.text_encoder_spec,
            genres=video_prior.genres,
            resolution=video_prior.resolution,
            device=video_prior.device,
            dtype=video_prior.dtype,
        )
        self.video_prior = video_prior
        self.frames = frames
        self.uses_negative_prompt = video_prior.uses_negative_prompt
        self.uses_view_suffixes = video_prior.uses_view_suffixes

    @classmethod
    def from_folder(
        cls,
        model: Text,
        *,
        sds: SDSConfig | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> StillClipImagePrior:
        """The bundled video prior of folder `model`, asked about clips of its own length."""
        video = PixelVideoPrior.from_folder(model, sds=sds, device=device, dtype=dtype)
        return cls(video, frames=video.frames)

    def still_clips(self, clips: SDSBatch) -> SDSBatch:
        """The B·T images as B·T clips that do not move, each with its clip's view."""
        images = clips.frames.flatten(0, 1)
        still = images.unsqueeze(1).expand(-1, self.frames, -1, -1, -1)
        return replace(clips, frames=still, views=clips.frame_views())

    def encode(self, clips: SDSBatch) -> torch.Tensor:
        return self.video_prior.encode(self.still_clips(clips))

    def denoiser(self, cond: TextConditioning, clips: SDSBatch) -> Predictor:
        return self.video_prior.denoiser(cond, self.still_clips(clips))
