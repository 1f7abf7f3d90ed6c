"""The scene generator's prompts: train captions, and the combinations it never trains on.

A prompt is a colour x shape x motion x genre combination captioned from the vocabulary
(`t2v.data.vocabulary`). One colour x motion x genre combination in `heldout_every` is held
out: training prompts never use it, so the generator's reads on those combinations (and on the
held-out phrasings) measure what it generalises, not what it memorised.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from t2v.data.vocabulary import COLOURS, MOTIONS, SHAPES, make_caption


@dataclass(frozen=True)
class ScenePrompt:
    caption: str
    colour: str
    shape: str
    motion: str
    genre: str


def is_heldout(colour: str, motion: str, genre: str, genres: tuple[str, ...], every: int) -> bool:
    """Whether the colour x motion x genre combination is held out of training (a fixed
    lattice over the three indices, so every colour, motion and genre still trains)."""
    index = COLOURS.index(colour) + 3 * MOTIONS.index(motion) + 5 * genres.index(genre)
    return index % every == 0


def training_prompts(
    count: int, genres: tuple[str, ...], every: int, seed: int
) -> list[ScenePrompt]:
    """`count` prompts of train-split words over combinations that are not held out."""
    rng = random.Random(seed)
    prompts = []
    while len(prompts) < count:
        colour, motion, genre = rng.choice(COLOURS), rng.choice(MOTIONS), rng.choice(genres)
        if is_heldout(colour, motion, genre, genres, every):
            continue
        shape = rng.choice(SHAPES)
        caption = make_caption(colour, shape, motion, "train", rng)
        prompts.append(ScenePrompt(caption, colour, shape, motion, genre))
    return prompts


def heldout_prompts(
    count: int, genres: tuple[str, ...], every: int, seed: int, split: str
) -> list[ScenePrompt]:
    """`count` prompts the generator never trained on: held-out combinations, captioned from
    the vocabulary's `split` (`heldout_phrasing`: new verbs and templates, training colour words;
    `train`: only the combination is new)."""
    rng = random.Random(seed)
    combinations = [
        (colour, motion, genre)
        for colour in COLOURS
        for motion in MOTIONS
        for genre in genres
        if is_heldout(colour, motion, genre, genres, every)
    ]
    rng.shuffle(combinations)
    prompts = []
    for colour, motion, genre in combinations[:count]:
        shape = rng.choice(SHAPES)
        caption = make_caption(colour, shape, motion, split, rng)
        prompts.append(ScenePrompt(caption, colour, shape, motion, genre))
    return prompts
