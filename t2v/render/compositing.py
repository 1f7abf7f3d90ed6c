"""Alpha compositing of samples along rays into colour, opacity, depth and weights."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass
class Composited:
    """Per-ray results: rgb (R, 3) without background, opacity (R,), depth (R,), weights (R, S)."""

    rgb: Tensor
    opacity: Tensor
    depth: Tensor
    weights: Tensor


def composite(density: Tensor, rgb: Tensor, distances: Tensor, deltas: Tensor) -> Composited:
    """Composite samples front to back.

    density (R, S) >= 0, rgb (R, S, 3), distances and deltas (R, S). alpha = 1 - exp(-sigma *
    delta); transmittance is the exclusive cumulative product of (1 - alpha) = exp(-sigma *
    delta), computed as exp of an exclusive cumulative sum of -sigma * delta: the same value,
    with a cheaper and better-conditioned backward than cumprod. weights = transmittance *
    alpha. Depth is the expected distance of the rays that stop, i.e. the
    weighted mean distance normalised by opacity (0 where nothing is hit).
    """
    optical_depth = density * deltas
    alpha = 1.0 - torch.exp(-optical_depth)
    accumulated = torch.cumsum(optical_depth, dim=-1)
    before = torch.cat([torch.zeros_like(accumulated[:, :1]), accumulated[:, :-1]], dim=-1)
    weights = torch.exp(-before) * alpha
    opacity = weights.sum(dim=-1)
    colour = torch.einsum("rs,rsc->rc", weights, rgb)
    depth = (weights * distances).sum(dim=-1) / opacity.clamp_min(1e-10)
    return Composited(rgb=colour, opacity=opacity, depth=depth, weights=weights)
