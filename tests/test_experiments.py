"""Every experiment composes and runs one step of each stage under the debug overlay."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from omegaconf import OmegaConf

from t2v import cli
from t2v.commands.door import resolved
from t2v.config.generate import parse_generate
from t2v.generation import run_generate
from t2v.priors.tiny import save_tiny_bundled
from t2v.rundir import RunDir

EXPERIMENTS = sorted(
    p.stem for p in (Path(cli.__file__).parents[1] / "conf" / "experiment").glob("*.yaml")
)


@pytest.fixture(scope="module")
def tiny_prior(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("prior")
    save_tiny_bundled(folder, frames=4, size=16, genres=("none", "noir", "cartoon", "horror"))
    return folder


def compose(name: str, prior: Path, extra: list[str]) -> dict[str, Any]:
    """The experiment's job under the debug overlay, as plain containers (no `hydra` node)."""
    cli.register_resolvers()
    cfg = cli.compose(
        "generate",
        [
            f"+experiment={name}",
            "prompt=a red ball moving to the left",
            "genre=noir",
            "debug=default",
            *(f"prior.{role}.model={prior}" for role in ("image", "video", "sr")),
            "renderer.num_samples=8",
            *extra,
        ],
    )
    return resolved(OmegaConf.masked_copy(cfg, [key for key in cfg if key != "hydra"]))


def test_there_are_the_experiments_the_issue_names() -> None:
    assert {
        "genres",
        "ablation_no_motion_regularizers",
        "ablation_no_superres",
        "ablation_static_cameras",
        "ablation_hashgrid",
        "length_resolution",
    } <= set(EXPERIMENTS)


def test_ablations_change_what_they_say() -> None:
    prior = Path("unused")

    def stages(name: str) -> dict[str, Any]:
        return {s.name: s for s in parse_generate(compose(name, prior, [])).stages}

    specs = stages("ablation_no_motion_regularizers")
    assert all(r(10**6) == 0 for s in specs.values() for r in s.regularizers.values())
    assert list(stages("ablation_no_superres")) == ["static", "dynamic"]
    assert stages("ablation_static_cameras")["dynamic"].cameras.dynamic_probability == 0.0
    hashgrid = compose("ablation_hashgrid", prior, [])
    assert hashgrid["field"]["static_encoding"]["_target_"].endswith("HashGridSpec")
    assert parse_generate(compose("length_resolution", prior, ["duration=4.0"])).duration == 4.0


@pytest.mark.slow
@pytest.mark.parametrize("name", EXPERIMENTS)
def test_experiment_runs_one_step_of_each_stage(
    name: str, tiny_prior: Path, tmp_path: Path
) -> None:
    plain = compose(name, tiny_prior, [f"cache_dir={tmp_path / 'cache'}"])
    field = plain["field"]
    encodings = (field["static_encoding"], field["dynamic_encoding"])
    for encoding in encodings:
        if encoding["_target_"].endswith("PlaneSpec"):
            encoding["resolutions"] = [8, 16]
        else:
            encoding["levels"], encoding["log2_table_size"] = 4, 12
    for stage in plain["schedule"].values():
        if isinstance(stage, dict) and stage.get("steps", 0) > 0:
            stage["steps"] = 1
    config = parse_generate(plain)
    metrics = run_generate(config, RunDir(tmp_path / "run"))
    assert set(metrics["stages"]) == {s.name for s in config.stages}
    assert all(figures["steps"] == 1 for figures in metrics["stages"].values())
    assert (tmp_path / "run" / "video.mp4").stat().st_size > 0
