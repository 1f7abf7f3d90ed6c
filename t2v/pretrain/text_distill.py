"""Give a trained video prior a token-attention text pathway that ignores phrasing.

A prior that reads MiniLM's mean-pooled sentence vector through an MLP follows colour and
direction on training captions, and much less on new phrasings (experiments/bundled_prior):
an unseen verb moves the mean of the tokens as much as the direction word does. This step swaps
in `text_pathway="attention"` (a learned softmax over MiniLM's token states) and trains only
that pathway, on training-vocabulary captions, to output what the old pathway outputs for the
*canonical* caption of the same colour, shape, motion and genre wrapper ("a red ball moves to
the left"). The UNet is unchanged and keeps seeing conditioning it was trained on; held-out
words are never used.

`python -m t2v.pretrain.text_distill PRIOR --out FOLDER` writes the new prior folder.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.nn import functional as F

from t2v.data.vocabulary import COLOURS, MOTIONS, SHAPES, canonical_caption, make_caption
from t2v.errors import ConfigError
from t2v.models import PixelVideoUNet
from t2v.models.blocks import token_mask
from t2v.pretrain.modules import UNCONDITIONAL_PROMPT
from t2v.pretrain.prior_folder import PriorModels, init_arguments, load_prior, save_prior
from t2v.text.minilm import MiniLMEncoder


@dataclass
class DistillSettings:
    captions: int = 24_000  # training-vocabulary captions (each with its canonical target)
    steps: int = 1_500
    batch_size: int = 256
    lr: float = 2e-3
    genre_caption_probability: float = 0.5  # as in the procedural dataset
    empty_fraction: float = 0.05  # of each batch: the unconditional "" keeps its old output
    seed: int = 0


def wrap(caption: str, genre: str | None, templates: dict[str, str]) -> str:
    return templates[genre].format(prompt=caption) if genre else caption


def distillation_pairs(settings: DistillSettings, genres: list[str]) -> tuple[list[str], list[str]]:
    """Training captions and, for each, the canonical caption with the same attributes."""
    from t2v.data.procedural import genre_prompt_templates

    templates = genre_prompt_templates()
    rng = random.Random(settings.seed)
    wrappers = [genre for genre in genres if genre != "none" and genre in templates]
    captions, canonical = [], []
    for _ in range(settings.captions):
        colour, shape, motion = rng.choice(COLOURS), rng.choice(SHAPES), rng.choice(MOTIONS)
        genre = rng.choice(wrappers) if rng.random() < settings.genre_caption_probability else None
        captions.append(wrap(make_caption(colour, shape, motion, "train", rng), genre, templates))
        canonical.append(wrap(canonical_caption(colour, shape, motion), genre, templates))
    return captions, canonical


def token_pathway_unet(unet: PixelVideoUNet) -> PixelVideoUNet:
    """The same UNet with `text_pathway="attention"`: every weight copied but the text pathway's."""
    new = PixelVideoUNet(**{**init_arguments(unet.config), "text_pathway": "attention"})
    kept = {k: v for k, v in unet.state_dict().items() if not k.startswith("embedding.text_proj.")}
    missing, unexpected = new.load_state_dict(kept, strict=False)
    assert not unexpected and all(k.startswith("embedding.text_proj.") for k in missing)
    return new


def distill(
    models: PriorModels,
    minilm: MiniLMEncoder,
    settings: DistillSettings,
    log=print,
) -> tuple[PriorModels, dict[str, float]]:
    """A copy of `models` whose video UNet reads token states through a distilled pathway."""
    old = models.unet.eval()
    if old.reads_tokens:
        raise ConfigError("this prior already reads token states; nothing to distil")
    torch.manual_seed(settings.seed)
    captions, canonical = distillation_pairs(settings, list(old.config.genres))
    captions.append(UNCONDITIONAL_PROMPT)
    canonical.append(UNCONDITIONAL_PROMPT)
    started = time.perf_counter()
    tokens = minilm.encode_tokens(captions)
    real = int(token_mask(tokens).sum(1).max())
    tokens = tokens[:, :real]  # the pooling ignores padding; keep the tensor small
    unique = sorted(set(canonical))
    with torch.no_grad():
        unique_targets = old.embedding.text_features(minilm.encode(unique))
    index = {text: row for row, text in enumerate(unique)}
    targets = unique_targets[[index[text] for text in canonical]]
    log(
        f"text_distill: {len(captions)} captions, {len(unique)} canonical targets encoded "
        f"in {time.perf_counter() - started:.0f} s"
    )
    new = token_pathway_unet(old)
    pathway = new.embedding.text_proj
    optimizer = torch.optim.AdamW(pathway.parameters(), lr=settings.lr, weight_decay=0.0)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, settings.steps)
    generator = torch.Generator().manual_seed(settings.seed)
    empty_count = max(1, round(settings.batch_size * settings.empty_fraction))
    scale = targets.square().mean()
    for step in range(settings.steps):
        rows = torch.randint(
            0, len(captions) - 1, (settings.batch_size - empty_count,), generator=generator
        )
        rows = torch.cat([rows, torch.full((empty_count,), len(captions) - 1)])
        output = new.embedding.text_features(tokens[rows])
        loss = F.mse_loss(output, targets[rows]) / scale
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        if step % 250 == 0 or step == settings.steps - 1:
            log(f"text_distill: step {step} relative error {loss.item():.4f}")
    new.eval()
    distilled = PriorModels(new, models.scheduler, models.sr_unet, models.sr_scheduler)
    return distilled, {"relative_error": loss.item(), "captions": len(captions)}


@torch.no_grad()
def canonical_agreement(
    models: PriorModels, minilm: MiniLMEncoder, split: str, count: int = 400, seed: int = 1
) -> dict[str, float]:
    """How often a caption's pathway output is nearest its own canonical target, per attribute.

    Targets: the pathway's outputs for the canonical captions of every colour x shape x motion;
    a caption of `split` "agrees" on an attribute when its nearest target has that value."""
    unet = models.unet
    encode = minilm.encoder_for(unet.reads_tokens)
    grid = [(c, s, m) for c in COLOURS for s in SHAPES for m in MOTIONS]
    targets = unet.embedding.text_features(encode([canonical_caption(*key) for key in grid]))
    rng = random.Random(seed)
    keys = [(rng.choice(COLOURS), rng.choice(SHAPES), rng.choice(MOTIONS)) for _ in range(count)]
    texts = [make_caption(*key, split, rng) for key in keys]
    nearest = torch.cdist(unet.embedding.text_features(encode(texts)), targets).argmin(1)
    found = [grid[int(row)] for row in nearest]
    directions = [i for i, key in enumerate(keys) if key[2] in ("left", "right", "up", "down")]
    return {
        "colour": sum(f[0] == k[0] for f, k in zip(found, keys, strict=True)) / count,
        "motion": sum(f[2] == k[2] for f, k in zip(found, keys, strict=True)) / count,
        "direction": sum(found[i][2] == keys[i][2] for i in directions) / max(1, len(directions)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("prior", type=Path, help="prior folder with a sentence-vector text pathway")
    parser.add_argument("--out", type=Path, required=True, help="folder for the new prior")
    parser.add_argument("--steps", type=int, default=DistillSettings.steps)
    parser.add_argument("--captions", type=int, default=DistillSettings.captions)
    parser.add_argument("--seed", type=int, default=DistillSettings.seed)
    args = parser.parse_args(argv)
    try:
        if args.out.resolve() == args.prior.resolve():
            raise ConfigError("--out must differ from the prior folder (it would be overwritten)")
        models = load_prior(args.prior)
        minilm = MiniLMEncoder()
        settings = DistillSettings(captions=args.captions, steps=args.steps, seed=args.seed)
        distilled, figures = distill(models, minilm, settings)
    except ConfigError as error:
        print(f"text_distill: {error}", file=sys.stderr)
        return 2
    report = {"settings": vars(settings), **figures}
    for split in ("train", "heldout_phrasing", "heldout"):
        report[f"agreement_{split}"] = {
            "before": canonical_agreement(models, minilm, split),
            "after": canonical_agreement(distilled, minilm, split),
        }
    save_prior(distilled, args.out)
    (args.out / "text_distill.json").write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
