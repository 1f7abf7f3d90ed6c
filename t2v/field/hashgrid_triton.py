"""Triton kernels for the hash-grid encoding: the `triton` backend of `HashGridEncoding`.

Same level layout, indexing and interpolation as the torch backend in `hashgrid.py`, fused into
one forward kernel and one backward kernel. The forward writes `(N, levels * F)` directly; the
backward recomputes corner indices and weights instead of saving them, so the only tensors
kept for backward are the inputs and the table (the torch backend keeps int64 indices of
`(levels, N, 2^dims)`). Each program handles `BLOCK` points of one level, one register
vector per axis; 3D inputs get a fourth axis with weight 1 and multiplier 0, so one code path
serves both dimensionalities.

Runs on CUDA tensors, and on CPU tensors under Triton's interpreter (`TRITON_INTERPRET=1`, set
before triton is imported), which is how the CPU tests compare it with the torch backend.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from torch import Tensor
from torch.autograd.function import once_differentiable

BLOCK = 128  # points per program


@triton.jit
def _axis_cell(x_ptr, points, point_mask, scale, AXIS: tl.constexpr, DIMS: tl.constexpr):
    """Lower grid vertex (uint32) and fraction of `points` along AXIS at a level of `scale`.

    Axis 3 of a 3D input reads x = 0 (vertex 0) and gets fraction 0, so it weighs 1 and, with
    multiplier 0, adds nothing to an index: one code path serves 3D and 4D.
    """
    x = tl.load(x_ptr + points * DIMS + AXIS, mask=point_mask & (AXIS < DIMS), other=0.0)
    # Multiply, round, add, round, as torch does: the launches disable FMA contraction, so a
    # point close to a cell border falls into the same cell as in the torch backend.
    pos = x * scale + 0.5
    cell = tl.floor(pos)
    frac = pos - cell
    if AXIS >= DIMS:
        frac = tl.zeros_like(frac)
    return cell.to(tl.int32).to(tl.uint32, bitcast=True), frac


@triton.jit
def _axis_multiplier(
    strides_ptr, primes_ptr, level, is_dense, AXIS: tl.constexpr, DIMS: tl.constexpr
):
    """uint32 multiplier of AXIS's vertex: the dense stride resolution**AXIS, or the hash prime
    (buffers hold uint32 bit patterns as int32); 0 past `dims`."""
    real = AXIS < DIMS
    stride = tl.load(strides_ptr + level * DIMS + AXIS, mask=is_dense & real, other=0)
    prime = tl.load(primes_ptr + AXIS, mask=real, other=0)
    return tl.where(is_dense, stride, prime).to(tl.uint32, bitcast=True)


@triton.jit
def _lerp_weight(frac, UPPER: tl.constexpr):
    """Linear interpolation weight of the upper (frac) or lower (1 - frac) vertex on one axis."""
    if UPPER:
        return frac
    else:
        return 1.0 - frac


@triton.jit
def _lerp_slope(value, UPPER: tl.constexpr):
    """`value` times the derivative of `_lerp_weight` with respect to frac (+1 upper, -1 lower)."""
    if UPPER:
        return value
    else:
        return -value


@triton.jit
def _corner_row(
    c0, c1, c2, c3, m0, m1, m2, m3, is_dense, size, offset, hash_mask, CORNER: tl.constexpr
):
    """Flattened-table row (int64) of a corner; bit `a` of CORNER picks the upper vertex on axis
    `a` (axis 0 the lowest bit, tcnn's order). uint32 wrap-around arithmetic is tcnn's hash;
    dense indices past the level's table (upper-boundary corners only) wrap by one table size,
    as in the torch backend."""
    p0 = (c0 + (CORNER & 1)) * m0
    p1 = (c1 + ((CORNER >> 1) & 1)) * m1
    p2 = (c2 + ((CORNER >> 2) & 1)) * m2
    p3 = (c3 + ((CORNER >> 3) & 1)) * m3
    dense_index = p0 + p1 + p2 + p3
    dense_index = tl.where(dense_index >= size, dense_index - size, dense_index)
    hashed_index = (p0 ^ p1 ^ p2 ^ p3) & hash_mask
    return tl.where(is_dense, dense_index, hashed_index).to(tl.int64) + offset


@triton.jit
def _encode_forward_kernel(
    x_ptr, table_ptr, out_ptr,
    scales_ptr, offsets_ptr, sizes_ptr, strides_ptr, primes_ptr,
    n_points, dense_levels, hash_mask,
    LEVELS: tl.constexpr, DIMS: tl.constexpr, FEATURES: tl.constexpr, BLOCK: tl.constexpr,
):  # fmt: skip
    level = tl.program_id(1)
    points = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    point_mask = points < n_points
    features = tl.arange(0, FEATURES)
    tile_mask = point_mask[:, None]

    scale = tl.load(scales_ptr + level)
    c0, f0 = _axis_cell(x_ptr, points, point_mask, scale, 0, DIMS)
    c1, f1 = _axis_cell(x_ptr, points, point_mask, scale, 1, DIMS)
    c2, f2 = _axis_cell(x_ptr, points, point_mask, scale, 2, DIMS)
    c3, f3 = _axis_cell(x_ptr, points, point_mask, scale, 3, DIMS)
    is_dense = level < dense_levels
    m0 = _axis_multiplier(strides_ptr, primes_ptr, level, is_dense, 0, DIMS)
    m1 = _axis_multiplier(strides_ptr, primes_ptr, level, is_dense, 1, DIMS)
    m2 = _axis_multiplier(strides_ptr, primes_ptr, level, is_dense, 2, DIMS)
    m3 = _axis_multiplier(strides_ptr, primes_ptr, level, is_dense, 3, DIMS)
    size = tl.load(sizes_ptr + level).to(tl.uint32)
    offset = tl.load(offsets_ptr + level)

    acc = tl.zeros((BLOCK, FEATURES), dtype=tl.float32)
    for corner in tl.static_range(1 << DIMS):
        row = _corner_row(c0, c1, c2, c3, m0, m1, m2, m3, is_dense, size, offset, hash_mask, corner)
        # Left to right, as the torch backend multiplies its per-axis weights.
        weight = _lerp_weight(f0, corner & 1) * _lerp_weight(f1, (corner >> 1) & 1)
        weight = weight * _lerp_weight(f2, (corner >> 2) & 1) * _lerp_weight(f3, corner >> 3)
        values = tl.load(table_ptr + row[:, None] * FEATURES + features[None, :], mask=tile_mask)
        acc += weight[:, None] * values
    out = out_ptr + points[:, None] * (LEVELS * FEATURES) + level * FEATURES + features[None, :]
    tl.store(out, acc, mask=tile_mask)


@triton.jit
def _encode_backward_kernel(
    x_ptr, table_ptr, grad_out_ptr, grad_table_ptr, grad_x_ptr,
    scales_ptr, offsets_ptr, sizes_ptr, strides_ptr, primes_ptr,
    n_points, dense_levels, hash_mask,
    LEVELS: tl.constexpr, DIMS: tl.constexpr, FEATURES: tl.constexpr, BLOCK: tl.constexpr,
    TABLE_GRAD: tl.constexpr, X_GRAD: tl.constexpr,
):  # fmt: skip
    level = tl.program_id(1)
    points = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    point_mask = points < n_points
    features = tl.arange(0, FEATURES)
    tile_mask = point_mask[:, None]

    scale = tl.load(scales_ptr + level)
    c0, f0 = _axis_cell(x_ptr, points, point_mask, scale, 0, DIMS)
    c1, f1 = _axis_cell(x_ptr, points, point_mask, scale, 1, DIMS)
    c2, f2 = _axis_cell(x_ptr, points, point_mask, scale, 2, DIMS)
    c3, f3 = _axis_cell(x_ptr, points, point_mask, scale, 3, DIMS)
    is_dense = level < dense_levels
    m0 = _axis_multiplier(strides_ptr, primes_ptr, level, is_dense, 0, DIMS)
    m1 = _axis_multiplier(strides_ptr, primes_ptr, level, is_dense, 1, DIMS)
    m2 = _axis_multiplier(strides_ptr, primes_ptr, level, is_dense, 2, DIMS)
    m3 = _axis_multiplier(strides_ptr, primes_ptr, level, is_dense, 3, DIMS)
    size = tl.load(sizes_ptr + level).to(tl.uint32)
    offset = tl.load(offsets_ptr + level)
    grad_out = tl.load(
        grad_out_ptr + points[:, None] * (LEVELS * FEATURES) + level * FEATURES + features[None, :],
        mask=tile_mask,
        other=0.0,
    )

    # d loss / d frac per axis, summed over corners.
    g0 = tl.zeros((BLOCK,), dtype=tl.float32)
    g1 = tl.zeros((BLOCK,), dtype=tl.float32)
    g2 = tl.zeros((BLOCK,), dtype=tl.float32)
    g3 = tl.zeros((BLOCK,), dtype=tl.float32)
    for corner in tl.static_range(1 << DIMS):
        row = _corner_row(c0, c1, c2, c3, m0, m1, m2, m3, is_dense, size, offset, hash_mask, corner)
        w0 = _lerp_weight(f0, corner & 1)
        w1 = _lerp_weight(f1, (corner >> 1) & 1)
        w2 = _lerp_weight(f2, (corner >> 2) & 1)
        w3 = _lerp_weight(f3, corner >> 3)
        entries = row[:, None] * FEATURES + features[None, :]
        if TABLE_GRAD:
            weight = w0 * w1 * w2 * w3
            tl.atomic_add(
                grad_table_ptr + entries, weight[:, None] * grad_out, mask=tile_mask, sem="relaxed"
            )
        if X_GRAD:
            values = tl.load(table_ptr + entries, mask=tile_mask, other=0.0)
            grad_weight = tl.sum(values * grad_out, axis=1)
            # d weight / d frac_a = +-(product of the other axes' weights): + on the upper vertex.
            g0 += _lerp_slope(grad_weight * (w1 * w2 * w3), corner & 1)
            g1 += _lerp_slope(grad_weight * (w0 * w2 * w3), (corner >> 1) & 1)
            g2 += _lerp_slope(grad_weight * (w0 * w1 * w3), (corner >> 2) & 1)
            g3 += _lerp_slope(grad_weight * (w0 * w1 * w2), corner >> 3)
    if X_GRAD:
        # pos = x * scale + 0.5 and frac = pos - floor(pos), so d frac / d x = scale; the
        # levels (one program each) add up in grad_x.
        grad_x = grad_x_ptr + points * DIMS
        tl.atomic_add(grad_x + 0, g0 * scale, mask=point_mask, sem="relaxed")
        tl.atomic_add(grad_x + 1, g1 * scale, mask=point_mask, sem="relaxed")
        tl.atomic_add(grad_x + 2, g2 * scale, mask=point_mask, sem="relaxed")
        if DIMS == 4:
            tl.atomic_add(grad_x + 3, g3 * scale, mask=point_mask, sem="relaxed")


def _launch_grid(n_points: int, levels: int) -> tuple[int, int]:
    return (triton.cdiv(n_points, BLOCK), levels)


class _EncodeTriton(torch.autograd.Function):
    """(table (entries, F) fp32, x (N, dims) fp32) -> (N, levels * F); see `encode_triton`."""

    @staticmethod
    def forward(
        ctx,
        table: Tensor,
        x: Tensor,
        scales: Tensor,
        offsets: Tensor,
        sizes: Tensor,
        dense_strides: Tensor,
        primes: Tensor,
        hash_mask: int,
    ) -> Tensor:
        n_points, dims = x.shape
        levels, features = scales.shape[0], table.shape[1]
        out = torch.empty(n_points, levels * features, dtype=torch.float32, device=x.device)
        dense_levels = dense_strides.shape[0]
        if dense_levels == 0:  # a placeholder (never read) rather than a null pointer
            dense_strides = torch.zeros(1, dims, dtype=torch.int32, device=x.device)
        metadata = (scales, offsets, sizes, dense_strides, primes)
        ctx.save_for_backward(table, x, *metadata)
        ctx.hash_mask = hash_mask
        ctx.dense_levels = dense_levels
        if n_points > 0:
            _encode_forward_kernel[_launch_grid(n_points, levels)](
                x, table, out, *metadata,
                n_points, dense_levels, hash_mask,
                LEVELS=levels, DIMS=dims, FEATURES=features, BLOCK=BLOCK,
                enable_fp_fusion=False,
            )  # fmt: skip
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out: Tensor):
        table, x, *metadata = ctx.saved_tensors
        n_points, dims = x.shape
        levels, features = metadata[0].shape[0], table.shape[1]
        table_grad, x_grad = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        # fp32 accumulators: atomics add many small contributions in an arbitrary order.
        grad_table = torch.zeros_like(table) if table_grad else None
        grad_x = torch.zeros_like(x) if x_grad else None
        if n_points > 0 and (table_grad or x_grad):
            _encode_backward_kernel[_launch_grid(n_points, levels)](
                x, table, grad_out.float().contiguous(),
                grad_table if table_grad else table,  # unused pointers when their flag is off
                grad_x if x_grad else x,
                *metadata,
                n_points, ctx.dense_levels, ctx.hash_mask,
                LEVELS=levels, DIMS=dims, FEATURES=features, BLOCK=BLOCK,
                TABLE_GRAD=table_grad, X_GRAD=x_grad,
                enable_fp_fusion=False,
            )  # fmt: skip
        return grad_table, grad_x, None, None, None, None, None, None


def encode_triton(
    table: Tensor,
    x: Tensor,
    scales: Tensor,
    offsets: Tensor,
    sizes: Tensor,
    dense_strides: Tensor,
    primes: Tensor,
    hash_mask: int,
) -> Tensor:
    """Encode `x` (N, dims) with `table` (entries, F) -> (N, levels * F), differentiable in both.

    The level metadata are the index buffers of a `HashGridEncoding` (any backend but tcnn):
    `scales` (L,) float, `offsets` (L,) int64, `sizes` (L,) int32, `dense_strides`
    (dense_levels, dims) int32, `primes` (dims,) int32 (uint32 bit patterns) and `hash_mask`
    `2**log2_table_size - 1`. The kernels compute in float32; the output has the table's dtype.
    A benchmark can call it with the buffers of `HashGridEncoding(..., backend="torch")`.
    """
    out = _EncodeTriton.apply(
        table.float().contiguous(),
        x.float().contiguous(),
        scales.float().contiguous(),
        offsets.long().contiguous(),
        sizes.int().contiguous(),
        dense_strides.int().contiguous(),
        primes.int().contiguous(),
        int(hash_mask),
    )
    return out.to(table.dtype)
