"""Video priors: latent `UNet3DConditionModel` (zeroscope, ModelScope) and the bundled pixel prior.

Video SDS is temporal-aware: the whole clip is noised with one timestep and denoised jointly,
so the gradient on each frame depends on its neighbours (motion), not on the frame alone.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from t2v.errors import ConfigError
from t2v.priors.base import SDSBatch, Size, VideoPrior, randn
from t2v.priors.loading import (
    default_device,
    default_dtype,
    is_local_only,
    load_component,
    resolve_model,
)
from t2v.priors.sds import Predictor, SDSConfig
from t2v.schema import Bool, PositiveInt, Text
from t2v.text.conditioning import TextConditioning
from t2v.text.encoders import TextEncoderSpec

BUNDLED_MANIFEST = "t2v_prior.json"


class LatentVideoPrior(VideoPrior):
    """A frozen `UNet3DConditionModel` over per-frame `AutoencoderKL` latents (CLIP text).

    `vae_grad_frames = k` backpropagates through the VAE encoder for only k frames per call
    (a fresh random subset each time; the others are encoded under no_grad), which bounds the
    activation memory of the encoder; None backpropagates through every frame.
    """

    def __init__(
        self,
        unet: torch.nn.Module,
        vae: torch.nn.Module,
        scheduler: Any,
        *,
        text_encoder_spec: TextEncoderSpec,
        config: SDSConfig,
        resolution: tuple[int, int] | None = None,
        vae_grad_frames: int | None = None,
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
        if vae_grad_frames is not None and vae_grad_frames < 1:
            raise ConfigError(f"vae_grad_frames = {vae_grad_frames} must be >= 1 (or null: all)")
        self.unet = unet
        self.vae = vae
        self.vae_grad_frames = vae_grad_frames

    @classmethod
    def from_pretrained(
        cls,
        model: Text,
        *,
        sds: SDSConfig | None = None,
        resolution: Size | None = None,
        vae_grad_frames: PositiveInt | None = None,
        local_files_only: Bool | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> LatentVideoPrior:
        """Load `unet/`, `vae/` and `scheduler/` of a diffusers text-to-video folder or hub id."""
        from diffusers import AutoencoderKL, DDPMScheduler, UNet3DConditionModel

        device = torch.device(device or default_device())
        dtype = dtype or default_dtype(device)
        load = {"local_files_only": local_files_only, "device": device}
        unet = load_component(UNet3DConditionModel, model, "unet", dtype=dtype, **load)
        vae = load_component(AutoencoderKL, model, "vae", dtype=dtype, **load)
        scheduler = load_component(DDPMScheduler, model, "scheduler", **load)
        spec = TextEncoderSpec(
            "clip", resolve_model(model), local_files_only=is_local_only(local_files_only)
        )
        return cls(
            unet,
            vae,
            scheduler,
            text_encoder_spec=spec,
            config=sds or SDSConfig(),
            resolution=resolution,
            vae_grad_frames=vae_grad_frames,
            device=device,
            dtype=dtype,
        )

    def encode(self, clips: SDSBatch) -> torch.Tensor:
        """Frames `(B, T, 3, H, W)` in [0, 1] -> latents `(B, C, T, h, w)`."""
        frames, generator = clips.frames, clips.generator
        batch, length = frames.shape[:2]
        grad_count = length if self.vae_grad_frames is None else min(self.vae_grad_frames, length)
        order = None
        if grad_count < length:
            device = generator.device if generator is not None else "cpu"
            order = torch.randperm(length, generator=generator, device=device).cpu()
        if order is None:
            latents = self._encode_images(frames.flatten(0, 1)).unflatten(0, (batch, length))
        else:
            with_grad = self._encode_images(frames[:, order[:grad_count]].flatten(0, 1))
            with torch.no_grad():
                without_grad = self._encode_images(frames[:, order[grad_count:]].flatten(0, 1))
            shuffled = torch.cat(
                [
                    with_grad.unflatten(0, (batch, grad_count)),
                    without_grad.unflatten(0, (batch, length - grad_count)),
                ],
                dim=1,
            )
            latents = shuffled[:, torch.argsort(order)]
        return latents.transpose(1, 2)

    def _encode_images(self, images: torch.Tensor) -> torch.Tensor:
        pixels = self.resize(images) * 2.0 - 1.0
        posterior = self.vae.encode(pixels.to(self.dtype)).latent_dist
        return posterior.mean * self.vae.config.scaling_factor

    def denoiser(self, cond: TextConditioning, clips: SDSBatch) -> Predictor:
        text = cond.batch(clips.views, clips.batch, self.device, self.dtype)

        def predict(noisy: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            output = self.unet(
                torch.cat([noisy, noisy]).to(self.dtype),
                torch.cat([t, t]),
                encoder_hidden_states=torch.cat([text.cond, text.uncond]),
            ).sample
            return output.chunk(2)

        return predict


class PixelVideoPrior(VideoPrior):
    """The bundled pixel-space video prior (`t2v.models.PixelVideoUNet`, MiniLM text, genre ids).

    It denoises clips `(B, 3, T, H, W)` in [-1, 1] at its training size (frames are resized to
    it); T should be the prior's `frames`, the clip length it was trained on.
    """

    def __init__(
        self,
        unet: torch.nn.Module,
        scheduler: Any,
        *,
        config: SDSConfig,
        genres: Sequence[str],
        frames: int,
        resolution: tuple[int, int],
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
            resolution=resolution,
            device=device,
            dtype=dtype,
        )
        self.unet = unet
        self.scheduler_config = scheduler.config
        self.frames = frames
        # Trained with "" as its only unconditional text: a negative prompt would be a caption.
        self.uses_negative_prompt = False
        self.uses_view_suffixes = uses_view_suffixes

    @classmethod
    def from_folder(
        cls,
        model: Text,
        *,
        sds: SDSConfig | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> PixelVideoPrior:
        """Load `unet/`, `scheduler/` and `t2v_prior.json` of a bundled prior folder."""
        from diffusers import DDPMScheduler

        from t2v.models import PixelVideoUNet

        folder = resolve_model(model)
        manifest = read_manifest(folder, model)
        device = torch.device(device or default_device())
        dtype = dtype or default_dtype(device)
        load = {"local_files_only": True, "device": device}
        unet = load_component(PixelVideoUNet, folder, "unet", dtype=dtype, **load)
        scheduler = load_component(DDPMScheduler, folder, "scheduler", **load)
        return cls(
            unet,
            scheduler,
            config=sds or SDSConfig(guidance_scale=5.0),
            genres=manifest.get("genres") or unet.config.genres,
            frames=int(manifest["frames"]),
            resolution=(int(manifest["height"]), int(manifest["width"])),
            text_encoder_spec=TextEncoderSpec(str(manifest.get("text_encoder", "minilm"))),
            uses_view_suffixes=bool(manifest.get("view_suffixes", False)),
            device=device,
            dtype=dtype,
        )

    def encode(self, clips: SDSBatch) -> torch.Tensor:
        """Frames `(B, T, 3, H, W)` in [0, 1] -> clips `(B, 3, T, H, W)` in [-1, 1]."""
        flat = self.resize(clips.frames.flatten(0, 1))
        pixels = flat.unflatten(0, (clips.batch, clips.length))
        return (pixels * 2.0 - 1.0).transpose(1, 2)

    def denoiser(self, cond: TextConditioning, clips: SDSBatch) -> Predictor:
        text = cond.batch(clips.views, clips.batch, self.device, self.dtype)

        def predict(noisy: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            output = self.unet(
                torch.cat([noisy, noisy]).to(self.dtype),
                torch.cat([t, t]),
                torch.cat([text.cond, text.uncond]),
                torch.cat([text.genre_ids, text.uncond_genre_ids]),
            )
            return _sample_of(output).chunk(2)

        return predict

    @torch.no_grad()
    def sample(
        self,
        cond: TextConditioning,
        *,
        steps: int = 25,
        guidance: float = 2.0,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """One clip `(1, T, 3, H, W)` in [0, 1] drawn from the prior itself: DDIM with
        classifier-free guidance over the prompt's conditioning (a stage's reference clip)."""
        from t2v.models.ddim import ddim_sample  # diffusers' scheduler, only when a clip is drawn

        text = cond.batch(None, 1, self.device, self.dtype)
        height, width = self.resolution or (32, 32)
        noise = randn((1, 3, self.frames, height, width), generator, self.device)
        both_text = torch.cat([text.cond, text.uncond])
        both_genres = torch.cat([text.genre_ids, text.uncond_genre_ids])

        def predict_pair(sample: torch.Tensor, timestep: torch.Tensor) -> torch.Tensor:
            output = self.unet(sample.to(self.dtype), timestep.expand(2), both_text, both_genres)
            return _sample_of(output)

        clip = ddim_sample(predict_pair, noise, self.scheduler_config, steps, guidance)
        return ((clip.clamp(-1.0, 1.0) + 1.0) / 2.0).transpose(1, 2)


def read_manifest(folder: str, model: str) -> dict[str, Any]:
    """The bundled prior's `t2v_prior.json` (kind, text encoder, frames, size, genres)."""
    path = Path(folder) / BUNDLED_MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        message = f"prior '{model}' has no {BUNDLED_MANIFEST}; is it a t2v prior folder?"
        raise ConfigError(message) from None
    except json.JSONDecodeError as error:
        message = f"prior '{model}': {BUNDLED_MANIFEST} is not valid JSON ({error})"
        raise ConfigError(message) from None
    missing = [key for key in ("frames", "height", "width") if key not in manifest]
    if missing:
        raise ConfigError(f"prior '{model}': {BUNDLED_MANIFEST} lacks {', '.join(missing)}")
    return manifest


def _sample_of(output: Any) -> torch.Tensor:
    """A model's prediction tensor, whether returned bare or as a diffusers output object."""
    return output if isinstance(output, torch.Tensor) else output.sample
