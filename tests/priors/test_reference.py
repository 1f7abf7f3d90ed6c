"""The reference clip on the prior side: the video prior's seeded sample of the prompt, the
times rendered against it each step, and the loss that pulls the front view towards it."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

from t2v.errors import ConfigError
from t2v.genres import GenrePreset
from t2v.priors import REFERENCE_FRAMES, PriorPreset, ReferenceClip, ReferenceSettings, clip_at
from t2v.priors.tiny import save_tiny_bundled
from t2v.schema import parse
from t2v.text import PromptEncoder

PROMPT = "a red ball moving to the left"
CONF = Path(__file__).resolve().parents[2] / "conf"
STAGES = ("static", "dynamic", "superres", "temporal")


@pytest.fixture(scope="module")
def prior(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("prior")
    save_tiny_bundled(folder, frames=4, size=16, genres=("none", "noir"))
    return folder


def bundled_preset(prior: Path, **changes) -> PriorPreset:
    """conf/prior/bundled.yaml with the tiny prior in every role and `changes` on top."""
    node = yaml.safe_load((CONF / "prior" / "bundled.yaml").read_text())
    for role in ("image", "video", "sr"):
        node[role]["model"] = str(prior)
    return parse(PriorPreset, {**node, **changes}, "prior")


def genre(name: str) -> GenrePreset:
    return parse(
        GenrePreset, yaml.safe_load((CONF / "genre" / f"{name}.yaml").read_text()), "genre"
    )


def test_reference_clip_is_the_priors_seeded_sample(prior: Path, tmp_path: Path) -> None:
    preset = bundled_preset(prior, reference={"steps": 4, "guidance": 2})
    video = preset.load("video", device="cpu")
    encoder = PromptEncoder.for_prior(video, cache_dir=tmp_path, device="cpu")

    def reference(seed: int, genre_name: str = "noir") -> torch.Tensor:
        clip = preset.reference_clip(video, encoder.encode(PROMPT, genre(genre_name)), seed)
        assert isinstance(clip, ReferenceClip)
        return clip.clip

    clip = reference(0)
    assert clip.shape == (1, 4, 3, 16, 16)  # the prior's frames and size
    assert float(clip.min()) >= 0.0 and float(clip.max()) <= 1.0
    assert torch.equal(clip, reference(0))  # every rank and every resume draws the same clip
    assert (clip - reference(1)).abs().mean() > 1e-3
    assert (clip - reference(0, "none")).abs().mean() > 1e-3  # the genre conditions it
    cond = encoder.encode(PROMPT, genre("noir"))
    for off in ({"reference": None}, {"reference": {"weight": 0}}):  # no term, no clip drawn
        assert bundled_preset(prior, **off).reference_clip(video, cond, 0) is None


def test_reference_weight_per_stage() -> None:
    settings = parse(ReferenceSettings, {"weight": {"dynamic": 2}}, "prior.reference")
    assert settings.stage_weight("dynamic") == 2.0
    assert settings.stage_weight("superres") == 0.0  # a stage the mapping does not name has none
    assert parse(ReferenceSettings, {"weight": 0.5}, "prior.reference").weights(
        STAGES
    ) == dict.fromkeys(STAGES, 0.5)
    with pytest.raises(ConfigError, match=r"prior\.reference\.weight has unknown stage\(s\) sr"):
        parse(ReferenceSettings, {"weight": {"sr": 3}}, "prior.reference").weights(STAGES)


def test_a_latent_video_prior_needs_the_reference_off(prior: Path) -> None:
    latent = {"_target_": "t2v.priors.LatentVideoPrior.from_pretrained", "model": "org/video"}
    bundled_preset(prior, video=latent, reference=None)
    bundled_preset(prior, video=latent, reference={"weight": 0})  # weight 0: nothing to sample
    bundled_preset(prior, reference={"steps": 4})
    with pytest.raises(ConfigError, match=r"prior\.reference=null turns it off"):
        bundled_preset(prior, video=latent, reference={"steps": 4})


def test_reference_times_one_per_slice_or_the_static_frame() -> None:
    reference = ReferenceClip(torch.rand(1, 8, 3, 4, 4))
    generator = torch.Generator().manual_seed(0)
    times, indices = reference.sample_times(None, generator)
    assert times.shape == (REFERENCE_FRAMES,) and indices.dtype == torch.long
    slices = (times * REFERENCE_FRAMES).floor()
    assert slices.tolist() == list(range(REFERENCE_FRAMES))  # one continuous time per slice
    assert torch.equal(indices, (times * 7).round().long())  # the nearest clip frame's camera
    before = generator.get_state()
    times, indices = reference.sample_times(0.5, generator)  # the static stage: its one frame
    assert torch.equal(generator.get_state(), before)  # and no draw
    assert times.tolist() == [pytest.approx(4 / 7)] and indices.tolist() == [4]


def test_reference_loss_gradient_is_render_minus_clip() -> None:
    clip = torch.rand(1, 5, 3, 4, 4)
    times = torch.tensor([0.0, 0.375])
    rgb = torch.rand(1, 2, 3, 4, 4, requires_grad=True)
    loss = ReferenceClip(clip).loss(rgb, times)
    loss.backward()
    target = clip_at(clip, times)
    assert torch.allclose(rgb.grad, rgb.detach() - target)
    assert float(loss.detach()) == pytest.approx(0.5 * float((rgb.detach() - target).pow(2).sum()))
    large = torch.rand(1, 2, 3, 8, 8)  # a render larger than the clip is resized to it first
    assert ReferenceClip(clip).loss(large, times).shape == ()


def test_clip_at_reads_the_clip_between_its_frames() -> None:
    clip = torch.rand(2, 5, 3, 4, 4)  # frame k sits at time k / 4
    frame_times = torch.linspace(0, 1, 5)
    assert torch.allclose(clip_at(clip, frame_times), clip, atol=1e-6)
    halfway = clip_at(clip, torch.tensor([0.125, 0.875]))
    assert torch.allclose(halfway[:, 0], (clip[:, 0] + clip[:, 1]) / 2, atol=1e-6)
    assert torch.allclose(halfway[:, 1], (clip[:, 3] + clip[:, 4]) / 2, atol=1e-6)
    quarter = clip_at(clip, torch.tensor([0.3]))  # 1.2 frames: 0.8 of frame 1, 0.2 of frame 2
    assert torch.allclose(quarter[:, 0], 0.8 * clip[:, 1] + 0.2 * clip[:, 2], atol=1e-6)
    assert torch.allclose(clip_at(clip, torch.tensor([-0.5, 1.5])), clip[:, [0, 4]], atol=1e-6)
