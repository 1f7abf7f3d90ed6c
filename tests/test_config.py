"""The config tree: every genre x resolution composes and validates; genre presets are real."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from t2v import cli
from t2v.errors import ConfigError
from t2v.genres import GenrePreset, Grading
from t2v.validate import (
    check_field_and_renderer,
    check_logger,
    check_pretrain_keys,
    check_schedule,
    check_trainer,
    validate_generate,
)

CONF = Path(cli.__file__).parents[1] / "conf"
GENRES = sorted(p.stem for p in (CONF / "genre").glob("*.yaml"))
RESOLUTIONS = sorted(p.stem for p in (CONF / "resolution").glob("*.yaml"))


@pytest.fixture(scope="module", autouse=True)
def _resolvers() -> None:
    cli.register_resolvers()


def test_there_are_at_least_eight_genres() -> None:
    assert len(GENRES) >= 8
    assert {"none", "action", "cartoon", "documentary", "horror", "noir", "scifi"} <= set(GENRES)


@pytest.mark.parametrize("genre", GENRES)
@pytest.mark.parametrize("resolution", RESOLUTIONS)
def test_every_genre_and_resolution_composes(genre: str, resolution: str) -> None:
    cfg = cli.compose(
        "generate", ["prompt=a red ball", f"genre={genre}", f"resolution={resolution}"]
    )
    assert cfg.genre.name == genre
    assert cfg.resolution.name == resolution
    OmegaConf.set_struct(cfg, False)
    cfg.pop("hydra")
    validate_generate(cfg, run_dir=None)


@pytest.mark.parametrize("group", ["trainer", "logger"])
def test_every_trainer_and_logger_composes(group: str) -> None:
    for option in sorted(p.stem for p in (CONF / group).glob("*.yaml")):
        cfg = cli.compose("generate", ["prompt=x", f"{group}={option}"])
        assert group in cfg


@pytest.mark.parametrize("group", ["trainer", "field", "schedule", "logger"])
def test_every_shipped_option_passes_the_key_checks(group: str) -> None:
    # The checks that refuse unknown keys (typos) must accept every key the project ships.
    check = {
        "trainer": check_trainer,
        "field": check_field_and_renderer,
        "schedule": check_schedule,
        "logger": check_logger,
    }
    options = sorted(p.stem for p in (CONF / group).glob("*.yaml"))
    assert len(options) >= 3
    for option in options:
        check[group](cli.compose("generate", ["prompt=x", f"{group}={option}"]))
    typo = cli.compose(
        "generate", ["prompt=x", f"+{group}.{'steps' if group != 'schedule' else 'stepz'}=1"]
    )
    with pytest.raises(ConfigError, match="unknown key"):
        check[group](typo)


def test_every_pretrain_preset_passes_the_key_checks() -> None:
    presets = sorted(p.stem for p in (CONF / "pretrain").glob("*.yaml"))
    assert {"bundled", "debug"} <= set(presets)
    for preset in presets:
        check_pretrain_keys(cli.compose("pretrain", ["output_dir=x", f"pretrain={preset}"]))
    for typo, message in [
        ("+pretrain.vidoe.lr=1", "pretrain has unknown key(s) vidoe"),
        ("+pretrain.sr.lrr=1", "pretrain.sr has unknown key(s) lrr"),
        ("+pretrain.video.model.chanels=3", "pretrain.video.model has unknown key(s) chanels"),
        ("+pretrain.data.colors=[red]", "pretrain.data has unknown key(s) colors"),
    ]:
        with pytest.raises(ConfigError, match=re.escape(message)):
            check_pretrain_keys(cli.compose("pretrain", ["output_dir=x", typo]))


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
        preset = GenrePreset.from_config(OmegaConf.load(CONF / "genre" / f"{name}.yaml"))
        assert preset.name == name
        assert preset.compose_prompt("  a dog ").startswith("a dog")
        assert preset.description


def test_genres_differ_in_camera_motion_and_look() -> None:
    presets = [
        GenrePreset.from_config(OmegaConf.load(CONF / "genre" / f"{g}.yaml")) for g in GENRES
    ]
    assert len({p.camera.trajectory for p in presets}) >= 4
    assert len({p.motion.speed for p in presets}) >= 4
    assert len({p.grading for p in presets}) == len(presets)
    assert len({p.prompt_template for p in presets}) == len(presets)


def test_noir_grading_is_grey_and_contrasty() -> None:
    noir = GenrePreset.from_config(OmegaConf.load(CONF / "genre" / "noir.yaml")).grading
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
