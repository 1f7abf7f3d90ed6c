"""Small analytic and learnable fields for the renderer tests (volume fields of the `Field`
contract, with no trajectory or exposure).

Each field counts the points it evaluates, so tests can check how many samples the renderer
really sent to the field.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from t2v.field.base import FieldCapabilities


@dataclass
class Samples:
    density: Tensor
    rgb: Tensor


class PlainVolume:
    """What these fields declare alike: a volume field without trajectory or exposure."""

    capabilities = FieldCapabilities()

    def expose(self, colour: Tensor, times: Tensor) -> Tensor:
        return colour

    def trajectory_offsets(self) -> None:
        return None

    def exposure_gains(self) -> None:
        return None


class AnalyticField(PlainVolume):
    """Base: constant colour inside, constant background, evaluation counter."""

    static_only = False

    def __init__(self, colour=(1.0, 0.2, 0.1), background=(0.1, 0.3, 0.9)) -> None:
        self.colour = torch.tensor(colour)
        self.background_colour = torch.tensor(background)
        self.evaluated = 0

    def inside(self, points: Tensor, times: Tensor) -> Tensor:
        raise NotImplementedError

    def density(self, points: Tensor, times: Tensor) -> Tensor:
        self.evaluated += points.shape[0]
        return self.inside(points, times).to(points.dtype) * self.sigma

    def __call__(self, points: Tensor, times: Tensor, directions: Tensor) -> Samples:
        density = self.density(points, times)
        return Samples(density, self.colour.to(points).expand(points.shape[0], 3))

    def background(self, directions: Tensor) -> Tensor:
        return self.background_colour.to(directions).expand(directions.shape[0], 3)

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        return {}


class SlabField(AnalyticField):
    """Density `sigma` where |z| < half_thickness (all x, y in the box)."""

    def __init__(self, sigma: float = 1.0, half_thickness: float = 0.5, **kw) -> None:
        super().__init__(**kw)
        self.sigma, self.half_thickness = sigma, half_thickness

    def inside(self, points: Tensor, times: Tensor) -> Tensor:
        return points[:, 2].abs() < self.half_thickness


class SphereField(AnalyticField):
    """Density `sigma` inside a ball of `radius` centred at start + velocity * t."""

    def __init__(
        self, sigma=1000.0, radius=0.5, start=(0.0, 0.0, 0.0), velocity=(0.0, 0.0, 0.0), **kw
    ) -> None:
        super().__init__(**kw)
        self.sigma, self.radius = sigma, radius
        self.start, self.velocity = torch.tensor(start), torch.tensor(velocity)
        self.static_only = not any(velocity)

    def centre(self, times: Tensor) -> Tensor:
        return self.start.to(times) + self.velocity.to(times) * times.reshape(-1, 1)

    def inside(self, points: Tensor, times: Tensor) -> Tensor:
        return (points - self.centre(times)).norm(dim=-1) < self.radius


class GridField(PlainVolume, nn.Module):
    """A learnable dense field: two feature grids blended by time, sampled trilinearly."""

    static_only = False

    def __init__(self, resolution: int = 8, density_bias: float = 0.0) -> None:
        super().__init__()
        self.grids = nn.Parameter(torch.randn(2, 4, resolution, resolution, resolution))
        with torch.no_grad():
            self.grids[:, 0] += density_bias
        self.sky = nn.Parameter(torch.randn(3, 3))

    def features(self, points: Tensor, times: Tensor) -> Tensor:
        coords = points.reshape(1, -1, 1, 1, 3)
        sampled = F.grid_sample(self.grids, coords.expand(2, -1, -1, -1, -1), align_corners=True)
        first, last = sampled[..., 0, 0].transpose(1, 2)  # (N, 4) each
        return first + (last - first) * times.reshape(-1, 1)

    def density(self, points: Tensor, times: Tensor) -> Tensor:
        return F.softplus(self.features(points, times)[:, 0]) * 3.0

    def forward(self, points: Tensor, times: Tensor, directions: Tensor) -> Samples:
        features = self.features(points, times)
        return Samples(F.softplus(features[:, 0]) * 3.0, torch.sigmoid(features[:, 1:]))

    def background(self, directions: Tensor) -> Tensor:
        return torch.sigmoid(directions @ self.sky)

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        return {"static": [self.grids], "background": [self.sky]}


@pytest.fixture(autouse=True)
def _single_thread():
    """One intra-op thread: these ops are tiny, and on a shared 2-core machine a second OpenMP
    thread spinning for a busy core made the tests ~5x slower (measured)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def make_slab():
    return SlabField


@pytest.fixture
def make_sphere():
    return SphereField


@pytest.fixture
def make_grid_field():
    return GridField
