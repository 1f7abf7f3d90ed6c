"""LTX-Video prior: tiny folders through `from_pretrained`, its token packing and dynamic shift,
and a debug generate through every stage."""

import json
import math

import pytest
import torch

from t2v import cli
from t2v.priors import LTXImagePrior, LTXVideoPrior
from t2v.priors.ltx import pack, unpack
from t2v.text.prompt import PromptEncoder


@pytest.fixture(scope="module")
def ltx(flow_folders) -> LTXVideoPrior:
    return LTXVideoPrior.from_pretrained(
        str(flow_folders["ltx"]), resolution=(32, 32), device="cpu"
    )


def test_packing_is_the_pipelines_token_order_and_inverts():
    latents = torch.arange(2 * 3 * 4 * 4 * 6, dtype=torch.float32).view(2, 3, 4, 4, 6)
    tokens = pack(latents, patch=2, patch_t=2)
    assert tokens.shape == (2, 2 * 2 * 3, 3 * 2 * 2 * 2)
    # The first token holds channel 0..2 of the first 2x2x2 patch, channel-major.
    assert tokens[0, 0, :8].tolist() == latents[0, 0, :2, :2, :2].flatten().tolist()
    assert torch.equal(unpack(tokens, latents.shape, 2, 2), latents)


def test_shift_follows_the_token_count(ltx):
    """e^μ, μ linear from (1024 tokens, 0.95) to (4096, 2.05), as the pipeline computes it."""
    assert ltx.shift_for(torch.zeros(1, 4, 1, 32, 32)) == pytest.approx(math.exp(0.95))
    assert ltx.shift_for(torch.zeros(1, 4, 4, 32, 32)) == pytest.approx(math.exp(2.05))
    assert ltx.shift_for(torch.zeros(1, 4, 1, 8, 8)) == pytest.approx(
        math.exp(0.95 + 1.1 * (64 - 1024) / 3072)
    )


def test_tiny_ltx_loads_and_gives_finite_gradients(ltx, flow_folders):
    image = LTXImagePrior.from_pretrained(
        str(flow_folders["ltx"]), resolution=(32, 32), device="cpu"
    )
    assert image.video.transformer is ltx.transformer
    assert ltx.text_encoder_spec.kind == "t5_masked"
    cond = PromptEncoder.for_prior(ltx).encode("a red ball")
    states = cond.cond["any"]
    assert (states.abs().amax(-1) == 0).any()  # the padding is zeroed: the mask is recoverable
    frames = torch.rand(1, 9, 3, 16, 16, requires_grad=True)
    output = ltx.sds(frames, cond, generator=torch.Generator().manual_seed(0))
    output.loss.backward()
    assert output.logs["sds/nonfinite"] == 0.0
    assert torch.isfinite(frames.grad).all() and frames.grad.abs().sum() > 0
    stills = torch.rand(1, 2, 3, 16, 16, requires_grad=True)
    image.sds(stills, cond, generator=torch.Generator().manual_seed(1)).loss.backward()
    assert torch.isfinite(stills.grad).all() and stills.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="8k \\+ 1 frames; got 5"):
        ltx.sds(frames[:, :5], cond)


def test_debug_generate_through_every_stage(
    flow_folders, flow_generate_args, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    assert cli.main(flow_generate_args("ltx", flow_folders, 32, tmp_path)) == 0
    run = tmp_path / "ltx"
    assert (run / "video.mp4").stat().st_size > 0
    stages = json.loads((run / "metrics.json").read_text())["stages"]
    names = [stage["name"] if isinstance(stage, dict) else stage for stage in stages]
    assert set(names) >= {"static", "dynamic", "superres", "temporal"}
