"""Benchmark one SDS step of each tiny prior on the CPU: the flow priors beside an ε video prior.

Tiny random models of the real classes (`t2v.priors.tiny_flow`, `t2v.priors.tiny`): Wan 2.1
(`WanVideoPrior`, clips of 5 frames at 16², UMT5 text) and LTX-Video (`LTXVideoPrior`, 9 frames
at 32²) against the zeroscope-class `LatentVideoPrior` (UNet3D + per-frame VAE, 4 frames at
16²), each `sds` + backward to the frames, one clip, one thread. Figures are medians of
`--repeats` steps after `--warmup`; the ratio is against the latent prior's median. Tiny models
measure the code path's overhead (encoding, packing, two branches, the backward through the
VAE), not what real weights cost: that needs a GPU (benchmarks/gpu.py --wan).

Usage: python benchmarks/flow_priors.py [out.json] [--repeats 20] [--warmup 3]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import torch

from t2v.priors import LatentVideoPrior, LTXVideoPrior, WanVideoPrior
from t2v.priors.tiny import save_tiny_text_to_video
from t2v.priors.tiny_flow import save_tiny_ltx, save_tiny_wan
from t2v.text.prompt import PromptEncoder

ROOT = Path(__file__).resolve().parents[1]


def step_ms(prior, frames_shape: tuple[int, ...], repeats: int, warmup: int) -> list[float]:
    cond = PromptEncoder.for_prior(prior).encode("a red ball bouncing")
    generator = torch.Generator().manual_seed(0)
    times = []
    for index in range(warmup + repeats):
        frames = torch.rand(frames_shape, generator=generator).requires_grad_(True)
        start = time.perf_counter()
        prior.sds(frames, cond, step=index, generator=generator).loss.backward()
        if index >= warmup:
            times.append((time.perf_counter() - start) * 1000.0)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", nargs="?", default=str(ROOT / "benchmarks/results/flow_priors.json"))
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        cases = {
            "latent_video (zeroscope-class)": (
                LatentVideoPrior.from_pretrained(
                    str(save_tiny_text_to_video(root / "video")), resolution=(16, 16), device="cpu"
                ),
                (1, 4, 3, 16, 16),
            ),
            "wan": (
                WanVideoPrior.from_pretrained(
                    str(save_tiny_wan(root / "wan")), resolution=(16, 16), device="cpu"
                ),
                (1, 5, 3, 16, 16),
            ),
            "ltx": (
                LTXVideoPrior.from_pretrained(
                    str(save_tiny_ltx(root / "ltx")), resolution=(32, 32), device="cpu"
                ),
                (1, 9, 3, 32, 32),
            ),
        }
        for name, (prior, shape) in cases.items():
            times = step_ms(prior, shape, args.repeats, args.warmup)
            results[name] = {
                "frames": list(shape),
                "median_ms": round(statistics.median(times), 2),
                "min_ms": round(min(times), 2),
                "max_ms": round(max(times), 2),
            }
    base = results["latent_video (zeroscope-class)"]["median_ms"]
    for entry in results.values():
        entry["ratio_to_latent_video"] = round(entry["median_ms"] / base, 2)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    report = {
        "machine": {"platform": platform.platform(), "torch": torch.__version__, "threads": 1},
        "commit": commit,
        "repeats": args.repeats,
        "warmup": args.warmup,
        "priors": results,
    }
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
