"""Gaussian PLY sequences in the 3D Gaussian Splatting layout, with a JSON manifest of times.

Each frame is one binary PLY whose vertices carry `x y z nx ny nz f_dc_0..2 opacity
scale_0..2 rot_0..3`, the layout of Kerbl et al.'s `point_cloud.ply` that splat viewers read:
colour as the degree-0 spherical-harmonic coefficient, opacity as a logit, scales as logs,
rotations as (w, x, y, z) quaternions. `manifest.json` lists the files with their scene times
and the playback rate.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from plyfile import PlyData, PlyElement

from t2v.field.splats import Splats

SH_C0 = 0.28209479177387814  # the degree-0 spherical harmonic, Y_0^0
OPACITY_EPS = 1e-6  # keeps the logit finite at opacity 0 or 1
PROPERTIES = (
    ["x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2", "opacity"]
    + [f"scale_{i}" for i in range(3)]
    + [f"rot_{i}" for i in range(4)]
)


def splat_attributes(splats: Splats) -> np.ndarray:
    """The splats as a structured array in the 3DGS PLY layout (float32 fields)."""
    means = splats.means.detach().float().cpu().numpy()
    opacity = splats.opacities.detach().double().cpu().numpy().clip(OPACITY_EPS, 1 - OPACITY_EPS)
    columns = [
        means,
        np.zeros_like(means),
        (splats.colours.detach().float().cpu().numpy() - 0.5) / SH_C0,
        np.log(opacity / (1 - opacity))[:, None],
        np.log(splats.scales.detach().double().cpu().numpy()),
        splats.rotations.detach().float().cpu().numpy(),
    ]
    values = np.concatenate([np.asarray(c, dtype=np.float32) for c in columns], axis=1)
    table = np.empty(len(values), dtype=[(name, "f4") for name in PROPERTIES])
    for index, name in enumerate(PROPERTIES):
        table[name] = values[:, index]
    return table


def write_ply_sequence(
    frames: Sequence[Splats], times: Sequence[float], fps: float, folder: Path, name: str
) -> list[Path]:
    """`folder/name_000001.ply`, ... (one per frame) and `folder/manifest.json`."""
    files = []
    for index, splats in enumerate(frames, start=1):
        path = folder / f"{name}_{index:06d}.ply"
        element = PlyElement.describe(splat_attributes(splats), "vertex")
        PlyData([element], text=False).write(str(path))
        files.append(path)
    manifest = {
        "format": "3dgs-ply",
        "fps": fps,
        "frames": [
            {"file": path.name, "time": float(time), "gaussians": len(splats)}
            for path, time, splats in zip(files, times, frames, strict=True)
        ],
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return files
