"""PixelSRUNet: the bundled video super-resolution diffusion model (low-res frames -> x2)."""

from __future__ import annotations

import torch
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from torch.nn import functional as F

from t2v.models.blocks import ConditionEmbedding, FactorisedUNetCore, broadcast_batch
from t2v.models.video_unet import DEFAULT_GENRES, check_genres


class PixelSRUNet(ModelMixin, ConfigMixin):
    """Denoises a high-res clip given its upsampled low-res clip, as the SD x4 upscaler does.

    The low-res clip `(B,3,T,h,w)` in [-1, 1] is (noise-augmented by the caller at
    `noise_level`, then) bilinearly upsampled and concatenated to the noisy input; the noise
    level enters the embedding next to timestep, text and genre.
    """

    @register_to_config
    def __init__(
        self,
        in_channels: int = 3,
        out_channels: int = 3,
        block_channels: tuple[int, ...] = (16, 32, 64),
        embed_dim: int = 64,
        norm_groups: int = 8,
        text_dim: int = 384,
        genres: tuple[str, ...] = DEFAULT_GENRES,
        max_frames: int = 16,
        sample_size: int = 64,
        num_frames: int = 8,
        sr_factor: int = 2,
        max_noise_level: int = 350,
        prediction_type: str = "v_prediction",
        text_scale: float = 1.0,
        text_pathway: str = "linear",
    ) -> None:
        super().__init__()
        check_genres(genres)
        self.embedding = ConditionEmbedding(
            embed_dim,
            text_dim,
            len(genres),
            max_frames,
            extra_scalar=True,
            text_scale=text_scale,
            text_pathway=text_pathway,
        )
        self.core = FactorisedUNetCore(
            2 * in_channels, out_channels, tuple(block_channels), embed_dim, norm_groups
        )

    @property
    def reads_tokens(self) -> bool:
        """True when the text input is token states `(B, L, D)` (text encoder "minilm_tokens")."""
        return self.embedding.reads_tokens

    def forward(
        self,
        sample: torch.Tensor,
        timestep: torch.Tensor | float | int,
        low_res: torch.Tensor,
        noise_level: torch.Tensor | int,
        text_embeds: torch.Tensor,
        genre_ids: torch.Tensor | int,
    ) -> torch.Tensor:
        clips, channels, frames, height, width = sample.shape
        if low_res.shape[:3] != sample.shape[:3]:
            raise ValueError(
                f"low_res {tuple(low_res.shape)} must match sample {tuple(sample.shape)} in B, C, T"
            )
        timestep = broadcast_batch(timestep, clips, sample.device)
        noise_level = broadcast_batch(noise_level, clips, sample.device)
        genre_ids = broadcast_batch(genre_ids, clips, sample.device)
        embedding = self.embedding(timestep, text_embeds, genre_ids, frames, extra=noise_level)
        per_frame = sample.transpose(1, 2).reshape(clips * frames, channels, height, width)
        low = low_res.transpose(1, 2).reshape(clips * frames, channels, *low_res.shape[-2:])
        upsampled = F.interpolate(low.to(per_frame.dtype), size=(height, width), mode="bilinear")
        output = self.core(torch.cat([per_frame, upsampled], dim=1), embedding, frames)
        return output.view(clips, frames, -1, height, width).transpose(1, 2)
