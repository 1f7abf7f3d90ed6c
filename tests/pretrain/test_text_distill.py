"""Distilling a prior's text pathway into a phrasing-invariant token-attention pathway."""

import pytest
import torch
from diffusers import DDPMScheduler

from t2v.models import PixelVideoUNet
from t2v.pretrain.prior_folder import PriorModels, save_prior
from t2v.pretrain.text_distill import DistillSettings, distill, distillation_pairs, main
from t2v.text.minilm import MiniLMEncoder

TINY = dict(block_channels=(8, 16), embed_dim=16, norm_groups=4, max_frames=4, sample_size=8)


@pytest.fixture(scope="module")
def minilm() -> MiniLMEncoder:
    return MiniLMEncoder()


def tiny_prior(pathway: str = "mlp") -> PriorModels:
    torch.manual_seed(0)
    unet = PixelVideoUNet(**TINY, num_frames=4, text_dim=384, text_pathway=pathway).eval()
    return PriorModels(unet, DDPMScheduler(num_train_timesteps=100))


def test_distilled_pathway_maps_phrasings_to_their_canonical_caption(minilm):
    models = tiny_prior()
    old = models.unet
    settings = DistillSettings(captions=500, steps=400, batch_size=64)
    distilled, figures = distill(models, minilm, settings, log=lambda *_: None)
    new = distilled.unet
    assert new.reads_tokens and not old.reads_tokens
    new_weights = new.state_dict()
    for name, value in old.state_dict().items():
        if not name.startswith("embedding.text_proj."):
            assert torch.equal(value, new_weights[name]), name
    # Unseen training-vocabulary captions land nearer their canonical caption's old output.
    captions, canonical = distillation_pairs(DistillSettings(captions=40, seed=9), ["none", "noir"])
    with torch.no_grad():
        target = old.embedding.text_features(minilm.encode(canonical))
        before = (old.embedding.text_features(minilm.encode(captions)) - target).square().mean()
        after = (new.embedding.text_features(minilm.encode_tokens(captions)) - target).square()
    assert float(after.mean()) < 0.5 * float(before)
    assert figures["relative_error"] < 0.5


def test_distil_refuses_a_token_prior_and_the_cli_answers_in_one_line(minilm, tmp_path, capsys):
    from t2v.errors import ConfigError

    with pytest.raises(ConfigError, match="already reads token states"):
        distill(tiny_prior("attention"), minilm, DistillSettings(captions=4, steps=1))
    folder = save_prior(tiny_prior(), tmp_path / "prior")
    assert main([str(folder), "--out", str(folder)]) == 2
    assert main([str(tmp_path / "missing"), "--out", str(tmp_path / "new")]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 2 and all(line.startswith("text_distill: ") for line in errors)
    assert "--out must differ" in errors[0] and "not a t2v prior folder" in errors[1]
    assert not (tmp_path / "new").exists()
