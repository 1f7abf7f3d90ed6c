"""Benchmark the field: hash-grid encodings and a field+render training step, beside references.

Writes JSON (default benchmarks/results/field.json) and prints it. All figures are medians of
`--repeats` runs, and each torch-backend figure sits beside the per-corner reference
(benchmarks/reference_hashgrid.py) measured in the same run, with their ratio:

- encodings: forward+backward samples/s of the 3D and 4D hash grids at 16 levels x 2
  features x 2^19 entries on 65,536 points: torch backend (eager, and with
  `compile_index_math`), reference;
- training step: render (B=1, T frames, H x W, S samples per ray) + MSE + backward + Adam at the
  CPU presets: conf/field/hashgrid_cpu.yaml with the torch backend, the same field with its
  encodings swapped for the reference, and conf/field/hexplane.yaml.

Usage: python benchmarks/field.py [out.json] [--repeats 5] [--threads N] [--no-compile] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reference_hashgrid import ReferenceHashGrid

from t2v.field import HashGridEncoding, SceneField
from t2v.render import OccupancyConfig, VolumeRenderer, orbit_cameras
from t2v.targets import check_target

ROOT = Path(__file__).resolve().parents[1]


def interleaved_medians(runs: dict[str, Callable[[], None]], repeats: int) -> dict[str, float]:
    """Median seconds of each run. Repeats alternate between the runs, so a change in machine
    load (this machine is shared) hits every variant alike and their ratios stay fair."""
    for run in runs.values():
        run()  # warm-up
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def encoding_benchmark(dims: int, points: int, repeats: int, compile_: bool) -> dict:
    torch.manual_seed(0)
    fast = HashGridEncoding(
        dims,
        levels=16,
        features_per_level=2,
        log2_table_size=19,
        base_resolution=16,
        finest_resolution=2048,
        backend="torch",
    )
    reference = ReferenceHashGrid(fast)
    x = torch.rand(points, dims)
    upstream = torch.randn(points, fast.output_dim)

    def step(module: torch.nn.Module) -> Callable[[], None]:
        def run() -> None:
            module.zero_grad(set_to_none=True)
            (module(x) * upstream).sum().backward()

        return run

    result = {
        "dims": dims,
        "points": points,
        "levels": 16,
        "features_per_level": 2,
        "log2_table_size": 19,
        "dense_levels": fast.layout.dense_levels,
    }
    runs = {"torch": step(fast), "reference": step(reference)}
    if compile_:
        compiled = HashGridEncoding(
            dims,
            levels=16,
            features_per_level=2,
            log2_table_size=19,
            base_resolution=16,
            finest_resolution=2048,
            backend="torch",
            compile_index_math=True,
        )
        start = time.perf_counter()
        step(compiled)()
        result["compile_seconds"] = time.perf_counter() - start
        runs["torch_compiled"] = step(compiled)
    seconds = interleaved_medians(runs, repeats)
    for name, value in seconds.items():
        result[f"{name}_samples_per_s"] = points / value
    for name in runs.keys() - {"reference"}:
        result[f"{name}_vs_reference"] = seconds["reference"] / seconds[name]
    return result


def preset(name: str) -> SceneField:
    """conf/field/<name>.yaml with the torch backend, checked and built as a run builds it."""
    with initialize_config_dir(str(ROOT / "conf"), version_base=None):
        node = compose(overrides=[f"+field={name}", "field.backend=torch"]).field
    return check_target("field", OmegaConf.to_container(node, resolve=True)).build()


def training_step_benchmark(frames: int, size: int, samples: int, repeats: int) -> dict:
    torch.manual_seed(0)
    azimuth = torch.linspace(-30, 30, frames)[None]
    cameras = orbit_cameras(
        azimuth,
        torch.full_like(azimuth, 15.0),
        torch.full_like(azimuth, 3.0),
        torch.full_like(azimuth, 40.0),
        size,
        size,
    )
    times = torch.linspace(0, 1, frames)[None]
    target = torch.rand(1, frames, 3, size, size)
    # Occupancy off: every sample reaches the field, so the figure is the per-sample cost.
    renderer = VolumeRenderer(num_samples=samples, occupancy=OccupancyConfig(enabled=False))
    renderer.train()
    total_samples = frames * size * size * samples

    def step_of(field: torch.nn.Module) -> Callable[[], None]:
        optimizer = torch.optim.Adam(field.parameters(), lr=1e-2, eps=1e-15)

        def run() -> None:
            out = renderer.render(field, cameras, times)
            loss = torch.mean((out.rgb - target) ** 2)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

        return run

    hashgrid = preset("hashgrid_cpu")
    with_reference = preset("hashgrid_cpu")
    with_reference.static_encoding = ReferenceHashGrid(with_reference.static_encoding)
    with_reference.dynamic_encoding = ReferenceHashGrid(with_reference.dynamic_encoding)
    hexplane = preset("hexplane")
    result = {
        "frames": frames,
        "width": size,
        "height": size,
        "samples_per_ray": samples,
        "samples_per_step": total_samples,
    }
    fields = {
        "hashgrid_cpu_torch": hashgrid,
        "hashgrid_cpu_reference": with_reference,
        "hexplane": hexplane,
    }
    seconds = interleaved_medians({name: step_of(f) for name, f in fields.items()}, repeats)
    for name, value in seconds.items():
        result[f"{name}_step_s"] = value
        result[f"{name}_samples_per_s"] = total_samples / value
    result["hashgrid_cpu_torch_vs_reference"] = (
        seconds["hashgrid_cpu_reference"] / seconds["hashgrid_cpu_torch"]
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", default=str(ROOT / "benchmarks/results/field.json"))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--points", type=int, default=65536)
    parser.add_argument("--no-compile", action="store_true", help="skip compile_index_math")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks the script runs")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch default)")
    args = parser.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    points = 4096 if args.quick else args.points
    frames, size, samples = (2, 16, 16) if args.quick else (4, 32, 32)
    report = {
        "machine": {
            "platform": platform.platform(),
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "cpus": os.cpu_count(),
            "load_average_at_start": os.getloadavg(),
        },
        "repeats": args.repeats,
        "encodings": [
            encoding_benchmark(d, points, args.repeats, not args.no_compile) for d in (3, 4)
        ],
        "training_step": training_step_benchmark(frames, size, samples, args.repeats),
    }
    report["machine"]["load_average_at_end"] = os.getloadavg()
    text = json.dumps(report, indent=2)
    print(text)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n")


if __name__ == "__main__":
    main()
