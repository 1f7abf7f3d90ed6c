"""DDIM sampling with classifier-free guidance from a bundled prior (for checks and figures)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from t2v.models.ddim import ddim_sample
from t2v.pretrain.modules import UNCONDITIONAL_PROMPT, to_frames
from t2v.pretrain.prior_folder import PriorModels, load_prior
from t2v.pretrain.text_cache import Encode


@torch.no_grad()
def sample_video(
    prior: str | Path | PriorModels,
    prompts: Sequence[str],
    genres: Sequence[str],
    steps: int = 25,
    guidance: float = 2.0,
    seed: int = 0,
    text_encoder: Encode | None = None,
    frames: int | None = None,
) -> torch.Tensor:
    """Sample one clip per prompt; returns frames `(N,T,3,H,W)` in [0,1] at the base size."""
    models = prior if isinstance(prior, PriorModels) else load_prior(prior)
    unet = models.unet
    config = unet.config
    device = unet.device
    encode = text_encoder or models.encoder()
    text = encode([*prompts, UNCONDITIONAL_PROMPT]).to(device)
    conditional_text, empty = text[:-1], text[-1:].expand_as(text[:-1])
    genre_ids = torch.tensor([list(config.genres).index(g) for g in genres], device=device)
    both_text = torch.cat([conditional_text, empty])
    both_genres = torch.cat([genre_ids, torch.zeros_like(genre_ids)])
    generator = torch.Generator().manual_seed(seed)
    shape = (len(prompts), 3, frames or config.num_frames, config.sample_size, config.sample_size)
    noise = torch.randn(shape, generator=generator).to(device)

    def predict_pair(sample: torch.Tensor, timestep: torch.Tensor) -> torch.Tensor:
        return unet(sample, timestep, both_text, both_genres)

    return to_frames(ddim_sample(predict_pair, noise, models.scheduler.config, steps, guidance))


@torch.no_grad()
def super_resolve(
    prior: str | Path | PriorModels,
    low_res_frames: torch.Tensor,
    prompts: Sequence[str],
    genres: Sequence[str],
    steps: int = 25,
    guidance: float = 1.0,
    noise_level: int = 20,
    seed: int = 0,
    text_encoder: Encode | None = None,
) -> torch.Tensor:
    """Upsample frames `(N,T,3,h,w)` in [0,1] with the SR prior; returns `(N,T,3,H,W)`."""
    models = prior if isinstance(prior, PriorModels) else load_prior(prior)
    if models.sr_unet is None or models.sr_scheduler is None:
        raise ValueError("this prior has no SR model")
    unet = models.sr_unet
    device = unet.device
    encode = text_encoder or models.encoder()
    text = encode([*prompts, UNCONDITIONAL_PROMPT]).to(device)
    both_text = torch.cat([text[:-1], text[-1:].expand_as(text[:-1])])
    genre_ids = torch.tensor([list(unet.config.genres).index(g) for g in genres], device=device)
    both_genres = torch.cat([genre_ids, torch.zeros_like(genre_ids)])
    generator = torch.Generator().manual_seed(seed)
    low = low_res_frames.permute(0, 2, 1, 3, 4).to(device) * 2.0 - 1.0
    levels = torch.full((low.shape[0],), noise_level, dtype=torch.long, device=device)
    noise = torch.randn(low.shape, generator=generator).to(device)
    low = models.sr_scheduler.add_noise(low, noise, levels)
    factor = unet.config.sr_factor
    clips, _, frames, height, width = low.shape
    shape = (clips, 3, frames, height * factor, width * factor)
    noise = torch.randn(shape, generator=generator).to(device)
    both_low, both_levels = torch.cat([low, low]), torch.cat([levels, levels])

    def predict_pair(sample: torch.Tensor, timestep: torch.Tensor) -> torch.Tensor:
        return unet(sample, timestep, both_low, both_levels, both_text, both_genres)

    return to_frames(ddim_sample(predict_pair, noise, models.sr_scheduler.config, steps, guidance))
