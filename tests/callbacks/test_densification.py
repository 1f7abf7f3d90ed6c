"""Gaussian densification: clone, split, prune and cap; optimiser state and checkpoints follow."""

from __future__ import annotations

import math
from types import SimpleNamespace

import lightning.pytorch as pl
import pytest
import torch

from t2v.callbacks import GaussianDensification
from t2v.callbacks.densification import densify_and_prune, reset_opacities
from t2v.field import DensifySchedule, GaussianField, PlaneSpec
from t2v.render import Cameras, VolumeRenderer

PLANES = PlaneSpec(features=2, resolutions=(8,), time_resolution=4)


def small_field(count: int) -> GaussianField:
    torch.manual_seed(0)
    return GaussianField(count=count, deformation=PLANES, hidden_dim=8, backend="torch")


def test_clone_split_prune_cap_and_optimizer_rows():
    field = small_field(12)
    optimizer = torch.optim.Adam(list(field.gaussian_parameters().values()), lr=0.01)
    splats = field.splats(0.0)
    loss = sum(t.sum() for t in (splats.means, splats.scales, splats.opacities, splats.colours))
    (loss + splats.rotations.sum()).backward()
    optimizer.step()
    with torch.no_grad():
        field.set_values("log_scales", math.log(0.01), slice(0, 2))  # small: cloned
        field.set_values("log_scales", math.log(0.2), slice(2, 4))  # large: split
        field.set_values("logit_opacities", -10.0, slice(10, None))  # faint: pruned
    grads = torch.zeros(12)
    grads[:4] = 1.0
    means_before = field.means.detach().clone()
    count = densify_and_prune(
        field,
        optimizer,
        grads,
        DensifySchedule(grad_threshold=0.5, split_scale=0.05, max_growth=1.0),
    )
    # 12 - 2 pruned - 2 split + 2 clones + 4 halves
    assert count == field.count == 14
    assert torch.equal(field.means[:2], means_before[:2])
    assert torch.equal(field.means[8:10], means_before[:2])  # the clones, after the 8 kept
    halves = field.log_scales[-4:].detach()
    assert torch.allclose(halves, torch.full_like(halves, math.log(0.2 / 1.6)))
    for parameter in field.gaussian_parameters().values():
        state = optimizer.state[parameter]
        assert state["exp_avg"].shape[0] == 14
        assert bool((state["exp_avg"][:8] != 0).any()) and bool((state["exp_avg"][8:] == 0).all())
    assert [p.shape[0] for p in optimizer.param_groups[0]["params"]] == [14] * 5
    optimizer.step()  # the optimiser runs on the resized parameters

    # The cap: only the largest gradients grow the set.
    capped = densify_and_prune(
        field,
        optimizer,
        torch.linspace(0, 1, 14),
        DensifySchedule(grad_threshold=0.1, max_growth=1.0, max_count=16),
    )
    assert capped == 16
    grown = densify_and_prune(field, optimizer, torch.ones(16), DensifySchedule(max_growth=0.1))
    assert grown == 16 + 2  # 10% of 16, rounded up
    reset_opacities(field, optimizer, 0.01)
    assert float(torch.sigmoid(field.logit_opacities).max()) == pytest.approx(0.01, rel=1e-5)


class FitOne(pl.LightningModule):
    """A stage-like module: a Gaussian field fitted to one grey image with the renderer."""

    def __init__(self, count: int) -> None:
        super().__init__()
        self.field = small_field(count)
        self.renderer = VolumeRenderer()
        self.spec = SimpleNamespace(name="static")
        eyes = torch.tensor([[[0.0, 0.0, 3.0]]])
        self.cameras = Cameras.look_at(eyes, torch.zeros(1, 1, 3), 40.0, 16, 16)
        self.target = torch.full((1, 1, 3, 16, 16), 0.25)

    def training_step(self, batch, batch_idx):
        rgb = self.renderer.render(self.field, self.cameras, torch.zeros(1, 1)).rgb
        return ((rgb - self.target) ** 2).mean() * 1e3

    def configure_optimizers(self):
        return torch.optim.Adam(self.field.parameters(), lr=0.01)

    def train_dataloader(self):
        return torch.utils.data.DataLoader(torch.zeros(64, 1), batch_size=1)


def test_count_changes_through_a_stage_and_resumes(tmp_path):
    schedule = DensifySchedule(
        start_step=2, every=2, stop_step=6, grad_threshold=1e-9, max_count=80
    )

    def trainer(steps: int) -> pl.Trainer:
        return pl.Trainer(
            max_steps=steps,
            callbacks=[GaussianDensification(schedule)],
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            accelerator="cpu",
        )

    module = FitOne(count=20)
    first = trainer(4)
    first.fit(module)
    grown = module.field.count
    assert 20 < grown <= 80
    path = tmp_path / "mid.ckpt"
    first.save_checkpoint(path)

    resumed = FitOne(count=20)  # built with the configured count, as a resumed stage is
    second = trainer(8)
    second.fit(resumed, ckpt_path=path)
    assert resumed.field.count >= grown
    state = second.optimizers[0].state[resumed.field.raw_means]
    assert state["exp_avg"].shape[0] == resumed.field.count
