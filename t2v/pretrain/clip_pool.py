"""A replay pool over a slow clip stream: each draw renders only a fraction of a new clip.

Rendering a procedural clip costs about as much as a training step on the CPU. The pool keeps
`size` clips, replaces `refresh` of them per item drawn (on average) and yields random members,
so the data cost per step drops by 1/refresh while the stream still moves on.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from typing import Any

from torch.utils.data import IterableDataset


class ClipPool(IterableDataset):
    """Endless random draws from a pool of `size` items of `source`, refreshed at rate `refresh`."""

    def __init__(self, source: Iterable[dict[str, Any]], size: int, refresh: float, seed: int):
        super().__init__()
        if size < 1 or not 0.0 < refresh <= 1.0:
            raise ValueError(f"need size >= 1 and 0 < refresh <= 1, got {size}, {refresh}")
        self.source, self.size, self.refresh, self.seed = source, size, refresh, seed

    def __iter__(self) -> Iterator[dict[str, Any]]:
        rng = random.Random(self.seed)
        stream = iter(self.source)
        pool = [next(stream) for _ in range(self.size)]
        credit = 0.0
        while True:
            credit += self.refresh
            while credit >= 1.0:
                pool[rng.randrange(self.size)] = next(stream)
                credit -= 1.0
            yield pool[rng.randrange(self.size)]
