"""Multiresolution hash-grid encoding (Instant-NGP) for 3D and 4D inputs; torch, triton or tcnn.

All backends share one level layout, copied from tiny-cuda-nn so that their parameters are
interchangeable: level `l` has scale `base * growth**l - 1`, resolution `ceil(scale) + 1`, a
table of `min(round_up(resolution**dims, 8), 2**log2_table_size)` entries, dense indexing when
the whole grid fits in the table and tcnn's prime XOR hash otherwise, and inputs are placed at
`x * scale + 0.5` before trilinear (or quadrilinear) interpolation. Parameters are initialised
uniformly in +-1e-4, as tcnn does, and the output is `(N, levels * features_per_level)`,
level-major. The torch backend is plain PyTorch (any device); the triton backend runs the same
math as two fused kernels (`hashgrid_triton.py`) on CUDA tensors; tcnn is tiny-cuda-nn.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import Tensor, nn

from t2v.errors import ConfigError

Backend = Literal["auto", "torch", "triton", "tcnn"]

# tiny-cuda-nn's hash primes; the first is 1 on purpose (memory coherence along x).
HASH_PRIMES = (1, 2654435761, 805459861, 3674653429, 2097192037, 1434869437, 2165219737)
INIT_SCALE = 1e-4


@dataclass(frozen=True)
class LevelLayout:
    """Per-level grid geometry shared by every backend (and by the reference implementation)."""

    scales: tuple[float, ...]  # positions are x * scale + 0.5 (float32, as tcnn computes it)
    resolutions: tuple[int, ...]  # grid vertices per axis
    table_sizes: tuple[int, ...]  # entries in each level's table
    offsets: tuple[int, ...]  # first entry of each level in the flattened table
    dense_levels: int  # levels [0, dense_levels) are indexed densely, the rest hashed

    @property
    def total_entries(self) -> int:
        return self.offsets[-1] + self.table_sizes[-1]


def level_layout(
    dims: int, levels: int, log2_table_size: int, base_resolution: int, per_level_scale: float
) -> LevelLayout:
    """The tcnn level layout (see the module docstring), computed in float32 like tcnn does."""
    log2_scale = np.log2(np.float32(per_level_scale))  # tcnn: std::log2 of a float
    scales, resolutions, sizes, offsets = [], [], [], []
    offset, dense_levels = 0, 0
    for level in range(levels):
        scale = np.float32(np.exp2(np.float32(level) * log2_scale) * np.float32(base_resolution))
        scale = float(scale - np.float32(1.0))
        resolution = math.ceil(scale) + 1
        dense_entries = resolution**dims
        size = min(-(-dense_entries // 8) * 8, 2**log2_table_size)
        if dense_entries <= size:
            if dense_levels != level:
                raise AssertionError("dense levels must come first")  # resolutions only grow
            dense_levels += 1
        scales.append(scale)
        resolutions.append(resolution)
        sizes.append(size)
        offsets.append(offset)
        offset += size
    return LevelLayout(
        tuple(scales), tuple(resolutions), tuple(sizes), tuple(offsets), dense_levels
    )


def growth_factor(levels: int, base_resolution: int, finest_resolution: int) -> float:
    """Per-level scale that takes `base_resolution` to `finest_resolution` over `levels` levels."""
    if levels == 1:
        return 1.0
    return math.exp((math.log(finest_resolution) - math.log(base_resolution)) / (levels - 1))


def tcnn_available() -> bool:
    """Whether the tcnn backend can run here: tinycudann importable and a CUDA device present."""
    if not torch.cuda.is_available():
        return False
    try:
        import tinycudann  # noqa: F401
    except ImportError:
        return False
    return True


def triton_interpreted() -> bool:
    """Whether Triton kernels run in its interpreter (TRITON_INTERPRET=1), on CPU tensors too."""
    return os.environ.get("TRITON_INTERPRET", "0") == "1"


def triton_available() -> bool:
    """Whether the triton backend can run here: triton importable, and a CUDA device present or
    Triton's interpreter switched on (TRITON_INTERPRET=1, before triton is first imported)."""
    if not (torch.cuda.is_available() or triton_interpreted()):
        return False
    try:
        import triton  # noqa: F401
    except ImportError:
        return False
    return True


def resolve_backend(backend: str) -> Literal["torch", "triton", "tcnn"]:
    """`auto` -> tcnn, else triton on a CUDA device, else torch; an explicit backend that cannot
    run here is a ConfigError. `auto` never picks the interpreter: it is a testing tool, slower
    than the torch backend."""
    if backend == "torch":
        return "torch"
    if backend == "triton":
        if not triton_available():
            raise ConfigError(
                "field backend 'triton' needs triton importable and a CUDA device "
                "(or TRITON_INTERPRET=1); install triton or set backend=torch (or auto)"
            )
        return "triton"
    if backend == "tcnn":
        if not tcnn_available():
            raise ConfigError(
                "field backend 'tcnn' needs tinycudann importable and a CUDA device; "
                "install tiny-cuda-nn or set backend=torch (or auto)"
            )
        return "tcnn"
    if backend == "auto":
        if tcnn_available():
            return "tcnn"
        return "triton" if torch.cuda.is_available() and triton_available() else "torch"
    raise ConfigError(f"unknown field backend '{backend}': use auto, torch, triton or tcnn")


class _InterpolateTable(torch.autograd.Function):
    """out[l, n] = sum_c weights[l, n, c] * table[indices[l, n, c]]; backward scatters into table.

    One gather over the flattened table serves every level and corner. The backward adds the
    weighted output gradient into a dense table gradient with a single `index_add_` (int64
    indices, which CPU scatters want), and only gathers again when the weights need a gradient.
    """

    @staticmethod
    def forward(ctx, table: Tensor, indices: Tensor, weights: Tensor) -> Tensor:
        levels, n, corners = indices.shape
        features = table.shape[1]
        # embedding_bag fuses gather, weighting and the sum over corners in one kernel.
        out = torch.nn.functional.embedding_bag(
            indices.view(-1, corners),
            table,
            per_sample_weights=weights.reshape(-1, corners),
            mode="sum",
        )
        ctx.save_for_backward(table, indices, weights)
        return out.view(levels, n, features)

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        table, indices, weights = ctx.saved_tensors
        features = table.shape[1]
        grad_table = grad_weights = None
        if ctx.needs_input_grad[0]:
            grad_table = torch.zeros_like(table)
            contributions = weights.unsqueeze(-1) * grad_out.unsqueeze(2)  # (L, N, C, F)
            grad_table.index_add_(0, indices.reshape(-1), contributions.reshape(-1, features))
        if ctx.needs_input_grad[2]:
            values = table.index_select(0, indices.reshape(-1)).view(*indices.shape, features)
            grad_weights = (values * grad_out.unsqueeze(2)).sum(-1)
        return grad_table, None, grad_weights


class HashGridEncoding(nn.Module):
    """Multiresolution hash encoding of points in [0, 1]^dims (dims 3 or 4) -> (N, levels * F).

    `backend`: `torch` (pure PyTorch, always available), `triton` (fused Triton kernels on CUDA
    tensors, which save only the inputs for backward instead of the torch backend's corner
    indices), `tcnn` (tiny-cuda-nn) or `auto` (tcnn where it can run, else triton on a CUDA
    device, else torch); `triton` or `tcnn` where they cannot run is a ConfigError. All backends
    take the same hyperparameters, produce the same output layout and start from the same init
    scale, and their parameters are laid out identically: torch and triton hold the same `table`
    and buffers (only `forward` differs), tcnn's `params` is the flattened `table`, so a
    checkpoint of any backend loads into any other. The triton backend computes in float32; on
    CPU tensors (a field moved off the GPU) it takes the torch path, unless TRITON_INTERPRET=1.
    `compile_index_math` wraps the torch path's index and weight computation in
    `torch.compile` (off by default: its compile takes 10-20 s per encoding, which only long
    runs win back; benchmarks/field.py).
    """

    def __init__(
        self,
        dims: int = 3,
        levels: int = 16,
        features_per_level: int = 2,
        log2_table_size: int = 19,
        base_resolution: int = 16,
        finest_resolution: int = 2048,
        backend: Backend = "auto",
        compile_index_math: bool = False,
    ) -> None:
        super().__init__()
        if dims not in (3, 4):
            raise ConfigError(f"hash grid dims must be 3 or 4, got {dims}")
        if features_per_level not in (1, 2, 4, 8):
            raise ConfigError(f"features_per_level must be 1, 2, 4 or 8, got {features_per_level}")
        if levels < 1 or base_resolution < 2 or finest_resolution < base_resolution:
            raise ConfigError(
                "hash grid needs levels >= 1 and 2 <= base_resolution <= finest_resolution"
            )
        self.dims = dims
        self.levels = levels
        self.features_per_level = features_per_level
        self.log2_table_size = log2_table_size
        self.base_resolution = base_resolution
        self.finest_resolution = finest_resolution
        self.per_level_scale = growth_factor(levels, base_resolution, finest_resolution)
        self.layout = level_layout(
            dims, levels, log2_table_size, base_resolution, self.per_level_scale
        )
        self.backend = resolve_backend(backend)
        self.output_dim = levels * features_per_level
        if self.backend == "tcnn":
            self._tcnn = self._build_tcnn()
        else:
            self.table = nn.Parameter(
                torch.empty(self.layout.total_entries, features_per_level).uniform_(
                    -INIT_SCALE, INIT_SCALE
                )
            )
            self._register_index_buffers(log2_table_size)
            self._index_math = (
                torch.compile(self._corner_indices_and_weights, dynamic=True)
                if compile_index_math
                else self._corner_indices_and_weights
            )

    def _build_tcnn(self) -> nn.Module:
        import tinycudann as tcnn

        config = {
            "otype": "HashGrid",
            "n_levels": self.levels,
            "n_features_per_level": self.features_per_level,
            "log2_hashmap_size": self.log2_table_size,
            "base_resolution": self.base_resolution,
            "per_level_scale": self.per_level_scale,
            "interpolation": "Linear",
        }
        return tcnn.Encoding(self.dims, config, dtype=torch.float32)

    def _register_index_buffers(self, log2_table_size: int) -> None:
        layout, dims = self.layout, self.dims
        self.register_buffer("scales", torch.tensor(layout.scales, dtype=torch.float32), False)
        self.register_buffer("offsets", torch.tensor(layout.offsets, dtype=torch.int64), False)
        self.register_buffer("sizes", torch.tensor(layout.table_sizes, dtype=torch.int32), False)
        # Dense strides resolution**k per axis; hashed levels multiply by the primes instead.
        dense = layout.dense_levels
        strides = [[r**k for k in range(dims)] for r in layout.resolutions[:dense]]
        self.register_buffer(
            "dense_strides", torch.tensor(strides, dtype=torch.int32).view(dense, dims), False
        )
        # The primes as wrapped int32 (their uint32 bit patterns).
        primes = [p - 2**32 if p >= 2**31 else p for p in HASH_PRIMES[:dims]]
        self.register_buffer("primes", torch.tensor(primes, dtype=torch.int32), persistent=False)
        self.hash_mask = 2**log2_table_size - 1

    @property
    def table_params(self) -> Tensor:
        """The (entries, F) parameter table, whichever backend holds it."""
        if self.backend == "tcnn":
            return self._tcnn.params.view(-1, self.features_per_level)
        return self.table

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):  # type: ignore[override]
        # All backends share one parameter layout, so a checkpoint from any loads into any: a
        # field trained with tcnn on a GPU renders with torch on a CPU (torch and triton even
        # share their keys).
        torch_key, tcnn_key = prefix + "table", prefix + "_tcnn.params"
        if self.backend != "tcnn" and tcnn_key in state_dict:
            values = state_dict.pop(tcnn_key)
            state_dict[torch_key] = values.reshape(-1, self.features_per_level).float()
        elif self.backend == "tcnn" and torch_key in state_dict:
            state_dict[tcnn_key] = state_dict.pop(torch_key).reshape(-1)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def _corner_indices_and_weights(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Flattened-table indices (L, N, 2^d) int64 and interpolation weights (L, N, 2^d).

        Level-major, as tcnn's kernels work level by level: a gather or scatter then sweeps one
        level's table at a time, which stays in cache, instead of jumping between all of them.
        Corners are built separably: per level and axis there are two grid coordinates and two
        weights, and combining axis by axis with broadcasting gives all 2^d corners, axis 0 being
        the lowest bit of the corner number (tcnn's order). The index math runs in int32, which
        halves its memory traffic: a hash only keeps the low log2_table_size bits, and those
        bits of a wrapped int32 product equal tcnn's uint32 ones. Only the final indices are
        int64, because CPU scatters (the backward's index_add_) are much slower with int32.
        """
        dense = self.layout.dense_levels
        pos = x.unsqueeze(0) * self.scales.to(x.dtype)[:, None, None] + 0.5  # (L, N, d)
        cell = torch.floor(pos)
        frac = pos - cell
        cell = cell.int()
        coords = torch.stack((cell, cell + 1), dim=-1)  # (L, N, d, 2): bit 0 / bit 1 per axis
        axis_weights = torch.stack((1 - frac, frac), dim=-1)
        dense_parts = coords[:dense] * self.dense_strides[:, None, :, None]
        hashed_parts = (coords[dense:] * self.primes[:, None]) & self.hash_mask
        dense_index = dense_parts[:, :, 0]
        hashed_index = hashed_parts[:, :, 0]
        weights = axis_weights[:, :, 0]
        for axis in range(1, self.dims):
            dense_index = (dense_index[..., None, :] + dense_parts[:, :, axis, :, None]).flatten(-2)
            hashed_index = (hashed_index[..., None, :] ^ hashed_parts[:, :, axis, :, None]).flatten(
                -2
            )
            weights = (weights[..., None, :] * axis_weights[:, :, axis, :, None]).flatten(-2)
        # A dense index reaches past its level only for corners on the upper boundary, and by
        # less than one table size; tcnn wraps it with a modulo, and so do we.
        dense_sizes = self.sizes[:dense, None, None]
        dense_index = torch.where(
            dense_index >= dense_sizes, dense_index - dense_sizes, dense_index
        )
        indices = torch.empty(weights.shape, dtype=torch.int64, device=x.device)
        torch.add(dense_index, self.offsets[:dense, None, None], out=indices[:dense])
        torch.add(hashed_index, self.offsets[dense:, None, None], out=indices[dense:])
        return indices, weights

    def forward(self, x: Tensor) -> Tensor:
        """Encode `x` (N, dims) in [0, 1]^dims to features (N, levels * features_per_level)."""
        if x.shape[-1] != self.dims:
            raise ValueError(f"expected (N, {self.dims}) inputs, got {tuple(x.shape)}")
        if self.backend == "tcnn":
            return self._tcnn(x.float()).float()
        if self.backend == "triton" and (x.is_cuda or triton_interpreted()):
            from t2v.field.hashgrid_triton import encode_triton

            return encode_triton(
                self.table, x, self.scales, self.offsets, self.sizes, self.dense_strides,
                self.primes, self.hash_mask,
            )  # fmt: skip
        indices, weights = self._index_math(x.to(self.table.dtype))
        out = _InterpolateTable.apply(self.table, indices, weights)  # (L, N, F)
        return out.transpose(0, 1).reshape(x.shape[0], self.output_dim)

    def extra_repr(self) -> str:
        return (
            f"dims={self.dims}, levels={self.levels}, F={self.features_per_level}, "
            f"log2_T={self.log2_table_size}, res={self.base_resolution}..{self.finest_resolution}"
            f", backend={self.backend}"
        )
