"""Every prior class on tiny random diffusers folders, loaded through the real loaders.

The SDS gradient each prior puts on the frames is recomputed here independently: the UNet is
called directly (conditional and unconditional branches separately), with the same noise and
timestep, and w(t)·(ε̂ − ε) / N is pulled back to the frames through the same encoding.
"""

import pytest
import torch
import torch.nn.functional as F
from diffusers.models.attention_processor import AttnProcessor2_0

from t2v.errors import ConfigError
from t2v.genres import GenrePreset
from t2v.priors import (
    DiffusionImagePrior,
    ImagePrior,
    LatentVideoPrior,
    PixelSRPrior,
    PixelVideoPrior,
    PriorRole,
    SDSConfig,
    SRPrior,
    UpscalerSRPrior,
    VideoPrior,
)
from t2v.priors.sds import sds_weight, to_epsilon
from t2v.text import PromptEncoder, TextConditioning

ACTION = GenrePreset(
    name="action",
    description="",
    prompt_template="{prompt}, action movie",
    negative_prompt="blurry, static",
)
CONFIG = SDSConfig(guidance_scale=7.5, weighting="sds")


def _fixed(shape, seed):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed))


def _expected_frame_grad(frames, encode, unet_eps, timesteps, noise, alphas_cumprod, scale):
    """d/dframes of the SDS loss, computed by hand: unet_eps(noisy, t, branch) gives ε."""
    frames = frames.detach().clone().requires_grad_(True)
    sample = encode(frames)
    shape = (-1,) + (1,) * (sample.dim() - 1)
    alpha_bar = alphas_cumprod[timesteps].view(shape)
    with torch.no_grad():
        noisy = alpha_bar.sqrt() * sample + (1 - alpha_bar).sqrt() * noise
        eps_cond = unet_eps(noisy, timesteps, "cond")
        eps_uncond = unet_eps(noisy, timesteps, "uncond")
        eps_hat = eps_uncond + scale * (eps_cond - eps_uncond)
        gradient = (1 - alpha_bar) * (eps_hat - noise) / sample.shape[0]
    (frames_grad,) = torch.autograd.grad(sample, frames, gradient)
    return frames_grad


def _assert_close(actual, expected):
    """Equal up to float32 summation order (the priors batch both branches in one call)."""
    scale = float(expected.abs().max())
    assert scale > 1e-6
    assert float((actual - expected).abs().max()) <= 1e-4 * scale


def _sds_grad(prior, frames, *args, **kwargs):
    frames = frames.detach().clone().requires_grad_(True)
    output = prior.sds(frames, *args, **kwargs)
    output.loss.backward()
    assert output.logs["sds/nonfinite"] == 0.0
    return frames.grad, output


def _assert_frozen_and_sdpa(*modules):
    for module in modules:
        assert not module.training
        assert not any(parameter.requires_grad for parameter in module.parameters())
    processors = modules[0].attn_processors.values()
    assert processors and all(isinstance(p, AttnProcessor2_0) for p in processors)


def test_sd_image_prior_gradient_matches_hand_computed_sds(tiny_folders):
    prior = DiffusionImagePrior.from_pretrained(
        str(tiny_folders["sd"]),
        family="sd",
        sds=CONFIG,
        resolution=(16, 16),
        local_files_only=True,
        device="cpu",
    )
    assert not isinstance(prior, torch.nn.Module)  # never registered under a LightningModule
    _assert_frozen_and_sdpa(prior.unet, prior.vae)
    cond = PromptEncoder.for_prior(prior, device="cpu").encode("a red ball", ACTION)
    assert cond.cond["front"].shape == (64, 32)
    frames = torch.rand(2, 2, 3, 12, 12, generator=torch.Generator().manual_seed(0))
    timesteps, noise = torch.tensor([50, 300, 600, 900]), _fixed((4, 4, 8, 8), 1)
    views = ["front", "back"]
    grad, output = _sds_grad(prior, frames, cond, views=views, noise=noise, timesteps=timesteps)

    def encode(images):
        pixels = F.interpolate(images.flatten(0, 1), size=(16, 16), mode="bilinear")
        latent = prior.vae.encode(pixels * 2 - 1).latent_dist.mean
        return latent * prior.vae.config.scaling_factor

    text = {
        "cond": torch.stack([cond.cond[v] for v in views for _ in range(2)]),
        "uncond": torch.stack([cond.uncond[v] for v in views for _ in range(2)]),
    }

    def unet_eps(noisy, t, branch):
        return prior.unet(noisy, t, encoder_hidden_states=text[branch]).sample

    expected = _expected_frame_grad(
        frames, encode, unet_eps, timesteps, noise, prior.alphas_cumprod, 7.5
    )
    assert grad.abs().max() > 1e-4
    _assert_close(grad, expected)
    assert output.logs["sds/timestep"] == pytest.approx(0.4625)


def test_deepfloyd_prior_is_pixel_space_and_drops_variance_channels(tiny_folders):
    node = {
        "_target_": "t2v.priors.DiffusionImagePrior.from_pretrained",
        "model": str(tiny_folders["deepfloyd"]),
        "family": "deepfloyd",
        "resolution": [8, 8],
        "guidance_scale": 3.0,
    }
    prior = PriorRole.from_node("prior.image", node, ImagePrior).load(
        local_files_only=True, device="cpu"
    )
    assert prior.vae is None and prior.text_encoder_spec.kind == "t5"
    cond = PromptEncoder.for_prior(prior, device="cpu").encode("a red ball", ACTION)
    assert cond.cond["front"].shape == (77, 32)  # T5 token states, padded to 77 as IF does
    embeds = torch.stack([cond.cond["any"], cond.uncond["any"]])
    frames = torch.rand(1, 2, 3, 8, 8, generator=torch.Generator().manual_seed(3))
    timesteps, noise = torch.tensor([200, 800]), _fixed((2, 3, 8, 8), 4)
    grad, _ = _sds_grad(prior, frames, cond, noise=noise, timesteps=timesteps)

    def unet_eps(noisy, t, branch):
        text = embeds[0 if branch == "cond" else 1].expand(2, -1, -1)
        output = prior.unet(noisy, t, encoder_hidden_states=text).sample
        assert output.shape[1] == 6
        return output[:, :3]

    expected = _expected_frame_grad(
        frames,
        lambda f: f.flatten(0, 1) * 2 - 1,
        unet_eps,
        timesteps,
        noise,
        prior.alphas_cumprod,
        3.0,
    )
    _assert_close(grad, expected)


def _conditioning(cond, uncond, genre_id=0):
    views = ("any", "front", "side", "back", "overhead")
    return TextConditioning(
        model_id="test",
        prompt="p",
        negative_prompt="",
        genre="none",
        genre_id=genre_id,
        cond=dict.fromkeys(views, cond),
        uncond=dict.fromkeys(views, uncond),
    )


@pytest.fixture(scope="module")
def video_prior(tiny_folders):
    return LatentVideoPrior.from_pretrained(
        str(tiny_folders["video"]),
        sds=CONFIG,
        resolution=(16, 16),
        local_files_only=True,
        device="cpu",
    )


def test_latent_video_prior_denoises_each_clip_jointly_at_one_timestep(video_prior):
    _assert_frozen_and_sdpa(video_prior.unet, video_prior.vae)
    cond = PromptEncoder.for_prior(video_prior, device="cpu").encode("a red ball", ACTION)
    frames = torch.rand(2, 4, 3, 16, 16, generator=torch.Generator().manual_seed(5))
    seen = {}
    hook = video_prior.unet.register_forward_pre_hook(
        lambda module, args, kwargs: seen.update(sample=args[0], t=args[1]), with_kwargs=True
    )
    try:
        timesteps, noise = torch.tensor([100, 700]), _fixed((2, 4, 4, 8, 8), 6)
        grad, _ = _sds_grad(video_prior, frames, cond, noise=noise, timesteps=timesteps)
    finally:
        hook.remove()
    assert seen["sample"].shape == (4, 4, 4, 8, 8)  # [cond; uncond] x (B, C, T, h, w)
    assert seen["t"].tolist() == [100, 700, 100, 700]

    def encode(clips):
        pixels = clips.flatten(0, 1) * 2 - 1
        latents = video_prior.vae.encode(pixels).latent_dist.mean * 0.18215
        return latents.unflatten(0, (2, 4)).transpose(1, 2)

    def unet_eps(noisy, t, branch):
        text = getattr(cond, branch)["any"].expand(2, -1, -1)
        return video_prior.unet(noisy, t, encoder_hidden_states=text).sample

    expected = _expected_frame_grad(
        frames, encode, unet_eps, timesteps, noise, video_prior.alphas_cumprod, 7.5
    )
    _assert_close(grad, expected)


def test_vae_backprop_through_a_subset_of_frames(video_prior):
    cond = _conditioning(_fixed((16, 32), 7), _fixed((16, 32), 8))
    frames = torch.rand(2, 4, 3, 16, 16, generator=torch.Generator().manual_seed(9))
    fixed = {"noise": _fixed((2, 4, 4, 8, 8), 10), "timesteps": torch.tensor([300, 300])}
    full, _ = _sds_grad(video_prior, frames, cond, **fixed)
    video_prior.vae_grad_frames = 2
    try:
        partial, _ = _sds_grad(
            video_prior, frames, cond, generator=torch.Generator().manual_seed(0), **fixed
        )
    finally:
        video_prior.vae_grad_frames = None
    has_grad = partial.abs().flatten(2).sum(-1) > 0
    assert has_grad.sum(dim=1).tolist() == [2, 2]
    assert torch.equal(has_grad[0], has_grad[1])  # the same frames for every clip
    _assert_close(partial[has_grad], full[has_grad])


def test_upscaler_prior_conditions_on_noised_low_res_and_noise_level(tiny_folders):
    prior = UpscalerSRPrior.from_pretrained(
        str(tiny_folders["upscaler"]),
        sds=CONFIG,
        noise_level=20,
        local_files_only=True,
        device="cpu",
    )
    assert prior.factor == 4 and prior.prediction_type == "v_prediction"
    _assert_frozen_and_sdpa(prior.unet, prior.vae)
    cond = PromptEncoder.for_prior(prior, device="cpu").encode("a red ball")
    frames = torch.rand(1, 2, 3, 32, 32, generator=torch.Generator().manual_seed(11))
    low_res = F.avg_pool2d(frames.flatten(0, 1), 4).unflatten(0, (1, 2))
    timesteps, noise = torch.tensor([400, 400]), _fixed((2, 4, 8, 8), 12)
    grad, _ = _sds_grad(
        prior,
        frames,
        cond,
        low_res,
        noise=noise,
        timesteps=timesteps,
        generator=torch.Generator().manual_seed(13),
    )
    alpha_level = prior.low_res_alphas_cumprod[20]
    low_noise = torch.randn((2, 3, 8, 8), generator=torch.Generator().manual_seed(13))
    small = (
        alpha_level.sqrt() * (low_res.flatten(0, 1) * 2 - 1) + (1 - alpha_level).sqrt() * low_noise
    )
    alpha_bar = prior.alphas_cumprod[timesteps].view(-1, 1, 1, 1)

    def unet_eps(noisy, t, branch):
        text = getattr(cond, branch)["any"].expand(2, -1, -1)
        velocity = prior.unet(
            torch.cat([noisy, small], 1),
            t,
            encoder_hidden_states=text,
            class_labels=torch.tensor([20, 20]),
        ).sample
        return to_epsilon(velocity, noisy, alpha_bar, "v_prediction")

    def encode(images):
        latent = prior.vae.encode(images.flatten(0, 1) * 2 - 1).latent_dist.mean
        return latent * 0.08333

    expected = _expected_frame_grad(
        frames, encode, unet_eps, timesteps, noise, prior.alphas_cumprod, 7.5
    )
    _assert_close(grad, expected)


@pytest.fixture(scope="module")
def bundled_cond(tiny_folders):
    prior = PixelVideoPrior.from_folder(str(tiny_folders["bundled"]), device="cpu")
    return PromptEncoder.for_prior(prior, device="cpu").encode("a red disc moving left", ACTION)


def test_bundled_video_prior_passes_genre_ids_and_empty_uncond(tiny_folders, bundled_cond):
    prior = PixelVideoPrior.from_folder(str(tiny_folders["bundled"]), sds=CONFIG, device="cpu")
    assert prior.genres == ("none", "action", "cartoon") and prior.frames == 4
    assert prior.prediction_type == "v_prediction"
    assert bundled_cond.genre_id == 1 and bundled_cond.negative_prompt == ""
    # Its manifest does not say "view_suffixes": true, so no view words it never read in training.
    assert (
        bundled_cond.texts["back"]
        == bundled_cond.texts["any"]
        == "a red disc moving left, action movie"
    )
    frames = torch.rand(2, 4, 3, 8, 8, generator=torch.Generator().manual_seed(14))
    seen = {}
    hook = prior.unet.register_forward_pre_hook(lambda module, args: seen.update(genres=args[3]))
    try:
        timesteps, noise = torch.tensor([250, 750]), _fixed((2, 3, 4, 8, 8), 15)
        grad, _ = _sds_grad(prior, frames, bundled_cond, noise=noise, timesteps=timesteps)
    finally:
        hook.remove()
    assert seen["genres"].tolist() == [1, 1, 0, 0]
    alpha_bar = prior.alphas_cumprod[timesteps].view(-1, 1, 1, 1, 1)

    def unet_eps(noisy, t, branch):
        text = getattr(bundled_cond, branch)["any"].expand(2, -1)
        genre = torch.full((2,), 1 if branch == "cond" else 0)
        return to_epsilon(prior.unet(noisy, t, text, genre), noisy, alpha_bar, "v_prediction")

    expected = _expected_frame_grad(
        frames,
        lambda f: (f * 2 - 1).transpose(1, 2),
        unet_eps,
        timesteps,
        noise,
        prior.alphas_cumprod,
        7.5,
    )
    _assert_close(grad, expected)


def test_bundled_sr_prior_gradient_matches_hand_computed_sds(tiny_folders, bundled_cond):
    prior = PixelSRPrior.from_folder(
        str(tiny_folders["bundled"]), sds=CONFIG, noise_level=0, device="cpu"
    )
    frames = torch.rand(1, 4, 3, 16, 16, generator=torch.Generator().manual_seed(16))
    low_res = torch.rand(1, 4, 3, 8, 8, generator=torch.Generator().manual_seed(17))
    timesteps, noise = torch.tensor([300]), _fixed((1, 3, 4, 16, 16), 18)
    grad, _ = _sds_grad(prior, frames, bundled_cond, low_res, noise=noise, timesteps=timesteps)
    alpha_bar = prior.alphas_cumprod[timesteps].view(-1, 1, 1, 1, 1)
    small = (low_res * 2 - 1).transpose(1, 2)

    def unet_eps(noisy, t, branch):
        text = getattr(bundled_cond, branch)["any"].expand(1, -1)
        genre = torch.full((1,), 1 if branch == "cond" else 0)
        output = prior.unet(noisy, t, small, torch.zeros(1, dtype=torch.long), text, genre)
        return to_epsilon(output, noisy, alpha_bar, "v_prediction")

    expected = _expected_frame_grad(
        frames,
        lambda f: (f * 2 - 1).transpose(1, 2),
        unet_eps,
        timesteps,
        noise,
        prior.alphas_cumprod,
        7.5,
    )
    _assert_close(grad, expected)


def test_weighting_modes_scale_the_same_residual(tiny_folders):
    cond = _conditioning(_fixed((5, 32), 19), _fixed((5, 32), 20))
    frames = torch.rand(1, 1, 3, 8, 8, generator=torch.Generator().manual_seed(21))
    fixed = {"noise": _fixed((1, 3, 8, 8), 22), "timesteps": torch.tensor([100])}
    prior = DiffusionImagePrior.from_pretrained(
        str(tiny_folders["deepfloyd"]),
        family="deepfloyd",
        resolution=(8, 8),
        local_files_only=True,
        device="cpu",
    )
    grads = {}
    for weighting in ("sds", "uniform", "snr"):
        prior.config = SDSConfig(guidance_scale=2.0, weighting=weighting)
        grads[weighting], _ = _sds_grad(prior, frames, cond, **fixed)
    alpha_bar = prior.alphas_cumprod[100:101]
    for weighting in ("sds", "snr"):
        ratio = float(sds_weight(alpha_bar, weighting)[0])
        _assert_close(grads[weighting], ratio * grads["uniform"])


@pytest.mark.parametrize(
    ("model", "match"),
    [
        ("no-such-org/no-such-model", "huggingface-cli download no-such-org/no-such-model"),
        ("/no/such/folder", "does not exist"),
        ("pkg://t2v/assets/priors/no_such_prior", "is not shipped"),
    ],
)
def test_missing_model_is_one_clear_config_error(model, match):
    node = {"_target_": "t2v.priors.LatentVideoPrior.from_pretrained", "model": model}
    role = PriorRole.from_node("prior.video", node, VideoPrior)
    with pytest.raises(ConfigError, match=match):
        role.load(local_files_only=True, device="cpu")


def test_unknown_targets_keys_and_roles_are_config_errors():
    loader = "t2v.priors.PixelSRPrior.from_folder"
    with pytest.raises(ConfigError, match=r"'t2v\.priors\.Gan\.from_folder' cannot be imported"):
        PriorRole.from_node("prior.video", {"_target_": "t2v.priors.Gan.from_folder"}, VideoPrior)
    with pytest.raises(ConfigError, match=r"prior\.sr has unknown key 'guidance'; known: .*guid"):
        node = {"_target_": loader, "model": "x/y", "guidance": 3}
        PriorRole.from_node("prior.sr", node, SRPrior)
    with pytest.raises(ConfigError, match=r"prior\.sr\.model is missing"):
        PriorRole.from_node("prior.sr", {"_target_": loader}, SRPrior)
    with pytest.raises(ConfigError, match="builds a PixelSRPrior, not a VideoPrior"):
        PriorRole.from_node("prior.video", {"_target_": loader, "model": "x/y"}, VideoPrior)


def test_video_sds_couples_frames_through_the_temporal_layers(tiny_folders, bundled_cond):
    prior = PixelVideoPrior.from_folder(str(tiny_folders["bundled"]), sds=CONFIG, device="cpu")
    fixed = {"noise": _fixed((1, 3, 4, 8, 8), 24), "timesteps": torch.tensor([500])}
    frames = torch.rand(1, 4, 3, 8, 8, generator=torch.Generator().manual_seed(25))
    changed = frames.clone()
    changed[:, 3] = 1.0 - changed[:, 3]  # only the last frame differs

    def first_frame_shift():
        grad, _ = _sds_grad(prior, frames, bundled_cond, **fixed)
        grad_changed, _ = _sds_grad(prior, changed, bundled_cond, **fixed)
        return float((grad_changed[:, 0] - grad[:, 0]).abs().max()), float(grad[:, 0].abs().max())

    # Temporal convs are zero-initialised: the untrained model sees each frame alone.
    assert first_frame_shift()[0] == 0.0
    temporal = [m for name, m in prior.unet.named_modules() if name.endswith("temporal.conv")]
    with torch.no_grad():
        for conv in temporal:
            conv.weight.copy_(0.3 * _fixed(conv.weight.shape, 23))
    shift, scale = first_frame_shift()
    assert shift > 1e-3 * scale
