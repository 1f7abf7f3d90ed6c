"""Multiresolution feature-plane encodings: HexPlane over (x, y, z, t), tri-plane over (x, y, z).

Pure PyTorch on `grid_sample` (bilinear), which is cheap per sample on the CPU. For 4D inputs
there are six planes XY, XZ, YZ, XT, YT, ZT per resolution; as in HexPlane, each spatial plane
is multiplied with its complementary space-time plane (XY*ZT, XZ*YT, YZ*XT) and the three
products are concatenated, then the resolutions are concatenated. Time planes start at 1, so the
encoding starts out time-independent (as K-Planes initialises them). For 3D inputs only the
three spatial planes exist and are concatenated (tri-plane).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from t2v.errors import ConfigError

# Spatial planes and, for each, the complementary space-time plane: XY pairs with ZT, etc.
SPACE_PLANES = ((0, 1), (0, 2), (1, 2))
TIME_PLANES = ((2, 3), (1, 3), (0, 3))


class PlaneEncoding(nn.Module):
    """HexPlane (dims=4) or tri-plane (dims=3) encoding of points in [0, 1]^dims.

    `resolutions`: spatial plane sizes, one entry per scale; `time_resolution`: samples along t
    of the space-time planes (all scales share it, as K-Planes does). Output (N, output_dim)
    with output_dim = len(resolutions) * 3 * features.
    """

    def __init__(
        self,
        dims: int = 4,
        features: int = 8,
        resolutions: Sequence[int] = (32, 64, 128),
        time_resolution: int = 16,
        init_range: tuple[float, float] = (0.1, 0.5),
    ) -> None:
        super().__init__()
        if dims not in (3, 4):
            raise ConfigError(f"plane encoding dims must be 3 or 4, got {dims}")
        if not resolutions or min(resolutions) < 2 or time_resolution < 2:
            raise ConfigError("plane encoding needs resolutions >= 2 and time_resolution >= 2")
        self.dims = dims
        self.features = features
        self.resolutions = tuple(int(r) for r in resolutions)
        self.time_resolution = int(time_resolution)
        self.output_dim = len(self.resolutions) * 3 * features
        low, high = init_range
        # One (3, F, H, W) tensor per scale and kind, so each is sampled by one grid_sample.
        self.space_planes = nn.ParameterList(
            nn.Parameter(torch.empty(3, features, r, r).uniform_(low, high))
            for r in self.resolutions
        )
        self.time_planes = nn.ParameterList(
            nn.Parameter(torch.ones(3, features, self.time_resolution, r)) for r in self.resolutions
        )
        if dims == 3:
            self.time_planes = nn.ParameterList()

    @staticmethod
    def _sample(planes: Tensor, coords: Tensor) -> Tensor:
        """Bilinearly sample planes (3, F, H, W) at coords (3, N, 2) in [-1, 1] -> (N, 3, F).

        grid_sample reads coords as (x -> W, y -> H).
        """
        sampled = F.grid_sample(
            planes, coords.unsqueeze(2), mode="bilinear", padding_mode="border", align_corners=True
        )  # (3, F, N, 1)
        return sampled.squeeze(-1).permute(2, 0, 1)

    def forward(self, x: Tensor) -> Tensor:
        """Encode `x` (N, dims) in [0, 1]^dims to (N, output_dim)."""
        if x.shape[-1] != self.dims:
            raise ValueError(f"expected (N, {self.dims}) inputs, got {tuple(x.shape)}")
        grid = x * 2 - 1
        space_coords = torch.stack([grid[:, list(axes)] for axes in SPACE_PLANES])
        time_coords = (
            torch.stack([grid[:, list(axes)] for axes in TIME_PLANES]) if self.dims == 4 else None
        )
        scales = []
        for level, space in enumerate(self.space_planes):
            features = self._sample(space, space_coords)
            if time_coords is not None:
                features = features * self._sample(self.time_planes[level], time_coords)
            scales.append(features.reshape(x.shape[0], -1))
        return torch.cat(scales, dim=1)

    def extra_repr(self) -> str:
        return (
            f"dims={self.dims}, features={self.features}, resolutions={self.resolutions}, "
            f"time_resolution={self.time_resolution}"
        )
