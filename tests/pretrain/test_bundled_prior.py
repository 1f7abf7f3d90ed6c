"""The shipped prior folder: loads with from_pretrained, fits 50 MB, matches the contract."""

import json
from pathlib import Path

import torch

import t2v
from t2v.models import PixelSRUNet, PixelVideoUNet
from t2v.pretrain.prior_folder import MAX_PRIOR_BYTES, load_prior, weights_bytes

BUNDLED = Path(t2v.__file__).parent / "assets" / "priors" / "bundled"


def test_bundled_prior_loads_and_is_small():
    meta = json.loads((BUNDLED / "t2v_prior.json").read_text())
    assert meta["kind"] == "pixel_video" and meta["text_encoder"] == "minilm_tokens"
    assert (meta["frames"], meta["height"], meta["width"], meta["sr_factor"]) == (8, 32, 32, 2)
    # "" is the dropped (unconditional) genre, `none` a look of its own (t2v.pretrain.genre_slot)
    assert meta["genres"][:2] == ["", "none"] and len(meta["genres"]) == 10
    assert 1_000_000 < weights_bytes(BUNDLED) <= MAX_PRIOR_BYTES
    unet = PixelVideoUNet.from_pretrained(BUNDLED / "unet", low_cpu_mem_usage=False)
    sr_unet = PixelSRUNet.from_pretrained(BUNDLED / "sr_unet", low_cpu_mem_usage=False)
    assert list(unet.config.genres) == meta["genres"] == list(sr_unet.config.genres)
    assert unet.config.prediction_type == "v_prediction"
    prior = load_prior(BUNDLED)
    assert prior.scheduler.config.beta_schedule == "squaredcos_cap_v2"
    assert prior.scheduler.config.prediction_type == "v_prediction"
    # Trained weights: the temporal convs are no longer at their zero start.
    temporal = prior.unet.core.middle.temporal.conv.weight
    assert float(temporal.abs().mean()) > 1e-4
    assert prior.unet.reads_tokens and prior.text_encoder == meta["text_encoder"]
    tokens = torch.zeros(1, 64, 384)
    tokens[0, :5] = torch.randn(5, 384, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        out = prior.unet(torch.zeros(1, 3, 8, 32, 32), 500, tokens, 0)
    assert out.shape == (1, 3, 8, 32, 32) and torch.isfinite(out).all()


def test_the_bundled_recipe_builds_the_shipped_architecture():
    """conf/pretrain/bundled.yaml (the from-scratch recipe) trains models shaped as shipped."""
    from omegaconf import OmegaConf

    from t2v.cli import compose, register_resolvers
    from t2v.commands.pretrain import settings

    register_resolvers()
    cfg = compose("pretrain", ["pretrain=bundled", "output_dir=unused"])
    config = settings(OmegaConf.masked_copy(cfg, [key for key in cfg if key != "hydra"]))
    for stage, folder in (("video", "unet"), ("sr", "sr_unet")):
        shipped = json.loads((BUNDLED / folder / "config.json").read_text())
        recipe = config.pretrain.model_arguments(stage)
        assert recipe == {key: shipped[key] for key in recipe}, stage
    assert config.pretrain.model_arguments("video")["text_pathway"] == "attention"
