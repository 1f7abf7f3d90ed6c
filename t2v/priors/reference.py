"""The reference clip: a video prior's own sample of the prompt, and the term that pulls the
scene's front view towards it.

Where SDS alone washes out what the prior samples (experiments/genres/README.md), the front
view is pinned to one sample. `prior.reference` says how the clip is drawn (DDIM `steps` at
`guidance`, seeded by the run, so every rank and every resume draws the same clip) and how much
each stage pays for it (`weight`: one number for every stage, or stage -> number).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F

from t2v.errors import ConfigError
from t2v.priors.base import ClipSampler, VideoPrior
from t2v.schema import NonNegativeFloat, PositiveInt, settings
from t2v.text.conditioning import TextConditioning

# Times rendered per step against the clip: enough to cover it between its frames, half the
# bundled prior's 8 frames in render cost.
REFERENCE_FRAMES = 4


# One weight for every stage, or a weight per stage (a stage not named: 0).
StageWeights = NonNegativeFloat | dict[str, NonNegativeFloat]


@settings
class ReferenceSettings:
    """`prior.reference`: how the clip is drawn and what each stage pays for matching it."""

    steps: PositiveInt = 25  # DDIM steps of the sample
    guidance: NonNegativeFloat = 2.0  # classifier-free guidance of the sample
    # 0.5 x the summed squared error is weighted by this; a stage a mapping does not name: 0
    weight: StageWeights = 1.0

    def stage_weight(self, stage: str) -> float:
        if isinstance(self.weight, Mapping):
            return float(self.weight.get(stage, 0.0))
        return float(self.weight)

    @property
    def drawn(self) -> bool:
        """Whether any stage pays for the clip (otherwise it is never sampled)."""
        weights = self.weight.values() if isinstance(self.weight, Mapping) else [self.weight]
        return any(weight > 0 for weight in weights)

    def weights(self, stages: Sequence[str]) -> dict[str, float]:
        """The weight of each of `stages`; a stage the settings name that is not among them
        is refused (a typo would otherwise switch the term off silently)."""
        if isinstance(self.weight, Mapping):
            strangers = sorted(set(self.weight) - set(stages))
            if strangers:
                raise ConfigError(
                    f"prior.reference.weight has unknown stage(s) {', '.join(strangers)} "
                    f"(stages: {', '.join(stages)})"
                )
        return {stage: self.stage_weight(stage) for stage in stages}


class ReferenceTimes(NamedTuple):
    """What to render against the clip at one step, on the CPU."""

    times: torch.Tensor  # (n,) scene times in [0, 1]
    frame_indices: torch.Tensor  # (n,) long: the clip frame nearest each time (its camera)


@dataclass(frozen=True)
class ReferenceClip:
    """A clip `(1, T, 3, h, w)` in [0, 1] the video prior sampled for the prompt."""

    clip: torch.Tensor

    @property
    def frames(self) -> int:
        return self.clip.shape[1]

    def sample_times(self, static_time: float | None, generator: torch.Generator) -> ReferenceTimes:
        """The times to render this step: the static stage's one frame (the clip frame at
        `static_time`), else one continuous time per equal slice of [0, 1], drawn from
        `generator`. Continuous times read the clip between its frames: at its T fixed frame
        times alone the field matched the clip there and the SDS look in between, which the
        exported video showed as frame-to-frame flicker."""
        frames = self.frames
        if static_time is not None:
            index = round(static_time * (frames - 1))
            times = torch.tensor([index / max(frames - 1, 1)])
        else:
            count = min(REFERENCE_FRAMES, frames)
            times = (torch.arange(count) + torch.rand(count, generator=generator)) / count
        return ReferenceTimes(times, (times * (frames - 1)).round().long())

    def loss(self, rgb: torch.Tensor, times: torch.Tensor) -> torch.Tensor:
        """0.5·Σ squared error of rendered front frames `rgb (1, n, 3, H, W)` at `times (n,)`
        against the clip read at those times (the render resized to the clip's size): each
        pixel's gradient is (render − reference), on the scale of an SDS gradient per pixel,
        whatever the size and the number of frames."""
        times = times.to(rgb.device)
        target = clip_at(self.clip.to(rgb.device), times)
        size = tuple(target.shape[-2:])
        if tuple(rgb.shape[-2:]) != size:
            flat = F.interpolate(rgb.flatten(0, 1), size=size, mode="bilinear", antialias=True)
            rgb = flat.unflatten(0, rgb.shape[:2])
        return 0.5 * (rgb - target).pow(2).sum()


def sample_reference(
    video: VideoPrior, cond: TextConditioning, settings: ReferenceSettings, seed: int
) -> ReferenceClip:
    """The video prior's own sample of the prompt, seeded by `seed` (the run's)."""
    if not isinstance(video, ClipSampler):
        raise needs_sampler(type(video).__name__)
    generator = torch.Generator().manual_seed(int(seed))
    return ReferenceClip(
        video.sample(cond, steps=settings.steps, guidance=settings.guidance, generator=generator)
    )


def clip_at(clip: torch.Tensor, times: torch.Tensor) -> torch.Tensor:
    """Frames of `clip` `(B, T, C, H, W)` at continuous `times` in [0, 1] (frame k sits at
    k / (T - 1)), linearly interpolated between its two nearest frames."""
    frames = clip.shape[1]
    position = times.clamp(0.0, 1.0) * (frames - 1)
    lower = position.floor().long().clamp(max=frames - 1)
    upper = (lower + 1).clamp(max=frames - 1)
    weight = (position - lower).to(clip.dtype).view(1, -1, 1, 1, 1)
    return (1 - weight) * clip[:, lower] + weight * clip[:, upper]


def needs_sampler(what: str) -> ConfigError:
    """The one line for a reference clip asked of a video prior that cannot sample one."""
    return ConfigError(
        f"prior.reference needs a video prior that samples clips (t2v.priors.PixelVideoPrior), "
        f"not {what}; prior.reference=null turns it off"
    )
