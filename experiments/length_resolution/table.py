"""Table of one run's re-renders: length, size, render time, temporal metrics, attribute reading.

Usage: python experiments/length_resolution/table.py RUN_DIR "FRAMES FPS WIDTH HEIGHT" ...
Renders each spec with `t2v render` (the genre's trajectory), times it, reads the video back and
prints one markdown row per render.
"""

from __future__ import annotations

import subprocess
import sys
import time

from t2v.eval.attributes import describe
from t2v.eval.temporal import temporal_metrics
from t2v.rundir import RunDir
from t2v.video import read_video


def main(run_dir: str, specs: list[str]) -> None:
    run = RunDir(run_dir)
    trajectory = run.load_config().genre.camera.trajectory
    print(
        "| frames | fps | size | seconds of video | render wall s | colour | motion "
        "| flicker (low-pass) | warping error |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for spec in specs:
        frames, fps, width, height = (int(value) for value in spec.split())
        path = run.render_file(trajectory, width, height, frames, stage=None)
        began = time.perf_counter()
        subprocess.run(
            [
                "t2v",
                "render",
                f"run_dir={run_dir}",
                f"frames={frames}",
                f"fps={fps}",
                f"width={width}",
                f"height={height}",
                f"output={path}",
            ],
            check=True,
            capture_output=True,
        )
        seconds = time.perf_counter() - began
        video, rate = read_video(path)
        seen = describe(video)
        metrics = temporal_metrics(video)
        print(
            f"| {video.shape[0]} | {rate:g} | {video.shape[-1]}x{video.shape[-2]} "
            f"| {video.shape[0] / rate:.1f} | {seconds:.1f} | {seen.colour} | {seen.motion} "
            f"| {metrics.lowpass_flicker:.4f} | {metrics.warping_error:.4f} |",
            flush=True,
        )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
