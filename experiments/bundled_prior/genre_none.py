"""How often the prior's samples of genre `none` read as `none` (and their colour and motion).

    python experiments/bundled_prior/genre_none.py PRIOR_DIR [PRIOR_DIR ...] [--count 24]

For each prior folder: the first `count` captions of `ProceduralVideoText(split, genres=[none],
seed=0)` for each split, DDIM 25 steps at guidance 2, seed 0, read by `t2v.eval.attributes`.
Writes genre_none.json next to this file (one entry per folder and split).
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

import torch

from t2v.data.procedural import ProceduralVideoText
from t2v.eval.attributes import describe, screen_motion
from t2v.pretrain.prior_folder import load_prior
from t2v.pretrain.sampling import sample_video

HERE = Path(__file__).parent


def evaluate(folder: str, split: str, count: int) -> dict[str, object]:
    dataset = ProceduralVideoText(split=split, genres=["none"], seed=0)
    specs = [dataset.spec(index) for index in range(count)]
    captions = [caption for _, caption in specs]
    videos = sample_video(load_prior(folder), captions, ["none"] * count, guidance=2.0, seed=0)
    seen = [describe(video) for video in videos]
    return {
        "prior": folder,
        "split": split,
        "prompts": count,
        "look_none": sum(s.genre == "none" for s in seen),
        "looks": dict(Counter(s.genre for s in seen)),
        "colour": sum(s.colour == spec.colour for s, (spec, _) in zip(seen, specs, strict=True)),
        "motion": sum(
            s.motion == screen_motion(spec.motion) for s, (spec, _) in zip(seen, specs, strict=True)
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("priors", nargs="+")
    parser.add_argument("--count", type=int, default=24)
    args = parser.parse_args()
    torch.set_num_threads(2)
    results = []
    for folder in args.priors:
        for split in ("heldout_phrasing", "heldout", "train"):
            results.append(evaluate(folder, split, args.count))
            print(json.dumps(results[-1]), flush=True)
    (HERE / "genre_none.json").write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
