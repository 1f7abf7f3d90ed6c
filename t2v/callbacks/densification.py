"""Densify and prune a GaussianField during a stage (3DGS's adaptive density control).

Reads the field's `DensifySchedule` (`field.densify` in conf/field/gaussians.yaml): the mean
gradient norm of each Gaussian's position is accumulated after every backward; on schedule, the
Gaussians with a large one are cloned (small ones) or split (large ones), faint ones are pruned,
the count is capped, and the optimiser's state follows the Gaussians (kept ones keep their Adam
moments, new ones start at zero). Checkpoints hold the changed count: `GaussianField` resizes
itself to a checkpoint's count before loading it, and the optimiser is rebuilt from the resized
parameters before its state is loaded. The gradient statistics restart after a resume. It
runs in one process (DDP wraps fixed parameters): multi-process runs must switch it off.
"""

from __future__ import annotations

import math
from typing import Any

import lightning.pytorch as pl
import torch
from torch import Tensor, nn

from t2v.errors import ConfigError
from t2v.field.components.quaternions import quaternion_matrices
from t2v.field.gaussians import DensifySchedule, GaussianField

SPLIT_SHRINK = 1.6  # 3DGS: each half of a split Gaussian is 1.6x smaller


class GaussianDensification(pl.Callback):
    """Adaptive density control of `pl_module.field` (a GaussianField) in the scheduled stages."""

    def __init__(self, schedule: DensifySchedule) -> None:
        self.schedule = schedule
        self.grad_sum: Tensor | None = None
        self.seen: Tensor | None = None

    def _active(self, pl_module: pl.LightningModule) -> bool:
        field = getattr(pl_module, "field", None)
        spec = getattr(pl_module, "spec", None)
        return isinstance(field, GaussianField) and getattr(spec, "name", None) in set(
            self.schedule.stages
        )

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._active(pl_module) and trainer.world_size > 1:
            # DDP holds the parameters it wraps: new ones would leave its buckets stale.
            raise ConfigError(
                "Gaussian densification runs in one process only; set field.densify.stages=[] "
                "for multi-process training"
            )

    def on_before_optimizer_step(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, optimizer: Any
    ) -> None:
        if not self._active(pl_module):
            return
        norms = pl_module.field.position_grads()
        if norms is None:
            return
        if self.grad_sum is None or self.grad_sum.shape != norms.shape:
            self.grad_sum, self.seen = torch.zeros_like(norms), torch.zeros_like(norms)
        self.grad_sum += norms
        self.seen += (norms > 0).to(norms.dtype)

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, idx: int
    ) -> None:
        if not self._active(pl_module):
            return
        step, schedule = trainer.global_step, self.schedule
        field: GaussianField = pl_module.field
        optimizer = trainer.optimizers[0]
        if schedule.start_step <= step < schedule.stop_step and step % schedule.every == 0:
            densify_and_prune(field, optimizer, self.mean_grads(field), schedule)
            self.grad_sum = self.seen = None
        if schedule.reset_every and step % schedule.reset_every == 0 and step < schedule.stop_step:
            reset_opacities(field, optimizer, schedule.reset_opacity)

    def mean_grads(self, field: GaussianField) -> Tensor:
        if self.grad_sum is None or self.seen is None or self.grad_sum.shape[0] != field.count:
            return field.raw_means.new_zeros(field.count)
        return self.grad_sum / self.seen.clamp_min(1)


@torch.no_grad()
def densify_and_prune(
    field: GaussianField,
    optimizer: torch.optim.Optimizer | None,
    mean_grads: Tensor,
    schedule: DensifySchedule,
) -> int:
    """Clone, split and prune the field's Gaussians by `mean_grads` (N,); returns the new count.
    Kept and cloned Gaussians copy their raw parameters, so their values stay exact."""
    params = field.gaussian_parameters()
    count = field.count
    scales = field.log_scales.exp().amax(dim=1)
    high = mean_grads >= schedule.grad_threshold
    # The caps: at most max_growth x count additions, never past max_count; largest first.
    room = max(min(schedule.max_count - count, math.ceil(schedule.max_growth * count)), 0)
    if int(high.sum()) > room:
        chosen = torch.topk(torch.where(high, mean_grads, -1.0), room).indices
        high = torch.zeros_like(high)
        high[chosen] = True
    clone = high & (scales <= schedule.split_scale)
    split = high & (scales > schedule.split_scale)
    prune = torch.sigmoid(field.logit_opacities) < schedule.prune_opacity
    if bool((prune | split).all()) and not bool(clone.any()):
        prune = torch.zeros_like(prune)  # never prune the scene to nothing
    kept = (~(prune | split)).nonzero().squeeze(1)
    added = torch.cat((clone.nonzero().squeeze(1), split.nonzero().squeeze(1).repeat(2)))
    sources = torch.cat((kept, added))
    values = {name: p[sources] for name, p in params.items()}
    halves = len(added) - int(clone.sum())
    if halves:
        children = _split(field.gaussian_values(), split.nonzero().squeeze(1))
        for name in values:
            values[name][-halves:] = children[name] / field.step(name)
    new_rows = torch.arange(len(sources), device=sources.device) >= len(kept)
    old = field.set_gaussians(values)
    if optimizer is not None:
        _move_optimizer_state(optimizer, old, field.gaussian_parameters(), sources, new_rows)
    return field.count


def _split(params: dict[str, Tensor], index: Tensor) -> dict[str, Tensor]:
    """Two children per Gaussian at `index` (attribute values in their own units): positions
    drawn from it, scales 1.6x smaller."""
    scales = params["log_scales"][index].exp()
    rotation = quaternion_matrices(params["quaternions"][index])
    children = {}
    for name, p in params.items():
        children[name] = p[index].repeat(2, *([1] * (p.dim() - 1)))
    offsets = torch.randn(2 * len(index), 3, device=scales.device, dtype=scales.dtype)
    offsets = torch.einsum("nij,nj->ni", rotation.repeat(2, 1, 1), offsets * scales.repeat(2, 1))
    children["means"] = children["means"] + offsets
    children["log_scales"] = children["log_scales"] - math.log(SPLIT_SHRINK)
    return children


def _move_optimizer_state(
    optimizer: torch.optim.Optimizer,
    old: dict[str, nn.Parameter],
    new: dict[str, nn.Parameter],
    sources: Tensor,
    new_rows: Tensor,
) -> None:
    """Point the optimiser at the new parameters; per-Gaussian state rows follow `sources`
    (old row of each new row), zero for new Gaussians."""
    for name, before in old.items():
        after = new[name]
        for group in optimizer.param_groups:
            group["params"] = [after if p is before else p for p in group["params"]]
        state = optimizer.state.pop(before, None)
        if state is None:
            continue
        moved = {}
        for key, value in state.items():
            if isinstance(value, Tensor) and value.dim() > 0 and value.shape[0] == before.shape[0]:
                value = value[sources].clone()
                value[new_rows] = 0
            moved[key] = value
        optimizer.state[after] = moved


@torch.no_grad()
def reset_opacities(
    field: GaussianField, optimizer: torch.optim.Optimizer | None, opacity: float
) -> None:
    """Lower every opacity to at most `opacity` and forget its Adam moments (3DGS's reset)."""
    ceiling = math.log(opacity / (1 - opacity)) / field.step("logit_opacities")
    field.raw_logit_opacities.clamp_(max=ceiling)
    if optimizer is not None:
        for value in optimizer.state.get(field.raw_logit_opacities, {}).values():
            if isinstance(value, Tensor) and value.dim() > 0:
                value.zero_()
