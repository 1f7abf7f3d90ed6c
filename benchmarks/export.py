"""`t2v export` on a finished run: seconds and bytes per frame of each format, and how well the
meshes agree with the volume render (front-view silhouette IoU of every frame).

Writes JSON (default benchmarks/results/export.json) and prints it. Each format is exported
`--repeats` times into a fresh folder, in this process (one torch thread); figures are medians.

Usage: python benchmarks/export.py RUN_DIR [out.json] [--repeats 3] [--grid 128]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from t2v import __version__
from t2v.commands import export as export_command
from t2v.config.export import ExportConfig
from t2v.export import MeshOptions, field_mesh
from t2v.rundir import RunDir
from t2v.scene import front_camera, scene_times

FORMATS = ("glb", "obj", "ply")


def export_once(run_dir: Path, fmt: str, grid: int, folder: Path) -> tuple[float, int]:
    """Seconds of one export and the bytes it wrote."""
    output = folder / f"out_{fmt}"
    config = ExportConfig(run_dir=str(run_dir), format=fmt, output=str(output), grid=grid)
    began = time.perf_counter()
    export_command.run(config)
    seconds = time.perf_counter() - began
    files = [output] if output.is_file() else [p for p in output.rglob("*") if p.is_file()]
    return seconds, sum(p.stat().st_size for p in files)


def silhouette(
    vertices: np.ndarray, faces: np.ndarray, cameras, supersample: int = 4
) -> np.ndarray:  # type: ignore[no-untyped-def]
    width, height = cameras.width, cameras.height
    image = Image.new("L", (width * supersample, height * supersample), 0)
    if len(faces):
        points = torch.tensor(vertices, dtype=torch.float32)[None, None]
        pixels = cameras.project(points)[0, 0].numpy() * supersample
        draw = ImageDraw.Draw(image)
        for triangle in pixels[faces]:
            draw.polygon([tuple(p) for p in triangle], fill=255)
    covered = np.asarray(image, dtype=np.float32) / 255
    return covered.reshape(height, supersample, width, supersample).mean(axis=(1, 3)) > 0.5


def front_ious(run_dir: Path, grid: int, side: int) -> list[float]:
    """Silhouette IoU of each frame's mesh against the render's opacity > 0.5, front view."""
    scene = RunDir(run_dir).load_scene()
    camera = front_camera(scene.config.genre, side, side)
    scene.renderer.eval()
    scores = []
    for t in scene_times(scene.config.video_frames).tolist():
        with torch.no_grad():
            opacity = scene.renderer.render(scene.field, camera, torch.tensor([[t]])).opacity
        opaque = opacity[0, 0, 0].numpy() > 0.5
        mesh = field_mesh(scene.field, t, MeshOptions(resolution=grid))
        shown = silhouette(np.asarray(mesh.vertices), np.asarray(mesh.faces), camera)
        union = np.count_nonzero(opaque | shown)
        scores.append(round(np.count_nonzero(opaque & shown) / union if union else 1.0, 4))
    return scores


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("out", nargs="?", default="benchmarks/results/export.json")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--grid", type=int, default=128)
    args = parser.parse_args()
    torch.set_num_threads(1)
    config = RunDir(args.run_dir).load_config()
    frames = config.video_frames
    results: dict[str, dict[str, float]] = {}
    for fmt in FORMATS:
        seconds, sizes = [], []
        for _ in range(args.repeats):
            with tempfile.TemporaryDirectory() as folder:
                spent, size = export_once(args.run_dir, fmt, args.grid, Path(folder))
            seconds.append(spent)
            sizes.append(size)
        results[fmt] = {
            "seconds_per_frame": round(statistics.median(seconds) / frames, 3),
            "bytes_per_frame": round(statistics.median(sizes) / frames),
            "seconds_all": [round(s, 2) for s in seconds],
        }
    side = config.resolution.sr_width
    ious = front_ious(args.run_dir, args.grid, side)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    report = {
        "run": {
            "prompt": config.prompt,
            "genre": config.genre.name,
            "frames": frames,
            "field": config.field.name,
            "renderer_samples": config.renderer.num_samples,
            "video": f"{config.resolution.sr_width}x{config.resolution.sr_height}",
        },
        "grid": args.grid,
        "repeats": args.repeats,
        "formats": results,
        "front_iou": {
            "side": side,
            "min": min(ious),
            "median": statistics.median(ious),
            "per_frame": ious,
        },
        "machine": {"platform": platform.platform(), "torch": torch.__version__, "threads": 1},
        "t2v": __version__,
        "commit": commit,
    }
    text = json.dumps(report, indent=2)
    Path(args.out).write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    sys.exit(main())
