"""A finished tiny `t2v generate` run shared by the export and view tests, and silhouettes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import trimesh
from PIL import Image, ImageDraw

from t2v.priors.tiny import save_tiny_bundled
from t2v.render import Cameras

T2V = str(Path(sys.executable).with_name("t2v"))
PROMPT = "a red ball moving to the left"


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """debug=default (every stage for a few steps, 4 frames) on a tiny prior and field."""
    root = tmp_path_factory.mktemp("export_runs")
    prior = root / "prior"
    save_tiny_bundled(prior, frames=4, size=16, genres=("none", "cartoon"))
    run_dir = root / "red_ball"
    args = [
        "generate",
        f"prompt={PROMPT}",
        "genre=cartoon",
        f"run_dir={run_dir}",
        "debug=default",
        f"prior.image.model={prior}",
        f"prior.video.model={prior}",
        f"prior.sr.model={prior}",
        "field=hexplane",
        "field.static_encoding.resolutions=[8,16]",
        "field.dynamic_encoding.resolutions=[8,16]",
        "field.hidden_dim=16",
        "renderer.num_samples=12",
        f"cache_dir={root / 'cache'}",
    ]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [T2V, *args], cwd=root, env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return run_dir


def mesh_silhouette(mesh: trimesh.Trimesh, cameras: Cameras, supersample: int = 4) -> np.ndarray:
    """(H, W) bool: pixels the mesh covers from the (1, 1) camera (triangles filled at
    `supersample`x, a pixel covered where most of its subpixels are)."""
    width, height = cameras.width, cameras.height
    image = Image.new("L", (width * supersample, height * supersample), 0)
    if len(mesh.faces):
        vertices = torch.tensor(np.asarray(mesh.vertices), dtype=torch.float32)[None, None]
        pixels = cameras.project(vertices)[0, 0].numpy() * supersample
        draw = ImageDraw.Draw(image)
        for triangle in pixels[np.asarray(mesh.faces)]:
            draw.polygon([tuple(point) for point in triangle], fill=255)
    covered = np.asarray(image, dtype=np.float32) / 255
    return covered.reshape(height, supersample, width, supersample).mean(axis=(1, 3)) > 0.5


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.count_nonzero(a | b)
    return np.count_nonzero(a & b) / union if union else 1.0


@pytest.fixture(scope="session")
def silhouettes() -> SimpleNamespace:
    """`mesh(mesh, cameras)` and `iou(a, b)` for the tests here (fixtures: test modules are
    imported by path and cannot import this file)."""
    return SimpleNamespace(mesh=mesh_silhouette, iou=iou)
