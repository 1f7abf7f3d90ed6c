"""Meshes of a field's density at scene times, at the level where they agree with the render.

A volume render shows a pixel as opaque (opacity > 0.5) where the density integrated along its
ray exceeds ln 2, not where the density at one point passes a threshold, so no fixed iso-level
fits every field: a sharp surface is dense within one sample step (σ ≥ ln 2 / δ for a step δ),
the diffuse density score distillation paints reaches ln 2 only over many steps. The level is
therefore read from the density grid at each time (`opacity_level`): the level whose surface,
seen along each of the three axes, covers the pixels whose ray opacity exceeds 0.5 in the same
grid, as closely as any level does (mean IoU over the three views). Vertices are in world space
(a field with a global trajectory moves its density, so the mesh moves with it); vertex colours
come from the field's colour head seen along the inward normal, under the field's exposure at
that time, as the renderer composites them (the genre's grading is a look of the 2D video and
is not baked into the asset).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import trimesh

from t2v.field.base import Field

CHUNK_POINTS = 1 << 16  # field evaluations at once: bounds memory at any grid resolution


LEVEL_CANDIDATES = 96  # levels tried by `opacity_level`, log-spaced up to the grid's peak
HALF_OPAQUE_DEPTH = math.log(2.0)  # optical depth at which a ray's opacity is 0.5


def opacity_level(grid: np.ndarray, cell: float) -> float | None:
    """The density level whose axis silhouettes best match the ray-opacity > 0.5 silhouettes
    of `grid` (indexed [x, y, z], node spacing `cell`); None where no ray is half opaque."""
    opaque = [grid.sum(axis=axis) * cell > HALF_OPAQUE_DEPTH for axis in range(3)]
    if not any(view.any() for view in opaque):
        return None
    peaks = [grid.max(axis=axis) for axis in range(3)]
    top = float(grid.max())
    best, best_score = top, -1.0
    for level in np.geomspace(top * 1e-4, top, LEVEL_CANDIDATES, endpoint=False):
        scores = []
        for peak, view in zip(peaks, opaque, strict=True):
            covered = peak >= level
            union = np.count_nonzero(covered | view)
            scores.append(np.count_nonzero(covered & view) / union if union else 1.0)
        if np.mean(scores) > best_score:
            best, best_score = float(level), float(np.mean(scores))
    return best


@dataclass(frozen=True)
class MeshOptions:
    """How density becomes a mesh: a `resolution`^3 grid over [-r, r]^3 (r = `box_radius`),
    the surface at density `level` (None: `opacity_level` of each frame), then `decimate`
    (a fraction of the faces removed, 0: none)."""

    level: float | None = None
    resolution: int = 128
    box_radius: float = 1.0
    decimate: float = 0.0


@torch.no_grad()
def density_grid(field: Field, time: float, resolution: int, box_radius: float) -> np.ndarray:
    """Density at the nodes of a `resolution`^3 grid over the box, indexed [x, y, z]."""
    axis = torch.linspace(-box_radius, box_radius, resolution)
    points = torch.stack(torch.meshgrid(axis, axis, axis, indexing="ij"), -1).reshape(-1, 3)
    values = [
        field.density(chunk, torch.full((len(chunk), 1), float(time)))
        for chunk in points.split(CHUNK_POINTS)
    ]
    return torch.cat(values).reshape(resolution, resolution, resolution).float().numpy()


@torch.no_grad()
def surface_colours(
    field: Field, vertices: np.ndarray, normals: np.ndarray, time: float
) -> np.ndarray:
    """RGB (V, 3) in [0, 1] of the colour head at the vertices, seen along the inward normals."""
    points = torch.from_numpy(np.array(vertices, dtype=np.float32))
    directions = -torch.from_numpy(np.array(normals, dtype=np.float32))
    colours = []
    for start in range(0, len(points), CHUNK_POINTS):
        chunk = slice(start, start + CHUNK_POINTS)
        times = torch.full((len(points[chunk]), 1), float(time))
        rgb = field(points[chunk], times, directions[chunk]).rgb
        colours.append(field.expose(rgb, times))
    return torch.cat(colours).clamp(0, 1).numpy() if colours else np.zeros((0, 3))


def field_mesh(field: Field, time: float, options: MeshOptions) -> trimesh.Trimesh:
    """The density surface at `time` (an empty mesh where none crosses the level)."""
    from skimage.measure import marching_cubes

    field.static_only = False
    grid = density_grid(field, time, options.resolution, options.box_radius)
    cell = 2.0 * options.box_radius / (options.resolution - 1)
    level = options.level if options.level is not None else opacity_level(grid, cell)
    if level is None or not grid.min() < level < grid.max():
        return trimesh.Trimesh()
    # Zero padding closes surfaces that reach the box, as the box clips the render.
    padded = np.pad(grid, 1)
    vertices, faces, _, _ = marching_cubes(padded, level, spacing=(cell, cell, cell))
    vertices = vertices - cell - options.box_radius
    mesh = trimesh.Trimesh(vertices, faces, process=True)
    if options.decimate > 0 and len(mesh.faces) > 4:
        mesh = decimated(mesh, options.decimate)
    colours = surface_colours(field, mesh.vertices, mesh.vertex_normals, time)
    mesh.visual.vertex_colors = np.round(colours * 255).astype(np.uint8)
    return mesh


def decimated(mesh: trimesh.Trimesh, reduction: float) -> trimesh.Trimesh:
    """`mesh` with about `reduction` of its faces removed (fast-simplification's quadric
    decimation)."""
    import fast_simplification

    vertices, faces = fast_simplification.simplify(
        mesh.vertices.astype(np.float32), mesh.faces, target_reduction=reduction
    )
    return trimesh.Trimesh(vertices, faces, process=True)


def field_meshes(
    field: Field, times: Sequence[float], options: MeshOptions
) -> list[trimesh.Trimesh]:
    """One mesh per scene time."""
    return [field_mesh(field, time, options) for time in times]
