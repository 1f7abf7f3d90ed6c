"""Why the generator's motion head reads token states and names a motion class.

Offline, in a few minutes on one core, no rendering. Trains small readers of the motion on the
256 training captions of the recipe (their reference clips from a pre-training run dir) and
judges them on held-out captions: `heldout_phrasing` (new verbs and templates) and unseen
colour x motion x genre combinations in training words.

1. Classifiers of the caption's motion: a linear read of the standardised sentence vector,
   against attention pooling over the token states (`TokenAttentionPool`) plus a linear layer.
2. Motion heads as the generator has them (`TokenMotion`, 4 queries), trained with the track
   term (the predicted trajectory through the genre's front camera against the object's track
   in the reference clip): regressing the knots directly, against naming a motion (the
   evaluator's read of the clip, cross-entropy) and taking that motion's learned path. A
   head's trajectory is read like a clip: `classify_motion` of its screen track (spin and none
   pooled: a trajectory cannot show spin).

Usage: python experiments/scene_generator/motion_head.py RUN_DIR [--seed 0]
(RUN_DIR holds the recipe's references.pt.)
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from torch.nn import functional as F

from t2v.eval.attributes import SCREEN_MOTIONS, classify_motion, describe, screen_motion
from t2v.eval.video_features import MotionFeatures
from t2v.field.components.knots import hat_weights
from t2v.generator import read_manifest, resolve_folder
from t2v.generator.model import TokenMotion
from t2v.generator.shipped import SHIPPED
from t2v.models.blocks import TokenAttentionPool, sentence_vector
from t2v.pretrain.generator_config import genre_preset
from t2v.pretrain.scene_generator import object_tracks, screen_track
from t2v.pretrain.scene_prompts import heldout_prompts, training_prompts
from t2v.render import genre_trajectory_cameras
from t2v.text.minilm import MiniLMEncoder

# The recipe's genres, as the shipped generator records them.
GENRES = tuple(read_manifest(resolve_folder(SHIPPED))["genres"])
KNOTS, FRAMES, STEPS, BATCH = 6, 8, 1500, 16


def read_track(track: torch.Tensor) -> str:
    """The evaluator's motion name for a screen track `(T, 3)`, spin pooled with none."""
    x, up, size = track.unbind(dim=-1)
    first, last = slice(0, 2), slice(-2, None)
    start, end = up[first].mean(), up[last].mean()
    features = MotionFeatures(
        dx=float(x[last].mean() - x[first].mean()),
        dy=float(end - start),
        vertical_range=float(up.max() - up.min()),
        rise_then_fall=float(up.max() - torch.maximum(start, end)),
        log_size_ratio=float(size[last].mean() - size[first].mean()),
        silhouette_change=0.0,
        pattern_change=0.0,
        speed=0.0,
    )
    motion = classify_motion(features)
    return "none" if motion == "spin" else motion


def still(motion: str) -> str:
    return "none" if motion == "spin" else motion


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    stored = torch.load(args.run_dir / "references.pt", weights_only=True)
    train = training_prompts(256, GENRES, 7, 0)
    assert [prompt.caption for prompt in train] == stored["captions"], "not this recipe's run"
    tracks = object_tracks(stored["clips"])
    reads = torch.tensor([SCREEN_MOTIONS.index(describe(clip).motion) for clip in stored["clips"]])
    labels = torch.tensor([SCREEN_MOTIONS.index(screen_motion(p.motion)) for p in train])
    judged = {
        "heldout_phrasing": heldout_prompts(300, GENRES, 7, 11, "heldout_phrasing"),
        "unseen_combination": heldout_prompts(300, GENRES, 7, 12, "train"),
    }
    encoder = MiniLMEncoder()
    tokens = encoder.encode_tokens([prompt.caption for prompt in train])
    judged_tokens = {k: encoder.encode_tokens([p.caption for p in v]) for k, v in judged.items()}
    genre_ids = {k: torch.tensor([GENRES.index(p.genre) for p in v]) for k, v in judged.items()}
    train_genres = torch.tensor([GENRES.index(p.genre) for p in train])
    cameras = {
        genre: genre_trajectory_cameras(genre_preset(genre).camera, FRAMES, 64, 64, "static")
        for genre in GENRES
    }
    hats = hat_weights(torch.linspace(0, 1, FRAMES)[:, None], KNOTS)

    def screen(raw: torch.Tensor, prompts: list) -> torch.Tensor:
        knots = (0.8 * torch.tanh(raw)).view(-1, KNOTS, 3)
        return torch.stack(
            [screen_track(cameras[p.genre], hats @ k) for k, p in zip(knots, prompts, strict=True)]
        )

    result: dict[str, dict[str, float]] = {
        "reference_clips_read_as_labelled": {"train": float((reads == labels).float().mean())}
    }

    # 1. classifiers of the motion word
    mean, spread = sentence_vector(tokens).mean(0), sentence_vector(tokens).std(0)
    readers = {
        "classifier_sentence_linear": (
            torch.nn.Linear(384, len(SCREEN_MOTIONS)),
            lambda m, t: m((sentence_vector(t) - mean) / spread),
        ),
        "classifier_token_attention": (
            torch.nn.ModuleList(
                [TokenAttentionPool(384, 4), torch.nn.Linear(4 * 384, len(SCREEN_MOTIONS))]
            ),
            lambda m, t: m[1](m[0](t)),
        ),
    }
    for name, (model, forward) in readers.items():
        optimiser = torch.optim.Adam(model.parameters(), 3e-3, weight_decay=1e-4)
        for _ in range(600):
            loss = F.cross_entropy(forward(model, tokens), labels)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        with torch.no_grad():
            result[name] = {
                k: float(
                    sum(
                        SCREEN_MOTIONS[int(i)] == screen_motion(p.motion)
                        for i, p in zip(forward(model, judged_tokens[k]).argmax(1), v, strict=True)
                    )
                    / len(v)
                )
                for k, v in judged.items()
            }

    # 2. motion heads trained with the track term
    for name in ("head_regresses_knots", "head_names_a_motion"):
        classes = name == "head_names_a_motion"
        head = TokenMotion(384, len(GENRES), 16, 256, 4, len(SCREEN_MOTIONS) if classes else 18)
        paths = torch.nn.Parameter(torch.zeros(len(SCREEN_MOTIONS), 18))
        if classes:
            torch.nn.init.normal_(head.mlp[-1].weight, std=0.01)
        optimiser = torch.optim.Adam([*head.parameters(), paths], 1e-3)
        draw = torch.Generator().manual_seed(args.seed)
        for _ in range(STEPS):
            index = torch.randint(len(train), (BATCH,), generator=draw)
            out = head(tokens[index], train_genres[index])
            raw = out.softmax(1) @ paths if classes else out
            predicted = screen(raw, [train[i] for i in index])
            loss = ((predicted - tracks[index]) ** 2).sum(-1).mean()
            if classes:
                loss = loss + F.cross_entropy(out, reads[index]) / 3000.0
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        with torch.no_grad():
            scores = {}
            for key, prompts in judged.items():
                out = head(judged_tokens[key], genre_ids[key])
                if classes:  # the most likely motion's path, as `field_for` takes it
                    out = F.one_hot(out.argmax(1), len(SCREEN_MOTIONS)).float() @ paths
                moved = screen(out, prompts)
                right = [
                    read_track(t) == still(screen_motion(p.motion))
                    for t, p in zip(moved, prompts, strict=True)
                ]
                scores[key] = sum(right) / len(right)
            result[name] = scores
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
