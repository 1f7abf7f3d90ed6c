"""In-memory cache of caption embeddings from a frozen text encoder (captions repeat a lot)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.nn import functional as F

from t2v.models.blocks import token_mask

Encode = Callable[[list[str]], torch.Tensor]


class CachedTextEncoder:
    """`embed(captions) -> (N, D)` or `(N, L, D)` on CPU, calling `encode` only for captions not
    seen before. Token states are kept without their zero padding rows (a caption fills about a
    third of MiniLM's 64 tokens) and padded back when stacked."""

    def __init__(self, encode: Encode, max_entries: int = 200_000) -> None:
        self.encode = encode
        self.max_entries = max_entries
        self.cache: dict[str, torch.Tensor] = {}
        self.length = 0  # token axis length of the encoder's output (0: sentence vectors)

    def embed(self, captions: list[str]) -> torch.Tensor:
        missing = sorted({caption for caption in captions if caption not in self.cache})
        if missing:
            if len(self.cache) + len(missing) > self.max_entries:
                self.cache.clear()  # procedural captions are endless; keep memory bounded
            encoded = self.encode(missing).float().cpu()
            if encoded.dim() == 3:
                self.length = encoded.shape[1]
            for caption, vector in zip(missing, encoded, strict=True):
                self.cache[caption] = _trimmed(vector)
        entries = [self.cache[caption] for caption in captions]
        if self.length:
            entries = [F.pad(entry, (0, 0, 0, self.length - entry.shape[0])) for entry in entries]
        return torch.stack(entries)


def _trimmed(vector: torch.Tensor) -> torch.Tensor:
    """Token states `(L, D)` without their trailing zero rows; a sentence vector unchanged."""
    if vector.dim() != 2:
        return vector.clone()
    real = token_mask(vector).nonzero()
    return vector[: int(real.max()) + 1 if len(real) else 0].clone()
