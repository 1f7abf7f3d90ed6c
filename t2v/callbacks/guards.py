"""Stop a run whose loss or field turns NaN/inf, with one clear message instead of garbage."""

from __future__ import annotations

import math
from typing import Any

import lightning.pytorch as pl
import torch

from t2v.errors import T2VError


class NonFiniteTrainingError(T2VError):
    exit_code = 4


class NonFiniteLossGuard(pl.Callback):
    """Raises after `patience` consecutive steps whose loss is not finite, or a non-finite weight.

    Single non-finite SDS steps are already skipped by the priors' own guard; this one catches
    a run that has really diverged, before it writes a checkpoint full of NaNs.
    """

    def __init__(self, stage: str, patience: int = 3) -> None:
        self.stage = stage
        self.patience = patience
        self.bad_steps = 0

    def on_train_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        finite = loss is None or math.isfinite(float(loss))
        self.bad_steps = 0 if finite else self.bad_steps + 1
        if self.bad_steps >= self.patience:
            self._stop(trainer, f"the loss was not finite for {self.bad_steps} steps in a row")
        for name, parameter in pl_module.named_parameters():
            if not torch.isfinite(parameter).all():
                self._stop(trainer, f"parameter {name} holds NaN or inf")

    def _stop(self, trainer: pl.Trainer, why: str) -> None:
        raise NonFiniteTrainingError(
            f"stage {self.stage} diverged at step {trainer.global_step}: {why}; lower the learning "
            "rate or the guidance scale and start again from the last good checkpoint"
        )
