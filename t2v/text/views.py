"""View buckets (front / side / back / overhead) from camera poses, and their prompt suffixes.

Convention (shared with the renderer): world +y is up and the default front camera sits on
+z looking at the origin. Azimuth is measured around +y from +z towards +x, in degrees in
(-180, 180]; elevation is the angle above the xz-plane. Bucket edges, inclusive as written:

    overhead : elevation >= 60
    front    : |azimuth| <= 45
    back     : |azimuth| >= 135
    side     : otherwise (45 < |azimuth| < 135)

The bucket "any" means no view suffix (the prompt as composed).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

OVERHEAD_MIN_ELEVATION_DEG = 60.0
FRONT_MAX_AZIMUTH_DEG = 45.0
BACK_MIN_AZIMUTH_DEG = 135.0

VIEW_BUCKETS: tuple[str, ...] = ("front", "side", "back", "overhead")
NO_VIEW = "any"
VIEW_SUFFIXES: dict[str, str] = {
    "front": "front view",
    "side": "side view",
    "back": "back view",
    "overhead": "overhead view",
}


def view_bucket(azimuth_deg: float, elevation_deg: float) -> str:
    """The bucket of one camera direction; azimuth is wrapped into (-180, 180] first."""
    if elevation_deg >= OVERHEAD_MIN_ELEVATION_DEG:
        return "overhead"
    azimuth = abs(wrap_azimuth(azimuth_deg))
    if azimuth <= FRONT_MAX_AZIMUTH_DEG:
        return "front"
    if azimuth >= BACK_MIN_AZIMUTH_DEG:
        return "back"
    return "side"


def wrap_azimuth(azimuth_deg: float) -> float:
    """Azimuth in (-180, 180]."""
    wrapped = math.fmod(azimuth_deg, 360.0)
    if wrapped > 180.0:
        wrapped -= 360.0
    elif wrapped <= -180.0:
        wrapped += 360.0
    return wrapped


def camera_angles(c2w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Azimuth and elevation (degrees) of camera positions `c2w[..., :3, 3]` from the origin."""
    position = c2w[..., :3, 3].double()
    x, y, z = position.unbind(-1)
    azimuth = torch.rad2deg(torch.atan2(x, z))
    elevation = torch.rad2deg(torch.atan2(y, torch.sqrt(x * x + z * z)))
    return azimuth, elevation


def view_buckets_from_c2w(c2w: torch.Tensor) -> list[str]:
    """One bucket per clip from the first frame's camera: `c2w` is `(B, T, 4, 4)` or `(B, 4, 4)`."""
    if c2w.dim() == 4:
        c2w = c2w[:, 0]
    azimuth, elevation = camera_angles(c2w)
    return [
        view_bucket(float(a), float(e))
        for a, e in zip(azimuth.tolist(), elevation.tolist(), strict=True)
    ]


def with_view_suffix(text: str, view: str) -> str:
    """`text` with the view's suffix appended (", front view"); "any" leaves it unchanged."""
    if view == NO_VIEW:
        return text
    if view not in VIEW_SUFFIXES:
        raise ValueError(f"unknown view bucket '{view}'; known: {', '.join(VIEW_BUCKETS)}")
    return f"{text}, {VIEW_SUFFIXES[view]}"


def check_views(views: Sequence[str]) -> None:
    known = (*VIEW_BUCKETS, NO_VIEW)
    for view in views:
        if view not in known:
            raise ValueError(f"unknown view bucket '{view}'; known: {', '.join(known)}")
