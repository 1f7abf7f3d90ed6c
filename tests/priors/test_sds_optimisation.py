"""The whole SDS loop points the right way: a tiny prior, trained here, pulls an image to its data.

A pixel-space UNet2DConditionModel (IF-shaped: 6 output channels) learns two 8x8 images, a red
one for text embedding A and a blue one for B (10% condition dropout to a third embedding). It
is saved and loaded back through the real loader; SDS from it (guidance 3, annealed timesteps)
then optimises a grey image under prompt A. The prior's own denoising loss on the image must
fall, and the image must end up nearer red than blue.
"""

import pytest
import torch
from diffusers import DDPMScheduler, UNet2DConditionModel

from t2v.priors import ImagePrior, PriorRole
from t2v.text import TextConditioning

VIEWS = ("any", "front", "side", "back", "overhead")


def _train_tiny_prior(targets, embeddings, steps=100):
    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        sample_size=8,
        in_channels=3,
        out_channels=6,
        block_out_channels=(8, 16),
        layers_per_block=1,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32,
        attention_head_dim=4,
        norm_num_groups=4,
    )
    scheduler = DDPMScheduler(
        num_train_timesteps=1000, beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012
    )
    optimiser = torch.optim.Adam(unet.parameters(), lr=5e-3)
    generator = torch.Generator().manual_seed(0)
    for _ in range(steps):
        which = torch.randint(0, 2, (32,), generator=generator)
        dropped = torch.rand(32, generator=generator) < 0.1
        text = embeddings[torch.where(dropped, 2, which)]
        timesteps = torch.randint(0, 1000, (32,), generator=generator)
        noise = torch.randn((32, 3, 8, 8), generator=generator)
        noisy = scheduler.add_noise(targets[which], noise, timesteps)
        predicted = unet(noisy, timesteps, encoder_hidden_states=text).sample[:, :3]
        loss = (predicted - noise).pow(2).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return unet, scheduler


def _denoising_loss(prior, image, text):
    """The prior's conditional ε-loss on `image (3, 8, 8)` at 16 fixed (t, noise) pairs."""
    timesteps = torch.linspace(50, 950, 16).long()
    noise = torch.randn((16, 3, 8, 8), generator=torch.Generator().manual_seed(123))
    alpha_bar = prior.alphas_cumprod[timesteps].view(-1, 1, 1, 1)
    noisy = alpha_bar.sqrt() * (image * 2 - 1) + (1 - alpha_bar).sqrt() * noise
    with torch.no_grad():
        predicted = prior.unet(noisy, timesteps, encoder_hidden_states=text.expand(16, -1, -1))
    return float((predicted.sample[:, :3] - noise).pow(2).mean())


@pytest.mark.slow
def test_sds_from_a_trained_tiny_prior_lowers_its_denoising_loss(tmp_path):
    red, blue = torch.zeros(3, 8, 8), torch.zeros(3, 8, 8)
    red[0], blue[2] = 1.0, 1.0
    embeddings = torch.randn(3, 4, 32, generator=torch.Generator().manual_seed(7))
    unet, scheduler = _train_tiny_prior(torch.stack([red, blue]) * 2 - 1, embeddings)
    unet.save_pretrained(tmp_path / "unet")
    scheduler.save_pretrained(tmp_path / "scheduler")
    node = {
        "_target_": "t2v.priors.DiffusionImagePrior.from_pretrained",
        "model": str(tmp_path),
        "family": "deepfloyd",
        "resolution": [8, 8],
        "guidance_scale": 3.0,
        "weighting": "sds",
        "timesteps": {"t_max_start": 0.98, "t_max_end": 0.5, "t_min": 0.02, "anneal_steps": 50},
    }
    role = PriorRole.from_node("prior.image", node, ImagePrior)
    prior = role.load(local_files_only=True, device="cpu")
    cond = TextConditioning(
        model_id="tiny",
        prompt="A",
        negative_prompt="",
        genre="none",
        genre_id=0,
        cond=dict.fromkeys(VIEWS, embeddings[0]),
        uncond=dict.fromkeys(VIEWS, embeddings[2]),
    )
    start = 0.5 + 0.1 * torch.randn(1, 1, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    image = start.clone().requires_grad_(True)
    optimiser = torch.optim.Adam([image], lr=0.03)
    generator = torch.Generator().manual_seed(2)
    for step in range(60):
        output = prior.sds(image, cond, step=step, generator=generator)
        optimiser.zero_grad()
        output.loss.backward()
        optimiser.step()
        with torch.no_grad():
            image.clamp_(0.0, 1.0)
    final = image.detach()[0, 0]
    before = _denoising_loss(prior, start[0, 0], embeddings[0])
    after = _denoising_loss(prior, final, embeddings[0])
    assert after < 0.85 * before
    to_red, to_blue = (final - red).pow(2).mean(), (final - blue).pow(2).mean()
    assert to_red < 0.7 * (start[0, 0] - red).pow(2).mean()
    assert to_red < to_blue
