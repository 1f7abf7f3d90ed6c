"""Every N steps, render the export trajectory and hand it to the logger (W&B) or to run_dir."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.loggers import WandbLogger

from t2v.video import write_video


class VideoLogger(pl.Callback):
    """Logs `pl_module.preview_video()` `(T, 3, H, W)` every `every_n_steps` (rank zero only)."""

    def __init__(self, every_n_steps: int, directory: Path, stage: str, fps: float) -> None:
        self.every_n_steps = every_n_steps
        self.directory = Path(directory)
        self.stage = stage
        self.fps = fps

    def on_train_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        step = trainer.global_step
        if self.every_n_steps <= 0 or step % self.every_n_steps or not trainer.is_global_zero:
            return
        with torch.no_grad():
            frames = pl_module.preview_video()
        path = write_video(self.directory / f"{self.stage}_{step:06d}.mp4", frames, self.fps)
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                logger.log_video(f"video/{self.stage}", [str(path)], step=step)
