"""Gaussians of a field at a time: its own splats (a `gaussians` field), or a volume's nodes.

A `gaussians` field answers `splats(time)` (`t2v.field.splats.SplatField`). A volume field
(a NeRF) has no primitives, so they are made from its density grid: one isotropic Gaussian per
grid node whose density reaches the mesh level (`t2v.export.mesh.opacity_level`), its standard
deviation half the node spacing (neighbours overlap), its opacity the α of a ray crossing that
one cell (1 - exp(-σ δ)), so that splatting the stack composites as the volume render does,
its colour the colour head's there under the field's exposure.
"""

from __future__ import annotations

from typing import cast

import numpy as np
import torch

from t2v.export.mesh import MeshOptions, density_grid, opacity_level, surface_colours
from t2v.field.base import Field
from t2v.field.splats import SplatField, Splats


def field_splats(field: Field, time: float, options: MeshOptions) -> Splats:
    """The field's Gaussians at `time`: its own where it has them, else `volume_splats`."""
    field.static_only = False
    if field.capabilities.kind == "gaussians":  # the kind promises `SplatField.splats`
        with torch.no_grad():
            return cast(SplatField, field).splats(time)
    return volume_splats(field, time, options)


def volume_splats(field: Field, time: float, options: MeshOptions) -> Splats:
    """Gaussians at the grid nodes inside the volume's mesh surface at `time` (module
    docstring)."""
    grid = density_grid(field, time, options.resolution, options.box_radius)
    cell = 2.0 * options.box_radius / (options.resolution - 1)
    level = options.level if options.level is not None else opacity_level(grid, cell)
    nodes = np.argwhere(grid >= level) if level is not None else np.zeros((0, 3), dtype=int)
    means = (nodes * cell - options.box_radius).astype(np.float32)
    density = grid[tuple(nodes.T)]
    count = len(nodes)
    colours = surface_colours(field, means, np.tile(np.float32([0, 0, 1]), (count, 1)), time)
    return Splats(
        means=torch.from_numpy(means),
        scales=torch.full((count, 3), cell / 2),
        rotations=torch.tensor([1.0, 0.0, 0.0, 0.0]).repeat(count, 1),
        opacities=torch.from_numpy(1.0 - np.exp(-density * cell)).float(),
        colours=torch.from_numpy(colours).float(),
    )
