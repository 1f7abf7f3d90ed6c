"""What `t2v evaluate`'s side, back and haze reads cost per run: seconds to render the four fixed
views (front, +-90, 180) of a freshly built field of each kind and read them, at the analysis
size of a default run's video (16 frames, 64x64), in this process, one torch thread.

Writes JSON (default benchmarks/results/evaluate_views.json) and prints it; figures are medians
of `--repeats`.

Usage: python benchmarks/evaluate_views.py [out.json] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import time
from pathlib import Path

import torch
from omegaconf import open_dict

from t2v import __version__
from t2v.cli import compose, register_resolvers
from t2v.commands.door import resolved
from t2v.config.generate import parse_generate
from t2v.eval.views import render_fixed_views, view_reads
from t2v.scene import Scene, scene_times

FRAMES, SIDE = 16, 64
FIELDS = ("hexplane", "gaussians")


def scene_of(field: str) -> Scene:
    register_resolvers()
    overrides = ["prompt=a red ball moving to the left", f"field={field}", "run_dir=unused"]
    cfg = compose("generate", overrides)  # nothing is written: only the field is built
    with open_dict(cfg):
        cfg.pop("hydra")
    torch.manual_seed(0)
    return Scene.build(parse_generate(resolved(cfg)))


def seconds_to_read(scene: Scene) -> float:
    began = time.perf_counter()
    renders = render_fixed_views(
        scene.field, scene.renderer, scene.config.genre.camera, scene_times(FRAMES), SIDE, SIDE
    )
    view_reads(renders, {"colour": "red", "motion": "left"})
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", nargs="?", default="benchmarks/results/evaluate_views.json")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    results = {}
    for field in FIELDS:
        scene = scene_of(field)
        times = [seconds_to_read(scene) for _ in range(args.repeats)]
        results[field] = {"median_s": round(statistics.median(times), 3), "runs_s": times}
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    report = {
        "what": f"render_fixed_views + view_reads, {FRAMES} frames at {SIDE}x{SIDE}, 4 views",
        "fields": results,
        "machine": platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "threads": 1,
        "t2v": __version__,
        "commit": commit,
    }
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
