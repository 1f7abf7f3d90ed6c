"""Rectified-flow SDS: the gradient formula on a tiny Wan, the shift, CFG and the weightings."""

import pytest
import torch

from t2v.priors import TimestepSchedule, WanVideoPrior
from t2v.priors.flow import equivalent_alpha_bar, flow_weight, shift_sigma
from t2v.priors.sds import SDSConfig, sds_weight
from t2v.text.prompt import PromptEncoder


@pytest.fixture(scope="module")
def wan(flow_folders) -> WanVideoPrior:
    config = SDSConfig(guidance_scale=7.0, weighting="sds")
    return WanVideoPrior.from_pretrained(
        str(flow_folders["wan"]), sds=config, resolution=(16, 16), device="cpu"
    )


@pytest.fixture(scope="module")
def cond(wan):
    return PromptEncoder.for_prior(wan).encode("a red ball bouncing")


def test_shift_maps_fractions_as_the_schedulers_do():
    tau = torch.tensor([0.0, 0.25, 0.5, 1.0])
    assert torch.allclose(shift_sigma(tau, 3.0), torch.tensor([0.0, 0.5, 0.75, 1.0]))
    assert torch.equal(shift_sigma(tau, 1.0), tau)


def test_gradient_is_weighted_guided_velocity_error(wan, cond):
    """dL/dz = w(σ)(v̂_u + s(v̂_c − v̂_u) − (ε − z)) / B at σ = shift(τ), timestep σ·1000."""
    assert wan.shift == 3.0  # the tiny scheduler's flow_shift
    generator = torch.Generator().manual_seed(0)
    frames = torch.rand(2, 5, 3, 16, 16, generator=generator).requires_grad_(True)
    kept = {}
    encode = wan.encode

    def keep(clips):
        latents = encode(clips)
        latents.retain_grad()
        kept["z"] = latents
        return latents

    wan.encode = keep  # type: ignore[method-assign]
    try:
        tau = torch.tensor([0.5, 0.25])
        noise = torch.randn(2, 4, 2, 4, 4, generator=generator)
        output = wan.sds(frames, cond, noise=noise, timesteps=tau)
        output.loss.backward()
    finally:
        del wan.encode
    z = kept["z"].detach()
    assert z.shape == noise.shape  # 5 frames -> 2 latent frames, 16 px -> 4 latents
    sigma = torch.tensor([0.75, 0.5]).view(-1, 1, 1, 1, 1)
    noisy = (1 - sigma) * z + sigma * noise
    text = cond.batch(None, 2)
    with torch.no_grad():
        t = sigma.flatten() * 1000
        v_c = wan.transformer(noisy, t, text.cond, return_dict=False)[0]
        v_u = wan.transformer(noisy, t, text.uncond, return_dict=False)[0]
    v_hat = v_u + 7.0 * (v_c - v_u)
    weight = (1 - equivalent_alpha_bar(sigma)) * (1 - sigma)
    expected = weight * (v_hat - (noise - z)) / 2
    assert torch.allclose(kept["z"].grad, expected, atol=1e-5, rtol=1e-4)
    assert (v_c - v_u).abs().mean() > 1e-4  # the guidance term is not vacuous
    assert output.logs["sds/timestep"] == pytest.approx(0.625)
    assert frames.grad is not None and torch.isfinite(frames.grad).all()
    assert frames.grad.abs().sum() > 0


def test_sds_weighting_is_eps_sds_at_the_same_snr():
    """ε̂ − ε = (1 − σ)(v̂ − (ε − z)): "sds" on velocities equals ε-SDS's (1 − ᾱ)(ε̂ − ε)."""
    generator = torch.Generator().manual_seed(1)
    z, eps, v_hat = (torch.randn(3, 8, generator=generator) for _ in range(3))
    sigma = torch.tensor([0.1, 0.5, 0.9]).view(-1, 1)
    noisy = (1 - sigma) * z + sigma * eps
    eps_hat = noisy + (1 - sigma) * v_hat  # the noise implied by the velocity
    alpha_bar = equivalent_alpha_bar(sigma)
    flow = flow_weight(sigma, "sds") * (v_hat - (eps - z))
    eps_sds = sds_weight(alpha_bar, "sds") * (eps_hat - eps)
    assert torch.allclose(flow, eps_sds, atol=1e-6)
    snr = flow_weight(sigma, "snr", 5.0) * (v_hat - (eps - z))
    assert torch.allclose(snr, sds_weight(alpha_bar, "snr", 5.0) * (eps_hat - eps), atol=1e-5)
    assert torch.equal(flow_weight(sigma, "uniform"), torch.ones_like(sigma))
    assert flow_weight(torch.tensor(0.5), "sds") == pytest.approx(0.25)


def test_fractions_follow_the_annealed_schedule():
    schedule = TimestepSchedule(t_max_start=0.9, t_max_end=0.5, t_min=0.1, anneal_steps=100)
    generator = torch.Generator().manual_seed(2)
    early = schedule.sample_fractions(0, 4000, generator)
    late = schedule.sample_fractions(100, 4000, generator)
    assert early.dtype == torch.float32
    assert early.min() >= 0.1 and early.max() <= 0.9 and early.max() > 0.89
    assert late.min() >= 0.1 and late.max() <= 0.5 and late.max() > 0.49
    assert early.mean() == pytest.approx(0.5, abs=0.01)
