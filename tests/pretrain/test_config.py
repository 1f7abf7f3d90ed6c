"""`t2v pretrain`'s typed configuration: the shipped recipes parse, every bad value is refused in
one line naming its key, and a run dir of another pretraining run is refused before training."""

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from t2v.errors import ConfigError, RunDirError
from t2v.pretrain.config import PretrainConfig, read_config
from t2v.pretrain.job import check_resumable, save_config


def composed(recipe: str, *overrides: str) -> dict[str, Any]:
    """The job the door hands `t2v.commands.pretrain.settings`, as plain containers."""
    from omegaconf import OmegaConf

    from t2v.cli import compose, register_resolvers
    from t2v.commands.door import resolved

    register_resolvers()
    cfg = compose("pretrain", [f"pretrain={recipe}", "output_dir=out", *overrides])
    return resolved(OmegaConf.masked_copy(cfg, [key for key in cfg if key != "hydra"]))


@pytest.fixture(scope="module")
def debug() -> dict[str, Any]:
    return composed("debug")


def leaves(node: Any, prefix: str = "") -> list[str]:
    if not isinstance(node, dict) or not node:
        return [prefix]
    return [path for key, value in node.items() for path in leaves(value, f"{prefix}.{key}")]


def replaced(config: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    keys = path.strip(".").split(".")
    copy = {**config}
    node = copy
    for key in keys[:-1]:
        node[key] = {**node[key]}
        node = node[key]
    node[keys[-1]] = value
    return copy


@pytest.mark.parametrize("recipe", ["bundled", "debug"])
def test_shipped_recipes_parse(recipe: str):
    config = read_config(composed(recipe))
    assert isinstance(config, PretrainConfig)
    assert config.pretrain.stages == ("video", "sr")
    assert config.pretrain.genres[:2] == ("", "none")
    assert config.run_dir is None and config.output_dir == Path("out")
    assert config.logger is not None and "save_dir" not in config.logger.node  # set per stage
    video, sr = (config.pretrain.model_arguments(stage) for stage in ("video", "sr"))
    assert sr["sample_size"] == video["sample_size"] * sr["sr_factor"]
    assert config.pretrain.scheduler.arguments()["prediction_type"] == "v_prediction"


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ("seed=abc", "seed"),
        ("pretrain.video.lr=-1", "pretrain.video.lr"),
        ("pretrain.video.max_steps=0", "pretrain.video.max_steps"),
        ("pretrain.sr.pool_refresh=1.5", "pretrain.sr.pool_refresh"),
        ("pretrain.stages=[video,audio]", "pretrain.stages"),
        ("pretrain.video.model.norm_groups=3", "pretrain.video.model.norm_groups"),
        ("pretrain.video.model.max_frames=2", "pretrain.video.model.max_frames"),
        ("pretrain.sr.crop_size=24", "pretrain.sr.crop_size"),
        ("pretrain.sr.model.max_noise_level=1000", "pretrain.sr.model.max_noise_level"),
        ("pretrain.scheduler.beta_schedule=cosine", "pretrain.scheduler.beta_schedule"),
        ("+pretrain.video.model.genres=[a]", "pretrain.video.model"),  # set by t2v
        ("+pretrain.video.crop_size=8", "pretrain.video"),  # only the SR stage crops
        ("pretrain.data.motions=[sideways]", "pretrain.data"),
        ("pretrain.video.init_from=no/such/checkpoint.ckpt", "pretrain.video.init_from"),
        ("pretrain.genres=[action,none]", "pretrain.genres"),
        ("+trainer.max_steps=3", "trainer.max_steps"),
        ("+logger.flush=1", "logger"),
    ],
)
def test_bad_values_are_refused_naming_the_key(override: str, named: str):
    with pytest.raises(ConfigError) as refused:
        read_config(composed("debug", override))
    message = str(refused.value)
    assert named in message and "\n" not in message


# Everything below `pretrain` (and the seed) has a range that refuses negative numbers; Trainer
# and logger arguments are typed by Lightning's own annotations, which state types only.
RANGED = (".pretrain", ".seed")


@hypothesis_settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_any_key_with_a_wrong_type_or_a_negative_number_is_refused(debug, data):
    path = data.draw(st.sampled_from(leaves(debug)))
    wrong_type = st.just({"not": "a value"})
    negative = st.one_of(st.integers(max_value=-1), st.floats(max_value=-1e-6))
    value = data.draw(st.one_of(wrong_type, negative) if path.startswith(RANGED) else wrong_type)
    with pytest.raises(ConfigError) as refused:
        read_config(replaced(debug, path, value))
    message = str(refused.value)
    assert path.strip(".") in message and "\n" not in message


def test_a_run_dir_of_another_pretraining_run_is_refused(tmp_path: Path, debug):
    save_config(tmp_path, debug)
    longer = replaced(debug, ".pretrain.video.max_steps", 40)
    check_resumable(tmp_path, replaced(longer, ".pretrain.stages", ["video"]))  # may resume
    with pytest.raises(RunDirError, match=r"pretrain\.video\.model\.embed_dim"):
        check_resumable(tmp_path, replaced(debug, ".pretrain.video.model.embed_dim", 32))
    (tmp_path / "file").write_text("")
    with pytest.raises(RunDirError, match="is a file"):
        check_resumable(tmp_path / "file", debug)
