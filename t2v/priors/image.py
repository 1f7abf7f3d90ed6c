"""Image priors over diffusers `UNet2DConditionModel`: Stable Diffusion (latent) and DeepFloyd IF.

SD 2.1 base denoises VAE latents of 512² images with CLIP token states; IF stage I denoises
64² pixels with T5 token states and predicts ε plus a learned variance (6 output channels, of
which the first 3 are ε). Both are `DiffusionImagePrior`: with a VAE it works in latent space,
without one in pixel space ([-1, 1]).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from t2v.priors.base import DiffusionPrior, ImagePrior, VideoPrior, check_frames, clip_views
from t2v.priors.loading import (
    default_device,
    default_dtype,
    is_local_only,
    load_component,
    resolve_model,
)
from t2v.priors.sds import SDSConfig, SDSOutput
from t2v.text.conditioning import TextConditioning
from t2v.text.encoders import TextEncoderSpec

IMAGE_KINDS = {
    # kind: (text encoder, resolution, has a VAE)
    "sd": ("clip", (512, 512), True),
    "deepfloyd": ("t5", (64, 64), False),
}


class DiffusionImagePrior(DiffusionPrior, ImagePrior):
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
        model: str,
        *,
        kind: str = "sd",
        config: SDSConfig | None = None,
        resolution: tuple[int, int] | None = None,
        local_files_only: bool | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> DiffusionImagePrior:
        """Load `unet/`, `scheduler/` and (for "sd") `vae/` of a diffusers folder or hub id."""
        from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel

        text_kind, native_resolution, has_vae = IMAGE_KINDS[kind]
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
            config=config or SDSConfig(),
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
    ) -> SDSOutput:
        batch, length = check_frames(frames)
        clips = clip_views(views, batch)
        image_views = [view for view in clips for _ in range(length)] if clips else None
        sample = self.encode_images(frames.flatten(0, 1))
        text = cond.batch(image_views, batch * length, self.device, self.dtype)
        channels = sample.shape[1]

        def predict(noisy: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            output = self.unet(
                torch.cat([noisy, noisy]).to(self.dtype),
                torch.cat([t, t]),
                encoder_hidden_states=torch.cat([text.cond, text.uncond]),
            ).sample
            return output[:, :channels].chunk(2)  # IF: drop the learned-variance channels

        return self.distil(
            sample, predict, step=step, generator=generator, noise=noise, timesteps=timesteps
        )


class StillClipImagePrior(ImagePrior):
    """An image prior from a video prior: each image becomes a still clip of `frames` frames.

    For priors that come without an image model (the bundled one): the static stage still gets
    an image SDS, asking the video prior what a clip that does not move should look like.
    """

    def __init__(self, video_prior: VideoPrior, frames: int) -> None:
        self.video_prior = video_prior
        self.frames = frames
        self.genres = video_prior.genres
        self.text_encoder_spec = video_prior.text_encoder_spec
        self.uses_negative_prompt = getattr(video_prior, "uses_negative_prompt", True)
        self.uses_view_suffixes = getattr(video_prior, "uses_view_suffixes", True)

    @property
    def config(self) -> SDSConfig:
        return self.video_prior.config  # type: ignore[attr-defined]

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
    ) -> SDSOutput:
        batch, length = check_frames(frames)
        clips = clip_views(views, batch)
        images = frames.flatten(0, 1)
        still = images.unsqueeze(1).expand(-1, self.frames, -1, -1, -1)
        image_views = [view for view in clips for _ in range(length)] if clips else None
        return self.video_prior.sds(
            still,
            cond,
            views=image_views,
            step=step,
            generator=generator,
            noise=noise,
            timesteps=timesteps,
        )
