"""Frame-to-frame flicker of finished runs, seen from the front camera.

    python experiments/genres/flicker.py RUN_DIR [RUN_DIR ...]

For each run: `t2v render trajectory=static` (the run's frames, size and fps; written to
RUN_DIR/renders/), then on that render
- alternation: mean |Y_t - (Y_{t-1} + Y_{t+1}) / 2| over pixels and frames (luma Y): a
  frame that differs from both neighbours in the same way (odd frames lighter than even
  ones) counts, smooth motion and slow drift barely do;
- the temporal metrics of `t2v evaluate` (t2v.eval.temporal): brightness flicker and the
  flow-warping error;
and the attribute evaluator's reads of video.mp4 (the genre camera) and of the front render.
Prints one JSON line per run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch

from t2v.eval.attributes import describe
from t2v.eval.temporal import luma, temporal_metrics
from t2v.rundir import RunDir
from t2v.video import read_clip


def alternation(frames: torch.Tensor) -> float:
    """Mean |second temporal difference| of luma, frames `(T, 3, H, W)` in [0, 1]."""
    y = luma(frames)
    return float((y[1:-1] - (y[:-2] + y[2:]) / 2).abs().mean())


def front_render(run: RunDir) -> Path:
    output = run.renders / "front.mp4"
    if not output.exists():
        command = [sys.executable, "-m", "t2v", "render", f"run_dir={run.root}"]
        command += ["trajectory=static", f"output={output}"]
        subprocess.run(
            command, check=True, capture_output=True, env=os.environ | {"HF_HUB_OFFLINE": "1"}
        )
    return output


def main(run_dirs: list[str]) -> None:
    for run in map(RunDir, run_dirs):
        front = read_clip(front_render(run))
        metrics = temporal_metrics(front)
        reads = {}
        for name, source in (("video", run.video_file), ("front", front)):
            seen = describe(source)
            reads[name] = f"{seen.colour}/{seen.motion}/{seen.genre}"
        row = {
            "run": f"{run.root.parent.name}/{run.root.name}",
            "alternation": round(alternation(front), 4),
            "brightness_flicker": round(metrics.brightness_flicker, 4),
            "warping_error": round(metrics.warping_error, 4),
            **reads,
        }
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
