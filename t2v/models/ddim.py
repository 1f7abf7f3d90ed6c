"""DDIM sampling with classifier-free guidance, shared by the pre-training checks and the
priors' reference clips (one loop, whatever the network's conditioning inputs are)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
from diffusers import DDIMScheduler

# (noisy sample, timestep) -> the network's predictions stacked as [conditional; unconditional]
PredictPair = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def guided(prediction_pair: torch.Tensor, guidance: float) -> torch.Tensor:
    """Classifier-free guidance over a batch stacked as [conditional; unconditional]."""
    conditional, unconditional = prediction_pair.float().chunk(2)
    return unconditional + guidance * (conditional - unconditional)


@torch.no_grad()
def ddim_sample(
    predict_pair: PredictPair,
    noise: torch.Tensor,
    scheduler_config: Mapping[str, Any],
    steps: int,
    guidance: float,
) -> torch.Tensor:
    """Denoise `noise` in `steps` DDIM steps of the scheduler the network was trained with."""
    scheduler = DDIMScheduler.from_config(scheduler_config)
    scheduler.set_timesteps(steps)
    sample = noise
    for timestep in scheduler.timesteps:
        pair = predict_pair(torch.cat([sample, sample]), timestep.to(sample.device))
        sample = scheduler.step(guided(pair, guidance), timestep, sample).prev_sample
    return sample
