"""Prompt sets for CLIP R-precision: the built-in distractors, a prompt file, and their union.

The built-in set is written out literally (not generated from `t2v.data`'s vocabulary) so
that R-precision figures stay comparable when the caption vocabulary grows.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from t2v.errors import ConfigError

_COLOURS = ("red", "orange", "yellow", "green", "cyan", "blue", "purple", "pink")
_SHAPES = ("ball", "cube", "cone", "cylinder", "ring", "star")
_MOTIONS = (
    "moving to the left",
    "moving to the right",
    "moving up",
    "moving down",
    "bouncing up and down",
    "spinning in place",
    "growing bigger",
    "shrinking",
    "moving towards the camera",
    "moving away from the camera",
    "sitting still",
)

# The bundled prior's domain: one caption per (colour, motion); shapes cycle so each appears.
BUNDLED_DOMAIN_PROMPTS: tuple[str, ...] = tuple(
    f"{'an' if colour[0] in 'aeiou' else 'a'} {colour} {_SHAPES[(c + m) % len(_SHAPES)]} {motion}"
    for c, colour in enumerate(_COLOURS)
    for m, motion in enumerate(_MOTIONS)
)

# Open-domain prompts in the style of MAV3D's evaluation set.
OPEN_DOMAIN_PROMPTS: tuple[str, ...] = (
    "a corgi playing with a ball",
    "a panda eating bamboo",
    "a cat licking its paw",
    "a dog running on the beach",
    "a horse galloping across a field",
    "a goldfish swimming in a bowl",
    "an eagle flying over mountains",
    "a butterfly flapping its wings",
    "a frog jumping into a pond",
    "a squirrel eating a nut",
    "a monkey eating a banana",
    "a penguin sliding on ice",
    "a clown fish swimming through coral",
    "an astronaut riding a horse",
    "a robot dancing in the street",
    "a knight swinging a sword",
    "a wizard casting a spell",
    "a ballerina twirling on stage",
    "a man playing the guitar",
    "a chef flipping a pancake",
    "a car driving down a road",
    "a train crossing a bridge",
    "a sailboat on the waves",
    "a rocket launching into space",
    "a hot air balloon rising into the sky",
    "a windmill turning in the wind",
    "a campfire burning at night",
    "a waterfall in a forest",
    "a candle flickering in the dark",
    "snow falling on a pine tree",
    "a tornado spinning over a plain",
    "a volcano erupting",
    "an old clock ticking",
    "a spaceship flying through an asteroid field",
    "a dragon breathing fire",
    "a ghost floating in a hallway",
    "a cowboy riding through the desert",
    "a detective walking down a rainy street",
    "a cartoon rabbit hopping",
    "a teapot pouring tea",
)

DEFAULT_PROMPTS: tuple[str, ...] = BUNDLED_DOMAIN_PROMPTS + OPEN_DOMAIN_PROMPTS


def read_prompt_file(path: str | Path) -> list[str]:
    """One prompt a line; blank lines and lines starting with '#' are skipped."""
    source = Path(path).expanduser()
    if not source.is_file():
        raise ConfigError(f"prompt_set file {source} does not exist")
    lines = (line.strip() for line in source.read_text(encoding="utf-8").splitlines())
    prompts = [line for line in lines if line and not line.startswith("#")]
    if not prompts:
        raise ConfigError(f"prompt_set file {source} holds no prompts")
    return prompts


def build_prompt_set(
    run_prompts: Sequence[str], prompt_file: str | Path | None = None
) -> list[str]:
    """The runs' own prompts first, then the distractors (a file's or the built-in ones)."""
    distractors = read_prompt_file(prompt_file) if prompt_file else DEFAULT_PROMPTS
    return unique([*run_prompts, *distractors])


def unique(prompts: Iterable[str]) -> list[str]:
    """Prompts in first-seen order, compared after trimming and case-folding."""
    seen: set[str] = set()
    kept = []
    for prompt in prompts:
        key = normalise(prompt)
        if key not in seen:
            seen.add(key)
            kept.append(prompt.strip())
    return kept


def normalise(prompt: str) -> str:
    return " ".join(prompt.casefold().split())


# --- the bundled domain's attributes named in a prompt ----------------------------------------


def prompt_attributes(prompt: str) -> dict[str, str]:
    """The canonical colour and motion a prompt names in the bundled prior's vocabulary.

    Matches every train and held-out phrasing of `t2v.data.vocabulary` (colour words, motion
    verbs in base, third-person and -ing forms with their complements) on word boundaries; a
    match inside a longer match is part of it ("cyan blue" is cyan, "bounces up and down" is
    bounce, not up). An attribute is left out when nothing matches or two separate matches
    disagree ("a red and blue ball").
    """
    text = f" {normalise(re.sub(r'[^a-zA-Z0-9-]+', ' ', prompt))} "
    found: dict[str, str] = {}
    for kind, phrases in (("colour", _colour_phrases()), ("motion", _motion_phrases())):
        spans = [
            (match.start(), match.end(), value)
            for value, phrase in phrases
            if f" {phrase} " in text  # cheap test first: thousands of phrases, few matches
            for match in re.finditer(f"(?<= ){re.escape(phrase)}(?= )", text)
        ]
        # A match inside a longer one is part of it ("blue" in "cyan blue", "up" in "bounce
        # up and down"); what is left must agree, or the prompt names two values.
        outermost = {
            value
            for start, end, value in spans
            if not any(s <= start and end <= e and (s, e) != (start, end) for s, e, _ in spans)
        }
        if len(outermost) == 1:
            found[kind] = outermost.pop()
    return found


@functools.cache
def _colour_phrases() -> tuple[tuple[str, str], ...]:
    from t2v.data.vocabulary import COLOUR_WORDS

    return tuple(
        (colour, normalise(word))
        for colour, words in COLOUR_WORDS.items()
        for word in (*words.train, *words.heldout)
    )


@functools.cache
def _motion_phrases() -> tuple[tuple[str, str], ...]:
    from t2v.data.vocabulary import MOTION_WORDS, gerund, third_person

    phrases = []
    for motion, words in MOTION_WORDS.items():
        for verb, complement in (*words.train, *words.heldout):
            for form in (verb, third_person(verb), gerund(verb)):
                phrases.append((motion, normalise(f"{form} {complement}")))
    return tuple(dict.fromkeys(phrases))
