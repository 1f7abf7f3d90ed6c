"""MLP heads of a scene field: the MLP, the density activations and the density blob bias.

The blob biases the raw density towards a ball centred at the origin, so that score
distillation starts from a ball of stuff rather than from fog or from nothing: `gaussian` is
`scale * (2 exp(-r^2 / (2 radius^2)) - 1)`, which is `scale` at the centre, 0 at about 1.18
radius and `-scale` far out (so empty space really is empty after the activation);
`dreamfusion` is DreamFusion's `scale * (1 - r / radius)`; `none` adds nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

DensityActivation = Literal["softplus", "trunc_exp"]
BlobShape = Literal["gaussian", "dreamfusion", "none"]


def mlp(in_dim: int, hidden_dim: int, hidden_layers: int, out_dim: int) -> nn.Sequential:
    """Linear layers with ReLUs between them; `hidden_layers` 0 is one linear map."""
    layers: list[nn.Module] = []
    width = in_dim
    for _ in range(hidden_layers):
        layers += [nn.Linear(width, hidden_dim), nn.ReLU(inplace=True)]
        width = hidden_dim
    layers.append(nn.Linear(width, out_dim))
    return nn.Sequential(*layers)


class _TruncExp(torch.autograd.Function):
    """exp(x) whose backward clamps x at 15, so a large raw density cannot blow up gradients."""

    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:
        ctx.save_for_backward(x)
        return torch.exp(x)

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        (x,) = ctx.saved_tensors
        return grad * torch.exp(x.clamp(max=15))


def trunc_exp(x: Tensor) -> Tensor:
    """exp(x) with a gradient clamped at x = 15."""
    return _TruncExp.apply(x)


def activate_density(raw: Tensor, activation: DensityActivation) -> Tensor:
    """Density >= 0 from raw density: softplus, or exp with a clamped gradient."""
    return F.softplus(raw) if activation == "softplus" else trunc_exp(raw)


@dataclass(frozen=True)
class DensityBlob:
    """A raw-density bias that starts the scene as a ball (module docstring)."""

    shape: BlobShape = "gaussian"
    scale: float = 10.0
    radius: float = 0.5

    def bias(self, points: Tensor) -> Tensor:
        """Raw-density bias (N,) at points (N, 3)."""
        if self.shape == "none":
            return points.new_zeros(points.shape[0])
        radius = points.norm(dim=1)
        if self.shape == "dreamfusion":
            return self.scale * (1 - radius / self.radius)
        gaussian = torch.exp(-0.5 * (radius / self.radius) ** 2)
        return self.scale * (2 * gaussian - 1)
