"""Caption vocabulary: disjoint train / held-out words, grammar of generated captions."""

import random

import pytest

from t2v.data.vocabulary import (
    COLOUR_WORDS,
    COLOURS,
    MOTION_WORDS,
    MOTIONS,
    SHAPE_WORDS,
    SHAPES,
    TEMPLATES,
    article,
    canonical_caption,
    gerund,
    make_caption,
    third_person,
)


def _colour_words(split: str) -> set[str]:
    return {
        word
        for entry in COLOUR_WORDS.values()
        for phrase in (entry.heldout if split == "heldout" else entry.train)
        for word in phrase.split()
    }


def _verbs(split: str) -> set[str]:
    return {
        verb
        for entry in MOTION_WORDS.values()
        for verb, _ in (entry.heldout if split == "heldout" else entry.train)
    }


def test_held_out_colour_words_verbs_and_templates_never_appear_in_training() -> None:
    assert not _colour_words("train") & _colour_words("heldout")
    assert not _verbs("train") & _verbs("heldout")
    assert not set(TEMPLATES.train) & set(TEMPLATES.heldout)
    for words in COLOUR_WORDS.values():
        assert len(words.train) >= 6 and len(words.heldout) >= 2
    for motion in MOTION_WORDS.values():
        assert len(motion.train) >= 6 and len(motion.heldout) >= 2


def test_held_out_captions_use_only_held_out_colour_words_and_verbs() -> None:
    rng = random.Random(0)
    train_only = _colour_words("train") | {third_person(v) for v in _verbs("train")}
    train_only |= {gerund(v) for v in _verbs("train")}
    for _ in range(500):
        caption = make_caption(
            rng.choice(COLOURS), rng.choice(SHAPES), rng.choice(MOTIONS), "heldout", rng
        )
        leaked = set(caption.replace(",", " ").replace(":", " ").split()) & train_only
        # Shape nouns and direction words are shared on purpose; colours and verbs are not.
        assert not leaked - {"a", "an", "the", "in", "to", "left", "right", "up", "down"}, caption


@pytest.mark.parametrize(
    "verb, present, ing",
    [
        ("move", "moves", "moving"),
        ("go", "goes", "going"),
        ("fly", "flies", "flying"),
        ("run", "runs", "running"),
        ("get", "gets", "getting"),
        ("rise", "rises", "rising"),
        ("approach", "approaches", "approaching"),
        ("diminish", "diminishes", "diminishing"),
    ],
)
def test_verb_forms(verb: str, present: str, ing: str) -> None:
    assert (third_person(verb), gerund(verb)) == (present, ing)


def test_articles_agree_with_the_next_word() -> None:
    assert article("orange") == "an" and article("red") == "a"
    rng = random.Random(3)
    for _ in range(300):
        caption = make_caption("orange", "sphere", "left", "train", rng)
        assert " a orange" not in f" {caption}" and "{" not in caption
        if caption.startswith(("a ", "an ")):
            first, second = caption.split()[:2]
            assert first == article(second)


def test_captions_are_varied_and_name_the_attributes() -> None:
    rng = random.Random(1)
    captions = {make_caption("red", "cube", "left", "train", rng) for _ in range(200)}
    assert len(captions) > 150
    assert sum("left" in caption for caption in captions) == len(captions)


def test_heldout_phrasing_names_the_colour_with_a_training_word_and_the_rest_held_out() -> None:
    rng = random.Random(1)
    train_verbs = {third_person(v) for v in _verbs("train")} | {gerund(v) for v in _verbs("train")}
    train_colours, heldout_colours = _colour_words("train"), _colour_words("heldout")
    for _ in range(300):
        colour = rng.choice(COLOURS)
        phrasing = make_caption(colour, "cube", "left", "heldout_phrasing", rng)
        words = set(phrasing.replace(",", " ").replace(":", " ").split())
        assert words & train_colours and not words & heldout_colours, phrasing
        assert not words & train_verbs - {"left"}, phrasing


def _train_words() -> set[str]:
    """Every word a training caption's colour, shape and motion can contain."""
    words: set[str] = set()
    for table in (COLOUR_WORDS, SHAPE_WORDS):
        for entry in table.values():
            for phrase in entry.train:
                words.update(phrase.split())
    for motion in MOTION_WORDS.values():
        for verb, complement in motion.train:
            words.update({third_person(verb), gerund(verb), *complement.split()})
    return words


def test_canonical_captions_use_the_first_training_words() -> None:
    assert canonical_caption("red", "sphere", "left") == "a red ball moves to the left"
    assert canonical_caption("orange", "cube", "bounce") == "an orange cube bounces"
    train = _train_words() | {"a", "an"}
    captions = {canonical_caption(c, s, m) for c in COLOURS for s in SHAPES for m in MOTIONS}
    assert len(captions) == len(COLOURS) * len(SHAPES) * len(MOTIONS)
    assert all(set(caption.split()) <= train for caption in captions)
