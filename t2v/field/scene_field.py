"""SceneField: the 4D scene (static 3D encoding + dynamic 4D encoding, heads, background).

Features of the static encoding at (x, y, z) and of the dynamic encoding at (x, y, z, t) are
concatenated and read by a small MLP (as 4D-fy combines its 3D and 4D hash grids) that gives a
raw density and geometry features; a colour head turns those into rgb. The raw density gets a
blob bias centred at the origin, so that score distillation starts from a ball of stuff rather
than from fog or from nothing: `gaussian` is `scale * (2 exp(-r^2 / (2 radius^2)) - 1)`, which is
`scale` at the centre, 0 at about 1.18 radius and `-scale` far out (so empty space really is
empty after the activation); `dreamfusion` is DreamFusion's `scale * (1 - r / radius)`. Points
live in the scene box [-1, 1]^3 and times in [0, 1]; outside the box the density is zero.

`trajectory_knots > 0` adds a global trajectory (TC4D's split of motion into a global path and
local deformation): a translation of the whole scene per time, piecewise linear over that many
knots, zero at the start. Every encoding and the blob are read at `x - offset(t)`, so the
dynamic stage can carry what the static stage built across the frame instead of having to fade
it out in one place and regrow it in another through the dynamic encoding.

`exposure_knots > 0` adds a global exposure curve: one log-gain per knot over time, piecewise
linear, zero at first, applied to the rendered colour (object and background) as a shift of its
logit. It is the scene's lighting over time (NeRF-W's per-image appearance, made a function of
time): a flickering light is one number per frame here, where the dynamic encoding would have to
change every point of the scene and the motion regularizers would fight it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from t2v.errors import ConfigError
from t2v.field.hashgrid import Backend, HashGridEncoding
from t2v.field.hexplane import PlaneEncoding


class EncodingSpec(Protocol):
    """Hyperparameters of an encoding; SceneField decides its input dims and backend."""

    def build(self, dims: int, backend: Backend) -> nn.Module: ...


@dataclass
class HashGridSpec:
    """A multiresolution hash grid (see HashGridEncoding for the meaning of each field)."""

    levels: int = 16
    features_per_level: int = 2
    log2_table_size: int = 19
    base_resolution: int = 16
    finest_resolution: int = 2048
    compile_index_math: bool = False

    def build(self, dims: int, backend: Backend) -> HashGridEncoding:
        return HashGridEncoding(
            dims=dims,
            levels=self.levels,
            features_per_level=self.features_per_level,
            log2_table_size=self.log2_table_size,
            base_resolution=self.base_resolution,
            finest_resolution=self.finest_resolution,
            backend=backend,
            compile_index_math=self.compile_index_math,
        )


@dataclass
class PlaneSpec:
    """Feature planes: HexPlane for the dynamic (4D) part, tri-plane for the static (3D) part."""

    features: int = 8
    resolutions: Sequence[int] = field(default_factory=lambda: [32, 64, 128])
    time_resolution: int = 16

    def build(self, dims: int, backend: Backend) -> PlaneEncoding:
        if backend in ("tcnn", "triton"):
            raise ConfigError("plane encodings are pure PyTorch: use backend=torch or auto")
        return PlaneEncoding(dims, self.features, self.resolutions, self.time_resolution)


def check_knots(name: str, knots: object) -> None:
    """0 (off) or at least 2 knots; a ConfigError otherwise (also used before a run starts)."""
    whole = isinstance(knots, int) and not isinstance(knots, bool)
    if not (whole and (knots == 0 or knots >= 2)):
        raise ConfigError(f"field.{name} = {knots!r} must be 0 (off) or >= 2")


def hat_weights(times: Tensor, knots: int) -> Tensor:
    """(N, knots) weights of piecewise-linear interpolation between `knots` evenly spread over
    [0, 1], at times (N, 1). Multiplying by the knot values is a dense matmul, whose backward is
    ~3x faster on a CPU than scattering millions of samples' gradients into a few rows."""
    index = torch.arange(knots, device=times.device, dtype=times.dtype)
    position = times.clamp(0.0, 1.0) * (knots - 1)
    return (1.0 - (position - index).abs()).clamp(min=0.0)


class GlobalTrajectory(nn.Module):
    """Translation (N, 3) of the scene at times (N, 1): linear between `knots` learned offsets
    spread evenly over [0, 1], all zero at first (the scene starts where the static stage left
    it)."""

    def __init__(self, knots: int) -> None:
        super().__init__()
        self.offsets = nn.Parameter(torch.zeros(knots, 3))

    def forward(self, times: Tensor) -> Tensor:
        return hat_weights(times, self.offsets.shape[0]).to(self.offsets.dtype) @ self.offsets


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


@dataclass
class FieldOutput:
    """What the renderer reads at each sample."""

    density: Tensor  # (N,) non-negative
    rgb: Tensor  # (N, 3) in [0, 1]


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
    return _TruncExp.apply(x)


def mlp(in_dim: int, hidden_dim: int, hidden_layers: int, out_dim: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    width = in_dim
    for _ in range(hidden_layers):
        layers += [nn.Linear(width, hidden_dim), nn.ReLU(inplace=True)]
        width = hidden_dim
    layers.append(nn.Linear(width, out_dim))
    return nn.Sequential(*layers)


class SceneField(nn.Module):
    """The 4D scene field shared by every stage.

    `density(points, times)`, `forward(points, times, directions) -> FieldOutput` and
    `background(directions)` answer the renderer; `static_only` (for the static stage) skips the
    dynamic encoding entirely, so it is neither evaluated nor given gradients; the MLP then reads
    zeros in its place, so switching it off later changes nothing about the heads' shapes.
    `background`: `learned` (a small MLP on the view direction) or `solid` (`solid_color`, a
    buffer the caller may overwrite, e.g. with a random colour per training step).
    `backend` is handed to every hash-grid encoding (auto | torch | triton | tcnn).
    `trajectory_knots`: 0 (off) or the knots of the global trajectory (module docstring); it is
    the `trajectory` parameter group and, like the dynamic encoding, off while `static_only`.
    `exposure_knots`: the same for the global exposure curve (`exposure` group); the renderer
    calls `expose(colour, times)` on every composited pixel.
    """

    def __init__(
        self,
        static_encoding: EncodingSpec | None = None,
        dynamic_encoding: EncodingSpec | None = None,
        backend: Backend = "auto",
        hidden_dim: int = 64,
        hidden_layers: int = 1,
        geo_feature_dim: int = 15,
        density_activation: Literal["softplus", "trunc_exp"] = "softplus",
        density_blob: Literal["gaussian", "dreamfusion", "none"] = "gaussian",
        density_blob_scale: float = 10.0,
        density_blob_radius: float = 0.5,
        background: Literal["learned", "solid"] = "learned",
        solid_color: Sequence[float] = (0.5, 0.5, 0.5),
        static_only: bool = False,
        trajectory_knots: int = 0,
        exposure_knots: int = 0,
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
        if background not in ("learned", "solid"):
            raise ConfigError(f"background must be learned or solid, not {background}")
        check_knots("trajectory_knots", trajectory_knots)
        check_knots("exposure_knots", exposure_knots)
        static_encoding = static_encoding if static_encoding is not None else HashGridSpec()
        dynamic_encoding = dynamic_encoding if dynamic_encoding is not None else HashGridSpec()
        self.static_encoding = static_encoding.build(3, backend)
        self.dynamic_encoding = dynamic_encoding.build(4, backend)
        self.static_only = static_only
        self.density_activation = density_activation
        self.density_blob = density_blob
        self.density_blob_scale = density_blob_scale
        self.density_blob_radius = density_blob_radius
        self.geo_feature_dim = geo_feature_dim
        in_dim = self.static_encoding.output_dim + self.dynamic_encoding.output_dim
        self.density_head = mlp(in_dim, hidden_dim, hidden_layers, 1 + geo_feature_dim)
        self.color_head = mlp(geo_feature_dim, hidden_dim, 1, 3)
        self.trajectory = GlobalTrajectory(trajectory_knots) if trajectory_knots else None
        self.exposure = GlobalExposure(exposure_knots) if exposure_knots else None
        self.background_mode = background
        self.register_buffer("solid_color", torch.tensor(solid_color, dtype=torch.float32))
        self.background_head = (
            mlp(3 * (1 + 2 * BACKGROUND_FREQUENCIES), 32, 1, 3) if background == "learned" else None
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
        raw = hidden[:, 0] + self.density_blob_bias(points)
        density = F.softplus(raw) if self.density_activation == "softplus" else trunc_exp(raw)
        return torch.where(inside, density, torch.zeros_like(density)), hidden[:, 1:]

    def density_blob_bias(self, points: Tensor) -> Tensor:
        """Raw-density bias (N,): positive inside a ball around the origin (module docstring)."""
        if self.density_blob == "none":
            return points.new_zeros(points.shape[0])
        radius = points.norm(dim=1)
        if self.density_blob == "dreamfusion":
            return self.density_blob_scale * (1 - radius / self.density_blob_radius)
        gaussian = torch.exp(-0.5 * (radius / self.density_blob_radius) ** 2)
        return self.density_blob_scale * (2 * gaussian - 1)

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
        if self.background_head is None:
            return self.solid_color.to(directions.dtype).expand(directions.shape[0], 3)
        return torch.sigmoid(self.background_head(direction_encoding(directions)))


BACKGROUND_FREQUENCIES = 2


def direction_encoding(directions: Tensor) -> Tensor:
    """Directions plus sin/cos at a few frequencies: enough for a smooth sky-like background."""
    parts = [directions]
    for k in range(BACKGROUND_FREQUENCIES):
        parts += [
            torch.sin((2**k) * torch.pi * directions),
            torch.cos((2**k) * torch.pi * directions),
        ]
    return torch.cat(parts, dim=1)
