"""Benchmark the CPU Gaussian rasterizer: forward+backward against count and image size.

Writes JSON (default benchmarks/results/gaussians.json) and prints it. Each case rasterizes the
splats of a blob-initialised `GaussianField` (Gaussians sized to their spacing in the ball, as
`field=gaussians` starts) through one front camera at distance 3, or 8 cameras in one call (a
clip of the dynamic and SR stages), and back-propagates an MSE into every splat parameter;
figures are medians of `--repeats` runs, alternated between the cases so that a change in
machine load hits them alike. Growth ratios compare each case to the smallest.

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
from t2v.field.splats import Splats
from t2v.render import Cameras
from t2v.render.splatting import rasterize_views

ROOT = Path(__file__).resolve().parents[1]
FIELDS = ("means", "scales", "rotations", "opacities", "colours")
CLIP = 8  # the dynamic and SR stages render 8 frames of a clip


def case(count: int, size: int, views: int = 1):
    torch.manual_seed(0)
    field = GaussianField(count=count, deformation=PlaneSpec(features=2, resolutions=(8,)))
    field.static_only = True
    # `views` cameras around the front at distance 3, all in one rasterize_views call.
    angles = torch.linspace(-0.3, 0.3, views)
    eyes = torch.stack((3 * angles.sin(), torch.full_like(angles, 0.3), 3 * angles.cos()), -1)
    camera = Cameras.look_at(eyes[None], torch.zeros(1, views, 3), 40.0, size, size)
    view = torch.arange(views).repeat_interleave(count)
    target = torch.full((views, size, size, 3), 0.5)

    def run() -> None:
        field.zero_grad(set_to_none=True)
        splats = field.splats(0.0)
        tiled = Splats(*(torch.cat([getattr(splats, name)] * views) for name in FIELDS))
        image = rasterize_views(tiled, view, camera.c2w[0], camera.fov_y_deg[0], size, size)
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
    cases = {(n, sizes[0], 1): case(n, sizes[0]) for n in counts}
    cases[(counts[1], sizes[1], 1)] = case(counts[1], sizes[1])
    # The default job's clips: 8 frames of 2048 Gaussians at 32 px (dynamic) and 64 px (SR).
    clip_count = counts[0] if args.quick else 2048
    for size in (16, 32) if args.quick else (32, 64):
        cases[(clip_count, size, CLIP)] = case(clip_count, size, CLIP)
    runs = dict(cases)
    for run in runs.values():
        run()  # warm-up
    times: dict[tuple[int, int, int], list[float]] = {key: [] for key in runs}
    for _ in range(args.repeats):
        for key, run in runs.items():
            start = time.perf_counter()
            run()
            times[key].append(time.perf_counter() - start)
    medians = {key: statistics.median(values) for key, values in times.items()}
    base = medians[(counts[0], sizes[0], 1)]
    result = {
        "what": "rasterize_views + MSE + backward of a blob-initialised GaussianField",
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
                "views": views,
                "forward_backward_ms": round(1000 * seconds, 2),
                "ratio_vs_smallest": round(seconds / base, 2),
            }
            for (count, size, views), seconds in medians.items()
        ],
        "growth": {
            f"with_count_at_{sizes[0]}px": {
                str(n): round(medians[(n, sizes[0], 1)] / base, 2) for n in counts
            },
            f"pixels_x4_at_{counts[1]}": round(
                medians[(counts[1], sizes[1], 1)] / medians[(counts[1], sizes[0], 1)], 2
            ),
        },
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
