"""A plain-text progress line every N steps (loss, seconds per step) for nohup'd runs."""

from __future__ import annotations

import time
from typing import Any

import lightning as L


class ProgressLine(L.Callback):
    """Prints `stage step N loss L s/step S` every `every` steps, flushed for log files."""

    def __init__(self, stage: str, every: int = 50) -> None:
        self.stage = stage
        self.every = every
        self.losses: list[float] = []
        self.started = time.perf_counter()

    def on_train_batch_end(
        self, trainer: L.Trainer, module: L.LightningModule, outputs: Any, batch: Any, index: int
    ) -> None:
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        self.losses.append(float(loss))
        if trainer.global_step % self.every == 0:
            now = time.perf_counter()
            mean = sum(self.losses) / len(self.losses)
            seconds = (now - self.started) / len(self.losses)
            print(
                f"{self.stage} step {trainer.global_step} loss {mean:.4f} {seconds:.2f} s/step",
                flush=True,
            )
            self.losses.clear()
            self.started = now
