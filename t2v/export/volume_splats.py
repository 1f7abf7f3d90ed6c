"""Gaussians of a field at a time: its own splats (a `gaussians` field), or a volume's shell.

A `gaussians` field answers `splats(time)` (`t2v.field.splats.SplatField`). A volume field
(a NeRF) has no primitives, so its visible surface is made of them: one isotropic Gaussian per
grid cell whose density reaches the renderer's α = 0.5 level and that has an empty neighbour
(the shell a camera sees; the inside is hidden behind it), its standard deviation half the cell
(neighbours overlap as a surface), its opacity the α of a ray crossing the cell, its colour the
colour head's there under the field's exposure.
"""

from __future__ import annotations

import numpy as np
import torch

from t2v.export.mesh import MeshOptions, density_grid, surface_colours
from t2v.field.base import Field
from t2v.field.splats import SplatField, Splats


def field_splats(field: Field, time: float, options: MeshOptions) -> Splats:
    """The field's Gaussians at `time`: its own where it has them, else `volume_splats`."""
    field.static_only = False
    if field.capabilities.kind == "gaussians" and isinstance(field, SplatField):
        with torch.no_grad():
            return field.splats(time)
    return volume_splats(field, time, options)


def volume_splats(field: Field, time: float, options: MeshOptions) -> Splats:
    """Gaussians on the shell of the volume's α = 0.5 region at `time` (module docstring)."""
    grid = density_grid(field, time, options.resolution, options.box_radius)
    inside = grid >= options.level
    padded = np.pad(inside, 1)
    all_neighbours_inside = np.ones_like(inside)
    for axis in range(3):
        for step in (-1, 1):
            shifted = np.roll(padded, step, axis=axis)[1:-1, 1:-1, 1:-1]
            all_neighbours_inside &= shifted
    shell = np.argwhere(inside & ~all_neighbours_inside)
    cell = 2.0 * options.box_radius / (options.resolution - 1)
    means = (shell * cell - options.box_radius).astype(np.float32)
    density = grid[tuple(shell.T)]
    count = len(shell)
    colours = surface_colours(field, means, np.tile(np.float32([0, 0, 1]), (count, 1)), time)
    return Splats(
        means=torch.from_numpy(means),
        scales=torch.full((count, 3), cell / 2),
        rotations=torch.tensor([1.0, 0.0, 0.0, 0.0]).repeat(count, 1),
        opacities=torch.from_numpy(1.0 - np.exp(-density * cell)).float(),
        colours=torch.from_numpy(colours).float(),
    )
