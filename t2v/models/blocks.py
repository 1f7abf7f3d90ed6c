"""Factorised space-time UNet blocks: per-frame 2D convs with FiLM, then a temporal 1D conv.

Every tensor inside the UNet is laid out frames-first, `(B*T, C, H, W)`, so the 2D layers see
each frame as an image; only `TemporalConv` regroups the frames of a clip to mix along time.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


def sinusoidal_embedding(values: torch.Tensor, dim: int, max_period: float = 10_000.0):
    """`(N,)` scalars (timesteps, noise levels) -> `(N, dim)` sin/cos features."""
    half = dim // 2
    frequencies = torch.exp(
        -math.log(max_period) * torch.arange(half, device=values.device, dtype=torch.float32) / half
    )
    angles = values.float()[:, None] * frequencies[None]
    return torch.cat([torch.cos(angles), torch.sin(angles)], dim=-1)


class TemporalConv(nn.Module):
    """Residual kernel-3 conv along time, zero-initialised so a fresh model is frame-independent."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(channels, channels, kernel_size=3, padding=1)
        nn.init.zeros_(self.conv.weight)
        nn.init.zeros_(self.conv.bias)

    def forward(self, x: torch.Tensor, frames: int) -> torch.Tensor:
        clips_frames, channels, height, width = x.shape
        clips = clips_frames // frames
        # (B*T, C, H, W) -> (B*H*W, C, T): each pixel's time series is one 1D signal.
        series = x.view(clips, frames, channels, height, width).permute(0, 3, 4, 2, 1)
        series = series.reshape(clips * height * width, channels, frames)
        mixed = self.conv(F.silu(series))
        mixed = mixed.view(clips, height, width, channels, frames).permute(0, 4, 3, 1, 2)
        return x + mixed.reshape(clips_frames, channels, height, width)


class FactorisedResBlock(nn.Module):
    """Residual 2D block per frame, GroupNorm with FiLM from the embedding, then TemporalConv."""

    def __init__(self, in_channels: int, out_channels: int, embed_dim: int, groups: int) -> None:
        super().__init__()
        self.norm_in = nn.GroupNorm(groups, in_channels)
        self.conv_in = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.film = nn.Linear(embed_dim, 2 * out_channels)
        self.norm_mid = nn.GroupNorm(groups, out_channels, affine=False)
        self.conv_out = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.skip = (
            nn.Identity()
            if in_channels == out_channels
            else nn.Conv2d(in_channels, out_channels, 1)
        )
        self.temporal = TemporalConv(out_channels)

    def forward(self, x: torch.Tensor, embedding: torch.Tensor, frames: int) -> torch.Tensor:
        hidden = self.conv_in(F.silu(self.norm_in(x)))
        scale, shift = self.film(F.silu(embedding))[:, :, None, None].chunk(2, dim=1)
        hidden = self.norm_mid(hidden) * (1 + scale) + shift
        hidden = self.conv_out(F.silu(hidden)) + self.skip(x)
        return self.temporal(hidden, frames)


class FactorisedUNetCore(nn.Module):
    """UNet body over `(B*T, C, H, W)`: one FactorisedResBlock per level, skips by concatenation."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        block_channels: tuple[int, ...],
        embed_dim: int,
        groups: int,
    ) -> None:
        super().__init__()
        self.conv_in = nn.Conv2d(in_channels, block_channels[0], 3, padding=1)
        self.down = nn.ModuleList()
        self.downsample = nn.ModuleList()
        previous = block_channels[0]
        for level, channels in enumerate(block_channels):
            self.down.append(FactorisedResBlock(previous, channels, embed_dim, groups))
            if level < len(block_channels) - 1:
                self.downsample.append(nn.Conv2d(channels, channels, 3, stride=2, padding=1))
            previous = channels
        self.middle = FactorisedResBlock(previous, previous, embed_dim, groups)
        self.up = nn.ModuleList()
        self.upsample = nn.ModuleList()
        for level in reversed(range(len(block_channels))):
            channels = block_channels[level]
            self.up.append(FactorisedResBlock(previous + channels, channels, embed_dim, groups))
            previous = channels
            if level > 0:
                self.upsample.append(nn.Conv2d(channels, block_channels[level - 1], 3, padding=1))
                previous = block_channels[level - 1]
        self.norm_out = nn.GroupNorm(groups, previous)
        self.conv_out = nn.Conv2d(previous, out_channels, 3, padding=1)

    def forward(
        self,
        x: torch.Tensor,
        embedding: torch.Tensor,
        frames: int,
        layout: LayoutMap | None = None,
    ) -> torch.Tensor:
        """`layout`, if given, adds its map (from the same embedding) before the middle block."""
        hidden = self.conv_in(x)
        skips = []
        for level, block in enumerate(self.down):
            hidden = block(hidden, embedding, frames)
            skips.append(hidden)
            if level < len(self.downsample):
                hidden = self.downsample[level](hidden)
        if layout is not None:
            hidden = hidden + layout(embedding, *hidden.shape[-2:])
        hidden = self.middle(hidden, embedding, frames)
        for level, block in enumerate(self.up):
            hidden = block(torch.cat([hidden, skips.pop()], dim=1), embedding, frames)
            if level < len(self.upsample):
                hidden = F.interpolate(hidden, scale_factor=2.0, mode="nearest")
                hidden = self.upsample[level](hidden)
        return self.conv_out(F.silu(self.norm_out(hidden)))


ATTENTION_HEADS = 4


def token_mask(tokens: torch.Tensor) -> torch.Tensor:
    """`(B, L)` True at real tokens: encoders of token states zero the padding rows."""
    return tokens.abs().sum(dim=-1) > 0


def sentence_vector(tokens: torch.Tensor) -> torch.Tensor:
    """Mean of the real tokens, L2-normalised: MiniLM's sentence vector from its token states."""
    mask = token_mask(tokens).unsqueeze(-1).to(tokens.dtype)
    pooled = (tokens * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
    return F.normalize(pooled, dim=-1)


class TokenAttentionPool(nn.Module):
    """`(B, L, D)` token states -> `(B, heads * D)`: per head, a learned softmax over the tokens."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim, elementwise_affine=False)
        self.score = nn.Linear(dim, heads)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        states = self.norm(tokens.float())
        scores = self.score(states).masked_fill(~token_mask(tokens)[..., None], -1e9)
        weights = scores.softmax(dim=1)  # (B, L, heads)
        return torch.einsum("blh,bld->bhd", weights, states).flatten(1)


class ConditionEmbedding(nn.Module):
    """Timestep + text + genre (+ extra scalar) embeddings, summed, plus a learned frame offset."""

    def __init__(
        self,
        embed_dim: int,
        text_dim: int,
        num_genres: int,
        max_frames: int,
        extra_scalar: bool = False,
        text_scale: float = 1.0,
        text_pathway: str = "linear",
        frame_mixing: bool = False,
    ) -> None:
        super().__init__()
        self.embed_dim = embed_dim
        # L2-normalised sentence vectors have tiny components; scaling them (e.g. by
        # sqrt(text_dim)) lets the text pathway learn as fast as the genre embedding.
        self.text_scale = text_scale
        self.time_mlp = nn.Sequential(
            nn.Linear(embed_dim, embed_dim), nn.SiLU(), nn.Linear(embed_dim, embed_dim)
        )
        self.extra_mlp = (
            nn.Sequential(
                nn.Linear(embed_dim, embed_dim), nn.SiLU(), nn.Linear(embed_dim, embed_dim)
            )
            if extra_scalar
            else None
        )
        if text_pathway == "linear":
            self.text_proj: nn.Module = nn.Linear(text_dim, embed_dim)
        elif text_pathway == "mlp":
            # Standardise each sentence vector (unit norm -> unit-variance components), then a
            # 2-layer MLP: the text moves the FiLM vector as much as the genre does from step 0
            # (one linear layer moves it several times less, and colour goes unlearned:
            # experiments/bundled_prior).
            self.text_proj = nn.Sequential(
                nn.LayerNorm(text_dim, elementwise_affine=False),
                nn.Linear(text_dim, embed_dim),
                nn.SiLU(),
                nn.Linear(embed_dim, embed_dim),
            )
        elif text_pathway == "attention":
            # Token states in, one learned softmax over the tokens per head: the mean of MiniLM's
            # tokens mixes an unseen verb into the direction, a learned weighting reads the
            # direction word wherever it sits (linear probes on held-out captions read the
            # direction far better from pooled heads than from the mean: experiments/bundled_prior).
            self.text_proj = nn.Sequential(
                TokenAttentionPool(text_dim, ATTENTION_HEADS),
                nn.Linear(text_dim * ATTENTION_HEADS, embed_dim),
                nn.SiLU(),
                nn.Linear(embed_dim, embed_dim),
            )
        else:
            raise ValueError(
                f"text_pathway must be 'linear', 'mlp' or 'attention', got {text_pathway!r}"
            )
        self.reads_tokens = text_pathway == "attention"
        self.genre_embedding = nn.Embedding(num_genres, embed_dim)
        # Zero start: a fresh model treats the frames of a clip alike (and independently).
        self.frame_embedding = nn.Parameter(torch.zeros(max_frames, embed_dim))
        # A summed frame offset barely interacts with the text; an MLP over the sum lets each
        # frame's FiLM depend on both ("frame 7 of a leftward clip"). Zero-init output: off at
        # the start, so weights trained without it load unchanged.
        self.frame_mlp = None
        if frame_mixing:
            self.frame_mlp = nn.Sequential(
                nn.SiLU(),
                nn.Linear(embed_dim, embed_dim),
                nn.SiLU(),
                nn.Linear(embed_dim, embed_dim),
            )
            nn.init.zeros_(self.frame_mlp[-1].weight)
            nn.init.zeros_(self.frame_mlp[-1].bias)

    def text_features(self, text_embeds: torch.Tensor) -> torch.Tensor:
        """The text pathway's output `(B, embed_dim)` for sentence vectors `(B, text_dim)` or
        zero-padded token states `(B, L, text_dim)` (the attention pathway needs the latter; the
        others pool them to the sentence vector)."""
        if self.reads_tokens and text_embeds.dim() != 3:
            raise ValueError(
                "this model reads token states (B, L, D) (text encoder 'minilm_tokens'), "
                f"got a tensor of shape {tuple(text_embeds.shape)}"
            )
        if not self.reads_tokens and text_embeds.dim() == 3:
            text_embeds = sentence_vector(text_embeds)
        return self.text_proj(text_embeds.float() * self.text_scale)

    def forward(
        self,
        timestep: torch.Tensor,
        text_embeds: torch.Tensor,
        genre_ids: torch.Tensor,
        frames: int,
        extra: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Per-frame embeddings `(B*T, embed_dim)`, clip-major like the UNet's frames."""
        if frames > self.frame_embedding.shape[0]:
            raise ValueError(
                f"{frames} frames given; this model was built for at most "
                f"{self.frame_embedding.shape[0]}"
            )
        clip = self.time_mlp(sinusoidal_embedding(timestep, self.embed_dim))
        clip = clip + self.text_features(text_embeds) + self.genre_embedding(genre_ids.long())
        if self.extra_mlp is not None:
            if extra is None:
                raise ValueError("this embedding needs its extra scalar (e.g. the noise level)")
            clip = clip + self.extra_mlp(sinusoidal_embedding(extra, self.embed_dim))
        per_frame = clip[:, None, :] + self.frame_embedding[None, :frames, :]
        if self.frame_mlp is not None:
            per_frame = per_frame + self.frame_mlp(per_frame)
        return per_frame.reshape(-1, self.embed_dim)


class LayoutMap(nn.Module):
    """Per-frame embedding -> a coarse spatial feature map: where things are in each frame.

    FiLM is the same at every pixel, so a UNet conditioned only through FiLM must build "the
    object is right of centre in frame 0 of a leftward clip" from coordinate ramps and
    thresholds, which training runs of thousands of steps did not find
    (experiments/bundled_prior). An MLP from the per-frame embedding to a `size` x `size` grid
    states it directly. Zero-init output: off at the start, so weights trained without it load
    unchanged.
    """

    def __init__(self, embed_dim: int, channels: int, out_channels: int, size: int = 8) -> None:
        super().__init__()
        self.channels, self.size = channels, size
        self.grid = nn.Sequential(
            nn.SiLU(),
            nn.Linear(embed_dim, embed_dim),
            nn.SiLU(),
            nn.Linear(embed_dim, channels * size * size),
        )
        self.project = nn.Conv2d(channels, out_channels, 1)
        nn.init.zeros_(self.project.weight)
        nn.init.zeros_(self.project.bias)

    def forward(self, embedding: torch.Tensor, height: int, width: int) -> torch.Tensor:
        grid = self.grid(embedding).view(-1, self.channels, self.size, self.size)
        if (height, width) != (self.size, self.size):
            grid = F.interpolate(grid, size=(height, width), mode="bilinear", align_corners=False)
        return self.project(grid)


def coordinate_channels(frames: int, height: int, width: int, like: torch.Tensor) -> torch.Tensor:
    """`(frames, 2, H, W)` x and y in [-1, 1]: lets spatially uniform FiLM place things (an
    object's position along a motion) instead of inferring position from padding."""
    ys = torch.linspace(-1.0, 1.0, height, device=like.device, dtype=like.dtype)
    xs = torch.linspace(-1.0, 1.0, width, device=like.device, dtype=like.dtype)
    grid = torch.stack(torch.meshgrid(xs, ys, indexing="xy"))
    return grid.expand(frames, 2, height, width)


def broadcast_batch(values: torch.Tensor | float | int, batch: int, device) -> torch.Tensor:
    """A scalar or `(B,)` tensor of timesteps/ids -> a `(B,)` tensor on `device`."""
    values = torch.as_tensor(values, device=device)
    if values.ndim == 0:
        values = values.expand(batch)
    if values.shape != (batch,):
        raise ValueError(f"expected a scalar or shape ({batch},), got {tuple(values.shape)}")
    return values
