"""Hybrid image + video guidance: each step picks the image prior with probability `p_image`.

As in 4D-fy (Bahmani et al. 2024): the video prior supplies motion, the image prior keeps
appearance sharp; alternating (rather than summing) keeps one prior's cost per step.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from t2v.errors import ConfigError
from t2v.priors.base import ImagePrior, VideoPrior, check_frames
from t2v.priors.sds import SDSOutput
from t2v.text.conditioning import TextConditioning


class HybridGuidance:
    """Alternates `image_prior.sds` and `video_prior.sds` at random, reproducibly from `seed`.

    `image_frames = k` hands the image prior k random frames of each clip (fewer images, less
    cost); None hands it all of them.
    """

    def __init__(
        self,
        image_prior: ImagePrior,
        video_prior: VideoPrior,
        p_image: float,
        *,
        image_frames: int | None = None,
        seed: int = 0,
    ) -> None:
        if not 0.0 <= p_image <= 1.0:
            raise ConfigError(f"hybrid p_image = {p_image} must be within [0, 1]")
        if image_frames is not None and image_frames < 1:
            raise ConfigError(f"hybrid image_frames = {image_frames} must be >= 1 (or null: all)")
        self.image_prior = image_prior
        self.video_prior = video_prior
        self.p_image = p_image
        self.image_frames = image_frames
        self.generator = torch.Generator().manual_seed(seed)

    def sds(
        self,
        frames: torch.Tensor,
        image_cond: TextConditioning,
        video_cond: TextConditioning,
        *,
        views: Sequence[str] | None = None,
        step: int = 0,
    ) -> SDSOutput:
        """Logs carry the chosen prior's figures under "image/" or "video/" and "hybrid/image"."""
        _, length = check_frames(frames)
        use_image = bool(torch.rand((), generator=self.generator) < self.p_image)
        if use_image:
            if self.image_frames is not None and self.image_frames < length:
                chosen = torch.randperm(length, generator=self.generator)[: self.image_frames]
                frames = frames[:, chosen.sort().values]
            output = self.image_prior.sds(
                frames, image_cond, views=views, step=step, generator=self.generator
            )
        else:
            output = self.video_prior.sds(
                frames, video_cond, views=views, step=step, generator=self.generator
            )
        prefix = "image/" if use_image else "video/"
        logs = {prefix + key: value for key, value in output.logs.items()}
        logs["hybrid/image"] = 1.0 if use_image else 0.0
        return SDSOutput(loss=output.loss, logs=logs)
