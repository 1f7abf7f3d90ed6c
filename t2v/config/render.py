"""`RenderConfig`: the typed configuration of `t2v render` (every value optional: the run's own)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from t2v.genres import Trajectory
from t2v.render import CameraStart
from t2v.schema import Bool, Float, PositiveFloat, Text, settings
from t2v.stages.spec import HANDOFF_ORDER

MAX_SIDE = 4096
MAX_VIDEO_FRAMES = 100_000
MAX_DISTANCE = 1000.0

# H.264 (yuv420p) needs even sides.
EvenSide = Annotated[int, Field(strict=True, ge=2, le=MAX_SIDE, multiple_of=2)]
Stage = Literal[HANDOFF_ORDER]  # type: ignore[valid-type]


@settings
class RenderConfig:
    run_dir: Text  # a finished `t2v generate` run
    trajectory: Trajectory | None = None  # None: the genre's own
    speed: PositiveFloat | None = None  # x the genre's speed (per second of video); None: 1
    # Where the camera (a static view or the trajectory's start) is; None: the genre's front.
    azimuth_deg: Annotated[Float, Field(ge=-360.0, le=360.0)] | None = None  # None: 0, the front
    elevation_deg: Annotated[Float, Field(ge=-89.0, le=89.0)] | None = None
    distance: Annotated[Float, Field(gt=0.0, le=MAX_DISTANCE)] | None = None
    frames: Annotated[int, Field(strict=True, ge=1, le=MAX_VIDEO_FRAMES)] | None = None
    fps: Annotated[float, Field(strict=True, gt=0, le=240)] | None = None
    width: EvenSide | None = None
    height: EvenSide | None = None
    output: Text | None = (
        None  # default: <run_dir>/renders/<trajectory>[_<camera>]_<W>x<H>_<N>f.mp4
    )
    stage: Stage | None = None  # the field after that stage; None: after the last finished
    grading: Bool | None = None  # None: as the run did (the prior preset's export_grading)

    @property
    def camera(self) -> CameraStart | None:
        """The camera asked for; None when no camera key is given (the genre's own)."""
        if self.azimuth_deg is None and self.elevation_deg is None and self.distance is None:
            return None
        azimuth = self.azimuth_deg if self.azimuth_deg is not None else 0.0
        return CameraStart(azimuth, self.elevation_deg, self.distance)
