"""Give a prior's dropped genre a slot of its own, then learn the look of `none` in its new row.

A prior whose classifier-free dropout drops the genre to id 0, where `none` also sits, learns
`none` from its own clips and from every other genre's dropped ones: a blend of every look
(measured in experiments/bundled_prior). Retraining from scratch fixes it on a GPU; this fixes
a trained prior on a CPU in minutes, the way textual inversion teaches a frozen model one new
token:

1. `with_unconditional_slot`: the genre table gets a row 0 named "" (a copy of the old row 0,
   so the unconditional branch of classifier-free guidance is what it was) and every genre moves
   one id up; `none` starts as the old row 0. Done to the video and the SR UNet (they share
   the folder's genre list).
2. `learn_genre_row`: the video UNet frozen, only `none`'s row trains, with the pre-training
   denoising loss on procedural clips of that genre. Every other genre's and the unconditional
   branch's outputs stay exactly what they were.

    python -m t2v.pretrain.genre_slot PRIOR_DIR --out DIR [--steps 400] [--batch-size 8]
"""

from __future__ import annotations

import argparse
import sys
from itertools import islice
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import default_collate

from t2v.data.procedural import ProceduralVideoText
from t2v.errors import ConfigError
from t2v.models import UNCONDITIONAL_GENRE, PixelSRUNet, PixelVideoUNet
from t2v.pretrain.modules import VideoPriorModule
from t2v.pretrain.prior_folder import (
    PRIOR_FILE,
    PriorModels,
    init_arguments,
    load_prior,
    save_prior,
)
from t2v.pretrain.text_cache import Encode


def with_unconditional_slot(
    model: PixelVideoUNet | PixelSRUNet,
) -> PixelVideoUNet | PixelSRUNet:
    """The same model with a genre row 0 of its own for dropped genres (see the module doc)."""
    genres = tuple(model.config.genres)
    if genres[0] == UNCONDITIONAL_GENRE:
        raise ConfigError("this prior already has an unconditional genre slot")
    # No bookkeeping keys: diffusers' `_use_default_values` would restore the default genres.
    grown = type(model).from_config(
        {**init_arguments(model.config), "genres": (UNCONDITIONAL_GENRE, *genres)}
    )
    state = model.state_dict()
    key = "embedding.genre_embedding.weight"
    state[key] = torch.cat([state[key][:1], state[key]])
    grown.load_state_dict(state)
    return grown.eval()


def procedural_batches(genre: str, frames: int, size: int, batch_size: int, seed: int) -> Any:
    """Endless batches of procedural clips of one genre, as the pre-training modules read them."""
    items = iter(
        ProceduralVideoText(frames=frames, height=size, width=size, seed=seed, genres=[genre])
    )
    while True:
        yield default_collate(list(islice(items, batch_size)))


def learn_genre_row(
    unet: PixelVideoUNet,
    scheduler_config: dict[str, Any],
    genre: str = "none",
    *,
    steps: int = 400,
    batch_size: int = 8,
    lr: float = 0.01,
    foreground_weight: float = 10.0,
    seed: int = 0,
    text_encoder: Encode | None = None,
    log_every: int = 50,
) -> list[float]:
    """Train `genre`'s embedding row of `unet` in place, all else frozen; returns the losses."""
    genres = list(unet.config.genres)
    if genres[0] != UNCONDITIONAL_GENRE or genre not in genres[1:]:
        raise ConfigError(f"'{genre}' needs its own row beside an unconditional slot: {genres}")
    row = genres.index(genre)
    module = VideoPriorModule(
        model_config=init_arguments(unet.config),
        scheduler_config=init_arguments(scheduler_config),
        text_dropout=0.1,
        genre_dropout=0.0,  # row 0 is frozen: a dropped genre would teach nothing
        foreground_weight=foreground_weight,
        text_encoder=text_encoder,
    )
    module.model = unet.requires_grad_(False)
    table = unet.embedding.genre_embedding.weight
    table.requires_grad_(True)
    only_row = torch.zeros_like(table)
    only_row[row] = 1.0
    table.register_hook(lambda grad: grad * only_row)
    # Adam, not AdamW: decoupled weight decay would shrink the frozen rows too.
    optimizer = torch.optim.Adam([table], lr=lr)
    generator = torch.Generator().manual_seed(seed)
    size = int(unet.config.sample_size)
    batches = procedural_batches(genre, int(unet.config.num_frames), size, batch_size, seed)
    losses = []
    for step, batch in enumerate(islice(batches, steps)):
        loss = module.denoising_loss(batch, drop=True, generator=generator)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
        if log_every and (step + 1) % log_every == 0:
            recent = sum(losses[-log_every:]) / log_every
            print(f"step {step + 1}/{steps}: loss {recent:.4f}", flush=True)
    table.requires_grad_(False)
    return losses


def convert_folder(source: Path, out: Path, **training: Any) -> list[float]:
    """A copy of prior folder `source` at `out` with the slot and the learned `none` row."""
    if out.exists():
        raise ConfigError(f"{out} exists; give a new folder")
    if training.get("steps", 1) < 1 or training.get("batch_size", 1) < 1:
        raise ConfigError("--steps and --batch-size must be at least 1")
    models = load_prior(source)
    video = with_unconditional_slot(models.unet)
    losses = learn_genre_row(video, dict(models.scheduler.config), **training)  # type: ignore[arg-type]
    sr_unet = with_unconditional_slot(models.sr_unet) if models.sr_unet is not None else None
    save_prior(PriorModels(video, models.scheduler, sr_unet, models.sr_scheduler), out)
    return losses


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m t2v.pretrain.genre_slot", description=__doc__)
    parser.add_argument("prior", type=Path, help="a prior folder (t2v_prior.json, unet/, ...)")
    parser.add_argument("--out", type=Path, required=True, help="the new folder (must not exist)")
    parser.add_argument("--genre", default="none")
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        if not (args.prior / PRIOR_FILE).is_file():
            raise ConfigError(f"{args.prior} is not a prior folder (no {PRIOR_FILE})")
        losses = convert_folder(
            args.prior,
            args.out,
            genre=args.genre,
            steps=args.steps,
            batch_size=args.batch_size,
            lr=args.lr,
            seed=args.seed,
        )
    except ConfigError as error:
        print(f"genre_slot: {error}", file=sys.stderr)
        return 2
    first, last = losses[: len(losses) // 10 or 1], losses[-(len(losses) // 10 or 1) :]
    print(f"wrote {args.out}: loss {sum(first) / len(first):.4f} -> {sum(last) / len(last):.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
