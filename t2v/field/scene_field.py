"""SceneField: the NeRF field of t2v, a static 3D encoding plus a dynamic 4D encoding read by MLPs.

Features of the static encoding at (x, y, z) and of the dynamic encoding at (x, y, z, t) are
concatenated and read by a small MLP (as 4D-fy combines its 3D and 4D hash grids) that gives a
raw density and geometry features; a colour head turns those into rgb. The raw density gets a
blob bias (`components.heads`), so score distillation starts from a ball. Points live in the
scene box [-1, 1]^3 and times in [0, 1]; outside the box the density is zero. It is a `volume`
field (`t2v.field.base`): the volume renderer samples it along rays.

`trajectory_knots > 0` adds a global trajectory (`components.trajectory`): every encoding and
the blob are read at `x - offset(t)`. `exposure_knots > 0` adds a global exposure curve
(`components.exposure`), applied by `expose` to the rendered colour, object and background.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from t2v.errors import ConfigError
from t2v.field.base import FieldCapabilities, FieldOutput
from t2v.field.components.background import (
    BackgroundMode,
    background_colour,
    check_background_mode,
    learned_background_head,
)
from t2v.field.components.exposure import GlobalExposure
from t2v.field.components.heads import (
    BlobShape,
    DensityActivation,
    DensityBlob,
    activate_density,
    mlp,
)
from t2v.field.components.knots import KnotCount, check_knots
from t2v.field.components.trajectory import GlobalTrajectory
from t2v.field.hashgrid import Backend
from t2v.field.specs import EncodingSpec, HashGridSpec, PlaneSpec
from t2v.schema import Bool, NonNegativeFloat, NonNegativeInt, PositiveFloat, PositiveInt, UnitFloat

Colour = tuple[UnitFloat, UnitFloat, UnitFloat]

__all__ = ["FieldOutput", "HashGridSpec", "PlaneSpec", "SceneField"]


class SceneField(nn.Module):
    """The 4D scene field shared by every stage; a `t2v.field.Field`.

    `static_only` (for the static stage) skips the dynamic encoding entirely, so it is neither
    evaluated nor given gradients; the MLP then reads zeros in its place, so switching it off
    later changes nothing about the heads' shapes. The trajectory and exposure are off too.
    `background`: `learned` (a small MLP on the view direction), `dome` (the same on the
    direction's height: one backdrop all round) or `solid` (`solid_color`, a buffer the caller
    may overwrite, e.g. with a random colour per training step).
    `backend` is handed to every hash-grid encoding (auto | torch | triton | tcnn).
    `trajectory_knots` / `exposure_knots`: 0 (off) or the knots of the global trajectory
    (`trajectory` parameter group) / exposure curve (`exposure` group).
    """

    def __init__(
        self,
        static_encoding: EncodingSpec | None = None,
        dynamic_encoding: EncodingSpec | None = None,
        backend: Backend = "auto",
        hidden_dim: PositiveInt = 64,
        hidden_layers: NonNegativeInt = 1,
        geo_feature_dim: PositiveInt = 15,
        density_activation: DensityActivation = "softplus",
        density_blob: BlobShape = "gaussian",
        density_blob_scale: NonNegativeFloat = 10.0,
        density_blob_radius: PositiveFloat = 0.5,
        background: BackgroundMode = "learned",
        solid_color: Colour = (0.5, 0.5, 0.5),
        static_only: Bool = False,
        trajectory_knots: KnotCount = 0,
        exposure_knots: KnotCount = 0,
    ) -> None:
        super().__init__()
        if density_activation not in ("softplus", "trunc_exp"):
            raise ConfigError(
                f"density_activation must be softplus or trunc_exp, not {density_activation}"
            )
        if density_blob not in ("gaussian", "dreamfusion", "none"):
            raise ConfigError(
                f"density_blob must be gaussian, dreamfusion or none, not {density_blob}"
            )
        check_background_mode(background)
        check_knots("trajectory_knots", trajectory_knots)
        check_knots("exposure_knots", exposure_knots)
        static_encoding = static_encoding if static_encoding is not None else HashGridSpec()
        dynamic_encoding = dynamic_encoding if dynamic_encoding is not None else HashGridSpec()
        # Creation order is the order of the random draws and of the state_dict: keep it.
        self.static_encoding = static_encoding.build(3, backend)
        self.dynamic_encoding = dynamic_encoding.build(4, backend)
        self.static_only = static_only
        self.density_activation: DensityActivation = density_activation
        self.blob = DensityBlob(density_blob, density_blob_scale, density_blob_radius)
        self.geo_feature_dim = geo_feature_dim
        in_dim = self.static_encoding.output_dim + self.dynamic_encoding.output_dim
        self.density_head = mlp(in_dim, hidden_dim, hidden_layers, 1 + geo_feature_dim)
        self.color_head = mlp(geo_feature_dim, hidden_dim, 1, 3)
        self.trajectory = GlobalTrajectory(trajectory_knots) if trajectory_knots else None
        self.exposure = GlobalExposure(exposure_knots) if exposure_knots else None
        self.background_mode: BackgroundMode = background
        self.register_buffer("solid_color", torch.tensor(solid_color, dtype=torch.float32))
        self.background_head = learned_background_head(background)

    @property
    def capabilities(self) -> FieldCapabilities:
        return FieldCapabilities(
            kind="volume",
            trajectory=self.trajectory is not None,
            exposure=self.exposure is not None,
            motion_groups=("dynamic",),
        )

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """Parameters by role, so stages can give each its own learning rate (or freeze it)."""
        heads = [*self.density_head.parameters(), *self.color_head.parameters()]
        background = [] if self.background_head is None else list(self.background_head.parameters())
        return {
            "static": list(self.static_encoding.parameters()),
            "dynamic": list(self.dynamic_encoding.parameters()),
            "heads": heads,
            "background": background,
            "trajectory": [] if self.trajectory is None else list(self.trajectory.parameters()),
            "exposure": [] if self.exposure is None else list(self.exposure.parameters()),
        }

    def trajectory_offsets(self) -> Tensor | None:
        """Knots (K, 3) of the global trajectory; None without one."""
        return None if self.trajectory is None else self.trajectory.offsets

    def exposure_gains(self) -> Tensor | None:
        """Knots (K,) of the exposure curve's log-gain; None without one."""
        return None if self.exposure is None else self.exposure.gains[:, 0]

    def _density_and_features(self, points: Tensor, times: Tensor) -> tuple[Tensor, Tensor]:
        inside = (points.abs() <= 1.0).all(dim=1)  # the scene box stays put; its content moves
        if self.trajectory is not None and not self.static_only:
            points = points - self.trajectory(times)
        unit = ((points + 1) * 0.5).clamp(0.0, 1.0)
        static = self.static_encoding(unit)
        if self.static_only:
            dynamic = static.new_zeros(points.shape[0], self.dynamic_encoding.output_dim)
        else:
            dynamic = self.dynamic_encoding(torch.cat((unit, times.clamp(0.0, 1.0)), dim=1))
        hidden = self.density_head(torch.cat((static, dynamic), dim=1))
        raw = hidden[:, 0] + self.blob.bias(points)
        density = activate_density(raw, self.density_activation)
        return torch.where(inside, density, torch.zeros_like(density)), hidden[:, 1:]

    def density(self, points: Tensor, times: Tensor) -> Tensor:
        """Density (N,) >= 0 at points (N, 3) in [-1, 1]^3 and times (N, 1) in [0, 1]."""
        return self._density_and_features(points, times)[0]

    def forward(self, points: Tensor, times: Tensor, directions: Tensor) -> FieldOutput:
        """Density and colour at each sample. Colour does not depend on `directions` (SDS fields
        are kept Lambertian-like so that views agree); the argument is part of the contract."""
        density, features = self._density_and_features(points, times)
        rgb = torch.sigmoid(self.color_head(features))
        return FieldOutput(density=density, rgb=rgb)

    def expose(self, colour: Tensor, times: Tensor) -> Tensor:
        """Composited colour (R, 3) at times (R, 1) under the exposure curve (unchanged without
        one, and in the static stage)."""
        if self.exposure is None or self.static_only:
            return colour
        return self.exposure.shift(colour, times)

    def background(self, directions: Tensor) -> Tensor:
        """Background colour (R, 3) in [0, 1] seen along unit view directions (R, 3)."""
        return background_colour(
            self.background_head, self.solid_color, directions, self.background_mode
        )
