"""A tiny scene generator for the field the generate tests' tiny overrides build."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from t2v import cli
from t2v.commands.door import resolved
from t2v.generator import SceneGenerator, build_generator, save_generator

GENRES = ("none", "cartoon", "noir")


def tiny_field_node(overrides: list[str]) -> dict:
    """The `field` node a generate run with `overrides` builds."""
    cli.register_resolvers()
    cfg = cli.compose("generate", ["prompt=x", *overrides])
    job = OmegaConf.masked_copy(cfg, [key for key in cfg if key != "hydra"])
    return dict(resolved(job)["field"])


def save_tiny_generator(folder: Path, field: dict, seed: int = 0) -> SceneGenerator:
    """A generator of `field` whose conditioning already does something (random last layer)."""
    manifest = {
        "field": field,
        "genres": list(GENRES),
        "text_dim": 384,
        "genre_dim": 4,
        "hidden_dim": 16,
        "max_offset": 0.8,
    }
    torch.manual_seed(seed)
    generator = build_generator(manifest)
    with torch.no_grad():
        generator.out.weight.normal_(0, 0.2)
    save_generator(generator, folder, manifest)
    return generator


@pytest.fixture(scope="session")
def tiny_generator_overrides() -> list[str]:
    return [
        "field.static_encoding.resolutions=[8,16]",
        "field.dynamic_encoding.resolutions=[8,16]",
        "field.hidden_dim=16",
    ]
