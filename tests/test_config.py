"""The config tree: every shipped option of every group composes and passes the door's checks;
genre presets are real."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from omegaconf import DictConfig, OmegaConf

from t2v import cli
from t2v.commands import evaluate, generate, pretrain, render
from t2v.commands.door import resolved
from t2v.config.generate import GenerateConfig, parse_generate
from t2v.errors import ConfigError
from t2v.genres import GenrePreset, Grading
from t2v.rundir import RunDir
from t2v.schema import parse

CONF = Path(cli.__file__).parents[1] / "conf"
GENRES = sorted(p.stem for p in (CONF / "genre").glob("*.yaml"))
RESOLUTIONS = sorted(p.stem for p in (CONF / "resolution").glob("*.yaml"))
# Every group `t2v generate` composes from (`debug` is the overlay, null by default).
GENERATE_GROUPS = (
    "genre",
    "resolution",
    "schedule",
    "prior",
    "field",
    "renderer",
    "trainer",
    "logger",
    "debug",
)


@pytest.fixture(scope="module", autouse=True)
def _resolvers() -> None:
    cli.register_resolvers()


def job(command: str, overrides: list[str]) -> DictConfig:
    """One composed job as the door hands it to the command's `settings` (no `hydra` node)."""
    cfg = cli.compose(command, overrides)
    return OmegaConf.masked_copy(cfg, [key for key in cfg if key != "hydra"])


@pytest.fixture(scope="module")
def new_run(tmp_path_factory: pytest.TempPathFactory) -> str:
    """`run_dir=...` of a job that has not started: the door sets it to the job's folder."""
    return f"run_dir={tmp_path_factory.mktemp('new') / 'run'}"


def generate_config(overrides: list[str]) -> GenerateConfig:
    return parse_generate(resolved(job("generate", overrides)))


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


def genre_node(name: str) -> dict[str, Any]:
    return yaml.safe_load((CONF / "genre" / f"{name}.yaml").read_text())


def test_there_are_at_least_eight_genres() -> None:
    assert len(GENRES) >= 8
    assert {"none", "action", "cartoon", "documentary", "horror", "noir", "scifi"} <= set(GENRES)


@pytest.mark.parametrize("genre", GENRES)
@pytest.mark.parametrize("resolution", RESOLUTIONS)
def test_every_genre_and_resolution_composes(genre: str, resolution: str, new_run: str) -> None:
    config = generate_config(
        ["prompt=a red ball", new_run, f"genre={genre}", f"resolution={resolution}"]
    )
    assert config.genre.name == genre
    assert config.resolution.name == resolution
    assert config.stages  # the schedule resolves against this size and genre


@pytest.mark.parametrize("group", ["trainer", "logger"])
def test_every_trainer_and_logger_composes(group: str) -> None:
    for option in options(group):
        cfg = cli.compose("generate", ["prompt=x", f"{group}={option}"])
        assert group in cfg


@pytest.mark.parametrize("group", GENERATE_GROUPS)
def test_every_shipped_option_passes_the_door(group: str, new_run: str) -> None:
    # The checks that refuse unknown keys (typos) must accept every key the project ships.
    shipped = options(group)
    assert len(shipped) >= (1 if group == "debug" else 2)
    # Hub priors' weights are not cached here: their door would refuse them offline
    # (PriorPreset.check_weights, tested in tests/priors); this test is about their keys.
    online = ["prior.local_files_only=false"] if group == "prior" else []
    for option in shipped:
        overrides = ["prompt=x", new_run, f"{group}={option}", *online]
        config = generate.settings(job("generate", overrides))
        assert config.stages or config.generator is not None  # instant: the generator's field
    if group == "debug":
        return  # an overlay of the other groups' keys: it has no node of its own
    with pytest.raises(ConfigError, match=re.escape(f"{group} has unknown key 'stepz'")):
        generate.settings(job("generate", ["prompt=x", new_run, f"+{group}.stepz=1"]))


def test_a_schedule_takes_its_per_field_steps_and_the_command_line_wins() -> None:
    def steps(overrides: list[str]) -> dict[str, int]:
        schedule = job("generate", ["prompt=x", *overrides]).schedule
        return {stage: schedule[stage].steps for stage in ("static", "dynamic", "superres")}

    plain = steps(["field=hexplane"])  # fast with a NeRF field: no per-field file
    patch = OmegaConf.load(CONF / "schedule" / "per_field" / "fast_gaussians.yaml")
    assert steps([]) == {stage: patch[stage].steps for stage in plain}  # the CPU default
    assert steps(["field=gaussians"]) == {stage: patch[stage].steps for stage in plain}
    assert steps(["field=gaussians"]) != plain
    assert steps(["field=gaussians", "schedule.dynamic.steps=7"])["dynamic"] == 7
    # Beside the steps only the canonical Gaussians' rate differs (frozen after the static
    # stage): the other rates, the cameras and the rest are fast's.
    fast = job("generate", ["prompt=x", "field=hexplane"]).schedule
    gaussian = job("generate", ["prompt=x", "field=gaussians"]).schedule
    assert gaussian.name == "fast" and gaussian.dynamic.cameras == fast.dynamic.cameras
    assert gaussian.dynamic.lr.static == 0.0 < fast.dynamic.lr.static
    assert {**gaussian.dynamic.lr, "static": None} == {**fast.dynamic.lr, "static": None}
    # schedule=instant renders the scene generator's field, whatever the default field.
    assert job("generate", ["prompt=x", "schedule=instant"]).field._target_.endswith("SceneField")
    mav3d = job("generate", ["prompt=x", "schedule=mav3d"]).schedule
    assert job("generate", ["prompt=x", "schedule=mav3d", "field=gaussians"]).schedule == mav3d


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run folder as far as the render and evaluate doors look: its config, its video and
    its last stage's field (their contents are read only when the command runs)."""
    root = tmp_path_factory.mktemp("finished") / "run"
    run = RunDir(root)
    run.write_config(resolved(job("generate", ["prompt=a red ball", f"run_dir={root}"])))
    run.checkpoints.mkdir()
    run.stage_file("temporal").write_bytes(b"")
    run.video_file.write_bytes(b"")
    return root


def test_render_defaults_pass_the_door(finished_run: Path) -> None:
    config = render.settings(job("render", [f"run_dir={finished_run}"]))
    assert config.run_dir == str(finished_run)
    with pytest.raises(ConfigError, match=re.escape("has unknown key 'stepz'")):
        render.settings(job("render", [f"run_dir={finished_run}", "+stepz=1"]))


def test_every_evaluate_logger_passes_the_door(finished_run: Path) -> None:
    for option in options("logger"):
        overrides = [f"run_dir={finished_run}", "clip_model=null", f"logger={option}"]
        config = evaluate.settings(job("evaluate", overrides))
        assert (config.logger is None) == (option == "none")
    with pytest.raises(ConfigError, match=re.escape("logger has unknown key 'stepz'")):
        evaluate.settings(
            job("evaluate", [f"run_dir={finished_run}", "logger=csv", "+logger.stepz=1"])
        )


def test_every_pretrain_preset_passes_the_door() -> None:
    presets = options("pretrain")
    assert {"bundled", "debug"} <= set(presets)
    for preset in presets:
        pretrain.settings(job("pretrain", ["output_dir=x", f"pretrain={preset}"]))
    for group in ("trainer", "logger"):
        for option in options(group):
            pretrain.settings(job("pretrain", ["output_dir=x", f"{group}={option}"]))
    for typo, message in [
        ("+pretrain.vidoe.lr=1", "pretrain has unknown key 'vidoe'"),
        ("+pretrain.sr.lrr=1", "pretrain.sr has unknown key 'lrr'"),
        ("+pretrain.video.model.chanels=3", "pretrain.video.model has unknown key 'chanels'"),
        ("+pretrain.data.colors=[red]", "pretrain.data has unknown key 'colors'"),
    ]:
        with pytest.raises(ConfigError, match=re.escape(message)):
            pretrain.settings(job("pretrain", ["output_dir=x", typo]))


def test_debug_overlay_switches_to_tiny_cpu_without_logger() -> None:
    cfg = cli.compose("generate", ["prompt=x", "debug=default", "logger=wandb"])
    assert cfg.resolution.name == "tiny"
    assert cfg.trainer.accelerator == "cpu"
    assert cfg.logger._target_.endswith("WandbLogger")  # an explicit choice wins over debug
    plain = cli.compose("generate", ["prompt=x", "debug=default"])
    assert plain.logger is None
    assert plain.trainer.deterministic is True


def test_genre_files_are_named_after_their_genre() -> None:
    for name in GENRES:
        preset = parse(GenrePreset, genre_node(name), "genre")
        assert preset.name == name
        assert preset.compose_prompt("  a dog ").startswith("a dog")
        assert preset.description


def test_genres_differ_in_camera_motion_and_look() -> None:
    presets = [parse(GenrePreset, genre_node(g), "genre") for g in GENRES]
    assert len({p.camera.trajectory for p in presets}) >= 4
    assert len({p.motion.speed for p in presets}) >= 4
    assert len({p.grading for p in presets}) == len(presets)
    assert len({p.prompt_template for p in presets}) == len(presets)


def test_noir_grading_is_grey_and_contrasty() -> None:
    noir = parse(GenrePreset, genre_node("noir"), "genre").grading
    frames = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    graded = Grading(saturation=noir.saturation, contrast=noir.contrast).apply(frames)
    assert torch.allclose(graded[:, 0], graded[:, 1], atol=1e-6)  # r == g == b
    assert graded.std() > frames.mean(dim=1).std()  # contrast raised over the plain luma


def test_grading_arithmetic() -> None:
    frames = torch.full((1, 3, 4, 4), 0.25)
    frames[:, 0] = 0.75
    out = Grading(contrast=2.0).apply(frames)
    assert torch.allclose(out[:, 0], torch.tensor(1.0))  # (0.75-0.5)*2+0.5
    assert torch.allclose(out[:, 1], torch.tensor(0.0))  # (0.25-0.5)*2+0.5
    tinted = Grading(tint=(1.0, 0.5, 0.0), brightness=0.1).apply(frames)
    assert torch.allclose(tinted[:, 1], torch.tensor(0.225))
    assert torch.allclose(tinted[:, 2], torch.tensor(0.1))
    noisy = Grading(grain=0.05, flicker=0.05)
    assert torch.equal(noisy.apply(frames, seed=3), noisy.apply(frames, seed=3))
    assert not torch.equal(noisy.apply(frames, seed=3), noisy.apply(frames, seed=4))


def test_vignette_darkens_corners_not_centre() -> None:
    out = Grading(vignette=0.5).apply(torch.full((1, 3, 33, 33), 0.5))
    assert out[0, 0, 16, 16] == pytest.approx(0.5)
    assert out[0, 0, 0, 0] == pytest.approx(0.25)
