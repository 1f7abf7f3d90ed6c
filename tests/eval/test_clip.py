"""CLIP metrics: R-precision and CLIP score arithmetic, the tiny CLIP round trip, loader errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from t2v.errors import ConfigError
from t2v.eval.clip import (
    clip_metrics,
    clip_score,
    embedding_spread,
    load_clip,
    r_precision,
    retrieval_ranks,
    sample_frame_indices,
    save_tiny_clip,
)


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny tensors: one torch thread is several times faster on a shared CPU."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def tiny_clip_dir(tmp_path_factory):
    return save_tiny_clip(tmp_path_factory.mktemp("tiny_clip"), seed=0)


def unit(*values: float) -> torch.Tensor:
    return F.normalize(torch.tensor(values, dtype=torch.float32), dim=0)


def test_ranks_and_r_precision_on_hand_made_embeddings():
    texts = torch.eye(4)  # prompt j embeds as the j-th axis; the run's prompt is 0
    images = torch.stack(
        [
            unit(1, 0, 0, 0),  # only its own prompt scores: rank 1
            unit(0.6, 0.8, 0, 0),  # prompt 1 scores higher: rank 2
            unit(0.2, 0.5, 0.6, 0.59),  # prompts 1, 2, 3 score higher: rank 4
            unit(0.5, 0.5, 0, 0),  # a tie counts in the prompt's favour: rank 1
        ]
    )
    ranks = retrieval_ranks(images, texts, target=0)
    assert ranks.tolist() == [1, 2, 4, 1]
    assert r_precision(ranks, 1) == 0.5
    assert r_precision(ranks, 3) == 0.75
    metrics = clip_metrics(images, texts, target=0)
    own = [1.0, 0.6, 0.2 / math.sqrt(0.04 + 0.25 + 0.36 + 0.3481), 1 / math.sqrt(2)]
    assert metrics.r_precision_at_1 == 0.5
    assert metrics.r_precision_at_5 == 1.0
    assert metrics.mean_rank == 2.0
    assert metrics.clip_score == pytest.approx(100 * sum(own) / 4, abs=1e-4)
    assert (metrics.frames, metrics.prompt_set_size) == (4, 4)


def test_r_at_5_misses_a_prompt_ranked_sixth():
    texts = torch.eye(7)
    image = unit(0.1, 1, 1, 1, 1, 1, 0)  # five prompts outscore prompt 0: rank 6
    metrics = clip_metrics(image[None], texts, target=0)
    assert metrics.mean_rank == 6.0
    assert (metrics.r_precision_at_1, metrics.r_precision_at_5) == (0.0, 0.0)
    metrics = clip_metrics(image[None], texts, target=6)  # prompt 6 is orthogonal: rank 7
    assert metrics.mean_rank == 7.0
    with pytest.raises(ValueError):
        clip_metrics(image[None], texts, target=7)


def test_clip_score_and_embedding_spread():
    images = torch.stack([unit(1, 0), unit(0, 1)])
    assert clip_score(images, unit(1, 0)) == pytest.approx(50.0)
    assert clip_score(images, unit(1, 1)) == pytest.approx(100 / math.sqrt(2))
    assert embedding_spread(images) == pytest.approx(1 - 1 / math.sqrt(2))
    assert embedding_spread(torch.stack([unit(3, 4)] * 3)) == pytest.approx(0.0, abs=1e-7)


def test_frames_are_sampled_evenly_with_both_ends():
    assert sample_frame_indices(16, 4) == [0, 5, 10, 15]
    assert sample_frame_indices(3, 16) == [0, 1, 2]
    assert sample_frame_indices(10, 1) == [5]
    assert sample_frame_indices(10, 0) == list(range(10))


def test_tiny_clip_loads_from_its_folder_and_embeds(tiny_clip_dir):
    encoder = load_clip(str(tiny_clip_dir))
    again = load_clip(str(tiny_clip_dir))
    frames = torch.rand(5, 3, 40, 56, generator=torch.Generator().manual_seed(1))
    images = encoder.embed_images(frames)
    assert images.shape == (5, 16)
    assert torch.allclose(images.norm(dim=-1), torch.ones(5), atol=1e-5)
    # The saved weights, not a fresh random init, come back; a frame's embedding does not
    # depend on what else is in its batch.
    assert torch.allclose(again.embed_images(frames), images, atol=1e-5)
    assert torch.allclose(encoder.embed_images(frames[2:3]), images[2:3], atol=1e-5)
    texts = encoder.embed_texts(["a red ball moving to the left", "A RED ball moving to the left"])
    other = encoder.embed_texts(["a blue cube spinning in place"])
    assert torch.allclose(texts[0], texts[1], atol=1e-5)  # CLIP's tokenizer lower-cases
    assert float(texts[0] @ other[0]) < 0.999
    metrics = clip_metrics(images, torch.cat([texts[:1], other]), target=0)
    ranks_by_hand = 1 + ((images @ other[0]) > (images @ texts[0])).long()
    assert metrics.mean_rank == pytest.approx(float(ranks_by_hand.float().mean()))


def test_preprocessing_matches_the_transformers_image_processor(tiny_clip_dir):
    from transformers import CLIPImageProcessor

    encoder = load_clip(str(tiny_clip_dir))
    reference = CLIPImageProcessor.from_pretrained(str(tiny_clip_dir))
    generator = torch.Generator().manual_seed(2)
    small = F.interpolate(
        torch.rand(1, 3, 6, 8, generator=generator), size=(48, 64), mode="bilinear"
    )
    pixels = (small[0] * 255).round().to(torch.uint8)
    expected = reference(images=[pixels.permute(1, 2, 0).numpy()], return_tensors="pt")
    ours = encoder.preprocessing(pixels[None].float() / 255)
    assert ours.shape == expected["pixel_values"].shape == (1, 3, 32, 32)
    # PIL resizes in uint8 with its own bicubic filter (measured: mean 0.004, max 0.015); a
    # crop one pixel off or a wrong normalisation is off by more than 0.05 on average.
    difference = (ours - expected["pixel_values"]).abs()
    assert float(difference.mean()) < 0.01
    assert float(difference.max()) < 0.05
    assert np.isfinite(ours.numpy()).all()


def test_a_missing_model_offline_is_one_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ConfigError) as caught:
        load_clip("openai/clip-vit-large-patch14-t2v-missing")
    message = str(caught.value)
    assert "openai/clip-vit-large-patch14-t2v-missing" in message
    assert "hf download" in message and "\n" not in message
    with pytest.raises(ConfigError, match="holds no loadable CLIPModel"):
        load_clip(str(tmp_path))
