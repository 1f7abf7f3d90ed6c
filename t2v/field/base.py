"""The `Field` contract: what stages, renderers, regularizers, evaluation and export ask of a field.

A field is a `torch.nn.Module` (a stage holds it as a submodule, so checkpoints hold its
`state_dict`, and DDP wraps it) that also answers the `Field` protocol below. What a field may
or may not have (a global trajectory, an exposure curve, a time-dependent part) is declared in
its `capabilities`, so callers read what it can do instead of probing it with `hasattr`.

How a field is drawn is its `kind`, and a renderer dispatches on it, refusing kinds it cannot
draw: a `volume` field (a NeRF) is ray-marched, its `density` and `__call__` evaluated at samples
along every ray; a `gaussians` field is a set of primitives that a rasterizer draws without
sampling rays. Every kind still answers `density` and `__call__` at arbitrary points and times,
because more than the renderer asks there: temporal smoothness compares the field at two times,
mesh export thresholds density on a grid, the occupancy grid of a volume renderer reads density.

Parameter groups are how a stage gives each part of a field its own learning rate (or freezes
it). The schedules name `static` (the time-independent scene), `dynamic` (its time-dependent
part), `heads`, `background`, `trajectory` and `exposure`; a field returns each group it has,
empty where it has no such part, and may add groups of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from torch import Tensor, nn

FieldKind = Literal["volume", "gaussians"]


@dataclass(frozen=True)
class FieldCapabilities:
    """What a field has beyond density and colour, declared once by the field.

    `trajectory`: a global trajectory, a translation of the whole scene over time
    (`trajectory_offsets()` gives its knots). `exposure`: a global exposure curve, a log-gain of
    the rendered colour over time (`exposure_gains()`). `motion_groups`: the parameter groups
    that hold the local, time-dependent part (a dynamic encoding, a deformation network): what
    `static_only` switches off and the dynamic-sparsity regularizer keeps sparse.
    """

    kind: FieldKind = "volume"
    trajectory: bool = False
    exposure: bool = False
    motion_groups: tuple[str, ...] = ()


@dataclass
class FieldOutput:
    """Density and colour of a field at N points."""

    density: Tensor  # (N,) non-negative
    rgb: Tensor  # (N, 3) in [0, 1]


@runtime_checkable
class Field(Protocol):
    """A 4D scene: density and colour at points (N, 3) in the scene box [-1, 1]^3 and times
    (N, 1) in [0, 1], a background, parameter groups and declared capabilities.

    `static_only` is set by the stages: while it is true the field is the static scene alone
    (no motion groups, trajectory or exposure evaluated or trained), the same at every time.
    """

    static_only: bool

    @property
    def capabilities(self) -> FieldCapabilities: ...

    def density(self, points: Tensor, times: Tensor) -> Tensor:
        """Density (N,) >= 0 at points (N, 3) and times (N, 1); zero outside the scene box."""
        ...

    def __call__(self, points: Tensor, times: Tensor, directions: Tensor) -> FieldOutput:
        """Density and colour at points (N, 3) and times (N, 1), seen along unit directions
        (N, 3)."""
        ...

    def background(self, directions: Tensor) -> Tensor:
        """Colour (R, 3) in [0, 1] seen where rays along unit directions (R, 3) leave the
        scene."""
        ...

    def expose(self, colour: Tensor, times: Tensor) -> Tensor:
        """Rendered colour (R, 3) at times (R, 1) under the field's lighting over time; the
        colour unchanged without an exposure curve or while `static_only`."""
        ...

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """Every trainable parameter exactly once, by role (module docstring)."""
        ...

    def trajectory_offsets(self) -> Tensor | None:
        """Knots (K, 3) of the global trajectory, spread evenly over [0, 1] (world units);
        None unless `capabilities.trajectory`."""
        ...

    def exposure_gains(self) -> Tensor | None:
        """Knots (K,) of the exposure curve's log-gain, spread evenly over [0, 1]; None unless
        `capabilities.exposure`."""
        ...
