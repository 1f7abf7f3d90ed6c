"""Global trajectory: a translation of the whole scene over time, piecewise linear over knots.

TC4D splits motion into a global path and a local deformation. A field reads its encodings at
`x - offset(t)`, so the dynamic stage can carry what the static stage built across the frame
instead of fading it out in one place and regrowing it in another through the dynamic part.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from t2v.field.components.knots import hat_weights


class GlobalTrajectory(nn.Module):
    """Translation (N, 3) of the scene at times (N, 1): linear between `knots` learned offsets
    spread evenly over [0, 1], all zero at first (the scene starts where the static stage left
    it).

    `bound` > 0 keeps the object framed as it moves. After each optimiser step (`project_`)
    the path is centred (its knots' mean is zero: on average the scene stays where the static
    stage built it, where a 2D prior would slide it off-centre or towards the camera until it
    fills the frame) and each knot is clamped to `bound` along every axis, or to
    `bound = (x, y, z)` per axis (else the clips carry the object across the whole frame and
    out through its edge). A projection, not a reparametrisation: a squashed, rescaled or
    centred-in-the-forward path gives its knots gradients that Adam turns into full steps away
    from the rest, and the path's ends fly off.
    """

    def __init__(self, knots: int, bound: float | tuple[float, float, float] = 0.0) -> None:
        super().__init__()
        self.offsets = nn.Parameter(torch.zeros(knots, 3))
        bounds = torch.tensor(bound, dtype=torch.float32).expand(3)
        # An axis left at 0 stays free; with every axis free the path is left as it is.
        self.register_buffer("bound", torch.where(bounds > 0, bounds, torch.inf), persistent=False)

    @torch.no_grad()
    def project_(self) -> None:
        """Centre the offsets and clamp them into the bound, if there is one."""
        if self.bound.isfinite().any():
            centred = self.offsets - self.offsets.mean(dim=0)
            self.offsets.copy_(centred.clamp(-self.bound, self.bound))

    def forward(self, times: Tensor) -> Tensor:
        return hat_weights(times, self.offsets.shape[0]).to(self.offsets.dtype) @ self.offsets
