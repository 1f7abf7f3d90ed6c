"""Does a video prior read the motion direction from its caption? Two measurements, no sampling.

1. Text pathway: nearest-centroid accuracy of direction (left/right/up/down) over the text
   pathway's output for captions that differ only in direction, against MiniLM's own vector.
2. Denoiser: the (foreground-weighted) denoising loss on clips moving left/right/up/down, with
   their true caption, with the caption's direction swapped, and with the empty caption, at
   several noise levels. A prior that uses direction has a lower loss with the true caption.

    python experiments/bundled_prior/direction_probe.py runs/bundled_v6/video/checkpoints/last.ckpt
    python experiments/bundled_prior/direction_probe.py t2v/assets/priors/bundled --output out.json

A checkpoint gives its EMA model (`--raw` for the trained weights); a folder, the exported prior.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

import torch
from diffusers import DDPMScheduler

from t2v.data.procedural import ProceduralVideoText
from t2v.data.vocabulary import COLOURS, SHAPES, make_caption
from t2v.models import PixelVideoUNet
from t2v.pretrain.modules import to_model_space
from t2v.text.minilm import MiniLMEncoder

DIRECTIONS = ("left", "right", "up", "down")
OPPOSITE = {"left": "right", "right": "left", "up": "down", "down": "up"}


def load_unet(path: Path, raw: bool) -> tuple[PixelVideoUNet, DDPMScheduler]:
    if path.is_dir():
        from t2v.pretrain.prior_folder import load_prior

        models = load_prior(path)
        return models.unet.eval(), models.scheduler
    from t2v.pretrain.train import module_from_checkpoint

    module = module_from_checkpoint(path, "video")
    return (module.model if raw else module.ema_model).eval(), module.noise_scheduler


def centroid_accuracy(train: torch.Tensor, train_labels, test: torch.Tensor, test_labels) -> float:
    centroids = torch.stack([train[train_labels == k].mean(0) for k in range(len(DIRECTIONS))])
    return float((torch.cdist(test, centroids).argmin(1) == test_labels).float().mean())


def direction_captions(split: str, count: int, seed: int) -> tuple[list[str], torch.Tensor]:
    rng = random.Random(seed)
    labels = [rng.randrange(len(DIRECTIONS)) for _ in range(count)]
    captions = [
        make_caption(rng.choice(COLOURS), rng.choice(SHAPES), DIRECTIONS[k], split, rng)
        for k in labels
    ]
    return captions, torch.tensor(labels)


@torch.no_grad()
def text_pathway(unet: PixelVideoUNet, minilm: MiniLMEncoder) -> dict[str, float]:
    train, train_labels = direction_captions("train", 400, 0)
    test, test_labels = direction_captions("heldout_phrasing", 200, 1)
    model_input = minilm.encoder_for(unet.reads_tokens)
    vectors = {
        "minilm": (minilm.encode(train), minilm.encode(test)),
        "text_pathway": tuple(
            unet.embedding.text_features(model_input(captions)) for captions in (train, test)
        ),
    }
    return {
        name: centroid_accuracy(a, train_labels, b, test_labels) for name, (a, b) in vectors.items()
    }


@torch.no_grad()
def denoising_gap(unet, scheduler, encode, clips: int, foreground_weight: float) -> list[dict]:
    dataset = ProceduralVideoText(seed=123, motions=list(DIRECTIONS), genres=["none"])
    items = [dataset.item(index) for index in range(clips)]
    clean = to_model_space(torch.stack([item["video"] for item in items]))
    weights = 1 + foreground_weight * torch.stack([item["mask"] for item in items]).transpose(1, 2)

    def captions(motion_of) -> torch.Tensor:
        return encode(
            [
                make_caption(it["colour"], it["shape"], motion_of(it), "train", random.Random(i))
                for i, it in enumerate(items)
            ]
        )

    texts = {
        "true": captions(lambda it: it["motion"]),
        "swapped": captions(lambda it: OPPOSITE[it["motion"]]),
        "empty": encode([""] * clips),
    }
    genres = torch.zeros(clips, dtype=torch.long)
    generator = torch.Generator().manual_seed(0)
    rows = []
    for step in (200, 400, 600, 800, 950):
        noise = torch.randn(clean.shape, generator=generator)
        timesteps = torch.full((clips,), step)
        noisy = scheduler.add_noise(clean, noise, timesteps)
        target = scheduler.get_velocity(clean, noise, timesteps)
        row = {"timestep": step}
        for name, text in texts.items():
            error = (unet(noisy, timesteps, text, genres) - target).square() * weights
            row[name] = float(error.sum() / weights.expand_as(error).sum())
        row["swapped_over_true"] = row["swapped"] / row["true"]
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("prior", type=Path, help="a video-stage checkpoint or a prior folder")
    parser.add_argument("--raw", action="store_true", help="checkpoint: trained, not EMA weights")
    parser.add_argument("--clips", type=int, default=32)
    parser.add_argument("--foreground-weight", type=float, default=3.0)
    parser.add_argument("--output", type=Path)
    args = parser.parse_args(argv)
    if not args.prior.exists():
        parser.error(f"{args.prior} does not exist")
    torch.set_num_threads(2)
    unet, scheduler = load_unet(args.prior, args.raw)
    minilm = MiniLMEncoder()
    encode = minilm.encoder_for(unet.reads_tokens)
    result = {
        "prior": str(args.prior),
        "direction_centroid_accuracy": text_pathway(unet, minilm),
        "denoising_loss": denoising_gap(
            unet, scheduler, encode, args.clips, args.foreground_weight
        ),
    }
    text = json.dumps(result, indent=1)
    print(text)
    if args.output:
        args.output.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
