"""Side, back and haze reads (`t2v.eval.views`) of hand-built analytic fields."""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor, nn

from t2v.eval.views import (
    haze,
    mirrored,
    normalised_silhouette,
    render_fixed_views,
    silhouette_iou,
    view_reads,
)
from t2v.field.base import FieldCapabilities, FieldOutput
from t2v.genres import CameraStyle
from t2v.render import VolumeRenderer

SIDE, FRAMES = 40, 8
CAMERA = CameraStyle(trajectory="orbit", elevation_deg=15.0, distance=2.5, fov_deg=40.0)
RED, GREY = (0.9, 0.1, 0.1), (0.5, 0.5, 0.5)


class Ellipsoid:
    """A volume field: density `sigma` inside an ellipsoid of semi-axes `axes` whose centre
    moves from `start` to `end` over the scene time, plus `haze` density everywhere in the box."""

    capabilities = FieldCapabilities()
    static_only = False

    def __init__(self, axes=(0.3, 0.3, 0.3), start=(0, 0, 0), end=(0, 0, 0), haze=0.0):
        self.axes, self.haze = torch.tensor(axes), haze
        self.start, self.end = torch.tensor(start).float(), torch.tensor(end).float()

    def density(self, points: Tensor, times: Tensor) -> Tensor:
        centre = self.start + (self.end - self.start) * times.reshape(-1, 1)
        inside = (((points - centre) / self.axes) ** 2).sum(-1) < 1
        in_box = (points.abs() <= 1).all(-1)
        return (inside.float() * 1000.0 + self.haze) * in_box.float()

    def __call__(self, points: Tensor, times: Tensor, directions: Tensor) -> FieldOutput:
        return FieldOutput(self.density(points, times), torch.tensor(RED).expand(len(points), 3))

    def background(self, directions: Tensor) -> Tensor:
        return torch.tensor(GREY).expand(directions.shape[0], 3)

    def expose(self, colour: Tensor, times: Tensor) -> Tensor:
        return colour

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        return {}

    def trajectory_offsets(self) -> None:
        return None

    def exposure_gains(self) -> None:
        return None


def render(field: Ellipsoid, frames: int = FRAMES):
    renderer = VolumeRenderer(num_samples=96, occupancy={"enabled": False})
    times = torch.linspace(0.0, 1.0, frames)
    return render_fixed_views(field, renderer, CAMERA, times, SIDE, SIDE)


@pytest.fixture(scope="module")
def ball_moving_left():
    return render(Ellipsoid(start=(0.4, 0, 0), end=(-0.4, 0, 0)))


def test_a_red_ball_moving_left_is_red_from_the_sides_and_moves_right_seen_from_behind(
    ball_moving_left,
):
    reads = view_reads(ball_moving_left, {"colour": "red", "motion": "left"})
    views = reads["views"]
    for name in ("side_left", "side_right"):
        assert views[name]["colour"] == {"expected": "red", "predicted": "red", "correct": True}
        # A sphere's silhouette is a disc from every side: the same once centred and scaled.
        assert views[name]["silhouette_iou"] > 0.9
        assert views[name]["area_ratio"] == pytest.approx(1.0, abs=0.15)
    assert views["back"]["motion"] == {"expected": "right", "predicted": "right", "correct": True}
    assert views["side_colour_accuracy"] == 1.0 and views["back_motion_accuracy"] == 1.0
    assert views["side_silhouette_iou"] > 0.9
    # A compact object framed by the camera leaves the border and the empty box clear.
    assert reads["haze"]["border_opacity"] < 0.05 and reads["haze"]["empty_opacity"] < 0.05
    assert 0.05 < reads["haze"]["foreground_fraction"] < 0.3


def ellipse(horizontal: float, vertical: float, canvas: int = 400) -> Tensor:
    """A filled ellipse of these semi-axes (image coordinates) on a fine grid."""
    ys, xs = torch.meshgrid(
        torch.linspace(-1, 1, canvas), torch.linspace(-1, 1, canvas), indexing="ij"
    )
    return (xs / horizontal) ** 2 + (ys / vertical) ** 2 <= 1


def test_an_ellipsoid_long_along_the_viewing_axis_disagrees_with_its_front_from_the_side():
    r, c, elevation = 0.3, 0.75, math.radians(CAMERA.elevation_deg)
    field = Ellipsoid(axes=(r, r, c))
    reads = view_reads(render(field, frames=2), {})["views"]
    # Seen (near-orthographically) from the front the ellipsoid is r wide and
    # sqrt(r^2 cos^2 e + c^2 sin^2 e) tall; from the side c wide and r tall. Scaled by their
    # longer side, the two silhouettes overlap as these two ellipses do:
    tall = math.sqrt((r * math.cos(elevation)) ** 2 + (c * math.sin(elevation)) ** 2)
    front, side = ellipse(r / tall, 1.0), ellipse(1.0, r / c)
    expected = float((front & side).sum() / (front | side).sum())
    assert 0.3 < expected < 0.5
    for name in ("side_left", "side_right"):
        assert reads[name]["silhouette_iou"] == pytest.approx(expected, abs=0.07)
        assert reads[name]["area_ratio"] == pytest.approx(c / tall, rel=0.2)
    assert "colour" not in reads["side_left"] and "motion" not in reads["back"]


def test_uniform_haze_over_the_box_fills_the_border():
    renders = render(Ellipsoid(haze=2.0), frames=1)
    assert haze(renders["front"].opacity)["border_opacity"] > 0.5
    thin = haze(render(Ellipsoid(haze=0.2), frames=1)["front"].opacity)
    # The empty box seen through ~2 units of haze of density 0.2: opacity ~ 1 - exp(-0.4).
    assert 0.15 < thin["empty_opacity"] < 1 - math.exp(-0.2 * 2 * math.sqrt(3))


def test_silhouettes_are_centred_and_scaled_by_their_longer_side():
    wide = torch.zeros(30, 30, dtype=torch.bool)
    wide[10:14, 2:22] = True  # 4 x 20 at the top left
    moved = torch.zeros(60, 60, dtype=torch.bool)
    moved[40:48, 10:50] = True  # the same shape, twice the size, elsewhere
    assert silhouette_iou(wide, moved) == pytest.approx(1.0, abs=0.05)
    square = torch.zeros(30, 30, dtype=torch.bool)
    square[5:25, 5:25] = True
    assert silhouette_iou(wide, square) == pytest.approx(0.2, abs=0.03)  # aspect ratio counts
    assert silhouette_iou(torch.zeros(8, 8, dtype=torch.bool), torch.zeros(8, 8).bool()) is None
    assert not normalised_silhouette(torch.zeros(8, 8, dtype=torch.bool)).any()
    assert [mirrored(m) for m in ("left", "right", "up", "grow", "spin")] == [
        "right",
        "left",
        "up",
        "shrink",
        "spin",
    ]
