"""Every experiment composes and runs one step of each stage under the debug overlay."""

from __future__ import annotations

from pathlib import Path

import pytest
from omegaconf import OmegaConf

from t2v import cli
from t2v.generation import run_generate
from t2v.priors.tiny import save_tiny_bundled
from t2v.stages import build_stage_specs

EXPERIMENTS = sorted(
    p.stem for p in (Path(cli.__file__).parents[1] / "conf" / "experiment").glob("*.yaml")
)


@pytest.fixture(scope="module")
def tiny_prior(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("prior")
    save_tiny_bundled(folder, frames=4, size=16, genres=("none", "noir", "cartoon", "horror"))
    return folder


def compose(name: str, prior: Path, extra: list[str]) -> OmegaConf:
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
    OmegaConf.set_struct(cfg, False)
    cfg.pop("hydra")
    return cfg


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
    specs = {
        s.name: s for s in build_stage_specs(compose("ablation_no_motion_regularizers", prior, []))
    }
    assert all(r(10**6) == 0 for s in specs.values() for r in s.regularizers.values())
    names = [s.name for s in build_stage_specs(compose("ablation_no_superres", prior, []))]
    assert names == ["static", "dynamic"]
    specs = {s.name: s for s in build_stage_specs(compose("ablation_static_cameras", prior, []))}
    assert specs["dynamic"].cameras.dynamic_probability == 0.0
    assert compose("ablation_hashgrid", prior, []).field.static_encoding._target_.endswith(
        "HashGridSpec"
    )
    assert compose("length_resolution", prior, ["duration=4.0"]).duration == 4.0


@pytest.mark.slow
@pytest.mark.parametrize("name", EXPERIMENTS)
def test_experiment_runs_one_step_of_each_stage(
    name: str, tiny_prior: Path, tmp_path: Path
) -> None:
    cfg = compose(name, tiny_prior, [f"cache_dir={tmp_path / 'cache'}"])
    if cfg.field.static_encoding._target_.endswith("PlaneSpec"):
        cfg.field.static_encoding.resolutions = [8, 16]
        cfg.field.dynamic_encoding.resolutions = [8, 16]
    else:
        for encoding in (cfg.field.static_encoding, cfg.field.dynamic_encoding):
            encoding.levels, encoding.log2_table_size = 4, 12
    for stage in ("static", "dynamic", "superres", "temporal"):
        if cfg.schedule[stage].steps > 0:
            cfg.schedule[stage].steps = 1
    metrics = run_generate(cfg, tmp_path / "run")
    assert set(metrics["stages"]) == {s.name for s in build_stage_specs(cfg)}
    assert all(figures["steps"] == 1 for figures in metrics["stages"].values())
    assert (tmp_path / "run" / "video.mp4").stat().st_size > 0
