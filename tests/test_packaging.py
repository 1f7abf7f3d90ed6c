"""The wheel holds every subpackage and every config file."""

from __future__ import annotations

from pathlib import Path

import tomllib

ROOT = Path(__file__).parents[1]


def test_every_subpackage_is_listed_in_pyproject() -> None:
    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "t2v").rglob("__init__.py")
    }
    assert found | {"t2v.conf"} == listed


def test_config_tree_is_importable_as_package_data() -> None:
    import importlib.resources

    conf = importlib.resources.files("t2v.conf")
    assert conf.joinpath("generate.yaml").is_file()
    assert conf.joinpath("genre").joinpath("noir.yaml").is_file()
