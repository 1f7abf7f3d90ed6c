"""Prompt sets for R-precision and the bundled-domain attributes a prompt names."""

from __future__ import annotations

import pytest

from t2v.errors import ConfigError
from t2v.eval.prompts import (
    BUNDLED_DOMAIN_PROMPTS,
    DEFAULT_PROMPTS,
    build_prompt_set,
    prompt_attributes,
    read_prompt_file,
)


def test_built_in_set_is_unique_and_covers_every_colour_and_motion():
    assert len(BUNDLED_DOMAIN_PROMPTS) == 8 * 11
    assert len(DEFAULT_PROMPTS) == len(set(DEFAULT_PROMPTS)) == 128
    parsed = [prompt_attributes(prompt) for prompt in BUNDLED_DOMAIN_PROMPTS]
    assert all(set(found) == {"colour", "motion"} for found in parsed)
    assert len({(found["colour"], found["motion"]) for found in parsed}) == 88


def test_prompt_set_puts_run_prompts_first_and_drops_duplicates(tmp_path):
    runs = ["a red ball moving to the left", "A red ball  moving to the LEFT", "a new prompt"]
    prompts = build_prompt_set(runs)
    assert prompts[:2] == ["a red ball moving to the left", "a new prompt"]
    assert len(prompts) == 2 + len(DEFAULT_PROMPTS) - 1  # the first is also a built-in prompt
    listed = tmp_path / "prompts.txt"
    listed.write_text("# distractors\na cat\n\na dog\na new prompt\n")
    assert read_prompt_file(listed) == ["a cat", "a dog", "a new prompt"]
    assert build_prompt_set(runs, listed) == [runs[0], "a new prompt", "a cat", "a dog"]


def test_bad_prompt_files_are_clear_errors(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        build_prompt_set(["a"], tmp_path / "missing.txt")
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing\n\n")
    with pytest.raises(ConfigError, match="holds no prompts"):
        read_prompt_file(empty)


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("a red ball rolling to the left", {"colour": "red", "motion": "left"}),
        ("A scarlet orb drifting leftward.", {"colour": "red", "motion": "left"}),
        ("a cyan blue cube bounces up and down", {"colour": "cyan", "motion": "bounce"}),
        ("a golden star ascends", {"colour": "yellow", "motion": "up"}),
        ("the green cone shrinks down", {"colour": "green", "motion": "shrink"}),
        ("a pink ring swelling up", {"colour": "pink", "motion": "grow"}),
        ("a purple ball moving away from the camera", {"colour": "purple", "motion": "recede"}),
        ("a red and blue ball", {}),  # two colours: no single answer
        ("a red ball moves up, then falls down", {"colour": "red"}),
        ("a corgi playing with a ball", {}),
    ],
)
def test_prompt_attributes(prompt, expected):
    assert prompt_attributes(prompt) == expected
