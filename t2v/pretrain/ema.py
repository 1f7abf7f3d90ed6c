"""Exponential moving average of model weights (the exported prior is the average)."""

from __future__ import annotations

import torch
from torch import nn


def ema_decay_at(step: int, max_decay: float) -> float:
    """Decay after `step` updates: warms up as (1 + step) / (10 + step), capped at `max_decay`.

    A short warm-up keeps the average from being dominated by the random initial weights.
    """
    return min(max_decay, (1.0 + step) / (10.0 + step))


@torch.no_grad()
def update_ema(average: nn.Module, model: nn.Module, decay: float) -> None:
    """average <- decay * average + (1 - decay) * model, for parameters; buffers are copied."""
    for mean, value in zip(average.parameters(), model.parameters(), strict=True):
        mean.lerp_(value.detach(), 1.0 - decay)
    for mean, value in zip(average.buffers(), model.buffers(), strict=True):
        mean.copy_(value)
