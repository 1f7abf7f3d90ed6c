"""FieldLogger: the numbers it logs for a field's trajectory and exposure, read by capability."""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl
import pytest
import torch
from torch.utils.data import DataLoader

from t2v.callbacks.field_logging import FieldLogger, field_metrics
from t2v.field import PlaneSpec, SceneField

PLANES = PlaneSpec(features=2, resolutions=(4,), time_resolution=2)
OFFSETS = [[0.0, 0.0, 0.0], [0.1, 0.2, 0.3], [0.5, -0.25, 1.0]]
GAINS = [0.0, -1.0, 2.0, 0.5]
# travel = last offset - first; mean of the gains; mean |inner knot - mean of its neighbours|:
# |-1 - (0 + 2) / 2| = 2 and |2 - (-1 + 0.5) / 2| = 2.25.
EXPECTED = {
    "trajectory/x": 0.5,
    "trajectory/y": -0.25,
    "trajectory/z": 1.0,
    "exposure/mean": 0.375,
    "exposure/flicker": 2.125,
}


def tiny_field(knots: bool = True) -> SceneField:
    field = SceneField(
        PLANES,
        PLANES,
        backend="torch",
        hidden_dim=8,
        background="solid",
        trajectory_knots=3 if knots else 0,
        exposure_knots=4 if knots else 0,
    )
    if knots:
        with torch.no_grad():
            field.trajectory.offsets.copy_(torch.tensor(OFFSETS))
            field.exposure.gains[:, 0] = torch.tensor(GAINS)
    return field


class TinyStage(pl.LightningModule):
    """A stage in miniature: trains the heads of `field`, records what it is asked to log."""

    def __init__(self, field: Any) -> None:
        super().__init__()
        self.field = field
        self.logged: list[tuple[str, float, dict[str, Any]]] = []

    def train_dataloader(self) -> DataLoader:
        return DataLoader(list(range(8)), batch_size=None)

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        points = torch.rand(16, 3) * 2 - 1
        return self.field.density(points, torch.rand(16, 1)).mean()

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.field.parameter_groups()["heads"], lr=0.1)

    def log(self, name: str, value: Any, **kwargs: Any) -> None:
        self.logged.append((name, float(value), kwargs))
        super().log(name, value, **kwargs)


def fit(module: pl.LightningModule, steps: int = 2) -> pl.Trainer:
    trainer = pl.Trainer(
        accelerator="cpu",
        max_steps=steps,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[FieldLogger()],
    )
    trainer.fit(module)
    return trainer


def test_field_metrics_reads_trajectory_travel_and_exposure_flicker() -> None:
    metrics = field_metrics(tiny_field())
    assert list(metrics) == list(EXPECTED)
    for name, expected in EXPECTED.items():
        assert float(metrics[name]) == pytest.approx(expected), name
    assert field_metrics(tiny_field(knots=False)) == {}


def test_logs_every_step_of_a_motion_stage() -> None:
    module = TinyStage(tiny_field())
    trainer = fit(module, steps=2)
    names = [name for name, _, _ in module.logged]
    assert names == list(EXPECTED) * 2  # each training batch, in this order
    for name, value, kwargs in module.logged:
        assert value == pytest.approx(EXPECTED[name]), name
        assert kwargs == {"on_step": True}
    for name, expected in EXPECTED.items():
        assert float(trainer.callback_metrics[name]) == pytest.approx(expected)


def test_logs_nothing_in_the_static_stage_or_without_curves() -> None:
    static = tiny_field()
    static.static_only = True
    plain = tiny_field(knots=False)
    for field in (static, plain):
        module = TinyStage(field)
        fit(module, steps=1)
        assert module.logged == []


def test_refuses_a_module_without_a_field() -> None:
    module = TinyStage(torch.nn.Linear(3, 1))
    with pytest.raises(TypeError, match=r"t2v\.field\.Field"):
        fit(module, steps=1)
