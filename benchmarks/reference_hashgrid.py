"""Plain per-corner hash-grid encoding: the readable reference the fast torch backend is checked
against (tests) and measured against (benchmarks/field.py).

It loops over levels and over the 2^d corners of each cell, computes every corner's table index
the way tiny-cuda-nn's `grid_index` does (dense when the level's grid fits in its table, prime
XOR hash otherwise, then modulo the table size) and lets autograd differentiate the gathers. The
level geometry (scales, resolutions, table sizes, offsets) comes from `level_layout`, which the
tcnn agreement test pins to tiny-cuda-nn itself.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from t2v.field.hashgrid import HASH_PRIMES, HashGridEncoding, LevelLayout

UINT32_MASK = 0xFFFFFFFF


def corner_index(coords: list[Tensor], resolution: int, table_size: int) -> Tensor:
    """Table index (within one level) of the grid vertex `coords` (one int64 tensor per axis)."""
    if resolution ** len(coords) <= table_size:
        index = torch.zeros_like(coords[0])
        stride = 1
        for coord in coords:
            index = index + coord * stride
            stride *= resolution
    else:
        index = torch.zeros_like(coords[0])
        for coord, prime in zip(coords, HASH_PRIMES, strict=False):
            index = index ^ ((coord * prime) & UINT32_MASK)
    return torch.remainder(index, table_size)


def reference_encode(x: Tensor, table: Tensor, layout: LevelLayout) -> Tensor:
    """Encode `x` (N, d) in [0, 1]^d with `table` (entries, F) -> (N, levels * F)."""
    dims = x.shape[1]
    level_features = []
    for level, scale in enumerate(layout.scales):
        pos = x * scale + 0.5
        cell = torch.floor(pos)
        frac = pos - cell
        cell = cell.long()
        features = torch.zeros(x.shape[0], table.shape[1], dtype=table.dtype)
        for corner in range(2**dims):
            weight = torch.ones(x.shape[0], dtype=x.dtype)
            coords = []
            for axis in range(dims):
                bit = (corner >> axis) & 1
                weight = weight * (frac[:, axis] if bit else 1 - frac[:, axis])
                coords.append(cell[:, axis] + bit)
            index = corner_index(coords, layout.resolutions[level], layout.table_sizes[level])
            features = features + weight[:, None] * table[layout.offsets[level] + index]
        level_features.append(features)
    return torch.cat(level_features, dim=1)


class ReferenceHashGrid(nn.Module):
    """The reference encoding as a module, sharing a fast encoding's table layout and values."""

    def __init__(self, like: HashGridEncoding) -> None:
        super().__init__()
        self.layout = like.layout
        self.table = nn.Parameter(like.table_params.detach().clone())

    def forward(self, x: Tensor) -> Tensor:
        return reference_encode(x.to(self.table.dtype), self.table, self.layout)
