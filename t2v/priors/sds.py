"""Score distillation: timestep schedule, weighting, guidance, and the reparameterised SDS loss.

For a clean sample x (latents or pixels in [-1, 1]) the SDS gradient is

    g = w(t) · (ε̂(x_t; y, t) − ε),   x_t = sqrt(ᾱ_t)·x + sqrt(1 − ᾱ_t)·ε,
    ε̂ = ε̂_uncond + s·(ε̂_cond − ε̂_uncond)          (classifier-free guidance, scale s)

and it is delivered through the loss

    L = 0.5 · ||x − stopgrad(x − g)||² / N          (N = batch size of x)

so dL/dx = g / N exactly: the gradient does not depend on how many samples share a batch, and
L itself (0.5·||g||²/N) is a figure to log, not one to minimise. Priors that predict v are
converted to ε first (ε = sqrt(ᾱ)·v + sqrt(1 − ᾱ)·x_t), so weighting means the same for both.
A non-finite g (NaN/inf anywhere in it) is replaced by zeros and reported as
`logs["sds/nonfinite"] = 1.0` so the caller can skip the optimiser step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, get_args

import torch

from t2v.errors import ConfigError
from t2v.schema import NonNegativeFloat, NonNegativeInt, PositiveFloat, UnitFloat, settings

PREDICTION_TYPES = ("epsilon", "v_prediction", "sample")


@dataclass
class SDSOutput:
    """A loss whose gradient w.r.t. the frames is the SDS gradient, plus figures worth logging."""

    loss: torch.Tensor
    logs: dict[str, float] = field(default_factory=dict)


@settings
class TimestepSchedule:
    """Timesteps drawn uniformly from [t_min, t_max(step)], as fractions of the training steps.

    t_max is `t_max_start` until `anneal_start_step`, then falls linearly to `t_max_end` over
    `anneal_steps` steps (at once if 0) and stays there: coarse structure first, detail later
    (DreamFusion/threestudio-style annealing). Steps are the caller's optimisation steps.
    `t_min_start`, when set, falls to `t_min` over the same steps: the first steps then see
    only high noise, where a small prior's conditioning decides the global look.
    """

    t_max_start: UnitFloat = 0.98
    t_max_end: UnitFloat = 0.98
    t_min: UnitFloat = 0.02
    anneal_steps: NonNegativeInt = 0
    anneal_start_step: NonNegativeInt = 0
    t_min_start: UnitFloat | None = None

    def __post_init__(self) -> None:
        if self.t_min > min(self.t_max_start, self.t_max_end):
            raise ValueError(
                f"t_min = {self.t_min} is above t_max ({self.t_max_start} -> {self.t_max_end})"
            )
        if self.t_min_start is not None and self.t_min_start > self.t_max_start:
            raise ValueError(
                f"t_min_start = {self.t_min_start} is above t_max_start = {self.t_max_start}"
            )

    def _progress(self, step: int) -> float:
        if step < self.anneal_start_step:
            return 0.0
        if self.anneal_steps == 0:
            return 1.0
        return min((step - self.anneal_start_step) / self.anneal_steps, 1.0)

    def t_max(self, step: int) -> float:
        return self.t_max_start + self._progress(step) * (self.t_max_end - self.t_max_start)

    def t_min_at(self, step: int) -> float:
        start = self.t_min if self.t_min_start is None else self.t_min_start
        return start + self._progress(step) * (self.t_min - start)

    def bounds(self, step: int, num_train_timesteps: int) -> tuple[int, int]:
        """Integer timestep range [low, high] (inclusive) at `step`."""
        last = num_train_timesteps - 1
        high = min(round(self.t_max(step) * num_train_timesteps), last)
        low = min(round(self.t_min_at(step) * num_train_timesteps), high)
        return low, high

    def sample(
        self,
        step: int,
        batch: int,
        num_train_timesteps: int,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """`(batch,)` long timesteps on the CPU."""
        low, high = self.bounds(step, num_train_timesteps)
        device = generator.device if generator is not None else "cpu"
        return torch.randint(low, high + 1, (batch,), generator=generator, device=device).cpu()

    def sample_fractions(
        self, step: int, batch: int, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """`(batch,)` float32 noise levels drawn uniformly from [t_min, t_max] at `step`, on
        the CPU: the continuous draw of flow priors, whose time is a fraction itself."""
        low, high = self.t_min_at(step), self.t_max(step)
        device = generator.device if generator is not None else "cpu"
        draw = torch.rand((batch,), generator=generator, device=device).cpu()
        return low + (high - low) * draw


Weighting = Literal["sds", "uniform", "snr"]
WEIGHTINGS = get_args(Weighting)


@settings
class SDSConfig:
    """One prior's distillation settings: the keys every `prior.<role>` node shares."""

    guidance_scale: NonNegativeFloat = 100.0
    weighting: Weighting = "sds"  # "sds": w = 1 − ᾱ; "uniform": w = 1; "snr": min(SNR, γ)/SNR
    snr_gamma: PositiveFloat = 5.0  # γ of the "snr" (min-SNR) weighting
    timesteps: TimestepSchedule = TimestepSchedule()


def sds_weight(alpha_bar: torch.Tensor, weighting: str, snr_gamma: float = 5.0) -> torch.Tensor:
    """w(t) for each ᾱ_t."""
    if weighting == "sds":
        return 1.0 - alpha_bar
    if weighting == "uniform":
        return torch.ones_like(alpha_bar)
    if weighting == "snr":
        snr = alpha_bar / (1.0 - alpha_bar)
        return snr.clamp(max=snr_gamma) / snr
    raise ConfigError(f"SDS weighting '{weighting}' is unknown; choose one of {WEIGHTINGS}")


def to_epsilon(
    output: torch.Tensor, noisy: torch.Tensor, alpha_bar: torch.Tensor, prediction_type: str
) -> torch.Tensor:
    """The noise a model's raw output implies; `alpha_bar` broadcasts against `noisy`."""
    if prediction_type == "epsilon":
        return output
    if prediction_type == "v_prediction":
        return alpha_bar.sqrt() * output + (1.0 - alpha_bar).sqrt() * noisy
    if prediction_type == "sample":
        return (noisy - alpha_bar.sqrt() * output) / (1.0 - alpha_bar).sqrt()
    raise ConfigError(f"prediction_type '{prediction_type}' is not one of {PREDICTION_TYPES}")


def guided_epsilon(
    eps_cond: torch.Tensor, eps_uncond: torch.Tensor, guidance_scale: float
) -> torch.Tensor:
    """Classifier-free guidance: ε_u + s·(ε_c − ε_u) (s = 1 is the plain conditional model)."""
    return eps_uncond + guidance_scale * (eps_cond - eps_uncond)


def reparameterised_loss(sample: torch.Tensor, gradient: torch.Tensor) -> torch.Tensor:
    """0.5·||x − stopgrad(x − g)||² / N: its gradient w.r.t. x is g / N."""
    target = (sample - gradient).detach()
    return 0.5 * (sample - target).pow(2).sum() / sample.shape[0]


Predictor = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


def score_distillation(
    sample: torch.Tensor,
    predict: Predictor,
    timesteps: torch.Tensor,
    noise: torch.Tensor,
    alphas_cumprod: torch.Tensor,
    prediction_type: str,
    config: SDSConfig,
    num_train_timesteps: int | None = None,
) -> SDSOutput:
    """SDS for a batch of clean samples `(N, ...)` (with grad) at per-sample `timesteps (N,)`.

    `predict(noisy, timesteps)` returns the model's raw outputs for the conditional and the
    unconditional branch; everything here runs in float32 whatever the model's dtype.
    """
    sample = sample.float()
    shape = (-1,) + (1,) * (sample.dim() - 1)
    alpha_bar = alphas_cumprod.to(sample.device, torch.float32)[timesteps.to(sample.device)]
    alpha_bar = alpha_bar.view(shape)
    noise = noise.to(sample.device, torch.float32)
    with torch.no_grad():
        noisy = alpha_bar.sqrt() * sample.detach() + (1.0 - alpha_bar).sqrt() * noise
        out_cond, out_uncond = predict(noisy, timesteps)
        eps_cond = to_epsilon(out_cond.float(), noisy, alpha_bar, prediction_type)
        eps_uncond = to_epsilon(out_uncond.float(), noisy, alpha_bar, prediction_type)
        eps_hat = guided_epsilon(eps_cond, eps_uncond, config.guidance_scale)
        weight = sds_weight(alpha_bar, config.weighting, config.snr_gamma)
        gradient = weight * (eps_hat - noise)
        finite = bool(torch.isfinite(gradient).all()) and bool(torch.isfinite(sample).all())
    steps = num_train_timesteps or alphas_cumprod.shape[0]
    logs = {
        "sds/timestep": float(timesteps.float().mean()) / steps,
        "sds/weight": float(weight.mean()),
        "sds/nonfinite": 0.0 if finite else 1.0,
    }
    if not finite:
        # Skip: a zero loss with a zero gradient, whatever is in the frames.
        safe = torch.nan_to_num(sample, nan=0.0, posinf=0.0, neginf=0.0)
        return SDSOutput(loss=reparameterised_loss(safe, torch.zeros_like(safe)), logs=logs)
    per_sample = gradient.flatten(1).norm(dim=1)
    logs["sds/grad_norm"] = float(per_sample.mean())
    logs["sds/denoise_error"] = float((eps_cond - noise).pow(2).mean())
    logs["sds/guidance_delta"] = float((eps_cond - eps_uncond).abs().mean())
    return SDSOutput(loss=reparameterised_loss(sample, gradient), logs=logs)
