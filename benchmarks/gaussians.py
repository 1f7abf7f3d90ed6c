"""Benchmark the CPU Gaussian rasterizer: forward+backward against count and image size.

Writes JSON (default benchmarks/results/gaussians.json) and prints it. Each case rasterizes the
splats of a blob-initialised `GaussianField` (Gaussians sized to their spacing in the ball, as
`field=gaussians` starts) through one front camera at distance 3 and back-propagates an MSE into
every splat parameter; figures are medians of `--repeats` runs, alternated between the cases so
that a change in machine load hits them alike. Growth ratios compare each case to the smallest.

Usage: python benchmarks/gaussians.py [out.json] [--repeats 5] [--threads 1] [--quick]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch

from t2v.field import GaussianField, PlaneSpec
from t2v.render import Cameras
from t2v.render.splatting import rasterize

ROOT = Path(__file__).resolve().parents[1]


def case(count: int, size: int):
    torch.manual_seed(0)
    field = GaussianField(count=count, deformation=PlaneSpec(features=2, resolutions=(8,)))
    field.static_only = True
    eyes = torch.tensor([[[0.0, 0.3, 3.0]]])
    camera = Cameras.look_at(eyes, torch.zeros(1, 1, 3), 40.0, size, size)
    target = torch.full((size, size, 3), 0.5)

    def run() -> None:
        field.zero_grad(set_to_none=True)
        image = rasterize(field.splats(0.0), camera.c2w[0, 0], camera.fov_y_deg[0, 0], size, size)
        ((image.rgb - target) ** 2).mean().backward()

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", default=str(ROOT / "benchmarks/results/gaussians.json"))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="tiny sizes (tests)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    counts = [256, 512] if args.quick else [4096, 16384, 65536]
    sizes = [16, 32] if args.quick else [64, 128]
    cases = {(n, sizes[0]): case(n, sizes[0]) for n in counts}
    cases[(counts[1], sizes[1])] = case(counts[1], sizes[1])
    runs = dict(cases)
    for run in runs.values():
        run()  # warm-up
    times: dict[tuple[int, int], list[float]] = {key: [] for key in runs}
    for _ in range(args.repeats):
        for key, run in runs.items():
            start = time.perf_counter()
            run()
            times[key].append(time.perf_counter() - start)
    medians = {key: statistics.median(values) for key, values in times.items()}
    base = medians[(counts[0], sizes[0])]
    result = {
        "what": "rasterize + MSE + backward of a blob-initialised GaussianField, one camera",
        "machine": {
            "platform": platform.platform(),
            "torch": torch.__version__,
            "threads": args.threads,
        },
        "repeats": args.repeats,
        "cases": [
            {
                "count": count,
                "size": size,
                "forward_backward_ms": round(1000 * seconds, 2),
                "ratio_vs_smallest": round(seconds / base, 2),
            }
            for (count, size), seconds in medians.items()
        ],
        "growth": {
            f"with_count_at_{sizes[0]}px": {
                str(n): round(medians[(n, sizes[0])] / base, 2) for n in counts
            },
            f"pixels_x4_at_{counts[1]}": round(
                medians[(counts[1], sizes[1])] / medians[(counts[1], sizes[0])], 2
            ),
        },
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
