"""GaussianField: canonical 3D Gaussians moved by a HexPlane deformation field, a `gaussians` field.

As in 4D Gaussian Splatting and DreamGaussian4D, the scene is N canonical Gaussians (positions,
log-scales, quaternions, logit opacities, colour logits) and a deformation network: a HexPlane
encoding (`PlaneEncoding`) of (canonical position, t) read by a small MLP gives each Gaussian's
change of position, rotation and log-scale at time t. The MLP's last layer starts at zero, so
the scene starts still. The global trajectory (`components.trajectory`) then translates
everything, and the global exposure curve (`components.exposure`) shifts the rendered colour,
as in `SceneField`.

A renderer draws it with `splats_at(times)` (all of a clip's times in one deformation call;
`t2v.render.gaussian_renderer`). Other callers read `density`/`__call__` at points: the sum of
the Gaussians' densities, each scaled so that a ray through its centre along an axis gathers
the optical depth -log(1 - opacity) (what the rasterizer composites), so mesh export sees the
same object; temporal smoothness reads the deformation itself (`deformation(times)`). Points at
arbitrary times read the splats at `time_knots` evenly spaced times,
linearly interpolated (evaluating the deformation per point and Gaussian would cost N x M).

Initialisation is a blob: `count` Gaussians drawn uniformly in the ball where the NeRF fields'
density blob bias is positive (radius 1.18 `blob_radius`), sized to their mean spacing.

Each per-Gaussian attribute is stored as `step * raw` with its own `steps` factor: Adam moves a
parameter by about its learning rate whatever the gradient's scale, and the schedule gives one
rate to the whole `static` group, where 3DGS moves positions, scales, rotations and opacities by
very different amounts a step. Scales are capped at `max_scale` (world units, the box is 2 wide),
and each output of the deformation (position, quaternion, log-scale) softly at `max_deformation`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import torch
from pydantic import AfterValidator
from torch import Tensor, nn

from t2v.errors import ConfigError
from t2v.field.base import Field, FieldCapabilities, FieldOutput
from t2v.field.components.background import (
    BackgroundMode,
    background_colour,
    check_background_mode,
    learned_background_head,
)
from t2v.field.components.exposure import GlobalExposure
from t2v.field.components.grade import ColourGrade
from t2v.field.components.heads import mlp
from t2v.field.components.knots import KnotCount, check_knots, hat_weights
from t2v.field.components.quaternions import quaternion_matrices
from t2v.field.components.trajectory import GlobalTrajectory
from t2v.field.specs import PlaneSpec
from t2v.field.splats import Splats
from t2v.schema import (
    Bool,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    Text,
    UnitFloat,
)

RasterBackendName = Literal["auto", "torch", "gsplat"]
Colour = tuple[UnitFloat, UnitFloat, UnitFloat]

# Where the blob bias 2 exp(-r^2 / (2 R^2)) - 1 of SceneField is positive: r < R sqrt(2 ln 2).
BLOB_EDGE = math.sqrt(2 * math.log(2))
OPACITY_CEILING = 0.99  # the rasterizer's alpha ceiling: keeps -log(1 - opacity) finite
PAIRS_PER_CHUNK = 1 << 21  # points x Gaussians evaluated at once by `density`
CUTOFF_SIGMAS = 4.0  # `density` skips points this many standard deviations beyond every Gaussian


@dataclass(frozen=True)
class DensifySchedule:
    """When and how `t2v.callbacks.GaussianDensification` densifies and prunes, per stage.

    In the stages named in `stages`, every `every` steps from `start_step` to `stop_step`, the
    Gaussians whose mean-position gradient norm (averaged over the steps they were seen) is at
    least `grad_threshold` are cloned (largest scale <= `split_scale`, world units) or split in
    two smaller ones (larger); those with opacity below `prune_opacity` are removed; the count
    grows by at most `max_growth` of itself per densification (the largest gradients first: the
    gradients' scale follows the prior and guidance, this keeps the cost in check) and never
    exceeds `max_count`. Every `reset_every` steps (0: never) opacities are lowered to
    `reset_opacity`, so that pruning can find the ones the scene does not need.
    """

    stages: tuple[Text, ...] = ("static",)
    start_step: NonNegativeInt = 50
    stop_step: NonNegativeInt = 1500
    every: PositiveInt = 50
    grad_threshold: PositiveFloat = 1e-4
    split_scale: PositiveFloat = 0.05
    prune_opacity: UnitFloat = 0.005
    reset_every: NonNegativeInt = 0
    reset_opacity: UnitFloat = 0.01
    max_growth: PositiveFloat = 0.1
    max_count: PositiveInt = 8192


@dataclass(frozen=True)
class GaussianSteps:
    """Per-attribute step factors: each attribute is `factor * raw` and Adam moves raw by about
    the group's learning rate, so an attribute moves by about factor x rate a step (module doc)."""

    means: PositiveFloat = 0.05
    log_scales: PositiveFloat = 0.25
    quaternions: PositiveFloat = 0.1
    logit_opacities: PositiveFloat = 2.5
    colour_logits: PositiveFloat = 10.0
    deformation: PositiveFloat = 0.1  # scales the deformation network's output


GAUSSIAN_ATTRIBUTES = ("means", "log_scales", "quaternions", "logit_opacities", "colour_logits")


GSPLAT_MISSING = (
    "'gsplat' needs gsplat installed (pip install -e '.[gsplat]') and a CUDA device; "
    "set field.backend=torch (or auto)"
)


def gsplat_available() -> bool:
    """gsplat importable and a CUDA device present (gsplat has no CPU kernels)."""
    if not torch.cuda.is_available():
        return False
    try:
        import gsplat  # noqa: F401
    except ImportError:
        return False
    return True


def resolve_raster_backend(backend: str) -> Literal["torch", "gsplat"]:
    """`auto` -> gsplat where it can run, else torch; gsplat where it cannot is a ConfigError."""
    if backend == "torch":
        return "torch"
    if backend == "gsplat":
        if not gsplat_available():
            raise ConfigError(f"field backend {GSPLAT_MISSING}")
        return "gsplat"
    if backend == "auto":
        return "gsplat" if gsplat_available() else "torch"
    raise ConfigError(f"unknown field backend '{backend}': use auto, torch or gsplat")


def _runnable(backend: str) -> str:
    """Checked at the door (`t2v.targets`): gsplat where it cannot run is refused before a run
    directory is touched."""
    if backend == "gsplat" and not gsplat_available():
        raise ValueError(GSPLAT_MISSING)
    return backend


RasterBackend = Annotated[RasterBackendName, AfterValidator(_runnable)]


def _run_with_stages(path: str) -> str:
    """`init_from` names a t2v run with at least one finished stage (checked at the door)."""
    folder = Path(path)
    if not (folder / "config.yaml").is_file() or not any(folder.glob("checkpoints/*.pt")):
        raise ValueError("not a t2v run with a finished stage (checkpoints/<stage>.pt)")
    return path


InitRun = Annotated[Text, AfterValidator(_run_with_stages)]
# One bound for every axis, or (x, y, z): world units, 0 free (`GlobalTrajectory`).
TrajectoryBound = NonNegativeFloat | tuple[NonNegativeFloat, NonNegativeFloat, NonNegativeFloat]


class GaussianField(nn.Module):
    """4D Gaussians shared by every stage; a `t2v.field.Field` of kind `gaussians` (module doc).

    `static_only` (the static stage) switches the deformation, trajectory and exposure off.
    `backend`: which rasterizer draws it (auto | torch | gsplat), resolved here.
    Parameter groups: `static` the canonical geometry (means, scales, rotations, opacities),
    `heads` the colours, `dynamic` the deformation (planes and MLP, its motion group),
    `background`, `trajectory`, `exposure`. The per-Gaussian parameters are the raw ones
    (`raw_means`, ...); `means`, `log_scales`, ... are their values, `steps` x raw.
    """

    def __init__(
        self,
        count: PositiveInt = 4096,
        deformation: PlaneSpec | None = None,
        hidden_dim: PositiveInt = 32,
        hidden_layers: NonNegativeInt = 1,
        blob_radius: PositiveFloat = 0.5,
        init_opacity: UnitFloat = 0.1,
        time_knots: PositiveInt = 16,
        backend: RasterBackend = "auto",
        background: BackgroundMode = "learned",
        solid_color: Colour = (0.5, 0.5, 0.5),
        static_only: Bool = False,
        trajectory_knots: KnotCount = 0,
        exposure_knots: KnotCount = 0,
        densify: DensifySchedule | None = None,
        init_from: InitRun | None = None,
        steps: GaussianSteps | None = None,
        max_scale: PositiveFloat = 0.25,
        max_deformation: PositiveFloat = 0.1,
        trajectory_bound: TrajectoryBound = 0.0,
        colour_grade: Bool = False,
    ) -> None:
        super().__init__()
        check_background_mode(background)
        if not 0.0 < init_opacity < 1.0:
            raise ConfigError(f"init_opacity must lie in (0, 1), not {init_opacity}")
        if time_knots < 2:
            raise ConfigError(f"time_knots must be at least 2, not {time_knots}")
        check_knots("trajectory_knots", trajectory_knots)
        check_knots("exposure_knots", exposure_knots)
        self.backend = resolve_raster_backend(backend)
        self.densify = densify if densify is not None else DensifySchedule()
        self.steps = steps if steps is not None else GaussianSteps()
        self.log_max_scale = math.log(max_scale)
        self.max_deformation = max_deformation
        self.init_from = init_from  # a run whose field `place_from` reads (t2v.generation)
        self.static_only = static_only
        self.time_knots = time_knots
        radius = blob_radius * BLOB_EDGE
        spacing = radius * (4 * math.pi / 3 / count) ** (1 / 3)
        directions = torch.nn.functional.normalize(torch.randn(count, 3), dim=1)
        means = directions * radius * torch.rand(count, 1) ** (1 / 3)
        values = {
            "means": means,
            "log_scales": torch.full((count, 3), math.log(min(spacing, max_scale))),
            "quaternions": torch.tensor([1.0, 0.0, 0.0, 0.0]).repeat(count, 1),
            "logit_opacities": torch.full((count,), math.log(init_opacity / (1 - init_opacity))),
            "colour_logits": 0.1 * torch.randn(count, 3),
        }
        for name, value in values.items():
            self.register_parameter(f"raw_{name}", nn.Parameter(value / self.step(name)))
        deformation = deformation if deformation is not None else PlaneSpec(features=4)
        self.deformation_encoding = deformation.build(4, "torch")
        self.deformation_head = mlp(
            self.deformation_encoding.output_dim, hidden_dim, hidden_layers, 3 + 4 + 3
        )
        last = self.deformation_head[-1]
        assert isinstance(last, nn.Linear)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        self.trajectory = (
            GlobalTrajectory(trajectory_knots, trajectory_bound) if trajectory_knots else None
        )
        self.exposure = GlobalExposure(exposure_knots) if exposure_knots else None
        self.grade = ColourGrade() if colour_grade else None
        self.background_mode: BackgroundMode = background
        self.register_buffer("solid_color", torch.tensor(solid_color, dtype=torch.float32))
        self.background_head = learned_background_head(background)

    # --- the Field contract -------------------------------------------------------------

    @property
    def capabilities(self) -> FieldCapabilities:
        return FieldCapabilities(
            kind="gaussians",
            trajectory=self.trajectory is not None,
            exposure=self.exposure is not None,
            motion_groups=("dynamic",),
        )

    @property
    def count(self) -> int:
        return self.raw_means.shape[0]

    def step(self, name: str) -> float:
        """The step factor of attribute `name`: its value is `step(name) * raw`."""
        return float(getattr(self.steps, name))

    def gaussian_parameters(self) -> dict[str, nn.Parameter]:
        """The raw per-Gaussian parameters by attribute name (value = `step(name) * raw`), each
        with the count as its first dimension: what the optimiser and densification hold."""
        return {name: getattr(self, f"raw_{name}") for name in GAUSSIAN_ATTRIBUTES}

    def gaussian_values(self) -> dict[str, Tensor]:
        """The per-Gaussian attributes by name in their own units (differentiable)."""
        return {name: getattr(self, name) for name in GAUSSIAN_ATTRIBUTES}

    @torch.no_grad()
    def set_values(
        self, name: str, value: Tensor | float, index: Tensor | slice = slice(None)
    ) -> None:
        """Write attribute `name` (its own units) at rows `index`, in place."""
        getattr(self, f"raw_{name}")[index] = value / self.step(name)

    @property
    def means(self) -> Tensor:
        return self.raw_means * self.steps.means

    @property
    def log_scales(self) -> Tensor:
        return self.raw_log_scales * self.steps.log_scales

    @property
    def quaternions(self) -> Tensor:
        return self.raw_quaternions * self.steps.quaternions

    @property
    def logit_opacities(self) -> Tensor:
        return self.raw_logit_opacities * self.steps.logit_opacities

    @property
    def colour_logits(self) -> Tensor:
        return self.raw_colour_logits * self.steps.colour_logits

    def position_grads(self) -> Tensor | None:
        """|d loss / d mean| (N,) in world units after a backward, None before one."""
        grad = self.raw_means.grad
        return None if grad is None else grad.detach().norm(dim=1) / self.steps.means

    def scales_of(self, log_scales: Tensor) -> Tensor:
        """Scales from log-scales, capped at `max_scale`: no Gaussian grows over the box."""
        return torch.exp(log_scales.clamp(max=self.log_max_scale))

    @torch.no_grad()
    def place_from(self, source: Field, resolution: int = 48, time: float = 0.0) -> int:
        """Re-place this field's Gaussians where `source` (any field, e.g. a finished NeRF run's)
        is dense at `time`: the `count` densest cells of a grid over the scene box (at most those
        denser than 1/4 of the densest), each Gaussian at its cell with the cell's size, jittered
        inside it, coloured by the source's colour there, opacity `init_opacity`. Returns how
        many cells were dense enough."""
        axis = (torch.arange(resolution, dtype=torch.float32) + 0.5) / resolution * 2 - 1
        grid = torch.stack(torch.meshgrid(axis, axis, axis, indexing="ij"), -1).reshape(-1, 3)
        device = self.raw_means.device
        grid = grid.to(device)
        times = torch.full((grid.shape[0], 1), time, device=device)
        density = torch.cat(
            [
                source.density(p, t)
                for p, t in zip(grid.split(65536), times.split(65536), strict=True)
            ]
        )
        dense = (density >= 0.25 * density.max()).nonzero().squeeze(1)
        if dense.numel() == 0:
            raise ConfigError("field.init_from: the source field is empty (no density anywhere)")
        ranked = dense[torch.argsort(density[dense], descending=True)]
        cells = ranked[torch.arange(self.count, device=device) % ranked.numel()]
        cell = 2.0 / resolution
        means = grid[cells] + (torch.rand(self.count, 3, device=device) - 0.5) * cell
        directions = torch.zeros_like(means)
        directions[:, 2] = -1.0
        colours = source(means, times[: self.count], directions).rgb.clamp(1e-3, 1 - 1e-3)
        self.set_values("means", means)
        self.set_values("log_scales", torch.full_like(means, math.log(cell / 2)))
        self.set_values("quaternions", torch.tensor([1.0, 0.0, 0.0, 0.0]).expand(self.count, 4))
        self.set_values("colour_logits", torch.logit(colours))
        return int(dense.numel())

    def set_gaussians(self, values: dict[str, Tensor]) -> dict[str, nn.Parameter]:
        """Replace every raw per-Gaussian parameter by `values` (raw, same names as
        `gaussian_parameters`, any common count) as new Parameters, keeping `requires_grad`;
        returns the old ones by name, for callers that move optimiser state across."""
        old = self.gaussian_parameters()
        counts = {value.shape[0] for value in values.values()}
        if set(values) != set(old) or len(counts) != 1:
            raise ValueError(f"set_gaussians needs {sorted(old)} with one count")
        for name, value in values.items():
            parameter = nn.Parameter(value.detach().to(old[name]), old[name].requires_grad)
            setattr(self, f"raw_{name}", parameter)
        return old

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        # Checkpoints that stored the attributes themselves (no step factors) load as raw.
        for name in GAUSSIAN_ATTRIBUTES:
            if prefix + name in state_dict and f"{prefix}raw_{name}" not in state_dict:
                state_dict[f"{prefix}raw_{name}"] = state_dict.pop(prefix + name) / self.step(name)
        # Densification changes the count: resize to the checkpoint's before loading into it.
        saved = {name: state_dict.get(f"{prefix}raw_{name}") for name in GAUSSIAN_ATTRIBUTES}
        if all(isinstance(v, Tensor) for v in saved.values()):
            counts = {v.shape[0] for v in saved.values() if v is not None}
            if len(counts) == 1 and counts != {self.count}:
                self.set_gaussians(
                    {n: torch.empty_like(v) for n, v in saved.items() if v is not None}
                )
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        deformation = [
            *self.deformation_encoding.parameters(),
            *self.deformation_head.parameters(),
        ]
        background = [] if self.background_head is None else list(self.background_head.parameters())
        return {
            "static": [
                self.raw_means,
                self.raw_log_scales,
                self.raw_quaternions,
                self.raw_logit_opacities,
            ],
            "dynamic": deformation,
            "heads": [self.raw_colour_logits],
            "background": background,
            "trajectory": [] if self.trajectory is None else list(self.trajectory.parameters()),
            # the scene's global appearance: its exposure over time and its colour grade
            "exposure": [
                *([] if self.exposure is None else self.exposure.parameters()),
                *([] if self.grade is None else self.grade.parameters()),
            ],
        }

    def trajectory_offsets(self) -> Tensor | None:
        return None if self.trajectory is None else self.trajectory.offsets

    def exposure_gains(self) -> Tensor | None:
        return None if self.exposure is None else self.exposure.gains[:, 0]

    def splats(self, time: float) -> Splats:
        """The Gaussians at scene time `time` in [0, 1], in activated units."""
        return self.splats_at(torch.tensor([float(time)], device=self.raw_means.device))[0]

    def splats_at(self, times: Tensor) -> list[Splats]:
        """The Gaussians at each of `times` (K,) in [0, 1]: one deformation call for all K."""
        times = times.reshape(-1).to(self.raw_means).clamp(0.0, 1.0)
        opacities = torch.sigmoid(self.logit_opacities)
        if self.static_only:
            colours = torch.sigmoid(self.colour_logits)
            means, scales = self.means, self.scales_of(self.log_scales)
            return [Splats(means, scales, self.quaternions, opacities, colours) for _ in times]
        graded = self.colour_logits if self.grade is None else self.grade(self.colour_logits)
        colours = torch.sigmoid(graded)
        means, log_scales, rotations = self.deformed(times)
        return [
            Splats(means[k], self.scales_of(log_scales[k]), rotations[k], opacities, colours)
            for k in range(times.shape[0])
        ]

    def deformation(self, times: Tensor) -> Tensor:
        """The deformation network's change (K, N, 10) of every Gaussian at times (K,): position
        (3), quaternion (4) and log-scale (3), before the global trajectory."""
        unit = ((self.means.detach() + 1) * 0.5).clamp(0.0, 1.0)
        count, knots = self.count, times.shape[0]
        inputs = torch.cat(
            (unit.expand(knots, count, 3), times[:, None, None].expand(knots, count, 1)), -1
        )
        change = self.deformation_head(self.deformation_encoding(inputs.reshape(-1, 4)))
        change = self.steps.deformation * change.reshape(knots, count, 10)
        # A soft bound: the frontal-band motion prior would otherwise repaint the object's depth
        # through the deformation; the global trajectory carries the larger motion.
        return self.max_deformation * torch.tanh(change / self.max_deformation)

    def deformed(self, times: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Means, log-scales and quaternions (K, N, ...) at times (K,), trajectory included."""
        delta = self.deformation(times)
        means = self.means + delta[..., :3]
        if self.trajectory is not None:
            means = means + self.trajectory(times[:, None])[:, None, :]
        return means, self.log_scales + delta[..., 7:], self.quaternions + delta[..., 3:7]

    def density(self, points: Tensor, times: Tensor) -> Tensor:
        """Density (N,) >= 0 at points (N, 3) in [-1, 1]^3 and times (N, 1) in [0, 1]."""
        return self._accumulate(points, times, with_colour=False)[0]

    def forward(self, points: Tensor, times: Tensor, directions: Tensor) -> FieldOutput:
        """Density and the density-weighted mean colour of the Gaussians at each point."""
        density, colour = self._accumulate(points, times, with_colour=True)
        return FieldOutput(density=density, rgb=colour)

    def expose(self, colour: Tensor, times: Tensor) -> Tensor:
        if self.exposure is None or self.static_only:
            return colour
        return self.exposure.shift(colour, times)

    def background(self, directions: Tensor) -> Tensor:
        return background_colour(
            self.background_head, self.solid_color, directions, self.background_mode
        )

    # --- densities at points --------------------------------------------------------------

    def _accumulate(
        self, points: Tensor, times: Tensor, with_colour: bool
    ) -> tuple[Tensor, Tensor]:
        inside = (points.abs() <= 1.0).all(dim=1)
        density = points.new_zeros(points.shape[0])
        weighted = points.new_zeros(points.shape[0], 3)
        if self.static_only:
            knots, weights = 1, points.new_ones(points.shape[0], 1)
        else:
            knots = self.time_knots
            weights = hat_weights(times.clamp(0.0, 1.0), knots).to(points.dtype)
        for knot in range(knots):
            rows = (weights[:, knot] > 0).nonzero().squeeze(1)
            if rows.numel() == 0:
                continue
            splats = self.splats(knot / max(knots - 1, 1))
            part, colour = splat_density(splats, points[rows], with_colour)
            share = weights[rows, knot]
            density = density.index_add(0, rows, share * part)
            if with_colour:
                weighted = weighted.index_add(0, rows, share[:, None] * colour)
        density = torch.where(inside, density, torch.zeros_like(density))
        colour = weighted / density.detach().clamp_min(1e-8)[:, None] if with_colour else weighted
        return density, colour.clamp(0.0, 1.0)


def splat_density(splats: Splats, points: Tensor, with_colour: bool) -> tuple[Tensor, Tensor]:
    """Density (M,) of splats at points (M, 3), each Gaussian scaled so that a ray through its
    centre along one of its axes gathers optical depth -log(1 - opacity); with `with_colour`,
    also the density-weighted sum of colours (M, 3)."""
    # The exponent -(p - mu)^T A (p - mu) / 2, A = R S^-2 R^T, expanded into one matmul of
    # point features (x^2, y^2, z^2, 2xy, 2xz, 2yz, x, y, z, 1) by per-Gaussian coefficients;
    # the log of each Gaussian's peak density joins the constant term.
    axes = quaternion_matrices(splats.rotations) / splats.scales[:, None, :]
    precision = axes @ axes.transpose(1, 2)  # (N, 3, 3)
    linear = torch.einsum("nij,nj->ni", precision, splats.means)
    optical_depth = -torch.log1p(-splats.opacities.clamp(max=OPACITY_CEILING))
    peak = optical_depth / (math.sqrt(2 * math.pi) * splats.scales.prod(dim=1) ** (1 / 3))
    coefficients = -0.5 * torch.stack(
        (
            precision[:, 0, 0],
            precision[:, 1, 1],
            precision[:, 2, 2],
            precision[:, 0, 1],
            precision[:, 0, 2],
            precision[:, 1, 2],
            -2 * linear[:, 0],
            -2 * linear[:, 1],
            -2 * linear[:, 2],
            (linear * splats.means).sum(-1),
        ),
        dim=0,
    )  # (10, N)
    coefficients = torch.cat((coefficients[:9], coefficients[9:] + peak.clamp_min(1e-30).log()))
    # Points beyond every Gaussian's 4 standard deviations (a bound on the whole set) get
    # nothing (< 3e-4 of a peak each): in a blob-like scene most of the box is skipped.
    with torch.no_grad():
        reach = CUTOFF_SIGMAS * splats.scales.amax(dim=1, keepdim=True)
        low, high = (splats.means - reach).amin(0), (splats.means + reach).amax(0)
        rows = ((points >= low) & (points <= high)).all(dim=1).nonzero().squeeze(1)
    near = points[rows]
    x, y, z = near.unbind(-1)
    features = torch.stack((x * x, y * y, z * z, 2 * x * y, 2 * x * z, 2 * y * z, x, y, z), -1)
    features = torch.cat((features, torch.ones_like(x)[:, None]), -1)
    chunk = max(1, PAIRS_PER_CHUNK // max(len(splats), 1))
    densities, colours = [near.new_zeros(0)], [near.new_zeros(0, 3)]
    for start in range(0, near.shape[0], chunk):
        contribution = torch.exp(features[start : start + chunk] @ coefficients)  # (m, N)
        densities.append(contribution.sum(1))
        if with_colour:
            colours.append(contribution @ splats.colours)
    density = points.new_zeros(points.shape[0]).index_copy(0, rows, torch.cat(densities))
    colour = points.new_zeros(points.shape[0], 3)
    if with_colour:
        colour = colour.index_copy(0, rows, torch.cat(colours))
    return density, colour
