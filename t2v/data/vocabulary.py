"""Caption vocabulary of the procedural clips: colours, shapes, motions, templates, held-out split.

Every list comes in two disjoint halves. `split="train"` captions use only the train half;
`split="heldout"` captions use only the held-out half (colour synonyms, motion verbs and
templates never seen in training), so a prior's generalisation can be judged on unseen words.
`split="heldout_phrasing"` takes shape words, motion verbs and templates from the held-out half
but names the colour with a training word: MiniLM places most unseen colour synonyms nearer
other hues than their own (experiments/bundled_prior), so that split separates "reads new
phrasing" from "knows what amber is".
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from t2v.errors import ConfigError

SPLITS = ("train", "heldout", "heldout_phrasing")


@dataclass(frozen=True)
class Words:
    """The train and held-out phrasings of one canonical attribute value."""

    train: tuple[str, ...]
    heldout: tuple[str, ...]

    def pick(self, split: str, rng: random.Random) -> str:
        words = self.heldout if split == "heldout" and self.heldout else self.train
        return rng.choice(words)


# Canonical colour -> words. Wide on purpose: MiniLM reads unseen colour words poorly.
COLOUR_WORDS: dict[str, Words] = {
    "red": Words(
        (
            "red",
            "crimson",
            "ruby",
            "cherry red",
            "blood red",
            "bright red",
            "deep red",
            "tomato red",
            "rose red",
            "brick red",
        ),
        ("scarlet", "vermilion"),
    ),
    "orange": Words(
        (
            "orange",
            "tangerine",
            "pumpkin orange",
            "bright orange",
            "burnt orange",
            "apricot",
            "carrot orange",
            "rust orange",
        ),
        ("amber", "marigold"),
    ),
    "yellow": Words(
        (
            "yellow",
            "lemon",
            "lemon yellow",
            "canary yellow",
            "bright yellow",
            "sunflower yellow",
            "butter yellow",
            "banana yellow",
        ),
        ("golden", "mustard"),
    ),
    "green": Words(
        (
            "green",
            "lime",
            "lime green",
            "emerald",
            "forest green",
            "grass green",
            "bright green",
            "kelly green",
            "leaf green",
        ),
        ("jade", "verdant"),
    ),
    "cyan": Words(
        ("cyan", "turquoise", "aqua", "aquamarine", "cyan blue", "bright cyan", "light turquoise"),
        ("teal", "seafoam"),
    ),
    "blue": Words(
        (
            "blue",
            "royal blue",
            "cobalt",
            "cobalt blue",
            "deep blue",
            "bright blue",
            "sapphire",
            "dark blue",
            "electric blue",
        ),
        ("navy", "azure", "ultramarine"),
    ),
    "purple": Words(
        (
            "purple",
            "violet",
            "lavender",
            "plum",
            "grape purple",
            "deep purple",
            "amethyst",
            "bright purple",
        ),
        ("lilac", "aubergine"),
    ),
    "pink": Words(
        (
            "pink",
            "hot pink",
            "fuchsia",
            "rose pink",
            "bubblegum pink",
            "bright pink",
            "flamingo pink",
        ),
        ("magenta", "cerise"),
    ),
}
COLOURS: tuple[str, ...] = tuple(COLOUR_WORDS)

SHAPE_WORDS: dict[str, Words] = {
    "sphere": Words(("ball", "sphere", "orb", "globe"), ("marble", "bead")),
    "cube": Words(("cube", "box", "block", "square block"), ("crate", "dice")),
    "cone": Words(("cone", "conical object", "cone shape"), ("spike", "traffic cone")),
    "cylinder": Words(("cylinder", "can", "tube", "drum"), ("pillar", "barrel")),
    "torus": Words(("ring", "torus", "donut", "doughnut"), ("hoop", "bagel")),
    "star": Words(("star", "star shape", "five-pointed star"), ("starfish shape", "pentagram")),
}
SHAPES: tuple[str, ...] = tuple(SHAPE_WORDS)


@dataclass(frozen=True)
class MotionWords:
    """Verb phrases `(verb, complement)` of one motion, train and held-out."""

    train: tuple[tuple[str, str], ...]
    heldout: tuple[tuple[str, str], ...]

    def pick(self, split: str, rng: random.Random) -> tuple[str, str]:
        phrases = self.heldout if split == "heldout" else self.train
        return rng.choice(phrases)


_MOVE_VERBS_TRAIN = (
    "move",
    "roll",
    "slide",
    "glide",
    "travel",
    "head",
    "shift",
    "go",
    "run",
    "fly",
    "float",
    "scoot",
    "zip",
    "cruise",
)
_MOVE_VERBS_HELDOUT = ("drift", "wander", "creep", "sail", "hurry", "coast")


def _directional(
    complements_train: tuple[str, ...],
    complements_heldout: tuple[str, ...],
    extra_train: tuple[tuple[str, str], ...] = (),
    extra_heldout: tuple[tuple[str, str], ...] = (),
) -> MotionWords:
    train = tuple((v, c) for v in _MOVE_VERBS_TRAIN for c in complements_train) + extra_train
    heldout = (
        tuple((v, c) for v in _MOVE_VERBS_HELDOUT for c in complements_train + complements_heldout)
        + extra_heldout
    )
    return MotionWords(train, heldout)


# Motions are screen-space: "left" is towards -x in the image seen from the frontal camera.
MOTION_WORDS: dict[str, MotionWords] = {
    "left": _directional(
        ("to the left", "left", "leftward", "leftwards", "towards the left", "to the left side"),
        ("toward the left edge", "in a leftward direction"),
    ),
    "right": _directional(
        (
            "to the right",
            "right",
            "rightward",
            "rightwards",
            "towards the right",
            "to the right side",
        ),
        ("toward the right edge", "in a rightward direction"),
    ),
    "up": _directional(
        ("up", "upward", "upwards", "towards the top"),
        ("skyward", "toward the top edge"),
        extra_train=(
            ("rise", ""),
            ("rise", "up"),
            ("climb", "upward"),
            ("lift", "up"),
            ("soar", "upward"),
            ("climb", "up"),
        ),
        extra_heldout=(("ascend", ""), ("levitate", "upward"), ("mount", "upwards")),
    ),
    "down": _directional(
        ("down", "downward", "downwards", "towards the bottom"),
        ("earthward", "toward the bottom edge"),
        extra_train=(
            ("fall", ""),
            ("fall", "down"),
            ("drop", ""),
            ("drop", "down"),
            ("descend", ""),
            ("plunge", "downward"),
        ),
        extra_heldout=(("sink", ""), ("sink", "downwards"), ("tumble", "down")),
    ),
    "bounce": MotionWords(
        (
            ("bounce", ""),
            ("bounce", "up and down"),
            ("hop", ""),
            ("hop", "up and down"),
            ("jump", "up and down"),
            ("bob", "up and down"),
            ("bounce", "on the spot"),
            ("jump", "repeatedly"),
        ),
        (("bound", "up and down"), ("spring", "up and down"), ("rebound", "")),
    ),
    "spin": MotionWords(
        (
            ("spin", ""),
            ("spin", "around"),
            ("rotate", ""),
            ("rotate", "in place"),
            ("turn", "around"),
            ("twirl", ""),
            ("revolve", ""),
            ("spin", "in place"),
        ),
        (("pirouette", ""), ("whirl", "around"), ("swivel", "around")),
    ),
    "grow": MotionWords(
        (
            ("grow", ""),
            ("grow", "bigger"),
            ("expand", ""),
            ("get", "larger"),
            ("swell", "up"),
            ("inflate", ""),
            ("grow", "in size"),
            ("get", "bigger"),
        ),
        (("enlarge", ""), ("balloon", "in size"), ("widen", "")),
    ),
    "shrink": MotionWords(
        (
            ("shrink", ""),
            ("get", "smaller"),
            ("contract", ""),
            ("deflate", ""),
            ("shrink", "down"),
            ("shrink", "in size"),
        ),
        (("dwindle", ""), ("diminish", "in size"), ("condense", "")),
    ),
    "approach": MotionWords(
        (
            ("come", "closer"),
            ("approach", "the camera"),
            ("move", "towards the camera"),
            ("come", "towards the viewer"),
            ("zoom", "in"),
            ("move", "closer"),
        ),
        (("advance", "toward the lens"), ("near", "the camera")),
    ),
    "recede": MotionWords(
        (
            ("move", "away"),
            ("recede", "into the distance"),
            ("go", "away from the camera"),
            ("back", "away"),
            ("retreat", ""),
            ("move", "into the distance"),
        ),
        (("withdraw", "into the distance"), ("fade", "away into the distance")),
    ),
    "none": MotionWords(
        (
            ("sit", "still"),
            ("rest", ""),
            ("stay", "still"),
            ("stand", "still"),
            ("remain", "motionless"),
            ("stay", "in place"),
        ),
        (("idle", ""), ("wait", "motionlessly"), ("linger", "in one spot")),
    ),
}
MOTIONS: tuple[str, ...] = tuple(MOTION_WORDS)

# Fields: {a} article, {colour}, {shape}, {present} ("rolls left"), {gerund} ("rolling left").
TEMPLATES = Words(
    (
        "{a} {colour} {shape} {present}",
        "{a} {colour} {shape} {gerund}",
        "{colour} {shape} {gerund}",
        "the {colour} {shape} {present}",
        "{a} {colour} {shape} that {present}",
        "video of {a} {colour} {shape} {gerund}",
        "{a} {colour} {shape} is {gerund}",
        "{a} {shape}, {colour}, {gerund}",
        "there is {a} {colour} {shape} {gerund}",
        "{a} {colour}-coloured {shape} {present}",
        "close-up of {a} {colour} {shape} {gerund}",
        "a clip showing {a} {colour} {shape} {gerund}",
        "a simple 3d render of {a} {colour} {shape} {gerund}",
        "{a} {colour} {shape} {gerund} in front of the camera",
    ),
    (
        "watch as the {colour} {shape} {present}",
        "in this shot, {a} {colour} {shape} keeps {gerund}",
        "footage: {colour} {shape}, {gerund}",
        "{a} {colour} {shape} can be seen {gerund}",
    ),
)

# Consonant-vowel-consonant verbs that double their last letter before "-ing".
_DOUBLING = {"run", "spin", "drop", "hop", "sit", "zip", "bob", "get", "swivel", "travel"}


def third_person(verb: str) -> str:
    """'move' -> 'moves', 'go' -> 'goes', 'fly' -> 'flies'."""
    if verb.endswith(("s", "sh", "ch", "x", "z", "o")):
        return verb + "es"
    if verb.endswith("y") and verb[-2] not in "aeiou":
        return verb[:-1] + "ies"
    return verb + "s"


def gerund(verb: str) -> str:
    """'move' -> 'moving', 'run' -> 'running', 'fly' -> 'flying'."""
    if verb in _DOUBLING:
        return verb + verb[-1] + "ing"
    if verb.endswith("ie"):
        return verb[:-2] + "ying"
    if verb.endswith("e") and not verb.endswith(("ee", "ye", "oe")):
        return verb[:-1] + "ing"
    return verb + "ing"


def _phrase(verb: str, complement: str) -> str:
    return f"{verb} {complement}".strip()


def article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def check_split(split: str) -> str:
    if split not in SPLITS:
        raise ConfigError(f"split '{split}' is unknown; choose one of: {', '.join(SPLITS)}")
    return split


def make_caption(colour: str, shape: str, motion: str, split: str, rng: random.Random) -> str:
    """A caption for one clip, with words drawn from `split` only."""
    check_split(split)
    colour_word = COLOUR_WORDS[colour].pick("train" if split == "heldout_phrasing" else split, rng)
    split = "heldout" if split == "heldout_phrasing" else split
    shape_word = SHAPE_WORDS[shape].pick(split, rng)
    verb, complement = MOTION_WORDS[motion].pick(split, rng)
    template = TEMPLATES.pick(split, rng)
    text = template.format(
        a="{a}",
        colour=colour_word,
        shape=shape_word,
        present=_phrase(third_person(verb), complement),
        gerund=_phrase(gerund(verb), complement),
    )
    # The article agrees with whichever word follows it once the template is filled in.
    text = re.sub(r"\{a\} (\w)", lambda match: f"{article(match[1])} {match[1]}", text)
    return text


def canonical_caption(colour: str, shape: str, motion: str) -> str:
    """The plainest training caption of an attribute triple: each list's first words and
    template ("a red ball moves to the left")."""
    verb, complement = MOTION_WORDS[motion].train[0]
    present = _phrase(third_person(verb), complement)
    shape_word = SHAPE_WORDS[shape].train[0]
    return f"{article(colour)} {COLOUR_WORDS[colour].train[0]} {shape_word} {present}"
