"""LightningModules that pre-train the bundled video prior and its SR prior by denoising."""

from __future__ import annotations

import copy
from typing import Any

import lightning as L
import torch
from diffusers import DDPMScheduler
from torch import nn
from torch.nn import functional as F

from t2v.data.vocabulary import COLOURS, MOTIONS, SHAPES
from t2v.models import PixelSRUNet, PixelVideoUNet
from t2v.pretrain.ema import ema_decay_at, update_ema
from t2v.pretrain.text_cache import CachedTextEncoder, Encode

UNCONDITIONAL_PROMPT = ""  # dropped captions are replaced by the embedding of this text

# Labels that procedural items carry next to their caption (real video-text data has none).
CAPTION_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "colour": COLOURS,
    "shape": SHAPES,
    "motion": MOTIONS,
}


def default_scheduler_config(num_train_timesteps: int = 1000) -> dict[str, Any]:
    """Cosine-schedule, v-prediction DDPM config shared by both priors."""
    return {
        "num_train_timesteps": num_train_timesteps,
        "beta_schedule": "squaredcos_cap_v2",
        "prediction_type": "v_prediction",
        "clip_sample": True,
        "clip_sample_range": 1.0,
        "timestep_spacing": "trailing",
    }


def to_model_space(video: torch.Tensor) -> torch.Tensor:
    """Dataset frames `(B,T,3,H,W)` in [0,1] -> model samples `(B,3,T,H,W)` in [-1,1]."""
    return video.permute(0, 2, 1, 3, 4) * 2.0 - 1.0


def to_frames(sample: torch.Tensor) -> torch.Tensor:
    """Model samples `(B,3,T,H,W)` in [-1,1] -> frames `(B,T,3,H,W)` in [0,1]."""
    return ((sample.permute(0, 2, 1, 3, 4) + 1.0) / 2.0).clamp(0.0, 1.0)


def random_crop(
    clips: torch.Tensor, size: int, multiple: int, generator: torch.Generator | None
) -> torch.Tensor:
    """One random `size` x `size` window per batch (same for all frames), corners on `multiple`."""
    height, width = clips.shape[-2:]
    if size > min(height, width) or size % multiple:
        raise ValueError(f"crop {size} must fit {height}x{width} and be a multiple of {multiple}")
    top, left = (
        int(torch.randint(0, (side - size) // multiple + 1, (1,), generator=generator)) * multiple
        for side in (height, width)
    )
    return clips[..., top : top + size, left : left + size]


class DiffusionPriorModule(L.LightningModule):
    """Shared denoising objective, condition dropout, AdamW and EMA; subclasses pick the model.

    Batches are dataset dicts: `video (B,T,3,H,W)` in [0,1], `caption` list[str], `genre`
    list[str]. `text_encoder` maps captions to `(N, D)` sentence vectors or `(N, L, D)` token
    states, whichever the model reads (frozen, never saved); by default MiniLM is built in `setup`.
    """

    model_class: type[PixelVideoUNet] | type[PixelSRUNet] = PixelVideoUNet

    def __init__(
        self,
        model_config: dict[str, Any] | None = None,
        scheduler_config: dict[str, Any] | None = None,
        lr: float = 1e-3,
        weight_decay: float = 0.01,
        betas: tuple[float, float] = (0.9, 0.99),
        ema_decay: float = 0.999,
        text_dropout: float = 0.1,
        genre_dropout: float = 0.1,
        foreground_weight: float = 0.0,
        attribute_weight: float = 0.0,
        text_encoder: Encode | None = None,
    ) -> None:
        """`foreground_weight` w: where a batch carries the object's coverage `mask`, a pixel's
        squared error weighs 1 + w * mask. Procedural objects cover ~6% of a frame, so at w = 0
        the background (which the genre sets) dominates the loss and the object's colour and
        motion, which the text sets, are learned slowly.

        `attribute_weight`: where a batch carries the caption's labels (`CAPTION_ATTRIBUTES`),
        linear heads classify them from the text pathway's output, and their cross-entropy is
        added at this weight. Trained on denoising alone, the text pathway kept colour and
        drowned direction (near chance, though MiniLM's own vector carries it; measured in
        experiments/bundled_prior), so the UNet never saw direction to learn from."""
        super().__init__()
        self.save_hyperparameters(ignore=["text_encoder"])
        self.model = self.model_class(**(model_config or {}))
        self.ema_model = copy.deepcopy(self.model).requires_grad_(False)
        self.attribute_heads = (
            nn.ModuleDict(
                {
                    name: nn.Linear(self.model.config.embed_dim, len(values))
                    for name, values in CAPTION_ATTRIBUTES.items()
                }
            )
            if attribute_weight
            else None
        )
        self.noise_scheduler = DDPMScheduler(**(scheduler_config or default_scheduler_config()))
        self.genres = list(self.model.config.genres)
        self._encode = text_encoder
        self.text_cache: CachedTextEncoder | None = None

    # --- conditioning -------------------------------------------------------------------

    def setup(self, stage: str) -> None:
        self.ensure_text_encoder()

    def ensure_text_encoder(self) -> CachedTextEncoder:
        if self.text_cache is None:
            encode = self._encode
            if encode is None:
                from t2v.text.minilm import MiniLMEncoder

                encode = MiniLMEncoder().encoder_for(self.model.reads_tokens)
            self.text_cache = CachedTextEncoder(encode)
        return self.text_cache

    def genre_ids(self, genres: list[str]) -> torch.Tensor:
        unknown = sorted(set(genres) - set(self.genres))
        if unknown:
            raise ValueError(f"genres {unknown} are not among the model's genres {self.genres}")
        return torch.tensor([self.genres.index(genre) for genre in genres], device=self.device)

    def condition(self, batch: dict[str, Any], drop: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """Text embeddings `(B, D)` or `(B, L, D)` and genre ids `(B,)`, each dropped
        independently if `drop`."""
        cache = self.ensure_text_encoder()
        text = cache.embed(list(batch["caption"])).to(self.device)
        genre_ids = self.genre_ids(list(batch["genre"]))
        if drop:
            clips = text.shape[0]
            empty = cache.embed([UNCONDITIONAL_PROMPT]).to(self.device)
            drop_text = torch.rand(clips, device=self.device) < self.hparams.text_dropout
            drop_text = drop_text.view(-1, *[1] * (text.dim() - 1))
            text = torch.where(drop_text, empty, text)
            drop_genre = torch.rand(clips, device=self.device) < self.hparams.genre_dropout
            genre_ids = torch.where(drop_genre, torch.zeros_like(genre_ids), genre_ids)
        return text, genre_ids

    # --- objective ----------------------------------------------------------------------

    def denoising_inputs(
        self, batch: dict[str, Any], generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The clean sample `(B,3,T,H,W)` and extra model inputs (none for the video prior)."""
        return to_model_space(batch["video"].to(self.device)), {}

    def denoising_loss(
        self, batch: dict[str, Any], drop: bool, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        clean, extra = self.denoising_inputs(batch, generator)
        text, genre_ids = self.condition(batch, drop)
        noise = torch.randn(clean.shape, generator=generator, device=self.device)
        steps = self.noise_scheduler.config.num_train_timesteps
        timesteps = torch.randint(0, steps, (clean.shape[0],), generator=generator)
        timesteps = timesteps.to(self.device)
        noisy = self.noise_scheduler.add_noise(clean, noise, timesteps)
        prediction = self.model(noisy, timesteps, text_embeds=text, genre_ids=genre_ids, **extra)
        error = (prediction - self.target(clean, noise, timesteps)).square()
        weights = self.pixel_weights(batch)
        if weights is None:
            return error.mean()
        weights = weights.expand_as(error)
        return (weights * error).sum() / weights.sum()

    def pixel_weights(self, batch: dict[str, Any]) -> torch.Tensor | None:
        """Per-pixel loss weights `(B,1,T,H,W)` from the batch's `mask`, or None (plain MSE)."""
        weight = self.hparams.get("foreground_weight", 0.0)
        if not weight or "mask" not in batch:
            return None
        return 1.0 + weight * batch["mask"].to(self.device).transpose(1, 2)

    def target(self, clean: torch.Tensor, noise: torch.Tensor, timesteps: torch.Tensor):
        kind = self.noise_scheduler.config.prediction_type
        if kind == "v_prediction":
            return self.noise_scheduler.get_velocity(clean, noise, timesteps)
        if kind == "epsilon":
            return noise
        if kind == "sample":
            return clean
        raise ValueError(f"unsupported prediction_type {kind!r}")

    @torch.no_grad()
    def fixed_loss(self, batch: dict[str, Any], seed: int = 0) -> float:
        """Denoising loss without dropout under a fixed seed: comparable across steps."""
        generator = torch.Generator().manual_seed(seed)
        return float(self.denoising_loss(batch, drop=False, generator=generator))

    def attribute_loss(self, batch: dict[str, Any]) -> torch.Tensor | None:
        """Mean cross-entropy of the heads over the labels the batch carries, or None."""
        if self.attribute_heads is None:
            return None
        named = [name for name in CAPTION_ATTRIBUTES if name in batch]
        if not named:
            return None
        text = self.ensure_text_encoder().embed(list(batch["caption"])).to(self.device)
        features = self.model.embedding.text_features(text)
        losses = []
        for name in named:
            labels = torch.tensor(
                [CAPTION_ATTRIBUTES[name].index(value) for value in batch[name]],
                device=self.device,
            )
            losses.append(F.cross_entropy(self.attribute_heads[name](features), labels))
        return torch.stack(losses).mean()

    def training_step(self, batch: dict[str, Any], batch_index: int) -> torch.Tensor:
        clips = batch["video"].shape[0]
        loss = self.denoising_loss(batch, drop=True)
        self.log("train/loss", loss, prog_bar=True, batch_size=clips)
        attributes = self.attribute_loss(batch)
        if attributes is not None:
            self.log("train/attribute_loss", attributes, batch_size=clips)
            loss = loss + self.hparams.attribute_weight * attributes
        return loss

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_index: int) -> None:
        decay = ema_decay_at(self.global_step, self.hparams.ema_decay)
        update_ema(self.ema_model, self.model, decay)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        parameters = list(self.model.parameters())
        if self.attribute_heads is not None:
            parameters += list(self.attribute_heads.parameters())
        return torch.optim.AdamW(
            parameters,
            lr=self.hparams.lr,
            weight_decay=self.hparams.weight_decay,
            betas=tuple(self.hparams.betas),
        )


class VideoPriorModule(DiffusionPriorModule):
    """Pre-trains PixelVideoUNet on clips at the base resolution."""

    model_class = PixelVideoUNet


class SRPriorModule(DiffusionPriorModule):
    """Pre-trains PixelSRUNet: clips at the high resolution, low-res input made by area pooling.

    The low-res input is noise-augmented at a random level in [0, max_noise_level] with the
    model's own schedule, so that the prior tolerates blurry or noisy renders at SDS time.
    """

    model_class = PixelSRUNet

    def __init__(self, *args: Any, crop_size: int | None = None, **kwargs: Any) -> None:
        """`crop_size`: train on random square crops of the high-res clips (the UNet is fully
        convolutional, so a 32x32 crop of a 64x64 clip costs a quarter of the step)."""
        super().__init__(*args, **kwargs)
        self.crop_size = crop_size
        self.hparams["crop_size"] = crop_size

    def denoising_inputs(
        self, batch: dict[str, Any], generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        clean = to_model_space(batch["video"].to(self.device))
        if self.crop_size is not None:
            clean = random_crop(clean, self.crop_size, self.model.config.sr_factor, generator)
        factor = self.model.config.sr_factor
        clips, channels, frames, height, width = clean.shape
        low = F.avg_pool2d(clean.transpose(1, 2).reshape(-1, channels, height, width), factor)
        low = low.view(clips, frames, channels, height // factor, width // factor).transpose(1, 2)
        levels = torch.randint(
            0, self.model.config.max_noise_level + 1, (clips,), generator=generator
        )
        levels = levels.to(self.device)
        noise = torch.randn(low.shape, generator=generator, device=self.device)
        augmented = self.noise_scheduler.add_noise(low, noise, levels)
        return clean, {"low_res": augmented, "noise_level": levels}

    def pixel_weights(self, batch: dict[str, Any]) -> torch.Tensor | None:
        return None  # SR clips are cropped; their detail is everywhere, not on the object
