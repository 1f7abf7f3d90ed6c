"""The `renderer` config node, typed: the renderer to build and the stages' training cameras.

The node is what users know (`renderer.num_samples`, `renderer.occupancy.resolution`,
`renderer.cameras.static.azimuth_deg`, ...): its `_target_` names the renderer class, every
other key but `cameras` is a `RendererConfig` field, and `cameras` holds the ranges the
training stages draw their views from (the stages' defaults, which a schedule may patch per
stage, not renderer arguments)::

    settings = parse(RendererSettings, plain_renderer_node, "renderer")
    renderer = settings.build()
    stage_cameras = settings.cameras.dynamic.patched({"azimuth_deg": [-45, 45]}, "where")
"""

from __future__ import annotations

import importlib
from dataclasses import asdict, field, fields
from typing import Annotated

from pydantic import AfterValidator, Field

from t2v.render.renderer import RendererConfig, VolumeRenderer
from t2v.render.samplers import FULL_AZIMUTH_DEG, CameraSamplerConfig
from t2v.schema import Text, settings

DEFAULT_RENDERER = "t2v.render.VolumeRenderer"


@settings
class StageCameras:
    """Training camera ranges: the static stage looks from all around; the stages that train
    motion look from a frontal band (motion words are screen-space: DESIGN.md, pitfalls)."""

    static: CameraSamplerConfig = CameraSamplerConfig(azimuth_deg=FULL_AZIMUTH_DEG)
    dynamic: CameraSamplerConfig = CameraSamplerConfig(dynamic_probability=0.5)

    def for_stage(self, stage: str) -> CameraSamplerConfig:
        """The ranges a stage starts from: `static` for the static stage, else `dynamic`."""
        return self.static if stage == "static" else self.dynamic


def renderer_class(path: str) -> type[VolumeRenderer]:
    """The class a `_target_` names; ValueError unless it is a VolumeRenderer (what the stages
    render with)."""
    module, _, name = path.rpartition(".")
    try:
        found = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError):
        raise ValueError(f"{path!r} cannot be imported") from None
    if not (isinstance(found, type) and issubclass(found, VolumeRenderer)):
        raise ValueError(f"{path!r} is not a VolumeRenderer")
    return found


def _renderer_path(path: str) -> str:
    renderer_class(path)
    return path


RendererTarget = Annotated[Text, AfterValidator(_renderer_path)]


@settings
class RendererSettings(RendererConfig):
    """The `renderer` node: `_target_`, the renderer's settings, and the training cameras."""

    target: Annotated[RendererTarget, Field(alias="_target_")] = DEFAULT_RENDERER
    cameras: StageCameras = field(default_factory=StageCameras)

    @property
    def renderer(self) -> RendererConfig:
        """The settings the renderer is built with (this node less `_target_` and cameras)."""
        return RendererConfig(
            **{item.name: getattr(self, item.name) for item in fields(RendererConfig)}
        )

    def build(self) -> VolumeRenderer:
        """A new renderer, instantiated from the `_target_` node (its occupancy grid empty)."""
        from hydra.utils import instantiate

        node = {"_target_": self.target, **asdict(self.renderer)}
        return instantiate(node, _convert_="object")
