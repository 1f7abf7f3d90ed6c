"""Global colour grade: one affine map of the colour logits, shared by every Gaussian.

The stages that train motion see the scene from the front only: per-Gaussian colours let their
prior repaint the front and leave the sides as the static stage painted them. A grade shared by
every Gaussian carries the moving stages' change of colour to every side at once.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class ColourGrade(nn.Module):
    """`logits @ matrix.T + bias` on colour logits (..., 3): the identity at first. In logit
    space the graded colour stays in (0, 1) and keeps a gradient where a clipped one would not."""

    def __init__(self) -> None:
        super().__init__()
        self.matrix = nn.Parameter(torch.eye(3))
        self.bias = nn.Parameter(torch.zeros(3))

    def forward(self, logits: Tensor) -> Tensor:
        return logits @ self.matrix.T.to(logits.dtype) + self.bias.to(logits.dtype)
