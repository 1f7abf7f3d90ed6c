"""OBJ sequences: one Wavefront OBJ per frame with vertex colours, as Blender's Stop-motion-OBJ
add-on imports them (`name_000001.obj`, `name_000002.obj`, ... in one folder)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import trimesh


def write_obj_sequence(meshes: Sequence[trimesh.Trimesh], folder: Path, name: str) -> list[Path]:
    """One OBJ per mesh, numbered from 1; colours as `v x y z r g b` lines."""
    files = []
    for index, mesh in enumerate(meshes, start=1):
        path = folder / f"{name}_{index:06d}.obj"
        text = trimesh.exchange.obj.export_obj(
            mesh, include_color=True, include_normals=True, include_texture=False, header=None
        )
        path.write_text(text)
        files.append(path)
    return files
