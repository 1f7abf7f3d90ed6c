"""Hybrid image + video guidance: each clip draws the image prior with probability `p_image`.

As in 4D-fy (Bahmani et al. 2024): the video prior supplies motion, the image prior keeps each
frame a plausible image while motion forms; alternating (rather than summing) keeps one prior's
cost per step.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch

from t2v.priors.base import ImagePrior, VideoPrior
from t2v.priors.sds import SDSOutput
from t2v.schema import PositiveInt, UnitFloat, settings
from t2v.text.conditioning import TextConditioning


@settings
class HybridSettings:
    """`prior.hybrid`: the share of dynamic-stage clips guided by the image prior, and how
    many of each such clip's frames it sees (null: all)."""

    p_image: UnitFloat = 0.0
    image_frames: PositiveInt | None = None


class HybridGuidance:
    """Image-prior SDS on a `p_image` share of clips, video-prior SDS on the others.

    Every draw comes from the clip's own generator, so a clip's choice is reproducible from
    the same (seed, stage, step, clip) as the rest of its randomness: one uniform draw (even
    when `p_image` is 0), then, for an image clip of more than `image_frames` frames, a
    permutation choosing which frames the image prior sees.
    """

    def __init__(
        self,
        image: ImagePrior,
        video: VideoPrior,
        p_image: float = 0.0,
        image_frames: int | None = None,
    ) -> None:
        self.image = image
        self.video = video
        self.p_image = p_image
        self.image_frames = image_frames

    def sds(
        self,
        frames: torch.Tensor,
        image_cond: TextConditioning,
        video_cond: TextConditioning,
        *,
        views: Sequence[str] | None,
        step: int,
        generator: torch.Generator,
    ) -> tuple[Literal["image", "video"], SDSOutput]:
        """Which prior guided the clip `frames (B, T, 3, H, W)`, and its SDS output."""
        use_image = float(torch.rand((), generator=generator)) < self.p_image
        if not use_image:
            output = self.video.sds(frames, video_cond, views=views, step=step, generator=generator)
            return "video", output
        count = self.image_frames
        if count is not None and count < frames.shape[1]:
            chosen = torch.randperm(frames.shape[1], generator=generator)[:count].sort().values
            frames = frames[:, chosen.to(frames.device)]
        output = self.image.sds(frames, image_cond, views=views, step=step, generator=generator)
        return "image", output
