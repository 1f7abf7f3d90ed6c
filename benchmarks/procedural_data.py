"""Speed of the procedural dataset and the attribute evaluator (JSON on stdout, or --out).

Medians over repeats, per clip of 8 frames at 32x32 unless told otherwise. The baseline is
the simplest clip worth training on (a flat-shaded disc sliding over a gradient), measured
in the same run, so the ratio says what the 3D look costs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from t2v.data.clips import single_thread
from t2v.data.looks import GENRES
from t2v.data.procedural import ProceduralVideoText
from t2v.eval.attributes import describe


def disc_clip(index: int, frames: int, height: int, width: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(index)
    colour = torch.rand(3, generator=generator)
    ys = torch.linspace(-1, 1, height).view(1, height, 1)
    xs = torch.linspace(-1, 1, width).view(1, 1, width)
    centres = torch.linspace(-0.5, 0.5, frames).view(frames, 1, 1)
    inside = ((xs - centres) ** 2 + ys**2 < 0.1).float()[:, None]
    background = (0.3 + 0.4 * (ys + 1) / 2).expand(frames, 3, height, width)
    return background * (1 - inside) + colour.view(1, 3, 1, 1) * inside


def median_ms(function, repeats: int) -> float:
    times = []
    for index in range(repeats):
        start = time.perf_counter()
        function(index)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=40)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    shape = dict(frames=args.frames, height=args.size, width=args.size)
    dataset = ProceduralVideoText(**shape, seed=0)
    dataset.item(0)  # warm-up

    with single_thread():
        baseline = median_ms(
            lambda i: disc_clip(i, args.frames, args.size, args.size), args.repeats
        )
    clip = median_ms(dataset.item, args.repeats)
    per_genre = {
        genre: round(
            median_ms(ProceduralVideoText(**shape, genres=[genre]).item, args.repeats // 2), 2
        )
        for genre in GENRES
    }
    loader = iter(DataLoader(ProceduralVideoText(**shape, seed=1), batch_size=8))
    batch = median_ms(lambda _: next(loader), max(4, args.repeats // 8))
    videos = [dataset.item(i)["video"] for i in range(args.repeats)]
    evaluate = median_ms(lambda i: describe(videos[i]), args.repeats)
    result = {
        "benchmark": "procedural_data",
        "clip": shape,
        "torch_threads": torch.get_num_threads(),
        "baseline_disc_ms_per_clip": round(baseline, 3),
        "procedural_ms_per_clip": round(clip, 2),
        "ratio_to_baseline": round(clip / baseline, 1),
        "procedural_ms_per_clip_by_genre": per_genre,
        "dataloader_batch_of_8_ms": round(batch, 1),
        "evaluator_ms_per_clip": round(evaluate, 2),
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
