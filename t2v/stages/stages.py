"""MAV3D's stages as `StageModule`s: static, dynamic, superres, and the seed's temporal step."""

from __future__ import annotations

import torch

from t2v.priors.hybrid import HybridGuidance
from t2v.render import RenderOutput
from t2v.stages.base import StageModule


class StaticStage(StageModule):
    """Image-prior SDS from random views at one fixed time; the dynamic grid is off."""

    def guidance_terms(
        self, rendered: RenderOutput, views: list[str], step: int, generator: torch.Generator
    ) -> dict[str, torch.Tensor]:
        guidance = self.guidance
        assert guidance is not None
        output = guidance.image.sds(
            rendered.rgb, guidance.image_cond, views=views, step=step, generator=generator
        )
        return {"sds_image": self.log_sds("sds_image", output)}


class DynamicStage(StageModule):
    """Video-prior SDS over clips of T frames, hybrid with image-prior steps (4D-fy: the image
    prior keeps each frame a plausible image while motion forms), plus regularizers."""

    def guidance_terms(
        self, rendered: RenderOutput, views: list[str], step: int, generator: torch.Generator
    ) -> dict[str, torch.Tensor]:
        guidance = self.guidance
        assert guidance is not None
        hybrid = HybridGuidance(
            guidance.image, guidance.video, self.spec.image_probability, self.spec.image_frames
        )
        kind, output = hybrid.sds(
            rendered.rgb,
            guidance.image_cond,
            guidance.video_cond,
            views=views,
            step=step,
            generator=generator,
        )
        return {f"sds_{kind}": self.log_sds(f"sds_{kind}", output)}


class SuperResStage(StageModule):
    """MAV3D's SR fine-tuning: render high-res, SR-prior SDS given the low-res version of the
    same render, with the base video prior kept at a low weight on the downsampled clip."""

    def guidance_terms(
        self, rendered: RenderOutput, views: list[str], step: int, generator: torch.Generator
    ) -> dict[str, torch.Tensor]:
        guidance = self.guidance
        assert guidance is not None
        terms: dict[str, torch.Tensor] = {}
        low_res = self.base_frames(rendered.rgb)
        if guidance.sr is not None and guidance.sr_cond is not None and self.spec.sr_weight > 0:
            output = guidance.sr.sds(
                rendered.rgb,
                guidance.sr_cond,
                low_res.detach(),
                views=views,
                step=step,
                generator=generator,
            )
            terms["sr"] = self.log_sds("sds_sr", output)
        if self.spec.base_weight > 0:
            output = guidance.video.sds(
                low_res, guidance.video_cond, views=views, step=step, generator=generator
            )
            terms["base"] = self.log_sds("sds_video", output)
        return terms


class TemporalStage(SuperResStage):
    """The seed's temporal-consistency step: a short fine-tuning at the final resolution with
    strengthened temporal regularizers and a frame-to-frame consistency loss (set by the
    schedule's `temporal.regularizers`), still guided by the SR and base priors."""


STAGE_MODULES: dict[str, type[StageModule]] = {
    "static": StaticStage,
    "dynamic": DynamicStage,
    "superres": SuperResStage,
    "temporal": TemporalStage,
}
