"""Global exposure: the scene's lighting over time, a log-gain of the rendered colour.

NeRF-W's per-image appearance made a function of time: a flickering light is one number per
frame here, where the dynamic part of the field would have to change every point of the scene
and the motion regularizers would fight it.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from t2v.field.components.knots import hat_weights


class GlobalExposure(nn.Module):
    """Log-gain (N, 1) of the rendered colour at times (N, 1): linear between `knots` learned
    values spread evenly over [0, 1], all zero at first."""

    def __init__(self, knots: int) -> None:
        super().__init__()
        self.gains = nn.Parameter(torch.zeros(knots, 1))

    def forward(self, times: Tensor) -> Tensor:
        return hat_weights(times, self.gains.shape[0]).to(self.gains.dtype) @ self.gains

    def shift(self, colour: Tensor, times: Tensor) -> Tensor:
        """Colour (R, 3) in [0, 1] seen at times (R, 1), its logit shifted by the gain: it stays
        in (0, 1) and keeps a gradient where a multiplied colour would clip at white."""
        logit = torch.logit(colour.clamp(1e-4, 1 - 1e-4))
        return torch.sigmoid(logit + self(times).to(colour.dtype))
