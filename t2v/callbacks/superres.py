"""MAV3D's super-resolution fine-tuning switch: render size and guidance change at one step."""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl


class SuperResolutionSwitch(pl.Callback):
    """From `at_step` on, render at `size` and weight the SR prior's and base prior's SDS.

    Reads and sets `pl_module.render_size` (height, width) and `pl_module.guidance_weights`
    ({"sr": ..., "base": ...}); MAV3D keeps the base prior at a low weight during SR.
    """

    def __init__(
        self, at_step: int, size: tuple[int, int], sr_weight: float = 1.0, base_weight: float = 0.1
    ) -> None:
        self.at_step = at_step
        self.size = (int(size[0]), int(size[1]))
        self.weights = {"sr": float(sr_weight), "base": float(base_weight)}
        self.switched = False

    def on_train_batch_start(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        active = trainer.global_step >= self.at_step
        if active and not self.switched:
            pl_module.render_size = self.size
            pl_module.guidance_weights.update(self.weights)
        self.switched = active
