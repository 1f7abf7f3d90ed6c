"""Text pathways of the bundled UNets: token-attention pooling and sentence-vector pathways."""

import pytest
import torch

from t2v.models import PixelVideoUNet
from t2v.models.blocks import sentence_vector

TINY = dict(block_channels=(8, 16), embed_dim=16, norm_groups=4, text_dim=12, max_frames=6)


def token_states(lengths: list[int], width: int = 10) -> torch.Tensor:
    """Random token states, zero past each caption's length (as the MiniLM encoder pads)."""
    generator = torch.Generator().manual_seed(3)
    states = torch.randn(len(lengths), width, 12, generator=generator)
    for row, length in enumerate(lengths):
        states[row, length:] = 0
    return states


def model(pathway: str) -> PixelVideoUNet:
    torch.manual_seed(0)
    return PixelVideoUNet(**TINY, text_pathway=pathway).eval()


@torch.no_grad()
def test_attention_pathway_ignores_padding_and_batch_neighbours():
    unet = model("attention")
    tokens = token_states([4, 7])
    features = unet.embedding.text_features(tokens)
    longer = torch.cat([tokens, torch.zeros(2, 5, 12)], dim=1)  # more padding rows
    torch.testing.assert_close(unet.embedding.text_features(longer), features)
    alone = unet.embedding.text_features(tokens[1:])
    torch.testing.assert_close(alone, features[1:])
    # A change in a padding row is invisible; a change in a real token is not.
    changed = tokens.clone()
    changed[0, 2] = torch.randn(12, generator=torch.Generator().manual_seed(5))
    moved = unet.embedding.text_features(changed)[0] - features[0]
    assert float(moved.abs().max()) > 1e-4
    padded = tokens.clone()
    padded[0, 4:] = 0.5  # becomes a "real" token: padding is only ever zero rows
    assert float((unet.embedding.text_features(padded)[0] - features[0]).abs().max()) > 1e-4
    assert unet.reads_tokens


def test_attention_pathway_refuses_sentence_vectors():
    with pytest.raises(ValueError, match="token states"):
        model("attention").embedding.text_features(torch.randn(2, 12))


def test_sentence_pathways_pool_token_states_to_the_sentence_vector():
    tokens = token_states([3, 9])
    pooled = torch.stack([tokens[0, :3].mean(0), tokens[1, :9].mean(0)])
    torch.testing.assert_close(sentence_vector(tokens), torch.nn.functional.normalize(pooled))
    for pathway in ("linear", "mlp"):
        unet = model(pathway)
        assert not unet.reads_tokens
        torch.testing.assert_close(
            unet.embedding.text_features(tokens),
            unet.embedding.text_features(sentence_vector(tokens)),
        )


def test_attention_pathway_trains_the_unet_end_to_end():
    unet = model("attention").train()
    sample = torch.randn(2, 3, 4, 8, 8)
    output = unet(sample, torch.tensor([10, 900]), token_states([4, 7]), torch.tensor([0, 3]))
    assert output.shape == sample.shape
    output.square().mean().backward()
    score = unet.embedding.text_proj[0].score.weight.grad
    assert score is not None and float(score.abs().sum()) > 0
