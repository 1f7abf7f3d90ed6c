"""Ramp regularizer weights with the global step (explicit `Ramp` objects, logged every step)."""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl

from t2v.schedules import Ramp


class RegularizerRamps(pl.Callback):
    """Before each step, sets `pl_module.regularizer_weights[name] = ramp(step)` for each ramp."""

    def __init__(self, ramps: dict[str, Ramp]) -> None:
        self.ramps = dict(ramps)

    def weights_at(self, step: int) -> dict[str, float]:
        return {name: ramp(step) for name, ramp in self.ramps.items()}

    def on_train_batch_start(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        weights = self.weights_at(trainer.global_step)
        pl_module.regularizer_weights.update(weights)
        pl_module.log_dict({f"weight/{k}": v for k, v in weights.items()}, on_step=True)
