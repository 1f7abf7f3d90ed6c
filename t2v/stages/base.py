"""`StageModule`: what every stage shares (cameras, rendering, regularizers, optimiser, seeding).

A stage is built complete from a `StageContext`: the field and the renderer (with its occupancy
grid) are submodules, so Lightning checkpoints hold them; the frozen priors live in `Guidance`,
a plain object built on the module's device at fit start from `context.guidance`, so their
weights never enter a checkpoint or the optimiser.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import lightning.pytorch as pl
import torch
import torch.nn.functional as F
from torch.utils.data import IterableDataset

from t2v import regularizers
from t2v.field.base import Field
from t2v.field.components.trajectory import GlobalTrajectory
from t2v.priors.base import ImagePrior, SRPrior, VideoPrior
from t2v.priors.reference import ReferenceClip
from t2v.priors.sds import SDSOutput
from t2v.render import (
    Cameras,
    RenderOutput,
    VolumeRenderer,
    sample_clip_times,
    sample_training_cameras,
)
from t2v.stages.spec import StageSpec
from t2v.text.conditioning import TextConditioning
from t2v.text.views import view_bucket

# Directions drawn on the sphere for the background anchor (those the stage sees are dropped):
# the background head is a small MLP, smooth enough that a thousand pin it down.
ANCHOR_DIRECTIONS = 1024


@dataclass
class Guidance:
    """Frozen priors and the prompt's conditioning for each (each prior has its own encoder)."""

    video: VideoPrior
    video_cond: TextConditioning
    image: ImagePrior
    image_cond: TextConditioning
    sr: SRPrior | None = None
    sr_cond: TextConditioning | None = None
    # The video prior's own sample of the prompt (`prior.reference`): the scene seen from the
    # front camera should look like it (the `reference` term).
    reference: ReferenceClip | None = None


@dataclass(frozen=True)
class Preview:
    """Cameras `(1, T)` and times `(1, T)` of the preview videos (the export trajectory)."""

    cameras: Cameras
    times: torch.Tensor


@dataclass(frozen=True)
class StageContext:
    """Everything a stage is built from."""

    field: Field
    renderer: VolumeRenderer
    spec: StageSpec
    seed: int
    # Builds Guidance on the module's device at fit start (each DDP rank on its own GPU).
    guidance: Callable[[torch.device], Guidance]
    # The optimiser, given the parameter groups `[{"params", "lr", "name"}, ...]`.
    optimizer: Callable[[list[dict[str, Any]]], torch.optim.Optimizer]
    # Front cameras `(1, T)` at the base size, for a reference clip of T frames.
    reference_cameras: Callable[[int], Cameras]
    preview: Preview | None = None


class StepStream(IterableDataset):
    """An endless stream of step numbers: a stage's batches are sampled inside the module."""

    def __iter__(self) -> Iterator[int]:
        return itertools.count()


class StageModule(pl.LightningModule):
    """One stage over the shared field. Subclasses define `guidance_terms`."""

    def __init__(self, context: StageContext) -> None:
        super().__init__()
        self.field = context.field
        self.renderer = context.renderer
        self.spec = context.spec
        self.seed = context.seed
        self.context = context
        self.guidance: Guidance | None = None
        self.regularizer_weights = {name: ramp(0) for name, ramp in self.spec.regularizers.items()}
        self.render_size = (self.spec.height, self.spec.width)
        self.guidance_weights = {"base": self.spec.base_weight, "sr": self.spec.sr_weight}
        self.field.static_only = not self.spec.trains_motion
        self.freeze_untrained_groups()
        self.anchor_background()

    def anchor_background(self) -> None:
        """With a `background_anchor` term, the background along the directions this stage's
        cameras never see, as the stage found it. Taken at construction, from the field the
        previous stage handed over: a resumed stage anchors to the same colours."""
        directions = torch.zeros(0, 3)
        if "background_anchor" in self.spec.regularizers:
            generator = torch.Generator().manual_seed(self.seed)
            aspect = self.spec.width / self.spec.height
            directions = regularizers.unseen_directions(
                self.spec.cameras, aspect, ANCHOR_DIRECTIONS, generator
            )
        with torch.no_grad():
            reference = self.field.background(directions) if len(directions) else directions
        self.register_buffer("anchor_directions", directions, persistent=False)
        self.register_buffer("anchor_reference", reference, persistent=False)

    # --- Lightning hooks ----------------------------------------------------------------

    def on_fit_start(self) -> None:
        if self.guidance is None:
            self.guidance = self.context.guidance(self.device)

    def train_dataloader(self) -> torch.utils.data.DataLoader:
        return torch.utils.data.DataLoader(StepStream(), batch_size=None)

    def freeze_untrained_groups(self) -> None:
        """Groups with learning rate 0 get no gradient. Done at construction: DDP wraps the
        module before `configure_optimizers`, and a trainable but unused parameter (the
        dynamic grid in the static stage) would make it fail."""
        for name, parameters in self.field.parameter_groups().items():
            for parameter in parameters:
                parameter.requires_grad_(self.spec.lr.get(name, 0.0) > 0)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        groups = []
        for name, parameters in self.field.parameter_groups().items():
            rate = self.spec.lr.get(name, 0.0)
            if rate > 0 and parameters:
                groups.append({"params": parameters, "lr": rate, "name": name})
        return self.context.optimizer(groups)

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        """Mean over this rank's clips of (SDS terms + weighted regularizers).

        Each clip draws its cameras, times, ray jitter and SDS noise from its own generator,
        keyed by its global index (rank x batch + i): N ranks of B clips then compute exactly
        what one process computes on N x B clips, and DDP's gradient average is that mean.
        """
        if self.guidance is None:
            raise RuntimeError("a stage's guidance is built at fit start")
        step = self.global_step
        weights = {
            **self.guidance_weights,
            **self.regularizer_weights,
            "reference": self.spec.reference_weight,
            "all_round": self.spec.all_round_weight,
        }
        clip_terms = [self.clip_terms(step, clip) for clip in self.clip_indices()]
        names = dict.fromkeys(name for t in clip_terms for name in t)  # hybrid: keys vary by clip
        terms = {n: sum(t[n] for t in clip_terms if n in t) / len(clip_terms) for n in names}
        loss = sum(weights.get(name, 1.0) * value for name, value in terms.items())
        self.log_dict({f"{self.spec.name}/{k}": v.detach() for k, v in terms.items()}, on_step=True)
        self.log(f"{self.spec.name}/loss", loss.detach(), prog_bar=True, on_step=True)
        self.log(
            f"{self.spec.name}/occupied", self.renderer.occupancy.occupied_fraction, on_step=True
        )
        if self.spec.all_round_clips > 0:
            self.log(f"{self.spec.name}/all_round_clip", float(self.all_round_step(step)))
        return loss

    def clip_indices(self) -> range:
        first = self.global_rank * self.spec.batch_size
        return range(first, first + self.spec.batch_size)

    def clip_terms(self, step: int, clip: int) -> dict[str, torch.Tensor]:
        generator = self.step_generator(step, clip=clip)
        height, width = self.render_size
        cameras = self.spec.cameras
        if self.all_round_step(step):
            assert self.spec.all_round_cameras is not None
            cameras = self.spec.all_round_cameras
        sampled = sample_training_cameras(
            1, self.spec.frames, width, height, cameras, generator, self.device
        )
        times = self.sample_times(generator)
        rendered = self.renderer.render(self.field, sampled.cameras, times, generator=generator)
        views = [view_bucket(float(sampled.azimuth_deg[0, 0]), float(sampled.elevation_deg[0, 0]))]
        terms = self.guidance_terms(rendered, views, step, generator)
        terms.update(self.regularizer_terms(rendered, times, generator))
        if self.spec.reference_weight > 0:
            terms["reference"] = self.reference_term(generator)
        if self.spec.all_round_weight > 0:
            terms["all_round"] = self.all_round_term(times, step, generator)
        return terms

    def all_round_step(self, step: int) -> bool:
        """Whether this step's clips are seen from all round (`AllRoundSettings.clips`). Drawn
        per step, not per clip, from a generator every rank shares: the step's gradients are
        then masked alike on every rank (`on_after_backward`)."""
        if self.spec.all_round_clips <= 0:
            return False
        draw = torch.rand(1, generator=self.step_generator(step, clip=-2))
        return bool(draw < self.spec.all_round_clips)

    def on_after_backward(self) -> None:
        """In an all-round step only `all_round_groups` learn: the other groups' gradients are
        dropped, so Adam skips them (no step from their momentum either)."""
        if not self.all_round_step(self.global_step):
            return
        for name, parameters in self.field.parameter_groups().items():
            if name not in self.spec.all_round_groups:
                for parameter in parameters:
                    parameter.grad = None

    def all_round_term(
        self, times: torch.Tensor, step: int, generator: torch.Generator
    ) -> torch.Tensor:
        """Image-prior SDS of one view from all round at one of the clip's `times` (1, T), at
        the base prior's size: the side and back of the scene stay what the static stage built
        while the frontal clips add motion (`AllRoundSettings`)."""
        guidance = self.guidance
        assert guidance is not None and self.spec.all_round_cameras is not None
        sampled = sample_training_cameras(
            1,
            1,
            self.spec.base_width,
            self.spec.base_height,
            self.spec.all_round_cameras,
            generator,
            self.device,
        )
        frame = torch.randint(times.shape[1], (1,), generator=generator).to(times.device)
        rendered = self.renderer.render(
            self.field, sampled.cameras, times[:, frame], generator=generator
        )
        views = [view_bucket(float(sampled.azimuth_deg[0, 0]), float(sampled.elevation_deg[0, 0]))]
        output = guidance.image.sds(
            rendered.rgb, guidance.image_cond, views=views, step=step, generator=generator
        )
        return self.log_sds("sds_all_round", output)

    def reference_term(self, generator: torch.Generator) -> torch.Tensor:
        """The front view against the prior's own sample of the prompt (`ReferenceClip`)."""
        reference = self.guidance.reference if self.guidance is not None else None
        if reference is None:
            raise RuntimeError("the reference term needs the prior's reference clip")
        times, frames = reference.sample_times(self.spec.static_time, generator)
        front = self.context.reference_cameras(reference.frames).to(self.device)
        cameras = Cameras(
            front.c2w[:, frames.to(self.device)],
            front.fov_y_deg[:, frames.to(self.device)],
            front.width,
            front.height,
        )
        times = times.to(self.device)
        rendered = self.renderer.render(self.field, cameras, times[None], generator=generator)
        return reference.loss(rendered.rgb, times)

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        trajectory = getattr(self.field, "trajectory", None)
        if isinstance(trajectory, GlobalTrajectory):
            trajectory.project_()  # back into its bound after the optimiser's step
        # The same generator on every rank: ranks hold equal fields, so equal grids.
        generator = self.step_generator(self.global_step, clip=-1)
        self.renderer.update_occupancy(self.field, self.global_step, generator)
        optimizer = self.optimizers()
        if not isinstance(optimizer, list):
            for group in optimizer.param_groups:
                self.log(f"lr/{group['name']}", group["lr"], on_step=True)

    # --- pieces -------------------------------------------------------------------------

    def step_generator(self, step: int, clip: int) -> torch.Generator:
        """Randomness that depends only on (seed, stage, step, clip): a resumed run repeats it."""
        mixed = hash((self.seed, self.spec.index, step, clip)) & 0x7FFF_FFFF
        return torch.Generator().manual_seed(mixed)

    def sample_times(self, generator: torch.Generator) -> torch.Tensor:
        """Scene times `(1, T)` of one clip."""
        if self.spec.static_time is not None:
            return torch.full((1, self.spec.frames), self.spec.static_time, device=self.device)
        return sample_clip_times(1, self.spec.frames, self.spec.times, generator).to(self.device)

    def guidance_terms(
        self, rendered: RenderOutput, views: list[str], step: int, generator: torch.Generator
    ) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def regularizer_terms(
        self, rendered: RenderOutput, times: torch.Tensor, generator: torch.Generator
    ) -> dict[str, torch.Tensor]:
        terms: dict[str, torch.Tensor] = {}
        active = {name for name, weight in self.regularizer_weights.items() if weight > 0}
        if "opacity_sparsity" in active:
            terms["opacity_sparsity"] = regularizers.opacity_sparsity(rendered.opacity)
        if "background_anchor" in active:
            terms["background_anchor"] = regularizers.background_anchor(
                self.field, self.anchor_directions, self.anchor_reference
            )
        if not self.spec.trains_motion:
            return terms
        if "temporal_smoothness" in active:
            count = self.spec.regularizer_points
            points = regularizers.random_points(count, generator, self.device)
            point_times = torch.rand(count, 1, generator=generator).to(self.device)
            frame_dt = float(self.spec.times.span[1]) / max(self.spec.frames - 1, 1)
            terms["temporal_smoothness"] = regularizers.temporal_smoothness(
                self.field, points, point_times, frame_dt
            )
        if "dynamic_sparsity" in active:
            terms["dynamic_sparsity"] = regularizers.dynamic_sparsity(self.field)
        if "frame_consistency" in active:
            terms["frame_consistency"] = regularizers.frame_consistency(
                rendered.rgb, rendered.opacity
            )
        return terms

    def log_sds(self, name: str, output: SDSOutput) -> torch.Tensor:
        self.log_dict({f"{self.spec.name}/{name}/{k}": v for k, v in output.logs.items()})
        return output.loss

    def base_frames(self, frames: torch.Tensor) -> torch.Tensor:
        """Frames `(B, T, 3, H, W)` resized to what the base prior sees (antialiased)."""
        size = (self.spec.base_height, self.spec.base_width)
        if tuple(frames.shape[-2:]) == size:
            return frames
        flat = F.interpolate(frames.flatten(0, 1), size=size, mode="bilinear", antialias=True)
        return flat.unflatten(0, frames.shape[:2])

    def preview_video(self) -> torch.Tensor:
        """`(T, 3, H, W)` along the export trajectory (for video logs)."""
        preview = self.context.preview
        if preview is None:
            raise RuntimeError("this stage was built without preview cameras")
        was_training = self.renderer.training
        self.renderer.eval()
        try:
            frames = self.renderer.render(self.field, preview.cameras, preview.times).rgb
        finally:
            self.renderer.train(was_training)
        return frames[0]
