"""Benchmark `t2v generate` at the default CPU configuration: it/s and wall time per stage.

Runs the whole default schedule `--repeats` times in fresh run dirs (or every stage for only
`--steps` steps, for a quick look: short stages are dominated by their set-up, so their it/s
understate a full run) and reports the median wall time, stage seconds and it/s. Peak memory
is the process's maximum resident set. Writes JSON (default benchmarks/results/generate.json)
and prints it.

Usage: python benchmarks/generate.py [--out F.json] [--steps N] [--repeats 3] [override ...]
  (overrides are Hydra overrides of `t2v generate`, e.g. field=hashgrid_cpu)
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import resource
import statistics
import tempfile
import time
from pathlib import Path

import torch
from omegaconf import open_dict

from t2v import cli
from t2v.commands.door import resolved
from t2v.config.generate import GenerateConfig, parse_generate
from t2v.generation import run_generate
from t2v.rundir import RunDir

PROMPT = "a red ball moving to the left"


def field_name(field: dict) -> str:
    """The field's class, and its static encoding's where it has one (volume fields)."""
    name = field["_target_"].rsplit(".", 1)[-1]
    encoding = field.get("static_encoding")
    return f"{name}/{encoding['_target_'].rsplit('.', 1)[-1]}" if encoding else name


def compose(overrides: list[str]) -> GenerateConfig:
    """The typed configuration of one `t2v generate` job, as the command's door parses it."""
    cfg = cli.compose("generate", [f"prompt={PROMPT}", "genre=cartoon", "logger=none", *overrides])
    with open_dict(cfg):
        cfg.pop("hydra")  # outside a Hydra app its job number is unset: it cannot resolve
    return parse_generate(resolved(cfg))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="benchmarks/results/generate.json")
    parser.add_argument("--steps", type=int, default=None, help="steps per stage (default: all)")
    parser.add_argument("--repeats", type=int, default=3)
    args, args.overrides = parser.parse_known_args()
    cli.register_resolvers()
    full = compose(args.overrides)
    full_steps = {spec.name: spec.steps for spec in full.stages}
    short = [f"schedule.{name}.steps={args.steps}" for name in full_steps] if args.steps else []
    rates: dict[str, list[float]] = {name: [] for name in full_steps}
    seconds: dict[str, list[float]] = {name: [] for name in full_steps}
    export_seconds, wall_seconds = [], []
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as scratch:
            run = RunDir(Path(scratch) / "run")
            config = compose(
                [*args.overrides, *short, f"cache_dir={scratch}/cache", f"run_dir={run.root}"]
            )
            began = time.perf_counter()
            metrics = run_generate(config, run)
            total = time.perf_counter() - began
        stage_seconds = sum(s["seconds"] for s in metrics["stages"].values())
        export_seconds.append(total - stage_seconds)
        wall_seconds.append(total)
        for name, figures in metrics["stages"].items():
            rates[name].append(figures["it_per_s"])
            seconds[name].append(figures["seconds"])
    median = {name: statistics.median(values) for name, values in rates.items()}
    projected = {name: full_steps[name] / median[name] for name in full_steps}
    result = {
        "machine": {
            "platform": platform.platform(),
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "cpus": os.cpu_count(),
            "load_average": os.getloadavg(),
        },
        "config": {
            "overrides": args.overrides,
            "schedule": full.resolved["schedule"]["name"],
            "field": field_name(full.resolved["field"]),
            "resolution": dataclasses.asdict(full.resolution),
            "measured_steps_per_stage": args.steps or "all",
            "repeats": args.repeats,
        },
        "stages": {
            name: {
                "it_per_s_median": round(median[name], 3),
                "it_per_s_runs": [round(v, 3) for v in rates[name]],
                "seconds_median": round(statistics.median(seconds[name]), 1),
                "full_steps": full_steps[name],
                "projected_seconds": round(projected[name], 1),
            }
            for name in full_steps
        },
        "setup_and_export_seconds_median": round(statistics.median(export_seconds), 1),
        "wall_seconds_median": round(statistics.median(wall_seconds), 1),
        "wall_seconds_runs": [round(v, 1) for v in wall_seconds],
        "projected_total_seconds": round(
            sum(projected.values()) + statistics.median(export_seconds), 1
        ),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    text = json.dumps(result, indent=2)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
