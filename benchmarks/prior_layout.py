"""Benchmark the bundled priors' forward pass, 2D-convolution weights contiguous or channels_last.

One classifier-free-guidance call of each network as SDS makes it (conditional and
unconditional clips in one batch): the video UNet on 8 frames at 32x32 and the SR UNet on 8
frames at 64x64. Alternates the two layouts `--repeats` times and reports medians and ratios.
Writes JSON (default benchmarks/results/prior_layout.json) and prints it.

Usage: python benchmarks/prior_layout.py [--out F.json] [--repeats 9] [--threads N]
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import statistics
import time
from pathlib import Path

import torch

from t2v.models import PixelSRUNet, PixelVideoUNet
from t2v.priors.loading import channels_last, freeze

BUNDLED = Path(__file__).resolve().parents[1] / "t2v" / "assets" / "priors" / "bundled"


def calls() -> dict[str, tuple[torch.nn.Module, tuple]]:
    """Each network with the arguments of one guided SDS call (batch 2: cond, uncond)."""
    torch.manual_seed(0)
    video = freeze(PixelVideoUNet.from_pretrained(BUNDLED / "unet"))
    sr = freeze(PixelSRUNet.from_pretrained(BUNDLED / "sr_unet"))
    timestep, genres = torch.tensor([500, 500]), torch.tensor([3, 0])
    tokens = torch.randn(2, 64, video.config.text_dim)
    return {
        "video_unet_8x32x32": (video, (torch.randn(2, 3, 8, 32, 32), timestep, tokens, genres)),
        "sr_unet_8x64x64": (
            sr,
            (
                torch.randn(2, 3, 8, 64, 64),
                timestep,
                torch.randn(2, 3, 8, 32, 32),
                20,
                torch.randn(2, sr.config.text_dim),
                genres,
            ),
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="benchmarks/results/prior_layout.json")
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    results = {}
    for name, (network, inputs) in calls().items():
        layouts = {"contiguous": network, "channels_last": channels_last(copy.deepcopy(network))}
        seconds: dict[str, list[float]] = {layout: [] for layout in layouts}
        with torch.no_grad():
            for module in layouts.values():
                module(*inputs)  # warm-up: first-call allocations
            for _ in range(args.repeats):
                for layout, module in layouts.items():
                    began = time.perf_counter()
                    module(*inputs)
                    seconds[layout].append(time.perf_counter() - began)
        medians = {layout: statistics.median(values) * 1e3 for layout, values in seconds.items()}
        results[name] = {
            "contiguous_ms": round(medians["contiguous"], 1),
            "channels_last_ms": round(medians["channels_last"], 1),
            "speedup": round(medians["contiguous"] / medians["channels_last"], 3),
        }
    report = {
        "what": "one guided forward call of each bundled network, 2D conv weights' layout",
        "machine": {
            "platform": platform.platform(),
            "torch": torch.__version__,
            "threads": args.threads,
            "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        },
        "repeats": args.repeats,
        "networks": results,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
