"""The Field contract: SceneField declares its capabilities, keeps its checkpoint layout, and its
config nodes are refused at the door when a value has the wrong type or range."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from t2v.errors import ConfigError
from t2v.field import Field, FieldCapabilities, FieldOutput, PlaneSpec, SceneField, scene_field
from t2v.targets import check_target

CONF = Path(__file__).resolve().parents[2] / "conf"
PLANES = PlaneSpec(features=2, resolutions=(4,), time_resolution=2)


def tiny_field(**overrides) -> SceneField:
    return SceneField(PLANES, PLANES, backend="torch", hidden_dim=8, **overrides)


def test_scene_field_is_a_volume_field_and_declares_its_curves() -> None:
    plain = tiny_field()
    assert isinstance(plain, Field)
    assert plain.capabilities == FieldCapabilities(kind="volume", motion_groups=("dynamic",))
    assert plain.trajectory_offsets() is None and plain.exposure_gains() is None
    curved = tiny_field(trajectory_knots=3, exposure_knots=4)
    assert curved.capabilities.trajectory and curved.capabilities.exposure
    assert curved.trajectory_offsets() is curved.trajectory.offsets
    assert curved.trajectory_offsets().shape == (3, 3)
    with torch.no_grad():
        curved.exposure.gains[:, 0] = torch.arange(4.0)
    torch.testing.assert_close(curved.exposure_gains(), torch.arange(4.0))
    groups = curved.parameter_groups()
    assert all(groups[name] for name in curved.capabilities.motion_groups)
    assert scene_field.FieldOutput is FieldOutput


def test_state_dict_keys_are_the_checkpoint_layout() -> None:
    """Checkpoints of earlier runs load only while these keys stay as they are."""
    field = tiny_field(trajectory_knots=3, exposure_knots=3)
    assert list(field.state_dict()) == [
        "solid_color",
        "static_encoding.space_planes.0",
        "dynamic_encoding.space_planes.0",
        "dynamic_encoding.time_planes.0",
        "density_head.0.weight",
        "density_head.0.bias",
        "density_head.2.weight",
        "density_head.2.bias",
        "color_head.0.weight",
        "color_head.0.bias",
        "color_head.2.weight",
        "color_head.2.bias",
        "trajectory.offsets",
        "exposure.gains",
        "background_head.0.weight",
        "background_head.0.bias",
        "background_head.2.weight",
        "background_head.2.bias",
    ]


def field_node(name: str, *overrides: str) -> dict:
    with initialize_config_dir(str(CONF), version_base=None):
        node = compose(overrides=[f"+field={name}", *overrides]).field
    return OmegaConf.to_container(node, resolve=True)


@pytest.mark.parametrize("name", ["hashgrid", "hashgrid_cpu", "hexplane"])
def test_field_configs_pass_the_door(name: str) -> None:
    assert check_target("field", field_node(name)).name == "t2v.field.SceneField"


@pytest.mark.parametrize(
    ("name", "override", "message"),
    [
        ("hashgrid", "field.hidden_dim=0", "field.hidden_dim = 0"),
        ("hashgrid", "field.hidden_dim=abc", "field.hidden_dim = 'abc'"),
        ("hashgrid", "field.hidden_layers=-1", "field.hidden_layers = -1"),
        ("hashgrid", "field.density_blob_radius=0.0", "field.density_blob_radius = 0.0"),
        ("hashgrid", "field.density_blob=cube", "field.density_blob = 'cube'"),
        ("hashgrid", "field.trajectory_knots=1", "field.trajectory_knots = 1: must be 0 (off)"),
        ("hashgrid", "field.exposure_knots=true", "field.exposure_knots = True"),
        ("hashgrid", "field.solid_color=[0.5,2.0,0.5]", "field.solid_color.1 = 2.0"),
        ("hashgrid", "field.static_only=3", "field.static_only = 3"),
        ("hashgrid", "field.backend=cuda", "field.backend = 'cuda'"),
        ("hashgrid", "field.static_encoding.levels=0", "field.static_encoding.levels = 0"),
        (
            "hashgrid",
            "field.dynamic_encoding.features_per_level=3",
            "field.dynamic_encoding.features_per_level = 3: must be 1, 2, 4 or 8",
        ),
        (
            "hashgrid_cpu",
            "field.static_encoding.base_resolution=1",
            "field.static_encoding.base_resolution = 1",
        ),
        (
            "hexplane",
            "field.dynamic_encoding.resolutions=[1,16]",
            "field.dynamic_encoding.resolutions.0 = 1",
        ),
        (
            "hexplane",
            "field.static_encoding.time_resolution=1.5",
            "field.static_encoding.time_resolution = 1.5",
        ),
        ("hexplane", "+field.hidden_dimm=3", "field has unknown key 'hidden_dimm'"),
    ],
)
def test_wrong_field_settings_are_refused_naming_the_key(
    name: str, override: str, message: str
) -> None:
    with pytest.raises(ConfigError) as error:
        check_target("field", field_node(name, override))
    assert str(error.value).startswith(message)
    assert "\n" not in str(error.value)
