"""Encoding settings of a scene field: a hash grid or feature planes, built for 3D or 4D inputs.

A spec holds hyperparameters only; `SceneField` builds each encoding with its input dims (3 for
the static part, 4 for the dynamic one) and backend. The annotations are the settings' types and
ranges: `t2v.targets.check_target` refuses a config node that breaks them, naming the key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Protocol

import pydantic
from pydantic import AfterValidator
from torch import nn

from t2v.errors import ConfigError
from t2v.field.hashgrid import Backend, HashGridEncoding
from t2v.field.hexplane import PlaneEncoding
from t2v.schema import Bool, Int, PositiveInt

GridResolution = Annotated[Int, pydantic.Field(ge=2)]


def _features_per_level(features: int) -> int:
    if features not in (1, 2, 4, 8):
        raise ValueError("must be 1, 2, 4 or 8")
    return features


class EncodingSpec(Protocol):
    """Hyperparameters of an encoding; SceneField decides its input dims and backend."""

    def build(self, dims: int, backend: Backend) -> nn.Module: ...


@dataclass(frozen=True)
class HashGridSpec:
    """A multiresolution hash grid (see HashGridEncoding for the meaning of each field)."""

    levels: PositiveInt = 16
    features_per_level: Annotated[Int, AfterValidator(_features_per_level)] = 2
    log2_table_size: PositiveInt = 19
    base_resolution: GridResolution = 16
    finest_resolution: GridResolution = 2048
    compile_index_math: Bool = False

    def build(self, dims: int, backend: Backend) -> HashGridEncoding:
        return HashGridEncoding(
            dims=dims,
            levels=self.levels,
            features_per_level=self.features_per_level,
            log2_table_size=self.log2_table_size,
            base_resolution=self.base_resolution,
            finest_resolution=self.finest_resolution,
            backend=backend,
            compile_index_math=self.compile_index_math,
        )


@dataclass(frozen=True)
class PlaneSpec:
    """Feature planes: HexPlane for the dynamic (4D) part, tri-plane for the static (3D) part."""

    features: PositiveInt = 8
    resolutions: tuple[GridResolution, ...] = (32, 64, 128)
    time_resolution: GridResolution = 16

    def build(self, dims: int, backend: Backend) -> PlaneEncoding:
        if backend in ("tcnn", "triton"):
            raise ConfigError("plane encodings are pure PyTorch: use backend=torch or auto")
        return PlaneEncoding(dims, self.features, self.resolutions, self.time_resolution)
