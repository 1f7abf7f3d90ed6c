"""`FieldLogger`: logs what a field learns over time as a whole (global trajectory, exposure).

Which numbers exist is read from the field's declared capabilities (`t2v.field.Field`), so the
same callback serves any field: one without a trajectory or an exposure curve logs nothing.
"""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl
from torch import Tensor

from t2v.field.base import Field


def field_metrics(field: Field) -> dict[str, float | Tensor]:
    """What a field's global curves look like now, by logged name.

    `trajectory/x|y|z`: how far the global trajectory carries the scene from start to end
    (world units). `exposure/mean`: the mean log-gain of the exposure curve; `exposure/flicker`
    (3 knots or more): the mean distance of each inner knot from the straight line through its
    neighbours, the knot-to-knot jumps that a smooth change of light would not make.
    """
    metrics: dict[str, float | Tensor] = {}
    offsets = field.trajectory_offsets() if field.capabilities.trajectory else None
    if offsets is not None:
        travel = (offsets[-1] - offsets[0]).detach()
        for axis, value in zip("xyz", travel.tolist(), strict=True):
            metrics[f"trajectory/{axis}"] = value
    gains = field.exposure_gains() if field.capabilities.exposure else None
    if gains is not None:
        gains = gains.detach()
        metrics["exposure/mean"] = gains.mean()
        if gains.numel() >= 3:
            jumps = gains[1:-1] - (gains[:-2] + gains[2:]) / 2
            metrics["exposure/flicker"] = jumps.abs().mean()
    return metrics


class FieldLogger(pl.Callback):
    """Logs `field_metrics` of `pl_module.field` after each training batch of a stage that trains
    motion (the field not `static_only`: in the static stage the curves are off and still)."""

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if not isinstance(getattr(pl_module, "field", None), Field):
            raise TypeError(
                f"FieldLogger needs a LightningModule whose `field` is a t2v.field.Field; "
                f"{type(pl_module).__name__} has none"
            )

    def on_train_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        field: Field = pl_module.field
        if field.static_only:
            return
        for name, value in field_metrics(field).items():
            pl_module.log(name, value, on_step=True)
