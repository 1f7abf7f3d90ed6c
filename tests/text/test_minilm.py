"""MiniLMEncoder: real all-MiniLM-L6-v2 weights from the installed package, offline."""

import pytest
import torch

from t2v.text.minilm import MINILM_MODEL_ID, MiniLMEncoder, token_count


@pytest.fixture(scope="module")
def encoder() -> MiniLMEncoder:
    return MiniLMEncoder()


def test_embeddings_are_unit_norm_and_deterministic(encoder: MiniLMEncoder) -> None:
    texts = ["a red ball rolls to the left", "a blue cube rises", ""]
    first = encoder.encode(texts)
    second = encoder.encode(list(reversed(texts))).flip(0)
    assert first.shape == (3, 384)
    assert first.dtype == torch.float32
    torch.testing.assert_close(first.norm(dim=-1), torch.ones(3), atol=1e-5, rtol=0)
    # Batch order and padding length must not change an embedding.
    torch.testing.assert_close(first, second, atol=1e-5, rtol=0)


def test_paraphrases_are_closer_than_unrelated_captions(encoder: MiniLMEncoder) -> None:
    left, paraphrase, unrelated = encoder.encode(
        [
            "a red ball rolls to the left",
            "crimson sphere moving leftwards",
            "a green cube rising upward on a dark floor",
        ]
    )
    close = float(left @ paraphrase)
    far = float(left @ unrelated)
    assert close > 0.3  # measured 0.41 (and 0.19 for the unrelated pair)
    assert close > far + 0.15


def test_batching_does_not_change_results() -> None:
    small_batches = MiniLMEncoder(batch_size=2)
    texts = [f"a ball moving {word}" for word in ("left", "right", "up", "down", "away")]
    one_batch = MiniLMEncoder(batch_size=64).encode(texts)
    torch.testing.assert_close(small_batches.encode(texts), one_batch, atol=1e-5, rtol=0)
    assert small_batches.model_id == MINILM_MODEL_ID
    assert not any(p.requires_grad for p in small_batches.model.parameters())


def test_token_states_pool_to_the_sentence_vector(encoder: MiniLMEncoder) -> None:
    from t2v.models.blocks import sentence_vector
    from t2v.text.minilm import TOKEN_LENGTH

    texts = ["a red ball rolls to the left", "a blue cube rises slowly above the floor", ""]
    tokens = encoder.encode_tokens(texts)
    assert tokens.shape == (3, TOKEN_LENGTH, 384)
    real = (tokens.abs().sum(-1) > 0).sum(1).tolist()
    assert real == [token_count(text) for text in texts]
    assert tokens[0, real[0] :].abs().max() == 0  # padding rows are exactly zero
    torch.testing.assert_close(sentence_vector(tokens), encoder.encode(texts), atol=1e-5, rtol=0)
    assert encoder.encoder_for(True) == encoder.encode_tokens
    assert encoder.encoder_for(False) == encoder.encode
