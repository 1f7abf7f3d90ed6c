"""conf/prior presets: real model ids, parsed once, every role loadable (tiny stand-ins), and
hybrid guidance drawing exactly as the dynamic stage draws."""

import copy
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from t2v.errors import ConfigError
from t2v.priors import (
    DiffusionImagePrior,
    DiffusionPrior,
    HybridGuidance,
    ImagePrior,
    LatentVideoPrior,
    PixelSRPrior,
    PixelVideoPrior,
    PriorPreset,
    PriorRole,
    SRPrior,
    StillClipImagePrior,
    UpscalerSRPrior,
    VideoPrior,
)
from t2v.priors.loading import resolve_model
from t2v.schema import parse
from t2v.text import TextConditioning

PRESET_DIR = Path(__file__).resolve().parents[2] / "conf" / "prior"
PRESETS = sorted(PRESET_DIR.glob("*.yaml"))
STAGES = ("static", "dynamic", "superres", "temporal")
STAND_IN = {
    "t2v.priors.DiffusionImagePrior.from_pretrained": lambda node: node["family"],
    "t2v.priors.StillClipImagePrior.from_folder": lambda node: "bundled",
    "t2v.priors.LatentVideoPrior.from_pretrained": lambda node: "video",
    "t2v.priors.PixelVideoPrior.from_folder": lambda node: "bundled",
    "t2v.priors.UpscalerSRPrior.from_pretrained": lambda node: "upscaler",
    "t2v.priors.PixelSRPrior.from_folder": lambda node: "bundled",
    "t2v.priors.WanImagePrior.from_pretrained": lambda node: "wan",
    "t2v.priors.WanVideoPrior.from_pretrained": lambda node: "wan",
    "t2v.priors.LTXImagePrior.from_pretrained": lambda node: "ltx",
    "t2v.priors.LTXVideoPrior.from_pretrained": lambda node: "ltx",
}


def _plain(path: Path) -> dict:
    return OmegaConf.to_container(OmegaConf.load(path), resolve=True)


def _conditioning(prior, seed=0):
    dims = {"minilm": (384,), "minilm_tokens": (64, 384)}
    dim = dims.get(prior.text_encoder_spec.kind, (8, 32))
    generator = torch.Generator().manual_seed(seed)
    cond, uncond = torch.randn(dim, generator=generator), torch.randn(dim, generator=generator)
    views = ("any", "front", "side", "back", "overhead")
    return TextConditioning(
        model_id="test",
        prompt="p",
        negative_prompt="",
        genre="none",
        genre_id=0,
        cond=dict.fromkeys(views, cond),
        uncond=dict.fromkeys(views, uncond),
    )


def test_presets_name_the_real_models():
    models = {
        path.stem: {role: _plain(path)[role]["model"] for role in ("image", "video", "sr")}
        for path in PRESETS
    }
    assert models["zeroscope"] == {
        "image": "stabilityai/stable-diffusion-2-1-base",
        "video": "cerspense/zeroscope_v2_576w",
        "sr": "stabilityai/stable-diffusion-x4-upscaler",
    }
    assert models["modelscope"]["video"] == "damo-vilab/text-to-video-ms-1.7b"
    assert models["deepfloyd"]["image"] == "DeepFloyd/IF-I-XL-v1.0"
    assert set(models["bundled"].values()) == {"pkg://t2v/assets/priors/bundled"}
    bundled = parse(PriorPreset, _plain(PRESET_DIR / "bundled.yaml"), "prior")
    assert bundled.video.sds.guidance_scale == 5.0 and bundled.local_files_only is True
    assert bundled.export_grading is False and bundled.draws_reference


@pytest.mark.parametrize("path", PRESETS, ids=lambda p: p.stem)
def test_every_preset_parses_with_the_roles_it_names(path):
    preset = parse(PriorPreset, _plain(path), "prior")
    assert preset.name == path.stem
    expected = {"image": ImagePrior, "video": VideoPrior, "sr": SRPrior}
    for role, kind in expected.items():
        node = getattr(preset, role)
        assert isinstance(node, PriorRole) and issubclass(node.builds, kind)
    assert preset.reference_weights(STAGES).keys() == set(STAGES)


@pytest.mark.parametrize("path", PRESETS, ids=lambda p: p.stem)
def test_every_role_of_every_preset_loads_and_distils(path, tiny_folders, flow_folders):
    node = _plain(path)
    node["local_files_only"] = True
    node["reference"] = None  # a tiny latent video prior samples no clip either
    folders = {**tiny_folders, **flow_folders}
    for role in ("image", "video", "sr"):
        node[role]["model"] = str(folders[STAND_IN[node[role]["_target_"]](node[role])])
        if "resolution" in node[role]:
            deepfloyd = node[role].get("family") == "deepfloyd"
            node[role]["resolution"] = [8, 8] if deepfloyd else [16, 16]
    preset = parse(PriorPreset, node, "prior")
    length = preset.clip_frames(4)  # what the video prior takes (Wan 5, LTX 9, others 4)
    generator = torch.Generator().manual_seed(0)
    frames = torch.rand(1, length, 3, 16, 16, generator=generator)
    for role in ("image", "video", "sr"):
        prior = preset.load(role, device="cpu")
        assert prior.config.guidance_scale == node[role]["guidance_scale"]
        assert prior.config == getattr(preset, role).sds
        clip = frames.detach().clone().requires_grad_(True)
        if role == "sr":
            low_res = torch.nn.functional.avg_pool2d(frames.flatten(0, 1), 4)
            low_res = low_res.unflatten(0, (1, length))
            output = prior.sds(clip, _conditioning(prior), low_res, step=3)
        else:
            output = prior.sds(clip, _conditioning(prior), views=["side"], step=3)
        output.loss.backward()
        assert output.logs["sds/nonfinite"] == 0.0
        assert float(clip.grad.abs().sum()) > 0.0


def test_one_sds_for_every_prior():
    classes = (
        DiffusionImagePrior,
        StillClipImagePrior,
        LatentVideoPrior,
        PixelVideoPrior,
        UpscalerSRPrior,
        PixelSRPrior,
    )
    for cls in classes:
        assert cls.sds is DiffusionPrior.sds, cls
        assert {"encode", "denoiser"} <= set(vars(cls)), cls


def _bundled():
    return _plain(PRESET_DIR / "bundled.yaml")


def _refused(node, match):
    with pytest.raises(ConfigError, match=match) as error:
        parse(PriorPreset, node, "prior")
    assert "\n" not in str(error.value)


def test_bad_presets_are_refused_in_one_line_naming_the_key():
    node = _bundled()
    node["video"]["guidance_scale"] = -1
    _refused(node, r"^prior\.video\.guidance_scale = -1")
    node = _bundled()
    node["image"]["timesteps"]["t_min_start"] = 0.99
    _refused(node, r"^prior\.image\.timesteps: t_min_start = 0\.99 is above")
    node = _bundled()
    node["sr"]["weighting"] = "loud"
    _refused(node, r"^prior\.sr\.weighting = 'loud'")
    node = _bundled()
    node["video"] = None
    _refused(node, r"prior 'bundled' has no video prior \(prior\.video\)")
    node = _bundled()
    node["hybrid"]["image_frames"] = 0
    _refused(node, r"^prior\.hybrid\.image_frames = 0")
    node = _bundled()
    node["reference"]["steps"] = 0
    _refused(node, r"^prior\.reference\.steps = 0")
    node = _bundled()
    node["reference"]["weight"] = -1
    _refused(node, r"^prior\.reference\.weight = -1")
    node = _bundled()
    node["video"]["model"] = 3
    _refused(node, r"^prior\.video\.model = 3")
    node = _bundled()
    node["video"]["_target_"] = "t2v.priors.LatentVideoPrior.from_pretrained"
    _refused(node, r"prior\.reference needs a video prior that samples clips.*=null turns it off")
    node["reference"] = None  # a latent video prior without a reference clip is fine
    assert parse(PriorPreset, node, "prior").video.builds is LatentVideoPrior
    node["reference"] = {"weight": 0}  # weight 0 draws no clip, so needs no sampler either
    assert not parse(PriorPreset, node, "prior").draws_reference


def test_reference_weights_per_stage():
    preset = parse(PriorPreset, _bundled(), "prior")
    assert preset.reference_weights(STAGES) == {
        "static": 1.0,
        "dynamic": 10.0,
        "superres": 10.0,
        "temporal": 10.0,
    }
    node = _bundled()
    node["reference"] = {"steps": 4, "weight": 0.5}
    assert set(parse(PriorPreset, node, "prior").reference_weights(STAGES).values()) == {0.5}
    node["reference"] = {"weight": {"dynamic": 2}}  # a stage the mapping does not name has none
    assert parse(PriorPreset, node, "prior").reference_weights(STAGES) == {
        "static": 0.0,
        "dynamic": 2.0,
        "superres": 0.0,
        "temporal": 0.0,
    }
    node["reference"] = {"weight": {"sr": 3}}
    with pytest.raises(ConfigError, match=r"prior\.reference\.weight has unknown stage\(s\) sr"):
        parse(PriorPreset, node, "prior").reference_weights(STAGES)
    node["reference"] = None
    without = parse(PriorPreset, node, "prior")
    assert not without.draws_reference and set(without.reference_weights(STAGES).values()) == {0}


def test_shipped_bundled_prior_resolves_when_present():
    folder = Path(__file__).resolve().parents[2] / "t2v" / "assets" / "priors" / "bundled"
    if not folder.is_dir():
        pytest.skip("the bundled prior is not shipped in this checkout yet (t2v pretrain)")
    assert Path(resolve_model("pkg://t2v/assets/priors/bundled")) == folder.resolve()


@pytest.fixture(scope="module")
def hybrid_parts(tiny_folders):
    node = copy.deepcopy(_plain(PRESET_DIR / "deepfloyd.yaml"))
    node.update(local_files_only=True, reference=None, sr=None)
    node["image"].update(model=str(tiny_folders["deepfloyd"]), resolution=[8, 8])
    node["video"] = {
        "_target_": "t2v.priors.PixelVideoPrior.from_folder",
        "model": str(tiny_folders["bundled"]),
    }
    preset = parse(PriorPreset, node, "prior")
    return preset.load("image", device="cpu"), preset.load("video", device="cpu")


def _stage_hybrid(image, video, p_image, image_frames, frames, conds, generator):
    """The dynamic stage's inline hybrid, as it was written before HybridGuidance replaced it."""
    use_image = float(torch.rand((), generator=generator)) < p_image
    if use_image:
        count = image_frames
        if count is not None and count < frames.shape[1]:
            chosen = torch.randperm(frames.shape[1], generator=generator)[:count].sort().values
            frames = frames[:, chosen.to(frames.device)]
        return "image", image.sds(frames, conds[0], views=None, step=5, generator=generator)
    return "video", video.sds(frames, conds[1], views=None, step=5, generator=generator)


@pytest.mark.parametrize(("p_image", "image_frames"), [(0.5, 1), (0.5, None), (0.0, 1)])
def test_hybrid_draws_exactly_as_the_dynamic_stage(hybrid_parts, p_image, image_frames):
    image, video = hybrid_parts
    conds = (_conditioning(image, 1), _conditioning(video, 2))
    hybrid = HybridGuidance(image, video, p_image, image_frames)
    picks = []
    for clip in range(8):
        frames = torch.rand(1, 4, 3, 8, 8, generator=torch.Generator().manual_seed(clip))
        grads, results = [], []
        for run in (hybrid.sds, None):
            generator = torch.Generator().manual_seed(100 + clip)
            clip_frames = frames.clone().requires_grad_(True)
            if run is None:
                kind, output = _stage_hybrid(
                    image, video, p_image, image_frames, clip_frames, conds, generator
                )
            else:
                kind, output = run(clip_frames, *conds, views=None, step=5, generator=generator)
            output.loss.backward()
            grads.append(clip_frames.grad)
            # the generator's next draw: both consumed exactly the same randomness
            after = float(torch.rand((), generator=generator))
            results.append((kind, float(output.loss.detach()), after))
        assert results[0] == results[1]
        assert torch.equal(grads[0], grads[1])
        picks.append(results[0][0])
        if results[0][0] == "image" and image_frames == 1:
            assert int((grads[0].abs().flatten(2).sum(-1) > 0).sum()) == 1
    if p_image == 0.0:
        assert set(picks) == {"video"}
    else:
        assert set(picks) == {"image", "video"}


def test_sr_priors_need_the_low_res_render_and_others_refuse_it(hybrid_parts, tiny_folders):
    _, video = hybrid_parts
    frames = torch.rand(1, 4, 3, 8, 8)
    with pytest.raises(TypeError, match="takes no low_res"):
        video.sds(frames, _conditioning(video), frames)
    loader = "t2v.priors.PixelSRPrior.from_folder"
    node = {"_target_": loader, "model": str(tiny_folders["bundled"])}
    role = PriorRole.from_node("prior.sr", node, SRPrior)
    assert role.builds is PixelSRPrior and not role.reads_local_files_only
    sr = role.load(device="cpu")
    with pytest.raises(TypeError, match="needs the low-res render"):
        sr.sds(frames, _conditioning(sr))
