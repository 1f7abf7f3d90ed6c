"""Fixtures for pretraining tests: a fixed caption encoder and tiny real procedural batches."""

import hashlib

import pytest
import torch

TEXT_DIM = 12
TINY_VIDEO = dict(
    block_channels=(8, 16),
    embed_dim=16,
    norm_groups=4,
    text_dim=TEXT_DIM,
    max_frames=4,
    sample_size=8,
    num_frames=4,
)


def hashed_encoder(texts: list[str]) -> torch.Tensor:
    """A fixed caption -> vector map (no model): stands in for MiniLM's role as an input."""
    rows = []
    for text in texts:
        seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")
        rows.append(torch.randn(TEXT_DIM, generator=torch.Generator().manual_seed(seed)))
    return torch.nn.functional.normalize(torch.stack(rows), dim=-1)


@pytest.fixture
def encoder():
    return hashed_encoder


def procedural_batch(clips: int, frames: int, size: int, seed: int = 0) -> dict:
    from torch.utils.data import default_collate

    from t2v.data.procedural import ProceduralVideoText

    stream = iter(ProceduralVideoText(frames=frames, height=size, width=size, seed=seed))
    return default_collate([next(stream) for _ in range(clips)])


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Tiny models gain nothing from threads, and lose a lot on a shared, busy CPU."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
