"""Time one render + backward of runs' stage checkpoints, alternated so load hits them alike.

Usage: python experiments/gaussians/step_cost.py RUN_DIR[:STAGE] ... [--repeats 7]
Prints the median seconds per forward+backward of 4 views (azimuths 0, 90, 180, -90) at 64x64
at 4 times: what a rasterized training step costs for the scene the run built.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from t2v.render.trajectories import CameraStart, genre_trajectory_cameras
from t2v.rundir import RunDir
from t2v.scene import scene_times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    scenes = {}
    for argument in args.runs:
        folder, _, stage = argument.partition(":")
        scenes[argument] = RunDir(Path(folder)).load_scene(stage or None, device="cpu")
    seconds: dict[str, list[float]] = {name: [] for name in scenes}
    for _ in range(args.repeats):
        for name, scene in scenes.items():
            start = time.perf_counter()
            for azimuth in (0.0, 90.0, 180.0, -90.0):
                cameras = genre_trajectory_cameras(
                    scene.config.genre.camera, 4, 64, 64, "static", start=CameraStart(azimuth)
                )
                views = scene.renderer.render(scene.field, cameras, scene_times(4)[None])
                views.rgb.square().mean().backward()
            seconds[name].append(time.perf_counter() - start)
            scene.field.zero_grad()
    for name, values in seconds.items():
        count = int(scenes[name].field.count)
        print(f"{name}: {statistics.median(values):.3f} s, {count} Gaussians")


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()
