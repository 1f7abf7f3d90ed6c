"""conf/hydra/launcher: the submitit configs match the plugin's schema and compose through `t2v`."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest
from hydra_plugins.hydra_submitit_launcher.config import LocalQueueConf, SlurmQueueConf
from omegaconf import OmegaConf

LAUNCHERS = Path(__file__).resolve().parents[2] / "conf" / "hydra" / "launcher"


@pytest.mark.parametrize(
    ("name", "schema"), [("submitit_slurm", SlurmQueueConf), ("submitit_local", LocalQueueConf)]
)
def test_launcher_file_spells_out_the_plugin_schema(name: str, schema: type) -> None:
    # The file shadows the plugin's config of the same name, so it must stay complete by itself.
    loaded = OmegaConf.load(LAUNCHERS / f"{name}.yaml")
    assert set(loaded.keys()) == {field.name for field in dataclasses.fields(schema)}
    merged = OmegaConf.merge(OmegaConf.structured(schema), loaded)  # types check out
    assert merged._target_ == schema._target_


def compose_hydra(*overrides: str, resolve: bool = False) -> str:
    # `--cfg hydra` alone cannot resolve: hydra.sweep.dir reads the job's run_dir.
    flags = ["--cfg", "all", "--resolve"] if resolve else ["--cfg", "hydra"]
    done = subprocess.run(
        [sys.executable, "-m", "t2v", "generate", *flags, "prompt=x", *overrides],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_slurm_launcher_composes_with_overrides() -> None:
    text = compose_hydra(
        "hydra/launcher=submitit_slurm",
        "hydra.launcher.partition=gpu",
        "hydra.launcher.gpus_per_node=4",
        "hydra.launcher.tasks_per_node=4",
        "hydra.launcher.array_parallelism=2",
    )
    launcher = OmegaConf.create(text).hydra.launcher
    assert launcher._target_.endswith("SlurmLauncher")
    assert (launcher.partition, launcher.gpus_per_node, launcher.tasks_per_node) == ("gpu", 4, 4)
    assert launcher.array_parallelism == 2
    assert launcher.timeout_min == 240


def test_slurm_launcher_leaves_requeueing_to_lightning() -> None:
    text = compose_hydra(
        "hydra/launcher=submitit_slurm", "hydra.launcher.signal_delay_s=300", resolve=True
    )
    launcher = OmegaConf.create(text).hydra.launcher
    assert launcher.max_num_timeout == 0  # submitit never requeues a timed-out job
    # Slurm sends Lightning's SIGUSR1, not submitit's USR2, before the time limit.
    assert launcher.additional_parameters == {"signal": "USR1@300", "requeue": True}


def test_local_launcher_composes() -> None:
    launcher = OmegaConf.create(compose_hydra("hydra/launcher=submitit_local")).hydra.launcher
    assert launcher._target_.endswith("LocalLauncher")
    assert launcher.gpus_per_node is None
