"""Fit a scene field to posed images with the volume renderer: how a user checks a new field.

Give it frames with the cameras that saw them and the scene times they show; it fits the field
by photometric MSE on random rays (Adam, one learning rate for encodings and one for heads) and
reports PSNR on the training frames and, if given, on held-out frames::

    from t2v.field import SceneField, PlaneSpec
    from t2v.fit import PosedFrames, fit_field
    from t2v.render import VolumeRenderer

    field = SceneField(PlaneSpec(), PlaneSpec(), background="solid", solid_color=(1, 1, 1))
    result = fit_field(field, VolumeRenderer(num_samples=48), PosedFrames(images, cameras, times),
                       steps=400, held_out=PosedFrames(test_images, test_cameras, test_times))
    result.held_out_psnr[-1]  # dB
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor

from t2v.errors import ConfigError
from t2v.field.base import Field
from t2v.render import Cameras, VolumeRenderer, rays_for_indices


@dataclass
class PosedFrames:
    """Images (B, T, 3, H, W) in [0, 1], their cameras (B, T) and scene times (B, T) in [0, 1]."""

    images: Tensor
    cameras: Cameras
    times: Tensor

    def __post_init__(self) -> None:
        batch, frames = self.cameras.batch_shape
        expected = (batch, frames, 3, self.cameras.height, self.cameras.width)
        if tuple(self.images.shape) != expected:
            raise ConfigError(
                f"images must be {expected} to match the cameras, not {tuple(self.images.shape)}"
            )
        if tuple(self.times.shape) != (batch, frames):
            raise ConfigError(f"times must be {(batch, frames)}, not {tuple(self.times.shape)}")

    @property
    def num_pixels(self) -> int:
        return self.images.numel() // 3

    def pixel_colours(self) -> Tensor:
        """Every pixel's colour, (B*T*H*W, 3), in the renderer's flat ray order."""
        return self.images.permute(0, 1, 3, 4, 2).reshape(-1, 3)

    def pixel_times(self, flat_indices: Tensor) -> Tensor:
        per_frame = self.cameras.width * self.cameras.height
        return self.times.reshape(-1)[flat_indices // per_frame]


@dataclass
class FitResult:
    """PSNR history (dB) at `steps`; held_out_psnr is empty without held-out frames."""

    steps: list[int] = field(default_factory=list)
    train_psnr: list[float] = field(default_factory=list)
    held_out_psnr: list[float] = field(default_factory=list)
    seconds: float = 0.0
    evaluated_samples: int = 0  # field evaluations during training (occupancy skipping shows here)


def psnr(prediction: Tensor, target: Tensor) -> float:
    """Peak signal-to-noise ratio in dB of images in [0, 1]."""
    mse = torch.mean((prediction.float() - target.float()) ** 2).item()
    return 10 * math.log10(1.0 / max(mse, 1e-12))


@torch.no_grad()
def render_psnr(field: Field, renderer: VolumeRenderer, frames: PosedFrames) -> float:
    """PSNR of the renderer's (eval-mode, deterministic) images of `field` against `frames`."""
    was_training = renderer.training
    renderer.eval()
    rendered = renderer.render(field, frames.cameras, frames.times).rgb
    renderer.train(was_training)
    return psnr(rendered.clamp(0, 1), frames.images)


def default_optimizer(field: Field, lr: float, heads_lr: float) -> torch.optim.Optimizer:
    """Adam (Instant-NGP betas, eps); encodings (`static`, `dynamic` groups) at `lr`, `heads`
    and `background` at `heads_lr`; other groups (trajectory, exposure) are not fitted."""
    groups = field.parameter_groups()
    param_groups = [
        {"params": groups.get("static", []) + groups.get("dynamic", []), "lr": lr},
        {"params": groups.get("heads", []) + groups.get("background", []), "lr": heads_lr},
    ]
    param_groups = [g for g in param_groups if g["params"]]
    return torch.optim.Adam(param_groups, betas=(0.9, 0.99), eps=1e-15)


def fit_field(
    field: Field,
    renderer: VolumeRenderer,
    train: PosedFrames,
    *,
    steps: int = 500,
    rays_per_step: int = 4096,
    lr: float = 1e-2,
    heads_lr: float = 1e-2,
    held_out: PosedFrames | None = None,
    eval_every: int = 100,
    seed: int = 0,
    on_eval: Callable[[int, float, float | None], None] | None = None,
    final_lr_fraction: float = 1.0,
) -> FitResult:
    """Fit `field` to `train` by MSE on `rays_per_step` random rays a step; PSNR every `eval_every`.

    A `gaussians` field is rasterized whole frames at a time: each step it renders as many
    random training frames as `rays_per_step` pixels fill (at least one).

    The train PSNR is measured on random training rays (cheap); the held-out PSNR renders the
    held-out frames in full. `on_eval(step, train_psnr, held_out_psnr)` is called at each
    evaluation (for logging). The renderer's occupancy grid is updated every step. Learning
    rates decay exponentially to `final_lr_fraction` of their start over the steps (1: constant).
    """
    if steps < 1 or rays_per_step < 1 or eval_every < 1:
        raise ConfigError("fit_field needs steps, rays_per_step and eval_every >= 1")
    if not 0.0 < final_lr_fraction <= 1.0:
        raise ConfigError("fit_field needs final_lr_fraction in (0, 1]")
    generator = torch.Generator().manual_seed(seed)
    optimizer = default_optimizer(field, lr, heads_lr)
    decay = torch.optim.lr_scheduler.ExponentialLR(optimizer, final_lr_fraction ** (1 / steps))
    colours = train.pixel_colours()
    result = FitResult()
    start = time.perf_counter()
    field.train()
    renderer.train()
    rasterized = field.capabilities.kind == "gaussians"
    for step in range(1, steps + 1):
        if rasterized:
            loss = _frames_loss(field, renderer, train, rays_per_step, generator)
        else:
            indices = torch.randint(train.num_pixels, (rays_per_step,), generator=generator)
            rays = rays_for_indices(train.cameras, indices)
            out = renderer.render_rays(
                field,
                rays.origins,
                rays.directions,
                train.pixel_times(indices),
                generator=generator,
            )
            loss = torch.mean((out.rgb - colours[indices]) ** 2)
            result.evaluated_samples += out.evaluated_samples
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        decay.step()
        renderer.update_occupancy(field, step, generator)
        if step % eval_every == 0 or step == steps:
            train_psnr = 10 * math.log10(1.0 / max(loss.item(), 1e-12))
            held = render_psnr(field, renderer, held_out) if held_out is not None else None
            result.steps.append(step)
            result.train_psnr.append(train_psnr)
            if held is not None:
                result.held_out_psnr.append(held)
            if on_eval is not None:
                on_eval(step, train_psnr, held)
    result.seconds = time.perf_counter() - start
    return result


def _frames_loss(
    field: Field,
    renderer: VolumeRenderer,
    train: PosedFrames,
    rays_per_step: int,
    generator: torch.Generator,
) -> Tensor:
    """MSE of whole random training frames (for rasterized fields, which draw frames, not rays)."""
    cameras = train.cameras
    per_frame = cameras.width * cameras.height
    total = cameras.batch_shape[0] * cameras.batch_shape[1]
    count = min(total, max(1, rays_per_step // per_frame))
    chosen = torch.randperm(total, generator=generator)[:count]
    picked = Cameras(
        cameras.c2w.reshape(-1, 4, 4)[chosen][None],
        cameras.fov_y_deg.reshape(-1)[chosen][None],
        cameras.width,
        cameras.height,
    )
    times = train.times.reshape(-1)[chosen][None]
    rendered = renderer.render(field, picked, times, generator=generator).rgb
    target = train.images.reshape(-1, *train.images.shape[2:])[chosen][None]
    return torch.mean((rendered - target) ** 2)
