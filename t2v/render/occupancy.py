"""An occupancy grid over space and time that lets the renderer skip samples in empty space.

The grid holds, per cell of a res^3 x time_bins lattice over [-1, 1]^3 x [0, 1], a running
estimate of the field's density: every `update_every` steps the field is evaluated at one
random point (and random time) inside each cell, and the estimate becomes max(decay * old,
new), as in Instant-NGP. A cell is occupied when its estimate exceeds min(threshold, mean);
the mean keeps a uniformly faint field from being skipped entirely (it would then never get
a gradient). Occupied cells are dilated by a cell so thin surfaces on cell borders survive.
Until the first update after `warmup_steps` the grid is not used: everything is occupied.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from t2v.field.base import Field
from t2v.schema import Bool, NonNegativeFloat, NonNegativeInt, PositiveInt, UnitFloat, settings


@settings
class OccupancyConfig:
    """Occupancy grid settings (`renderer.occupancy`); `enabled=False` renders every sample."""

    enabled: Bool = True
    resolution: PositiveInt = 32  # cells per side
    time_bins: PositiveInt = 4
    update_every: PositiveInt = 16  # steps between updates
    warmup_steps: NonNegativeInt = 256  # everything occupied before this step
    decay: UnitFloat = 0.95  # estimate = max(decay * old, new)
    density_threshold: NonNegativeFloat = 0.05
    dilation: NonNegativeInt = 1  # cells added around occupied cells, in space
    chunk_points: PositiveInt = 65536  # field evaluations per chunk during an update


class OccupancyGrid(nn.Module):
    """Space-time occupancy with EMA density estimates; buffers travel in checkpoints."""

    def __init__(self, config: OccupancyConfig | None = None, box_radius: float = 1.0) -> None:
        super().__init__()
        self.config = config or OccupancyConfig()
        self.box_radius = box_radius
        res, bins = self.config.resolution, self.config.time_bins
        self.register_buffer("density_ema", torch.zeros(bins, res, res, res))
        self.register_buffer("occupied", torch.ones(bins, res, res, res, dtype=torch.bool))
        self.register_buffer("ready", torch.tensor(False))

    @property
    def active(self) -> bool:
        """Whether lookups skip anything: enabled and updated at least once after warm-up."""
        return self.config.enabled and bool(self.ready)

    @property
    def occupied_fraction(self) -> float:
        return float(self.occupied.float().mean()) if self.active else 1.0

    def reset(self) -> None:
        """Forget all estimates: everything occupied until the next update after warm-up."""
        self.density_ema.zero_()
        self.occupied.fill_(True)
        self.ready.fill_(False)

    def lookup(self, points: Tensor, times: Tensor) -> Tensor:
        """Occupancy (N,) bool of points (N, 3) at times (N,) or (N, 1)."""
        if not self.active:
            return torch.ones(points.shape[0], dtype=torch.bool, device=points.device)
        res, bins = self.config.resolution, self.config.time_bins
        cell = ((points + self.box_radius) / (2 * self.box_radius) * res).long().clamp(0, res - 1)
        time_bin = (times.reshape(-1) * bins).long().clamp(0, bins - 1)
        flat = ((time_bin * res + cell[:, 0]) * res + cell[:, 1]) * res + cell[:, 2]
        return self.occupied.reshape(-1)[flat]

    def maybe_update(
        self, field: Field, step: int, generator: torch.Generator | None = None
    ) -> bool:
        """Update on schedule (every `update_every` steps, from `warmup_steps`); True if done."""
        config = self.config
        if not config.enabled or step < config.warmup_steps or step % config.update_every:
            return False
        self.update(field, decay=config.decay, generator=generator)
        return True

    @torch.no_grad()
    def update(
        self,
        field: Field,
        decay: float | None = None,
        rounds: int = 1,
        generator: torch.Generator | None = None,
    ) -> None:
        """Evaluate the field at `rounds` random points per cell and refresh the occupancy.

        decay=0 starts from scratch (what `refresh` does before an export); the default is the
        configured EMA decay.
        """
        decay = self.config.decay if decay is None else decay
        estimate = self.density_ema * decay
        for _ in range(rounds):
            estimate = torch.maximum(estimate, self._sample_density(field, generator))
        self.density_ema.copy_(estimate)
        threshold = min(self.config.density_threshold, float(estimate.mean()))
        occupied = estimate > threshold
        if self.config.dilation > 0:
            size = 2 * self.config.dilation + 1
            dilated = F.max_pool3d(occupied[:, None].float(), size, stride=1, padding=size // 2)
            occupied = dilated[:, 0] > 0
        self.occupied.copy_(occupied)
        self.ready.fill_(True)

    def refresh(
        self, field: Field, rounds: int = 4, generator: torch.Generator | None = None
    ) -> None:
        """Rebuild the grid from scratch (e.g. before rendering a loaded field)."""
        self.update(field, decay=0.0, rounds=rounds, generator=generator)

    def _sample_density(self, field: Field, generator: torch.Generator | None) -> Tensor:
        res, bins = self.config.resolution, self.config.time_bins
        device = self.density_ema.device
        cells = torch.arange(res**3, device=device)
        ijk = torch.stack([cells // (res * res), (cells // res) % res, cells % res], dim=-1)
        # A static-only field ignores time: one evaluation serves every time bin.
        time_bins = 1 if field.static_only else bins
        out = torch.empty(time_bins, res**3, device=device)
        for time_bin in range(time_bins):
            jitter = _uniform((res**3, 4), generator, device)
            points = (ijk + jitter[:, :3]) / res * (2 * self.box_radius) - self.box_radius
            times = ((time_bin + jitter[:, 3:]) / bins).clamp(0.0, 1.0)
            for start in range(0, res**3, self.config.chunk_points):
                stop = start + self.config.chunk_points
                density = field.density(points[start:stop], times[start:stop])
                out[time_bin, start:stop] = density.reshape(-1).float()
        return out.reshape(time_bins, res, res, res).expand(bins, res, res, res)


def _uniform(shape: tuple[int, ...], generator: torch.Generator | None, device: Any) -> Tensor:
    source = generator.device if generator is not None else device
    return torch.rand(shape, generator=generator, device=source).to(device)
