"""Gaussian splats at one time: what a `gaussians` field hands to rasterizers and to PLY export.

A field of kind `gaussians` answers `splats(time)` and `splats_at(times)` (the `SplatField`
protocol): its primitives
moved to that time in world coordinates, in plain activated units (scales in world units,
opacities in [0, 1], colours in [0, 1]), so a rasterizer and an exporter read the same values
without knowing how the field parametrises them. Exporters that write the 3DGS layout (log
scales, logit opacities, SH DC colours) convert from these units themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from torch import Tensor

from t2v.field.base import Field


@dataclass(frozen=True)
class Splats:
    """N anisotropic 3D Gaussians at one time."""

    means: Tensor  # (N, 3) world positions
    scales: Tensor  # (N, 3) standard deviations along the Gaussian's own axes, world units, > 0
    rotations: Tensor  # (N, 4) unit quaternions (w, x, y, z), the Gaussian's axes in the world
    opacities: Tensor  # (N,) peak opacity in [0, 1]
    colours: Tensor  # (N, 3) RGB in [0, 1] (view-independent part)

    def __post_init__(self) -> None:
        count = self.means.shape[0]
        expected = {
            "means": (count, 3),
            "scales": (count, 3),
            "rotations": (count, 4),
            "opacities": (count,),
            "colours": (count, 3),
        }
        for name, shape in expected.items():
            actual = tuple(getattr(self, name).shape)
            if actual != shape:
                raise ValueError(f"Splats.{name} must be {shape}; got {actual}")

    def __len__(self) -> int:
        return self.means.shape[0]


@runtime_checkable
class SplatField(Field, Protocol):
    """A `Field` of kind `gaussians`: its primitives at a time."""

    def splats(self, time: float) -> Splats:
        """The Gaussians at scene time `time` in [0, 1] (trajectory and deformation applied;
        only the static scene while `static_only`)."""
        ...

    def splats_at(self, times: Tensor) -> list[Splats]:
        """`splats` at each of `times` (K,), in one call: what a renderer asks for a clip."""
        ...
