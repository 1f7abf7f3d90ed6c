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

    `bound` > 0 keeps the object framed as it moves: no knot strays farther than `bound` from
    where the static stage built the scene, along any axis. Without it a video prior's clips
    carry the object across the whole frame and out through its edge, or towards the camera
    until it fills the frame. The bound is kept by projection after each optimiser step
    (`project_`): a squashing (tanh) or rescaling of the path leaves a knot at the bound with
    no gradient to bring it back. The path is not centred: a centring's gradient moves the
    knots a clip rarely reaches against the others (Adam makes that a full step), and the
    path's ends fly off.
    """

    def __init__(self, knots: int, bound: float = 0.0) -> None:
        super().__init__()
        self.offsets = nn.Parameter(torch.zeros(knots, 3))
        self.bound = bound

    @torch.no_grad()
    def project_(self) -> None:
        """Clamp the offsets into the bound, if there is one: after an optimiser step."""
        if self.bound > 0:
            self.offsets.clamp_(-self.bound, self.bound)

    def forward(self, times: Tensor) -> Tensor:
        return hat_weights(times, self.offsets.shape[0]).to(self.offsets.dtype) @ self.offsets
