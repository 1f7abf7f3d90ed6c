"""Rectified-flow score distillation: the `distil` of priors that predict a velocity.

A flow model (Wan 2.1, LTX-Video) is trained on z_σ = (1 − σ)·z + σ·ε to predict the velocity
v = ε − z. For a clean latent z of the rendered clip the SDS gradient is

    g = w(σ) · (v̂(z_σ; σ, y) − (ε − z)),   v̂ = v̂_u + s·(v̂_c − v̂_u)   (CFG, negative prompt)

delivered, as for ε-SDS, through L = 0.5·||z − stopgrad(z − g)||² / N, so dL/dz = g / N.

Noise levels: τ is drawn from the prior's `TimestepSchedule` as a fraction in [t_min, t_max]
(annealed as for ε priors), then moved by the model's shift, σ = s·τ / (1 + (s − 1)·τ), the
map its sampler applies to its own time grid (Wan: `flow_shift`; LTX: e^μ of its sequence
length). The model reads σ·1000 as its timestep, as both pipelines pass it.

Weightings (`SDSConfig.weighting`): since ε̂ − ε = (1 − σ)·(v̂ − (ε − z)) at the same z_σ,
ε-SDS's w(t) carries over exactly as w(σ) = w_ε(ᾱ(σ))·(1 − σ), with ᾱ(σ) the variance-
preserving ᾱ of the same signal-to-noise ratio (1 − σ)²/σ²:

- "sds" (default): w = (1 − ᾱ(σ))·(1 − σ), the gradient ε-SDS would give at that SNR, so
  guidance scales, learning rates and schedules tuned for ε priors keep their meaning;
- "snr": min-SNR, (min(SNR, γ)/SNR)·(1 − σ);
- "uniform": w = 1 on the velocity error (RFDS), which weighs high noise more.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import torch
import torch.utils.checkpoint

from t2v.errors import ConfigError
from t2v.priors.base import DiffusionPrior, ImagePrior, SDSBatch
from t2v.priors.sds import (
    WEIGHTINGS,
    Predictor,
    SDSConfig,
    SDSOutput,
    guided_epsilon,
    reparameterised_loss,
)
from t2v.text.conditioning import TextConditioning
from t2v.text.encoders import TextEncoderSpec

TIMESTEP_SCALE = 1000.0  # σ·1000 is the transformers' timestep (Wan, LTX)


def shift_sigma(tau: torch.Tensor, shift: float) -> torch.Tensor:
    """σ = s·τ / (1 + (s − 1)·τ): the flow schedulers' shift of a noise fraction τ."""
    return shift * tau / (1.0 + (shift - 1.0) * tau)


def equivalent_alpha_bar(sigma: torch.Tensor) -> torch.Tensor:
    """ᾱ of the variance-preserving process with the SNR (1 − σ)²/σ² of flow level σ."""
    signal, noise = (1.0 - sigma).pow(2), sigma.pow(2)
    return signal / (signal + noise)


def flow_weight(sigma: torch.Tensor, weighting: str, snr_gamma: float = 5.0) -> torch.Tensor:
    """w(σ) multiplying the velocity error (see the module's note)."""
    if weighting == "uniform":
        return torch.ones_like(sigma)
    alpha_bar = equivalent_alpha_bar(sigma)
    if weighting == "sds":
        return (1.0 - alpha_bar) * (1.0 - sigma)
    if weighting == "snr":
        snr = alpha_bar / (1.0 - alpha_bar).clamp(min=1e-12)
        return snr.clamp(max=snr_gamma) / snr.clamp(min=1e-12) * (1.0 - sigma)
    raise ConfigError(f"SDS weighting '{weighting}' is unknown; choose one of {WEIGHTINGS}")


def flow_distillation(
    sample: torch.Tensor,
    predict: Predictor,
    sigmas: torch.Tensor,
    noise: torch.Tensor,
    config: SDSConfig,
) -> SDSOutput:
    """RF-SDS for clean latents `(N, ...)` (with grad) at per-sample levels `sigmas (N,)` in
    [0, 1]; `predict(noisy, σ·1000)` returns (conditional, unconditional) velocities. Runs in
    float32 whatever the model's dtype; a non-finite gradient is a skipped step, as for ε-SDS."""
    sample = sample.float()
    shape = (-1,) + (1,) * (sample.dim() - 1)
    sigma = sigmas.to(sample.device, torch.float32).view(shape)
    noise = noise.to(sample.device, torch.float32)
    with torch.no_grad():
        noisy = (1.0 - sigma) * sample.detach() + sigma * noise
        v_cond, v_uncond = predict(noisy, sigmas.to(sample.device).float() * TIMESTEP_SCALE)
        v_cond, v_uncond = v_cond.float(), v_uncond.float()
        v_hat = guided_epsilon(v_cond, v_uncond, config.guidance_scale)
        target = noise - sample.detach()
        weight = flow_weight(sigma, config.weighting, config.snr_gamma)
        gradient = weight * (v_hat - target)
        finite = bool(torch.isfinite(gradient).all()) and bool(torch.isfinite(sample).all())
    logs = {
        "sds/timestep": float(sigmas.float().mean()),
        "sds/weight": float(weight.mean()),
        "sds/nonfinite": 0.0 if finite else 1.0,
    }
    if not finite:
        safe = torch.nan_to_num(sample, nan=0.0, posinf=0.0, neginf=0.0)
        return SDSOutput(loss=reparameterised_loss(safe, torch.zeros_like(safe)), logs=logs)
    logs["sds/grad_norm"] = float(gradient.flatten(1).norm(dim=1).mean())
    logs["sds/denoise_error"] = float((v_cond - target).pow(2).mean())
    logs["sds/guidance_delta"] = float((v_cond - v_uncond).abs().mean())
    return SDSOutput(loss=reparameterised_loss(sample, gradient), logs=logs)


class FlowPrior(DiffusionPrior):
    """A frozen velocity-predicting prior: `encode` gives latents, `denoiser` velocities at
    timesteps σ·1000, `shift_for` the shift of a sample's size. `sds(..., timesteps=τ)` fixes
    the noise fractions τ (float, before the shift) instead of drawing them."""

    def __init__(
        self,
        *,
        config: SDSConfig,
        text_encoder_spec: TextEncoderSpec,
        resolution: tuple[int, int] | None = None,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__(
            alphas_cumprod=None,
            prediction_type="flow",
            config=config,
            text_encoder_spec=text_encoder_spec,
            resolution=resolution,
            device=device,
            dtype=dtype,
        )

    def shift_for(self, sample: torch.Tensor) -> float:
        """The timestep shift for latents shaped like `sample` (1: none)."""
        return 1.0

    def sample_timesteps(
        self, batch: int, step: int, generator: torch.Generator | None
    ) -> torch.Tensor:
        """Noise fractions τ in [0, 1] (before the shift), annealed as ε priors' timesteps."""
        return self.config.timesteps.sample_fractions(step, batch, generator)

    def distil_at(
        self,
        sample: torch.Tensor,
        predict: Predictor,
        timesteps: torch.Tensor,
        noise: torch.Tensor,
    ) -> SDSOutput:
        tau = timesteps.to(self.device, torch.float32)
        sigmas = shift_sigma(tau, self.shift_for(sample))
        return flow_distillation(sample, predict, sigmas, noise, self.config)


def flow_dtype(device: torch.device) -> torch.dtype:
    """bfloat16 on CUDA (the dtype Wan and LTX ship and run in, with float16's range problems
    avoided), float32 elsewhere."""
    return torch.bfloat16 if device.type == "cuda" else torch.float32


def checked_stride(name: str, actual: int, expected: int) -> None:
    """A loaded VAE must pack frames as its prior class declares (the stages rely on it)."""
    if actual != expected:
        raise ConfigError(
            f"{name}'s VAE packs {actual} frames per latent frame; this prior takes {expected}"
        )


class OneFrameImagePrior(FlowPrior, ImagePrior):
    """A flow video prior asked about single frames: each of the B·T images is a one-frame
    clip (1 = stride·0 + 1 frames, which every causal video VAE takes), at its own noise level.
    The static stage's image prior for Wan and LTX, on the video role's weights."""

    def __init__(self, video: FlowPrior, config: SDSConfig) -> None:
        super().__init__(
            config=config,
            text_encoder_spec=video.text_encoder_spec,
            resolution=video.resolution,
            device=video.device,
            dtype=video.dtype,
        )
        self.video = video

    def frames_as_clips(self, clips: SDSBatch) -> SDSBatch:
        images = clips.frames.flatten(0, 1).unsqueeze(1)
        return replace(clips, frames=images, views=clips.frame_views())

    def encode(self, clips: SDSBatch) -> torch.Tensor:
        return self.video.encode(self.frames_as_clips(clips))

    def denoiser(self, cond: TextConditioning, clips: SDSBatch) -> Predictor:
        return self.video.denoiser(cond, self.frames_as_clips(clips))

    def shift_for(self, sample: torch.Tensor) -> float:
        return self.video.shift_for(sample)


_SHARED: weakref.WeakValueDictionary[tuple[Any, ...], Any] = weakref.WeakValueDictionary()


def shared(key: tuple[Any, ...], build: Callable[[], Any]) -> Any:
    """`build()` once per key while anything holds the result: a video and an image role that
    read one folder on one device share its weights instead of loading them twice."""
    found = _SHARED.get(key)
    if found is None:
        found = build()
        _SHARED[key] = found
    return found


def checkpointed(function: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """`function(x)` that keeps no activations for backward but recomputes them then: the VAE
    encoder's activations are not held while the transformer runs."""
    if not (torch.is_grad_enabled() and x.requires_grad):
        return function(x)
    return torch.utils.checkpoint.checkpoint(function, x, use_reentrant=False)


def check_clip_length(prior: DiffusionPrior, length: int) -> None:
    """A clip the prior's VAE cannot pack is a caller's error (stages render accepted ones)."""
    if prior.accepted_frames(length) != length:
        stride = prior.frame_stride
        raise ValueError(
            f"{type(prior).__name__} takes clips of {stride}k + 1 frames; got {length} "
            f"(render {prior.accepted_frames(length)})"
        )
