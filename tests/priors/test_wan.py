"""Wan 2.1 prior: tiny folders through `from_pretrained`, clip lengths, missing weights, and a
debug generate through every stage."""

import json
from pathlib import Path

import pytest
import torch

from t2v import cli
from t2v.config.generate import parse_generate
from t2v.priors import LatentVideoPrior, LTXVideoPrior, WanImagePrior, WanVideoPrior
from t2v.text.prompt import PromptEncoder


def test_clip_lengths_round_up_to_what_the_vae_packs():
    assert [WanVideoPrior.accepted_frames(n) for n in (1, 2, 4, 5, 16, 17)] == [1, 5, 5, 5, 17, 17]
    assert [LTXVideoPrior.accepted_frames(n) for n in (1, 4, 9, 10, 16)] == [1, 9, 9, 17, 17]
    assert [LatentVideoPrior.accepted_frames(n) for n in (1, 4, 16)] == [1, 4, 16]


def test_stages_render_clips_the_prior_takes():
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    conf = Path(__file__).resolve().parents[2] / "conf"
    with initialize_config_dir(str(conf), version_base=None):
        frames = {}
        for prior in ("wan", "ltx", "zeroscope"):
            node = compose(
                "generate",
                overrides=["prompt=x", f"prior={prior}", "resolution=base", "logger=none"],
            )
            resolved = OmegaConf.to_container(node, resolve=True)
            frames[prior] = {spec.name: spec.frames for spec in parse_generate(resolved).stages}
    assert frames["wan"]["dynamic"] == 17 and frames["wan"]["static"] == 1
    assert frames["ltx"]["dynamic"] == 17 and frames["ltx"]["superres"] == 17
    assert frames["zeroscope"]["dynamic"] == 16  # ε priors keep the resolution's length


def test_tiny_wan_loads_and_gives_finite_gradients(flow_folders):
    folder = str(flow_folders["wan"])
    video = WanVideoPrior.from_pretrained(folder, resolution=(16, 16), device="cpu")
    image = WanImagePrior.from_pretrained(folder, resolution=(16, 16), device="cpu")
    assert image.video.transformer is video.transformer  # one folder, one set of weights
    assert video.text_encoder_spec.kind == "umt5"
    cond = PromptEncoder.for_prior(video).encode("a red ball")
    assert cond.cond["any"].shape[-1] == 32
    frames = torch.rand(1, 5, 3, 24, 24, requires_grad=True)
    output = video.sds(frames, cond, generator=torch.Generator().manual_seed(0))
    output.loss.backward()
    assert output.logs["sds/nonfinite"] == 0.0
    assert torch.isfinite(frames.grad).all() and frames.grad.abs().sum() > 0
    stills = torch.rand(2, 3, 3, 24, 24, requires_grad=True)
    image.sds(stills, cond, generator=torch.Generator().manual_seed(1)).loss.backward()
    assert torch.isfinite(stills.grad).all() and stills.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="4k \\+ 1 frames; got 4"):
        video.sds(frames[:, :4], cond)


def test_missing_weights_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    code = cli.main(["generate", "prompt=a red ball", "prior=wan", f"run_dir={tmp_path / 'r'}"])
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("t2v")]
    assert code == 2
    assert len(lines) == 1
    assert "huggingface-cli download Wan-AI/Wan2.1-T2V-1.3B-Diffusers" in lines[0]
    assert list(tmp_path.iterdir()) == []  # refused at the door: nothing written


def test_debug_generate_through_every_stage(
    flow_folders, flow_generate_args, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    assert cli.main(flow_generate_args("wan", flow_folders, 16, tmp_path)) == 0
    run = tmp_path / "wan"
    assert (run / "video.mp4").stat().st_size > 0
    stages = json.loads((run / "metrics.json").read_text())["stages"]
    names = [stage["name"] if isinstance(stage, dict) else stage for stage in stages]
    assert set(names) >= {"static", "dynamic", "superres", "temporal"}
