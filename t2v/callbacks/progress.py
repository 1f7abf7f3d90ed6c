"""A progress bar that names the stage; tqdm already shows it/s."""

from __future__ import annotations

from lightning.pytorch.callbacks import TQDMProgressBar


class StageProgressBar(TQDMProgressBar):
    def __init__(self, stage: str, total_stages: int, index: int, refresh_rate: int = 1) -> None:
        super().__init__(refresh_rate=refresh_rate)
        self.stage = stage
        self.label = f"[{index + 1}/{total_stages}] {stage}"

    @property
    def train_description(self) -> str:
        return self.label

    def get_metrics(self, trainer, pl_module):  # type: ignore[no-untyped-def]
        metrics = super().get_metrics(trainer, pl_module)
        metrics.pop("v_num", None)
        return metrics
