"""Genre presets read from `conf/genre/*.yaml`: every shipped genre parses, bad values are one
line naming the key."""

from importlib.resources import files
from pathlib import Path

import pytest
import torch
import yaml

from t2v.errors import ConfigError
from t2v.genres import GenrePreset, Grading
from t2v.schema import parse

GENRE_DIR = Path(str(files("t2v.conf") / "genre"))


def node(name: str) -> dict:
    return yaml.safe_load((GENRE_DIR / f"{name}.yaml").read_text())


def test_every_shipped_genre_parses_and_composes_its_prompt() -> None:
    for path in sorted(GENRE_DIR.glob("*.yaml")):
        preset = parse(GenrePreset, node(path.stem), "genre")
        assert preset.name == path.stem
        assert preset.compose_prompt("  a dog ").startswith("a dog")
        assert isinstance(preset.grading.tint[0], float)  # YAML ints become floats


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"camera": {"speed_deg_s": 400}},
            "genre.camera.speed_deg_s = 400: Input should be less than or equal",
        ),
        ({"camera": {"speed": 1.0}}, "genre.camera has unknown key 'speed'"),
        ({"camera": {"trajectory": "zoom"}}, "genre.camera.trajectory = 'zoom': Input should be"),
        ({"motion": {"amount": -1.0}}, "genre.motion.amount = -1.0: Input should be greater"),
        ({"grading": {"tint": [1.0, 4.0, 1.0]}}, "genre.grading.tint.1 = 4.0: Input should be"),
        ({"grading": {"gamma": "high"}}, "genre.grading.gamma = 'high': Input should be"),
        ({"grading": {"glow": 1.0}}, "genre.grading has unknown key 'glow'"),
        ({"look": "dark"}, "genre has unknown key 'look'"),
        (
            {"prompt_template": "no slot"},
            "genre.prompt_template: 'no slot' must contain '{prompt}'",
        ),
    ],
)
def test_a_bad_genre_value_is_one_line_naming_its_key(change: dict, message: str) -> None:
    data = node("horror")
    for key, value in change.items():
        data[key] = {**data[key], **value} if isinstance(data.get(key), dict) else value
    with pytest.raises(ConfigError) as error:
        parse(GenrePreset, data, "genre")
    assert str(error.value).startswith(message)
    assert "\n" not in str(error.value)


def test_grading_is_seeded_and_a_neutral_grading_changes_nothing() -> None:
    frames = torch.rand(2, 4, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(Grading().apply(frames), frames, atol=1e-6)
    horror = parse(GenrePreset, node("horror"), "genre").grading
    assert torch.equal(horror.apply(frames, seed=1), horror.apply(frames, seed=1))
    assert not torch.equal(horror.apply(frames, seed=1), horror.apply(frames, seed=2))


def test_a_run_written_with_the_old_camera_speed_still_loads(tmp_path: Path) -> None:
    # Before export speeds were per second, one `speed` multiplier also swept the training
    # cameras: such a run keeps that sweep as `clip_sweep`, and its config loads again.
    import yaml

    from t2v.genres import upgrade_camera
    from t2v.rundir import RunDir

    old = {"trajectory": "dolly", "speed": 0.6, "elevation_deg": 5.0, "shake": 0.6}
    assert upgrade_camera(old) == {
        "trajectory": "dolly",
        "elevation_deg": 5.0,
        "shake": 0.6,
        "clip_sweep": 0.6,
    }
    assert upgrade_camera({"clip_sweep": 1.2}) == {"clip_sweep": 1.2}
    run = tmp_path / "old_run"
    run.mkdir()
    saved = yaml.safe_load((Path(__file__).parent / "assets" / "old_run_config.yaml").read_text())
    (run / "config.yaml").write_text(yaml.safe_dump(saved))
    config = RunDir(run).load_config()
    assert config.genre.camera.clip_sweep == 0.6
    assert config.genre.camera.trajectory == "dolly"
