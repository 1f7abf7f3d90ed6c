"""Held-out quality check of a prior: sample captions in unseen words, read the samples back.

Prompts come from `ProceduralVideoText(split="heldout")` (colour synonyms, motion verbs and
templates the training captions never use); the attribute evaluator (`t2v.eval.attributes`)
reads colour, screen motion and genre look from each sample and compares with the truth.
`python -m t2v.pretrain.quality PRIOR --count 32 --guidance 1.5 2.5` prints a JSON table.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import torch

from t2v.data.vocabulary import SPLITS
from t2v.pretrain.prior_folder import PriorModels, load_prior
from t2v.pretrain.sampling import sample_video
from t2v.pretrain.text_cache import Encode

TRANSLATIONS = ("left", "right", "up", "down")


def heldout_prompts(
    count: int, seed: int, genres: list[str], split: str = "heldout"
) -> list[dict[str, str]]:
    """`count` captions of `split` with their true colour, motion and genre (nothing rendered)."""
    from t2v.data.procedural import ProceduralVideoText
    from t2v.models import UNCONDITIONAL_GENRE

    looks = [genre for genre in genres if genre != UNCONDITIONAL_GENRE]  # a slot, not a look
    dataset = ProceduralVideoText(split=split, seed=seed, genres=looks)
    prompts = []
    for index in range(count):
        spec, caption = dataset.spec(index)
        prompts.append(
            {"caption": caption, "genre": spec.genre, "colour": spec.colour, "motion": spec.motion}
        )
    return prompts


def judge(videos: torch.Tensor, prompts: list[dict[str, str]]) -> list[dict[str, Any]]:
    """Per-sample evaluator readings next to the truth."""
    from t2v.eval.attributes import describe, screen_motion

    rows = []
    for video, prompt in zip(videos, prompts, strict=True):
        seen = describe(video)
        rows.append(
            {
                **prompt,
                "seen_colour": seen.colour,
                "seen_motion": seen.motion,
                "seen_genre": seen.genre,
                "colour_ok": seen.colour == prompt["colour"],
                "motion_ok": seen.motion == screen_motion(prompt["motion"]),
                "genre_ok": seen.genre == prompt["genre"],
            }
        )
    return rows


def summarise(rows: list[dict[str, Any]]) -> dict[str, float]:
    def rate(selected: list[dict[str, Any]], key: str) -> float:
        return sum(row[key] for row in selected) / len(selected) if selected else float("nan")

    directional = [row for row in rows if row["motion"] in TRANSLATIONS]
    return {
        "samples": len(rows),
        "colour": rate(rows, "colour_ok"),
        "motion": rate(rows, "motion_ok"),
        "direction": rate(directional, "motion_ok"),
        "direction_samples": len(directional),
        "genre": rate(rows, "genre_ok"),
    }


def evaluate_prior(
    prior: str | Path | PriorModels,
    count: int = 32,
    guidance: float = 2.0,
    steps: int = 25,
    seed: int = 0,
    batch: int = 16,
    text_encoder: Encode | None = None,
    split: str = "heldout",
) -> tuple[dict[str, float], list[dict[str, Any]], torch.Tensor]:
    """Summary, per-sample rows and the sampled frames `(N,T,3,H,W)` for held-out prompts."""
    models = prior if isinstance(prior, PriorModels) else load_prior(prior)
    genres = [g for g in models.unet.config.genres]
    prompts = heldout_prompts(count, seed, genres, split)
    text_encoder = text_encoder or models.encoder()
    chunks = []
    for start in range(0, count, batch):
        part = prompts[start : start + batch]
        chunks.append(
            sample_video(
                models,
                [p["caption"] for p in part],
                [p["genre"] for p in part],
                steps=steps,
                guidance=guidance,
                seed=seed + start,
                text_encoder=text_encoder,
            )
        )
    videos = torch.cat(chunks)
    rows = judge(videos, prompts)
    return summarise(rows), rows, videos


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("prior", help="prior folder (t2v_prior.json, unet/, scheduler/, ...)")
    parser.add_argument("--count", type=int, default=32)
    parser.add_argument("--guidance", type=float, nargs="+", default=[2.0])
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--split", default="heldout", choices=SPLITS, help="caption words")
    parser.add_argument("--out", type=Path, default=None, help="folder for JSON and strip PNGs")
    args = parser.parse_args(argv)
    torch.set_num_threads(min(2, torch.get_num_threads()))
    models = load_prior(args.prior)
    encode = models.encoder()
    results = {}
    for guidance in args.guidance:
        summary, rows, videos = evaluate_prior(
            models,
            args.count,
            guidance,
            args.steps,
            args.seed,
            text_encoder=encode,
            split=args.split,
        )
        results[str(guidance)] = {"summary": summary, "rows": rows}
        print(json.dumps({"split": args.split, "guidance": guidance, **summary}), flush=True)
        if args.out is not None:
            write_strips(videos[:8], args.out / f"samples_{args.split}_g{guidance}.png")
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / f"quality_{args.split}.json").write_text(json.dumps(results, indent=1) + "\n")
    return 0


def write_strips(videos: torch.Tensor, path: Path) -> None:
    """One row per clip, frames left to right, upscaled x2 (nearest) for viewing."""
    import imageio.v3 as iio

    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [torch.cat(list(video), dim=-1) for video in videos]  # (3, H, T*W)
    grid = torch.cat(rows, dim=-2)
    grid = grid.repeat_interleave(2, dim=-1).repeat_interleave(2, dim=-2)
    iio.imwrite(path, (grid.permute(1, 2, 0).clamp(0, 1) * 255).byte().numpy())


if __name__ == "__main__":
    sys.exit(main())
