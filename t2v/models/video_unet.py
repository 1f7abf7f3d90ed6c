"""PixelVideoUNet: the bundled text- and genre-conditioned pixel-space video diffusion model."""

from __future__ import annotations

import torch
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin

from t2v.models.blocks import (
    ConditionEmbedding,
    FactorisedUNetCore,
    LayoutMap,
    broadcast_batch,
    coordinate_channels,
)

# genres[0] is the genre a classifier-free dropout drops to: "" (a slot of its own) or "none"
# (then the plain look doubles as the unconditional genre: t2v.pretrain.genre_slot).
UNCONDITIONAL_GENRE = ""
UNCONDITIONAL_GENRES = (UNCONDITIONAL_GENRE, "none")

DEFAULT_GENRES = (
    "none",
    "action",
    "cartoon",
    "documentary",
    "horror",
    "noir",
    "scifi",
    "fantasy",
    "western",
)


class PixelVideoUNet(ModelMixin, ConfigMixin):
    """Factorised (2D + temporal) UNet predicting `prediction_type` for noisy clips in [-1, 1].

    `forward(sample (B,3,T,H,W), timestep (B,), text_embeds (B,D), genre_ids (B,))` returns a
    `(B,3,T,H,W)` tensor. `genres[0]` is the dropped (unconditional) genre (`UNCONDITIONAL_GENRES`).
    """

    @register_to_config
    def __init__(
        self,
        in_channels: int = 3,
        out_channels: int = 3,
        block_channels: tuple[int, ...] = (32, 64, 96),
        embed_dim: int = 128,
        norm_groups: int = 8,
        text_dim: int = 384,
        genres: tuple[str, ...] = DEFAULT_GENRES,
        max_frames: int = 16,
        sample_size: int = 32,
        num_frames: int = 8,
        prediction_type: str = "v_prediction",
        text_scale: float = 1.0,
        text_pathway: str = "linear",
        frame_mixing: bool = False,
        coordinates: bool = False,
        layout_channels: int = 0,
    ) -> None:
        super().__init__()
        check_genres(genres)
        self.embedding = ConditionEmbedding(
            embed_dim,
            text_dim,
            len(genres),
            max_frames,
            text_scale=text_scale,
            text_pathway=text_pathway,
            frame_mixing=frame_mixing,
        )
        self.core = FactorisedUNetCore(
            in_channels + (2 if coordinates else 0),
            out_channels,
            tuple(block_channels),
            embed_dim,
            norm_groups,
        )
        self.layout = (
            LayoutMap(embed_dim, layout_channels, block_channels[-1]) if layout_channels else None
        )

    @property
    def reads_tokens(self) -> bool:
        """True when the text input is token states `(B, L, D)` (text encoder "minilm_tokens")."""
        return self.embedding.reads_tokens

    def forward(
        self,
        sample: torch.Tensor,
        timestep: torch.Tensor | float | int,
        text_embeds: torch.Tensor,
        genre_ids: torch.Tensor | int,
    ) -> torch.Tensor:
        clips, channels, frames, height, width = sample.shape
        timestep = broadcast_batch(timestep, clips, sample.device)
        genre_ids = broadcast_batch(genre_ids, clips, sample.device)
        embedding = self.embedding(timestep, text_embeds, genre_ids, frames)
        per_frame = sample.transpose(1, 2).reshape(clips * frames, channels, height, width)
        if self.config.coordinates:
            coords = coordinate_channels(clips * frames, height, width, per_frame)
            per_frame = torch.cat([per_frame, coords], dim=1)
        output = self.core(per_frame, embedding, frames, self.layout)
        return output.view(clips, frames, -1, height, width).transpose(1, 2)


def check_genres(genres: tuple[str, ...]) -> None:
    if not genres or genres[0] not in UNCONDITIONAL_GENRES:
        raise ValueError('genres must start with the unconditional genre: "" or "none"')
