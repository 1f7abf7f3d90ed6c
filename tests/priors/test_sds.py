"""SDS arithmetic: timestep schedule, weighting, ε from v, guidance, the loss, the NaN guard."""

import math

import pytest
import torch
from diffusers import DDPMScheduler

from t2v.errors import ConfigError
from t2v.priors.sds import (
    SDSConfig,
    TimestepSchedule,
    guided_epsilon,
    reparameterised_loss,
    score_distillation,
    sds_weight,
    to_epsilon,
)
from t2v.schema import parse


def test_schedule_anneals_t_max_linearly_then_holds():
    schedule = TimestepSchedule(
        t_max_start=0.98, t_max_end=0.5, t_min=0.02, anneal_steps=100, anneal_start_step=10
    )
    assert schedule.t_max(0) == 0.98
    assert schedule.t_max(10) == 0.98
    assert schedule.t_max(60) == pytest.approx(0.74)
    assert schedule.t_max(110) == pytest.approx(0.5)
    assert schedule.t_max(10_000) == pytest.approx(0.5)
    assert schedule.bounds(0, 1000) == (20, 980)
    assert schedule.bounds(60, 1000) == (20, 740)


def test_schedule_anneals_t_min_from_t_min_start_with_t_max():
    schedule = TimestepSchedule(
        t_max_start=0.98, t_max_end=0.5, t_min=0.02, t_min_start=0.8, anneal_steps=100
    )
    assert schedule.bounds(0, 1000) == (800, 980)
    assert schedule.t_min_at(50) == pytest.approx(0.41)
    assert schedule.bounds(50, 1000) == (410, 740)
    assert schedule.bounds(100, 1000) == (20, 500)
    samples = schedule.sample(0, 2000, 1000, torch.Generator().manual_seed(0))
    assert int(samples.min()) == 800
    assert TimestepSchedule(t_min=0.1).t_min_at(7) == 0.1


def test_schedule_samples_cover_exactly_its_bounds():
    schedule = TimestepSchedule(t_max_start=0.3, t_max_end=0.3, t_min=0.1)
    samples = schedule.sample(0, 5000, 1000, torch.Generator().manual_seed(0))
    assert samples.dtype == torch.long
    assert int(samples.min()) == 100
    assert int(samples.max()) == 300


def test_schedule_without_annealing_and_top_clamp():
    schedule = TimestepSchedule(t_max_start=1.0, t_max_end=1.0, t_min=1.0)
    assert schedule.bounds(0, 1000) == (999, 999)


@pytest.mark.parametrize(
    "values",
    [
        {"t_min": 0.6, "t_max_start": 0.5, "t_max_end": 0.5},
        {"t_max_start": 1.5},
        {"anneal_steps": -1},
        {"t_min_start": 0.99, "t_max_start": 0.98},
        {"t_min_start": -0.1},
    ],
)
def test_schedule_rejects_impossible_ranges(values):
    with pytest.raises(ConfigError, match=r"^prior\.video\.timesteps"):
        parse(TimestepSchedule, values, "prior.video.timesteps")


def test_config_rejects_unknown_weighting():
    with pytest.raises(ConfigError, match=r"prior\.video\.weighting = 'karras'"):
        parse(SDSConfig, {"weighting": "karras"}, "prior.video")


def test_weightings():
    alpha_bar = torch.tensor([0.9, 0.5, 0.1])
    assert torch.allclose(sds_weight(alpha_bar, "sds"), torch.tensor([0.1, 0.5, 0.9]))
    assert torch.equal(sds_weight(alpha_bar, "uniform"), torch.ones(3))
    # min-SNR-5: SNR = 9, 1, 1/9 -> min(SNR, 5) / SNR = 5/9, 1, 1
    snr = sds_weight(alpha_bar, "snr", snr_gamma=5.0)
    assert torch.allclose(snr, torch.tensor([5.0 / 9.0, 1.0, 1.0]))


def test_v_and_sample_predictions_convert_to_the_noise_diffusers_used():
    scheduler = DDPMScheduler(num_train_timesteps=1000)
    generator = torch.Generator().manual_seed(0)
    clean = torch.randn(4, 3, 5, 5, generator=generator)
    noise = torch.randn(4, 3, 5, 5, generator=generator)
    timesteps = torch.tensor([10, 250, 600, 990])
    noisy = scheduler.add_noise(clean, noise, timesteps)
    velocity = scheduler.get_velocity(clean, noise, timesteps)
    alpha_bar = scheduler.alphas_cumprod[timesteps].view(-1, 1, 1, 1)
    assert torch.allclose(to_epsilon(velocity, noisy, alpha_bar, "v_prediction"), noise, atol=1e-4)
    assert torch.allclose(to_epsilon(clean, noisy, alpha_bar, "sample"), noise, atol=1e-3)
    assert torch.equal(to_epsilon(noise, noisy, alpha_bar, "epsilon"), noise)


def test_classifier_free_guidance_arithmetic():
    cond, uncond = torch.tensor([3.0, -1.0]), torch.tensor([1.0, 1.0])
    assert torch.equal(guided_epsilon(cond, uncond, 7.5), torch.tensor([16.0, -14.0]))
    assert torch.equal(guided_epsilon(cond, uncond, 1.0), cond)
    assert torch.equal(guided_epsilon(cond, uncond, 0.0), uncond)


def test_reparameterised_loss_has_gradient_g_over_n():
    sample = torch.randn(3, 2, 4, requires_grad=True)
    gradient = torch.randn(3, 2, 4)
    loss = reparameterised_loss(sample, gradient)
    loss.backward()
    assert torch.allclose(sample.grad, gradient / 3)
    assert float(loss.detach()) == pytest.approx(0.5 * float(gradient.pow(2).sum()) / 3, rel=1e-5)


def _constant_predictor(eps_cond, eps_uncond):
    def predict(noisy, timesteps):
        return eps_cond.expand_as(noisy), eps_uncond.expand_as(noisy)

    return predict


def test_score_distillation_gradient_is_weighted_guided_noise_residual():
    alphas_cumprod = DDPMScheduler(num_train_timesteps=1000).alphas_cumprod
    sample = torch.randn(2, 3, 4, 4, requires_grad=True)
    noise = torch.randn(2, 3, 4, 4)
    eps_cond, eps_uncond = torch.full((1,), 0.3), torch.full((1,), -0.1)
    timesteps = torch.tensor([100, 700])
    config = SDSConfig(guidance_scale=10.0, weighting="sds")
    output = score_distillation(
        sample,
        _constant_predictor(eps_cond, eps_uncond),
        timesteps,
        noise,
        alphas_cumprod,
        "epsilon",
        config,
    )
    output.loss.backward()
    weight = (1 - alphas_cumprod[timesteps]).view(-1, 1, 1, 1)
    eps_hat = -0.1 + 10.0 * (0.3 - -0.1)
    assert torch.allclose(sample.grad, weight * (eps_hat - noise) / 2, atol=1e-6)
    assert output.logs["sds/nonfinite"] == 0.0
    assert output.logs["sds/timestep"] == pytest.approx(0.4)
    assert output.logs["sds/guidance_delta"] == pytest.approx(0.4)


@pytest.mark.parametrize("poison", ["prediction", "sample"])
def test_nonfinite_step_is_skipped_with_zero_gradient_and_a_flag(poison):
    alphas_cumprod = DDPMScheduler(num_train_timesteps=1000).alphas_cumprod
    values = torch.randn(2, 3, 4, 4)
    eps_cond = torch.zeros(1)
    if poison == "sample":
        values[1, 0, 0, 0] = math.inf
    else:
        eps_cond = torch.tensor([math.nan])
    sample = values.clone().requires_grad_(True)
    output = score_distillation(
        sample,
        _constant_predictor(eps_cond, torch.zeros(1)),
        torch.tensor([5, 500]),
        torch.randn(2, 3, 4, 4),
        alphas_cumprod,
        "epsilon",
        SDSConfig(),
    )
    output.loss.backward()
    assert output.logs["sds/nonfinite"] == 1.0
    assert float(output.loss.detach()) == 0.0
    assert torch.equal(sample.grad, torch.zeros_like(sample))
