"""Attribute evaluator: a video's dominant object colour, screen-space motion and genre look.

Algorithmic, from `t2v.eval.video_features`: the object is segmented by colour, its hue
picks the colour, its centroid and size track pick the motion, and global statistics pick
the genre through a small linear model. Two tables are fitted on procedural clips (hue
centres per genre, the linear genre model) and shipped in `t2v.eval.attribute_tables`;
`python -m t2v.eval.attributes --fit` rebuilds them, `--validate` checks the evaluator
against ground-truth clips it was not fitted on and prints a JSON table.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from t2v.data.clips import single_thread
from t2v.data.looks import GENRES
from t2v.data.vocabulary import COLOURS
from t2v.eval.video_features import (
    GENRE_FEATURES,
    MotionFeatures,
    genre_features,
    hue_degrees,
    motion_features,
    track_object,
)
from t2v.video import read_clip, resize_video

# Approach and recede look like grow and shrink on screen.
SCREEN_MOTION_OF = {"approach": "grow", "recede": "shrink"}

# Decision thresholds, in fractions of the frame (measured on procedural clips: every
# translating clip moves >= 0.2, every other clip < 0.1; see `--validate`).
TRANSLATION = 0.14
BOUNCE_RISE = 0.07
SIZE_CHANGE = 0.15  # |log(end size / start size)|
SPIN = 0.09  # silhouette change + 2 x shading-pattern change per frame
# Below this share of the frame an "object" is a few stray pixels (grain on a black frame),
# not an object: procedural objects cover at least 2% of the frame.
MIN_OBJECT_FRACTION = 0.005

ANALYSIS_SIDE = 64  # pixels; larger videos are shrunk to this before measuring
FIT_SEED = 1000
FIT_SIDES = (32, 32, 64, 128)  # frame sizes the tables are fitted on, in turn
VALIDATION_SEED = 0


# What `classify_motion` can name: a dataset motion as it looks on screen (`screen_motion`).
SCREEN_MOTIONS = ("left", "right", "up", "down", "bounce", "grow", "shrink", "spin", "none")


@dataclass(frozen=True)
class VideoAttributes:
    """What the evaluator reads from one video."""

    colour: str  # a canonical colour, or "none" when no coloured object stands out
    motion: str  # left, right, up, down, bounce, grow, shrink, spin or none
    genre: str
    hue_deg: float
    motion_features: MotionFeatures
    object_fraction: float  # mean share of the frame the object covers (0: none found)


def screen_motion(motion: str) -> str:
    """The on-screen motion a dataset motion label looks like (approach -> grow)."""
    return SCREEN_MOTION_OF.get(motion, motion)


def load_video(source: torch.Tensor | str | Path) -> torch.Tensor:
    """`(T, 3, H, W)` float in [0, 1] from a tensor (a leading batch of 1 is dropped) or a file."""
    if isinstance(source, str | Path):
        return read_clip(source)
    video = source.detach().float().cpu()
    if video.dim() == 5 and video.shape[0] == 1:
        video = video[0]
    if video.dim() != 4 or video.shape[1] != 3:
        raise ValueError(f"expected a video (T, 3, H, W), got shape {tuple(video.shape)}")
    return video.clamp(0.0, 1.0)


def describe(source: torch.Tensor | str | Path) -> VideoAttributes:
    """Colour, motion and genre look of one video (of any size and length)."""
    with single_thread():
        return _describe(analysis_size(load_video(source)))


def analysis_size(video: torch.Tensor) -> torch.Tensor:
    """Shrink so the short side is ANALYSIS_SIDE: the genre model was fitted at that size, and
    the colour and motion measures are in fractions of the frame, so they do not mind."""
    height, width = video.shape[-2:]
    short = min(height, width)
    if short <= ANALYSIS_SIDE:
        return video
    return resize_video(
        video, round(height * ANALYSIS_SIDE / short), round(width * ANALYSIS_SIDE / short)
    )


def _describe(video: torch.Tensor) -> VideoAttributes:
    track = track_object(video)
    motion = motion_features(video, track)
    genre = classify_genre(genre_features(video, track, motion.speed))
    hue = hue_degrees(track.hue_vector)
    found = float(track.mask.mean())
    # A clip with no coloured object (a grey, black or empty sample) names no colour and no
    # motion, rather than whatever hue and drift its noise happens to have.
    seen = found >= MIN_OBJECT_FRACTION
    return VideoAttributes(
        colour=classify_colour(hue, genre) if seen else "none",
        motion=classify_motion(motion) if seen else "none",
        genre=genre,
        hue_deg=hue,
        motion_features=motion,
        object_fraction=found,
    )


def classify_motion(features: MotionFeatures) -> str:
    if max(abs(features.dx), abs(features.dy)) > TRANSLATION:
        if abs(features.dx) >= abs(features.dy):
            return "right" if features.dx > 0 else "left"
        return "up" if features.dy > 0 else "down"
    if features.rise_then_fall > BOUNCE_RISE:
        return "bounce"
    if abs(features.log_size_ratio) > SIZE_CHANGE:
        return "grow" if features.log_size_ratio > 0 else "shrink"
    if features.silhouette_change + 2 * features.pattern_change > SPIN:
        return "spin"
    return "none"


def classify_colour(hue: float, genre: str) -> str:
    """The colour whose hue centre, under this genre's look, is nearest on the hue circle."""
    from t2v.eval.attribute_tables import HUE_CENTRES

    centres = HUE_CENTRES.get(genre) or HUE_CENTRES["none"]
    return min(centres, key=lambda colour: _hue_distance(hue, centres[colour]))


def classify_genre(features: torch.Tensor) -> str:
    from t2v.eval.attribute_tables import GENRE_MODEL

    scores = _genre_scores(features[None], GENRE_MODEL)[0]
    return GENRE_MODEL["genres"][int(scores.argmax())]


def _genre_scores(features: torch.Tensor, model: dict[str, Any]) -> torch.Tensor:
    mean = torch.tensor(model["mean"])
    std = torch.tensor(model["std"])
    weight = torch.tensor(model["weight"])
    bias = torch.tensor(model["bias"])
    return ((features - mean) / std) @ weight.T + bias


def _hue_distance(a: float, b: float) -> float:
    return abs((a - b + 180.0) % 360.0 - 180.0)


def _procedural_clips(count: int, seed: int, frames: int, height: int, width: int):
    from t2v.data.procedural import ProceduralVideoText

    dataset = ProceduralVideoText(
        frames=frames, height=height, width=width, seed=seed, genre_caption_probability=0.0
    )
    return (dataset.item(index) for index in range(count))


def fit_tables(
    count: int = 900, seed: int = FIT_SEED, frames: int = 8, sides: tuple[int, ...] = FIT_SIDES
):
    """Hue centres per genre and colour, and a linear genre model, from procedural clips
    rendered at each of `sides` in turn (and shrunk as `describe` shrinks them)."""
    from t2v.data.procedural import ProceduralVideoText

    datasets = {
        side: ProceduralVideoText(
            frames=frames, height=side, width=side, seed=seed, genre_caption_probability=0.0
        )
        for side in set(sides)
    }
    hues: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    features, labels = [], []
    generator = torch.Generator().manual_seed(seed)
    for index in range(count):
        item = datasets[sides[index % len(sides)]].item(index)
        video = analysis_size(item["video"])
        track = track_object(video)
        hues[item["genre"]][item["colour"]].append(hue_degrees(track.hue_vector))
        # The genre model also sees a degraded copy of every clip, so that it leans on
        # features that survive the blur and noise of generated samples.
        for version in (video, degrade(video, generator)):
            track = track_object(version)
            motion = motion_features(version, track)
            features.append(genre_features(version, track, motion.speed))
            labels.append(GENRES.index(item["genre"]))
    centres = {
        genre: {colour: round(_circular_mean(hues[genre][colour]), 1) for colour in COLOURS}
        for genre in GENRES
    }
    return centres, _fit_linear(torch.stack(features), torch.tensor(labels))


def degrade(video: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One random degradation a generated sample might show: blur, noise, lost resolution."""
    kind = int(torch.randint(0, 4, (1,), generator=generator))
    if kind == 0:
        return F.avg_pool2d(video, 3, stride=1, padding=1, count_include_pad=False)
    if kind == 1:
        sigma = 0.01 + 0.03 * float(torch.rand(1, generator=generator))
        return (video + sigma * torch.randn(video.shape, generator=generator)).clamp(0.0, 1.0)
    if kind == 2:
        size = video.shape[-2:]
        small = F.interpolate(video, scale_factor=0.5, mode="bilinear", antialias=True)
        return F.interpolate(small, size=size, mode="bilinear").clamp(0.0, 1.0)
    grey = video.mean(dim=1, keepdim=True)
    return (grey + 0.8 * (video - grey)).clamp(0.0, 1.0)


def _circular_mean(degrees: list[float]) -> float:
    if not degrees:
        return float("nan")
    sin = sum(math.sin(math.radians(d)) for d in degrees)
    cos = sum(math.cos(math.radians(d)) for d in degrees)
    return math.degrees(math.atan2(sin, cos)) % 360.0


def _fit_linear(features: torch.Tensor, labels: torch.Tensor) -> dict[str, Any]:
    """Multinomial logistic regression on standardised features (L2-regularised, LBFGS)."""
    mean = features.mean(dim=0)
    std = features.std(dim=0).clamp(min=1e-6)
    inputs = (features - mean) / std
    weight = torch.zeros(len(GENRES), inputs.shape[1], requires_grad=True)
    bias = torch.zeros(len(GENRES), requires_grad=True)
    optimiser = torch.optim.LBFGS([weight, bias], max_iter=500, line_search_fn="strong_wolfe")

    def loss_fn() -> torch.Tensor:
        optimiser.zero_grad()
        logits = inputs @ weight.T + bias
        loss = torch.nn.functional.cross_entropy(logits, labels) + 1e-3 * weight.square().sum()
        loss.backward()
        return loss

    optimiser.step(loss_fn)

    def rounded(tensor: torch.Tensor) -> list:
        return torch.round(tensor.detach() * 1e4).div(1e4).tolist()

    return {
        "genres": list(GENRES),
        "features": list(GENRE_FEATURES),
        "mean": rounded(mean),
        "std": rounded(std),
        "weight": rounded(weight),
        "bias": rounded(bias),
    }


def write_tables(path: Path, centres: dict, model: dict[str, Any], command: str) -> None:
    text = (
        '"""Fitted tables of the attribute evaluator (generated; do not edit by hand).\n\n'
        f"Rebuild with: {command}\n"
        '"""\n\n'
        "# Hue (degrees) of each canonical colour under each genre look.\n"
        f"HUE_CENTRES: dict[str, dict[str, float]] = {json.dumps(centres, indent=4)}\n\n"
        "# Multinomial logistic regression over standardised GENRE_FEATURES.\n"
        f"GENRE_MODEL: dict = {json.dumps(model, indent=4)}\n"
    )
    path.write_text(text)


def validate(
    count: int = 200, seed: int = VALIDATION_SEED, size: tuple[int, int, int] = (8, 32, 32)
) -> dict[str, Any]:
    """Accuracy of each attribute on ground-truth procedural clips, with per-genre detail."""
    correct: dict[str, Counter] = {name: Counter() for name in ("colour", "motion", "genre")}
    per_genre: dict[str, Counter] = defaultdict(Counter)
    confusions: Counter = Counter()
    for item in _procedural_clips(count, seed, *size):
        found = describe(item["video"])
        truth = {
            "colour": item["colour"],
            "motion": screen_motion(item["motion"]),
            "genre": item["genre"],
        }
        for name, expected in truth.items():
            got = getattr(found, name)
            correct[name][got == expected] += 1
            per_genre[item["genre"]][f"{name}_ok"] += got == expected
            if got != expected:
                confusions[f"{name}: {expected} -> {got}"] += 1
        per_genre[item["genre"]]["clips"] += 1
    return {
        "clips": count,
        "seed": seed,
        "size": list(size),
        "accuracy": {name: round(c[True] / count, 4) for name, c in correct.items()},
        "per_genre": {
            genre: {
                name: round(stats[f"{name}_ok"] / stats["clips"], 3)
                for name in ("colour", "motion", "genre")
            }
            | {"clips": stats["clips"]}
            for genre, stats in sorted(per_genre.items())
        },
        "confusions": dict(confusions.most_common(12)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m t2v.eval.attributes", description=__doc__)
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--validate", action="store_true", help="accuracy on procedural clips")
    action.add_argument("--fit", action="store_true", help="refit the shipped tables")
    action.add_argument("--video", help="describe one video file (JSON)")
    parser.add_argument("--clips", type=int, default=None, help="clips to use")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--size", type=int, default=32, help="height and width (validation)")
    args = parser.parse_args(argv)
    size = (args.frames, args.size, args.size)
    if args.fit:
        count = args.clips or 900
        seed = FIT_SEED if args.seed is None else args.seed
        with single_thread():
            centres, model = fit_tables(count, seed, args.frames)
        path = Path(__file__).with_name("attribute_tables.py")
        command = f"python -m t2v.eval.attributes --fit --clips {count} --seed {seed}"
        write_tables(path, centres, model, command)
        print(json.dumps({"written": str(path), "clips": count, "seed": seed}))
    elif args.validate:
        seed = VALIDATION_SEED if args.seed is None else args.seed
        print(json.dumps(validate(args.clips or 200, seed, size), indent=2))
    else:
        found = describe(args.video)
        print(json.dumps(asdict(found), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
