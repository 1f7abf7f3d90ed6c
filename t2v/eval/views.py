"""Side, back and haze reads of a field: what its front view alone does not show.

The field is rendered at the clip's scene times from fixed cameras at azimuth 0 (front), +90
(`side_right`: the camera on world +x, the front view's screen right), -90 (`side_left`) and
180 (`back`), all at the genre's elevation, distance and field of view. Foreground is opacity
> 0.5. Definitions:

- colour: the attribute evaluator's colour read of a view; the prompt's colour word is the truth.
- silhouette IoU: per frame, the side and front silhouettes are each centred on their centroid
  and scaled by their longer side (so the aspect ratio counts) onto a fixed canvas; the IoU of
  the two; the median over frames where either has foreground.
- area ratio: side foreground pixels / front foreground pixels, median over frames.
- mirrored motion: seen from behind, screen left and right swap, and so do grow and shrink
  (what approaches the front camera recedes from the back one); up, down, bounce, spin and none
  are unchanged.
- border opacity: mean front-view opacity over the frame's outer ring, 1/8 of the short side
  wide, over all frames: a compact object framed by the genre's camera leaves it near 0.
- empty opacity: mean front-view opacity over the pixels farther than 1/16 of the short side
  from the silhouette (the box's empty part seen from the front), over all frames; None when
  the dilated silhouette covers the whole frame.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from t2v.eval.attributes import describe
from t2v.field.base import Field
from t2v.genres import CameraStyle
from t2v.render import CameraStart, VolumeRenderer, genre_trajectory_cameras

FRONT = "front"
SIDE_VIEWS: dict[str, float] = {"side_left": -90.0, "side_right": 90.0}
BACK = "back"
AZIMUTHS: dict[str, float] = {FRONT: 0.0, **SIDE_VIEWS, BACK: 180.0}
FOREGROUND = 0.5  # opacity above which a pixel is the object
CANVAS = 64  # side of the square the silhouettes are compared on
REACH = 2.5  # the canvas's half side, in standard deviations (a disc's edge is at 2)
BORDER_FRACTION = 1 / 8  # of the short side: the ring whose opacity is the border haze
MARGIN_FRACTION = 1 / 16  # of the short side: how far the silhouette is dilated
MIRRORED = {"left": "right", "right": "left", "grow": "shrink", "shrink": "grow"}


@dataclass(frozen=True)
class ViewRender:
    """One fixed view over the clip: rgb (T, 3, H, W) in [0, 1], opacity (T, 1, H, W)."""

    rgb: Tensor
    opacity: Tensor


def render_fixed_views(
    field: Field,
    renderer: VolumeRenderer,
    camera: CameraStyle,
    times: Tensor,
    width: int,
    height: int,
    azimuths: Mapping[str, float] = AZIMUTHS,
) -> dict[str, ViewRender]:
    """Each named view (azimuth in degrees) at scene times (T,), through the run's renderer."""
    renderer.eval()
    field.static_only = False
    renders = {}
    for name, azimuth in azimuths.items():
        cameras = genre_trajectory_cameras(
            camera,
            int(times.shape[0]),
            width,
            height,
            trajectory="static",
            start=CameraStart(azimuth_deg=azimuth),
        ).to(times.device)
        with torch.no_grad():
            out = renderer.render(field, cameras, times[None])
        renders[name] = ViewRender(out.rgb[0].cpu(), out.opacity[0].cpu())
    return renders


def normalised_silhouette(mask: Tensor, canvas: int = CANVAS) -> Tensor:
    """A boolean mask (H, W) centred on its centroid and scaled by its longer side onto a
    (canvas, canvas) square; all False when the mask is empty.

    The longer side is measured as the larger of the silhouette's standard deviations along x
    and y (a disc of radius R has R / 2): unlike a bounding box it does not jump by a whole
    pixel with rounding, which for a silhouette 13 pixels across is an 8% change of scale.
    """
    if not mask.any():
        return torch.zeros(canvas, canvas, dtype=torch.bool)
    height, width = mask.shape
    ys, xs = torch.nonzero(mask).float().unbind(-1)
    spread = max(float(xs.std(unbiased=False)), float(ys.std(unbiased=False)), 0.5)
    # Canvas coordinate u in [-1, 1] reads the mask at centroid + u * REACH * spread pixels.
    u = torch.linspace(-1.0, 1.0, canvas) * REACH * spread
    grid_x = (float(xs.mean()) + u + 0.5) / width * 2 - 1  # pixel i spans [i, i + 1]
    grid_y = (float(ys.mean()) + u + 0.5) / height * 2 - 1
    grid = torch.stack(torch.meshgrid(grid_x, grid_y, indexing="xy"), dim=-1)
    sampled = F.grid_sample(
        mask.float()[None, None], grid[None], mode="bilinear", align_corners=False
    )
    return sampled[0, 0] >= 0.5


def silhouette_iou(first: Tensor, second: Tensor, canvas: int = CANVAS) -> float | None:
    """IoU of two masks (H, W) after `normalised_silhouette`; None when both are empty."""
    a, b = normalised_silhouette(first, canvas), normalised_silhouette(second, canvas)
    union = int((a | b).sum())
    return int((a & b).sum()) / union if union else None


def median_iou(front: Tensor, side: Tensor) -> float | None:
    """Median over frames of `silhouette_iou` of masks (T, H, W); None if no frame counts."""
    values = [silhouette_iou(f, s) for f, s in zip(front, side, strict=True)]
    kept = [value for value in values if value is not None]
    return statistics.median(kept) if kept else None


def median_area_ratio(front: Tensor, side: Tensor) -> float | None:
    """Median over frames with a front silhouette of side area / front area (masks (T, H, W))."""
    ratios = [float(s.sum()) / float(f.sum()) for f, s in zip(front, side, strict=True) if f.any()]
    return statistics.median(ratios) if ratios else None


def haze(opacity: Tensor) -> dict[str, float | None]:
    """Border and empty-box opacity of a front view (opacity (T, 1, H, W)), module docstring."""
    height, width = opacity.shape[-2:]
    short = min(height, width)
    ring = max(1, round(short * BORDER_FRACTION))
    inner = torch.zeros(height, width, dtype=torch.bool)
    inner[ring : height - ring, ring : width - ring] = True
    border = opacity[:, 0][:, ~inner]
    margin = max(1, round(short * MARGIN_FRACTION))
    foreground = (opacity > FOREGROUND).float()
    dilated = F.max_pool2d(foreground, 2 * margin + 1, stride=1, padding=margin) > 0
    empty = opacity[~dilated]
    return {
        "border_opacity": float(border.mean()),
        "empty_opacity": float(empty.mean()) if empty.numel() else None,
        "foreground_fraction": float(foreground.mean()),
    }


def mirrored(motion: str) -> str:
    """The screen motion seen from behind of a motion seen from the front."""
    return MIRRORED.get(motion, motion)


def read(video: Tensor, attribute: str, expected: str) -> dict[str, Any]:
    predicted = str(getattr(describe(video), attribute))
    return {"expected": expected, "predicted": predicted, "correct": predicted == expected}


def view_reads(
    renders: Mapping[str, ViewRender],
    expected: Mapping[str, str],
    grade: Callable[[Tensor], Tensor] = lambda video: video,
) -> dict[str, Any]:
    """metrics.json's "views" and "haze" from `render_fixed_views`' four renders.

    `expected`: the prompt's colour and on-screen motion seen from the front (either may be
    missing: that read is left out); `grade`: the genre's export grading, which the
    attribute evaluator's colour tables expect.
    """
    front = renders[FRONT].opacity[:, 0] > FOREGROUND
    views: dict[str, Any] = {}
    for name, azimuth in SIDE_VIEWS.items():
        side = renders[name]
        mask = side.opacity[:, 0] > FOREGROUND
        entry: dict[str, Any] = {
            "azimuth_deg": azimuth,
            "silhouette_iou": median_iou(front, mask),
            "area_ratio": median_area_ratio(front, mask),
        }
        if "colour" in expected:
            entry["colour"] = read(grade(side.rgb), "colour", expected["colour"])
        views[name] = entry
    back: dict[str, Any] = {"azimuth_deg": AZIMUTHS[BACK]}
    back_video = grade(renders[BACK].rgb)
    if "colour" in expected:
        back["colour"] = read(back_video, "colour", expected["colour"])
    if "motion" in expected:
        back["motion"] = read(back_video, "motion", mirrored(expected["motion"]))
    views[BACK] = back
    views.update(summary(views))
    return {"views": views, "haze": haze(renders[FRONT].opacity)}


def summary(views: Mapping[str, Any]) -> dict[str, float | None]:
    """One number each for the table: side colour accuracy, mean side IoU, back motion."""
    sides = [views[name] for name in SIDE_VIEWS]
    colours = [side["colour"]["correct"] for side in sides if "colour" in side]
    ious = [side["silhouette_iou"] for side in sides if side["silhouette_iou"] is not None]
    motion = views[BACK].get("motion")
    return {
        "side_colour_accuracy": sum(colours) / len(colours) if colours else None,
        "side_silhouette_iou": sum(ious) / len(ious) if ious else None,
        "back_motion_accuracy": float(motion["correct"]) if motion else None,
    }
