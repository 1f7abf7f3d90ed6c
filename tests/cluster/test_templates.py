"""slurm/*.sbatch: valid bash, the multi-node template is the one-node one with more nodes."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

SLURM = Path(__file__).resolve().parents[2] / "slurm"
TEMPLATES = sorted(SLURM.glob("*.sbatch"))


def sbatch_options(path: Path) -> dict[str, str]:
    options = {}
    for line in path.read_text().splitlines():
        if line.startswith("#SBATCH --"):
            key, _, value = line.removeprefix("#SBATCH --").partition("=")
            options[key] = value
    return options


def body(path: Path) -> str:
    """The commands after the #SBATCH block."""
    return path.read_text().split("set -euo pipefail", 1)[1]


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda path: path.name)
def test_template_is_valid_bash_and_shows_its_command(path: Path) -> None:
    assert subprocess.run(["bash", "-n", str(path)], capture_output=True).returncode == 0
    assert f"#   sbatch slurm/{path.name} prompt=" in path.read_text()
    options = sbatch_options(path)
    # One task per GPU (Lightning checks devices == tasks per node) and Lightning's requeue.
    assert options["ntasks-per-node"] == options["gpus-per-node"]
    assert options["signal"] == "SIGUSR1@90"
    assert "requeue" in options


def test_multinode_template_differs_only_in_node_count() -> None:
    one = SLURM / "generate_1node.sbatch"
    many = SLURM / "generate_multinode.sbatch"
    one_options, many_options = sbatch_options(one), sbatch_options(many)
    assert (one_options.pop("nodes"), many_options.pop("nodes")) == ("1", "2")
    assert one_options == many_options
    assert body(one) == body(many)
