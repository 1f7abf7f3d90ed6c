"""Benchmark `t2v generate schedule=instant`: wall time of the whole command, model load included.

Runs the command as a user does (a fresh process: Python start, imports, config, the scene
generator and MiniLM loaded, the field made, the video rendered and written) `--repeats`
times in fresh run dirs and reports the median wall time, and the seconds the run itself
spent making the generator's field (metrics.json). Writes JSON (default
benchmarks/results/instant.json) and prints it.

Usage: python benchmarks/instant.py [--out F.json] [--repeats 3] [--threads 2] [override ...]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROMPT = "a red ball moving to the left"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/instant.json"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2, help="OMP_NUM_THREADS of the command")
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()
    t2v = str(Path(sys.executable).with_name("t2v"))
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "HF_HUB_OFFLINE": "1"}
    walls, made = [], []
    with tempfile.TemporaryDirectory() as scratch:
        for repeat in range(args.repeats):
            run_dir = Path(scratch) / f"run{repeat}"
            command = [
                t2v,
                "generate",
                f"prompt={PROMPT}",
                "genre=cartoon",
                "schedule=instant",
                f"run_dir={run_dir}",
                "logger=none",
                *args.overrides,
            ]
            began = time.perf_counter()
            subprocess.run(command, check=True, env=env, capture_output=True, cwd=scratch)
            walls.append(time.perf_counter() - began)
            metrics = json.loads((run_dir / "metrics.json").read_text())
            made.append(metrics["stages"]["generator"]["seconds"])
    result = {
        "command": f"t2v generate prompt='{PROMPT}' genre=cartoon schedule=instant",
        "overrides": args.overrides,
        "threads": args.threads,
        "repeats": args.repeats,
        "wall_seconds_median": round(statistics.median(walls), 2),
        "wall_seconds": [round(wall, 2) for wall in walls],
        "generator_field_seconds_median": round(statistics.median(made), 2),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
