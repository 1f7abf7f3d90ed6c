"""Measure which guidance scale keeps a video prior's SDS on the asked colour and motion.

DESIGN.md: a small prior tolerates less guidance than a hub model, so measure rather than
borrow DreamFusion's 100. For each scale, free-parameter clips (a low-res grid upsampled to the
prior's size, as DESIGN's SDS experiment did) are optimised by SDS alone from each prompt; the
attribute evaluator (`t2v.eval.attributes`) reads their colour and motion. Prints JSON:

    python -m t2v.priors.calibrate --prior pkg://t2v/assets/priors/bundled \\
        --scales 1.5 3 5 7.5 --iterations 100 --out guidance.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from t2v.priors.base import VideoPrior
from t2v.priors.video import PixelVideoPrior
from t2v.text.prompt import PromptEncoder

# (prompt, colour, screen motion): DESIGN's colour x direction pairs.
DEFAULT_PROMPTS: tuple[tuple[str, str, str], ...] = (
    ("a red ball moving to the left", "red", "left"),
    ("a yellow ball moving up", "yellow", "up"),
    ("a green ball moving to the right", "green", "right"),
    ("a blue ball moving down", "blue", "down"),
    ("a purple ball moving to the right", "purple", "right"),
    ("an orange ball moving down", "orange", "down"),
    ("a cyan ball moving to the left", "cyan", "left"),
    ("a pink ball moving up", "pink", "up"),
)


def distil_clip(
    prior: VideoPrior,
    cond: Any,
    frames: int,
    size: tuple[int, int],
    iterations: int,
    lr: float = 0.05,
    grid_scale: float = 0.5,
    seed: int = 0,
) -> tuple[torch.Tensor, int]:
    """A clip `(T, 3, H, W)` optimised from grey by SDS alone; also the count of skipped steps."""
    generator = torch.Generator().manual_seed(seed)
    grid = (max(1, round(size[0] * grid_scale)), max(1, round(size[1] * grid_scale)))
    logits = 0.1 * torch.randn((frames, 3, *grid), generator=generator)
    logits.requires_grad_(True)
    optimiser = torch.optim.Adam([logits], lr=lr)
    skipped = 0
    for step in range(iterations):
        clip = F.interpolate(torch.sigmoid(logits), size=size, mode="bilinear")
        output = prior.sds(clip.unsqueeze(0), cond, step=step, generator=generator)
        skipped += int(output.logs["sds/nonfinite"])
        optimiser.zero_grad()
        output.loss.backward()
        optimiser.step()
    with torch.no_grad():
        return F.interpolate(torch.sigmoid(logits), size=size, mode="bilinear"), skipped


def calibrate(
    prior: PixelVideoPrior,
    scales: Sequence[float],
    prompts: Sequence[tuple[str, str, str]] = DEFAULT_PROMPTS,
    iterations: int = 100,
    lr: float = 0.05,
    cache_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Colour and motion accuracy of SDS-distilled clips per guidance scale."""
    from t2v.eval.attributes import describe, screen_motion

    encoder = PromptEncoder.for_prior(prior, cache_dir=cache_dir, device=prior.device)
    conditions = [encoder.encode(prompt) for prompt, _, _ in prompts]
    size = prior.resolution or (32, 32)
    base = prior.config
    results: dict[str, Any] = {}
    try:
        for scale in scales:
            prior.config = replace(base, guidance_scale=float(scale))
            start = time.perf_counter()
            rows = []
            for index, ((prompt, colour, motion), cond) in enumerate(
                zip(prompts, conditions, strict=True)
            ):
                clip, skipped = distil_clip(
                    prior, cond, prior.frames, size, iterations, lr=lr, seed=index
                )
                seen = describe(clip)
                rows.append(
                    {
                        "prompt": prompt,
                        "colour": seen.colour,
                        "motion": seen.motion,
                        "colour_ok": seen.colour == colour,
                        "motion_ok": seen.motion == screen_motion(motion),
                        "skipped_steps": skipped,
                    }
                )
            results[str(scale)] = {
                "colour_accuracy": sum(r["colour_ok"] for r in rows) / len(rows),
                "motion_accuracy": sum(r["motion_ok"] for r in rows) / len(rows),
                "seconds": time.perf_counter() - start,
                "clips": rows,
            }
    finally:
        prior.config = base
    return {"iterations": iterations, "lr": lr, "scales": results}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prior", default="pkg://t2v/assets/priors/bundled")
    parser.add_argument("--scales", type=float, nargs="+", default=[1.5, 3.0, 5.0, 7.5])
    parser.add_argument("--iterations", type=int, default=100)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    prior = PixelVideoPrior.from_folder(args.prior, device="cpu")
    report = {"prior": args.prior, **calibrate(prior, args.scales, iterations=args.iterations)}
    text = json.dumps(report, indent=2)
    if args.out is not None:
        args.out.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
