"""On-disk cache of text embeddings, one safetensors file per (model id, text) hash."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import torch


def embedding_key(model_id: str, text: str) -> str:
    """sha256 of the model id and the text, NUL-separated so no two pairs collide by joining."""
    return hashlib.sha256(f"{model_id}\0{text}".encode()).hexdigest()


class EmbeddingCache:
    """Embeddings on disk (CPU float32); writes are atomic so parallel jobs can share a folder."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    def path(self, model_id: str, text: str) -> Path:
        key = embedding_key(model_id, text)
        return self.directory / key[:2] / f"{key}.safetensors"

    def load(self, model_id: str, text: str) -> torch.Tensor | None:
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        path = self.path(model_id, text)
        if not path.is_file():
            return None
        try:
            return load_file(path)["embedding"]
        except (SafetensorError, KeyError, OSError):
            return None  # a torn or foreign file is a miss; the next save replaces it

    def save(self, model_id: str, text: str, embedding: torch.Tensor) -> None:
        from safetensors.torch import save_file

        path = self.path(model_id, text)
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        os.close(handle)
        try:
            save_file(
                {"embedding": embedding.detach().float().cpu().contiguous()},
                temporary,
                metadata={"model_id": model_id, "text": text},
            )
            os.replace(temporary, path)
        finally:
            if os.path.exists(temporary):
                os.remove(temporary)
