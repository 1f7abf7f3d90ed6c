"""`ExportConfig`: the typed configuration of `t2v export`."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from t2v.config.render import Stage
from t2v.schema import Text, settings

MAX_EXPORT_FRAMES = 10_000
ExportFormat = Literal["glb", "obj", "ply"]
# Marching-cubes grid nodes per side: 8 is a coarse preview, 512 is ~134M density evaluations.
GridResolution = Annotated[int, Field(strict=True, ge=8, le=512)]


@settings
class ExportConfig:
    run_dir: Text  # a finished `t2v generate` run
    format: ExportFormat = "glb"  # glb: one animated file; obj: a sequence; ply: 3DGS splats
    output: Text | None = (
        None  # default: <run_dir>/exports/<stage>_<frames>f_<grid>.glb, _obj/, _ply/
    )
    frames: Annotated[int, Field(strict=True, ge=1, le=MAX_EXPORT_FRAMES)] | None = None
    stage: Stage | None = None  # the field after that stage; None: after the last finished
    grid: GridResolution = 128  # density grid nodes per side (`resolution` is a config group)
    decimate: Annotated[float, Field(strict=True, ge=0.0, lt=1.0)] = 0.0  # faces removed
