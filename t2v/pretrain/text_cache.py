"""In-memory cache of caption embeddings from a frozen text encoder (captions repeat a lot)."""

from __future__ import annotations

from collections.abc import Callable

import torch

Encode = Callable[[list[str]], torch.Tensor]


class CachedTextEncoder:
    """`embed(captions) -> (N, D)` on CPU, calling `encode` only for captions not seen before."""

    def __init__(self, encode: Encode, max_entries: int = 200_000) -> None:
        self.encode = encode
        self.max_entries = max_entries
        self.cache: dict[str, torch.Tensor] = {}

    def embed(self, captions: list[str]) -> torch.Tensor:
        missing = sorted({caption for caption in captions if caption not in self.cache})
        if missing:
            if len(self.cache) + len(missing) > self.max_entries:
                self.cache.clear()  # procedural captions are endless; keep memory bounded
            for caption, vector in zip(missing, self.encode(missing).float().cpu(), strict=True):
                self.cache[caption] = vector
        return torch.stack([self.cache[caption] for caption in captions])
