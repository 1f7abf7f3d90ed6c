"""DDP over one field: 2 CPU processes (gloo) make the same update as 1 process on both batches."""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch
from omegaconf import open_dict

from t2v import cli
from t2v.commands.door import resolved
from t2v.config.generate import parse_generate
from t2v.generation.training import GuidanceFactory, stage_context
from t2v.priors.tiny import save_tiny_bundled
from t2v.render import genre_trajectory_cameras
from t2v.scene import Scene
from t2v.stages.base import StageModule
from t2v.stages.stages import STAGE_MODULES


def dynamic_stage(tmp_path: Path, batch_size: int) -> StageModule:
    prior = tmp_path / "prior"
    if not prior.exists():
        save_tiny_bundled(prior, frames=4, size=16, genres=("none", "noir"))
    cli.register_resolvers()
    cfg = cli.compose(
        "generate",
        [
            "prompt=a red ball moving to the left",
            "genre=noir",
            "debug=default",
            *(f"prior.{role}.model={prior}" for role in ("image", "video", "sr")),
            "field=hexplane",
            "field.static_encoding.resolutions=[8,16]",
            "field.dynamic_encoding.resolutions=[8,16]",
            "field.hidden_dim=16",
            "renderer.num_samples=12",
            f"cache_dir={tmp_path / 'cache'}",
            f"schedule.batch_size={batch_size}",
            "prior.hybrid.p_image=0.5",
            "prior.reference=null",  # one front view per rank, not a batch the ranks split
        ],
    )
    with open_dict(cfg):
        cfg.pop("hydra")  # outside a Hydra app its job number is unset: it cannot resolve
    config = parse_generate(resolved(cfg))
    spec = next(s for s in config.stages if s.name == "dynamic")
    pl.seed_everything(0, verbose=False)
    scene = Scene.build(config)
    # The priors are built on each rank at fit start, from the factory.
    context = stage_context(config, spec, scene, GuidanceFactory(config))
    # ddp_spawn pickles the module for its ranks: the front cameras as a partial, not a closure.
    front = partial(
        genre_trajectory_cameras,
        config.genre.camera,
        width=spec.base_width,
        height=spec.base_height,
        trajectory="static",
    )
    return STAGE_MODULES["dynamic"](replace(context, reference_cameras=front))


def fit(module: pl.LightningModule, devices: int, steps: int) -> dict[str, torch.Tensor]:
    trainer = pl.Trainer(
        accelerator="cpu",
        devices=devices,
        strategy="ddp_spawn" if devices > 1 else "auto",
        max_steps=steps,
        max_epochs=-1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        use_distributed_sampler=False,
        limit_val_batches=0,
        num_sanity_val_steps=0,
    )
    trainer.fit(module)
    return {k: v.detach().clone() for k, v in module.field.state_dict().items()}


@pytest.mark.slow
def test_two_ranks_equal_one_process_on_the_union_of_their_batches(tmp_path: Path) -> None:
    start = {k: v.clone() for k, v in dynamic_stage(tmp_path, 1).field.state_dict().items()}
    two_ranks = fit(dynamic_stage(tmp_path, batch_size=1), devices=2, steps=2)
    one_process = fit(dynamic_stage(tmp_path, batch_size=2), devices=1, steps=2)
    moved = [k for k in start if not torch.equal(start[k], one_process[k])]
    assert any(k.startswith("dynamic_encoding") for k in moved)  # the update is not trivial
    for key in start:
        assert torch.allclose(two_ranks[key], one_process[key], atol=1e-6, rtol=1e-4), key
    # ... and it differs from one process on one rank's batch alone.
    single_rank = fit(dynamic_stage(tmp_path, batch_size=1), devices=1, steps=2)
    assert any(not torch.allclose(single_rank[k], one_process[k], atol=1e-6) for k in moved)
