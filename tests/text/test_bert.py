"""t2v's BERT and tokenizer compute MiniLM exactly as transformers does, without importing it."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from t2v.text.minilm import TOKEN_LENGTH, MiniLMEncoder, minilm_folder, token_count, tokenize

TEXTS = [
    "a red ball moving to the left",
    "footage: cyan blue barrel, sinking",
    "",
    "Ünïcödé  CAFÉ\tand   tabs, 3D-render!",
    "a very long prompt " * 80,  # past MAX_TOKENS: truncated, [SEP] kept
]


@pytest.fixture(scope="module")
def reference() -> tuple:
    transformers = pytest.importorskip("transformers")
    folder = minilm_folder()
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder, local_files_only=True)
    model = transformers.AutoModel.from_pretrained(folder, local_files_only=True).eval()
    return tokenizer, model


@pytest.mark.parametrize("length", [None, TOKEN_LENGTH])
def test_tokens_and_states_match_transformers_bit_for_bit(
    reference: tuple, length: int | None
) -> None:
    tokenizer, model = reference
    expected = tokenizer(
        TEXTS,
        padding="max_length" if length else True,
        truncation=True,
        max_length=length or 256,
        return_tensors="pt",
    )
    ids, mask = tokenize(TEXTS, length)
    assert torch.equal(ids, expected["input_ids"])
    assert torch.equal(mask, expected["attention_mask"])
    assert [token_count(text) for text in TEXTS[:4]] == [
        len(tokenizer(text)["input_ids"]) for text in TEXTS[:4]
    ]
    with torch.no_grad():
        states = model(**expected).last_hidden_state * expected["attention_mask"][..., None]
    ours = MiniLMEncoder()._token_states(TEXTS, length)
    assert torch.equal(ours, states)


def test_encoding_a_prompt_imports_no_transformers() -> None:
    code = (
        "import sys; from t2v.text.minilm import MiniLMEncoder; "
        "vector = MiniLMEncoder().encode(['a red ball']); "
        "assert vector.shape == (1, 384), vector.shape; "
        "assert 'transformers' not in sys.modules, 'transformers was imported'"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
