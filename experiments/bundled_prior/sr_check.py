"""SR prior check: PSNR of x2 super-resolution vs bilinear on held-out procedural 64x64 clips.

Usage: python experiments/bundled_prior/sr_check.py [PRIOR_FOLDER] [--clips 4] [--steps 20]
"""

from __future__ import annotations

import argparse
import json

import torch
from torch.nn import functional as F

from t2v.data.procedural import ProceduralVideoText
from t2v.pretrain.prior_folder import load_prior
from t2v.pretrain.sampling import super_resolve
from t2v.text.minilm import MiniLMEncoder


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(10 * torch.log10(1 / F.mse_loss(a, b)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("prior", nargs="?", default="t2v/assets/priors/bundled")
    parser.add_argument("--clips", type=int, default=4)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--noise-level", type=int, default=20)
    args = parser.parse_args()
    torch.set_num_threads(1)
    prior = load_prior(args.prior)
    data = ProceduralVideoText(frames=8, height=64, width=64, seed=777, split="heldout")
    items = [data.item(index) for index in range(args.clips)]
    high = torch.stack([item["video"] for item in items])
    low = F.avg_pool2d(high.flatten(0, 1), 2).view(args.clips, 8, 3, 32, 32)
    upsampled = super_resolve(
        prior,
        low,
        [item["caption"] for item in items],
        [item["genre"] for item in items],
        steps=args.steps,
        guidance=1.0,
        noise_level=args.noise_level,
        text_encoder=MiniLMEncoder().encode,
    )
    bilinear = F.interpolate(low.flatten(0, 1), scale_factor=2, mode="bilinear")
    bilinear = bilinear.view_as(high).clamp(0, 1)
    result = {
        "clips": args.clips,
        "steps": args.steps,
        "noise_level": args.noise_level,
        "sr_psnr_db": round(psnr(upsampled, high), 2),
        "bilinear_psnr_db": round(psnr(bilinear, high), 2),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
