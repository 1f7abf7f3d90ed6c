"""Multi-view consistency on analytic fields (a solid-coloured sphere agrees with itself), and
`t2v evaluate`'s multiview options."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from t2v.errors import ConfigError
from t2v.eval.clip import load_clip, save_tiny_clip
from t2v.eval.multiview import (
    MultiViewConfig,
    MultiViewOptions,
    multiview_consistency,
    render_views,
    reproject_pair,
)
from t2v.field.base import Field, FieldCapabilities, FieldOutput
from t2v.render import RendererConfig, VolumeRenderer
from t2v.schema import parse

RADIUS = 0.6


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny tensors: one torch thread is several times faster on a shared CPU."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


class ColouredSphere(nn.Module):
    """A solid sphere (a volume field of the `Field` contract); colour from the position
    (consistent) or the view direction (not)."""

    capabilities = FieldCapabilities()

    def __init__(self, view_dependent: bool = False) -> None:
        super().__init__()
        self.view_dependent = view_dependent
        self.static_only = True  # evaluation must render the dynamic part: it sets False

    def density(self, points: Tensor, times: Tensor) -> Tensor:
        return torch.where(points.norm(dim=-1) < RADIUS, 200.0, 0.0)

    def forward(self, points: Tensor, times: Tensor, directions: Tensor) -> FieldOutput:
        assert not self.static_only
        if self.view_dependent:
            rgb = (directions + 1) / 2
        else:
            rgb = ((points / RADIUS + 1) / 2).clamp(0, 1)
        return FieldOutput(self.density(points, times), rgb)

    def background(self, directions: Tensor) -> Tensor:
        return torch.full_like(directions, 0.5)

    def expose(self, colour: Tensor, times: Tensor) -> Tensor:
        return colour

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        return {}

    def trajectory_offsets(self) -> None:
        return None

    def exposure_gains(self) -> None:
        return None


def small_config(**changes) -> MultiViewConfig:
    return MultiViewConfig(width=32, height=32, distance=2.5, fov_deg=40.0, **changes)


@pytest.fixture(scope="module")
def renderer() -> VolumeRenderer:
    return VolumeRenderer(RendererConfig(num_samples=64))


def test_a_view_independent_field_reprojects_with_almost_no_error(renderer):
    field = ColouredSphere()
    assert isinstance(field, Field)
    metrics = multiview_consistency(field, renderer, small_config())
    assert metrics.views == 5
    assert metrics.reprojection_error < 0.01
    # The sphere fills ~1/5 of each 32x32 view; neighbouring views 20 deg apart see most of
    # each other's visible half.
    assert 0.7 < metrics.valid_fraction <= 1.0
    assert metrics.clip_spread is None
    assert field.static_only  # restored after rendering


def test_view_dependent_colour_is_inconsistent(renderer):
    consistent = multiview_consistency(ColouredSphere(), renderer, small_config())
    dependent = multiview_consistency(ColouredSphere(True), renderer, small_config())
    assert dependent.reprojection_error > 0.05 > 5 * consistent.reprojection_error
    assert dependent.valid_fraction == pytest.approx(consistent.valid_fraction)  # same geometry


def test_reprojection_keeps_only_visible_opaque_pixels(renderer):
    config = small_config(azimuths_deg=(0.0, 90.0))
    renders = render_views(ColouredSphere(), renderer, config)
    errors, kept, opaque = reproject_pair(renders, 0, 1, config)
    # 90 deg apart, the side camera sees the front view's right third of the disc (points
    # with normal x > r/d = 0.24), less the grazing ones whose depth is unreliable.
    assert opaque > 100
    assert 0.15 < kept / opaque < 0.45
    assert errors.shape == (kept,) and float(errors.mean()) < 0.02
    # Identical views reproject every opaque pixel onto itself.
    same = small_config(azimuths_deg=(0.0, 0.0))
    errors, kept, opaque = reproject_pair(
        render_views(ColouredSphere(), renderer, same), 0, 1, same
    )
    assert kept / opaque > 0.97 and float(errors.max()) < 0.05


def test_clip_spread_is_zero_for_identical_views(renderer, tmp_path):
    clip = load_clip(str(save_tiny_clip(tmp_path / "clip")))
    same = multiview_consistency(
        ColouredSphere(True), renderer, small_config(azimuths_deg=(0.0, 0.0, 0.0)), clip
    )
    assert same.clip_spread == pytest.approx(0.0, abs=1e-6)
    different = multiview_consistency(
        ColouredSphere(True), renderer, small_config(azimuths_deg=(-60.0, 0.0, 60.0)), clip
    )
    assert different.clip_spread > 1e-5


def test_one_view_is_refused(renderer):
    with pytest.raises(ValueError, match="at least two views"):
        multiview_consistency(ColouredSphere(), renderer, small_config(azimuths_deg=(0.0,)))


def test_options_complete_into_a_config_for_the_genre_camera():
    options = parse(MultiViewOptions, {"time": 1, "azimuths_deg": [0, 45], "size": 16}, "multiview")
    config = options.for_camera(elevation_deg=12, distance=2.6, fov_deg=38.0)
    assert config == MultiViewConfig(
        time=1.0,
        azimuths_deg=(0.0, 45.0),
        elevation_deg=12.0,
        distance=2.6,
        fov_deg=38.0,
        width=16,
        height=16,
    )
    assert isinstance(config.time, float) and isinstance(config.azimuths_deg[0], float)
    defaults = parse(MultiViewOptions, {}, "multiview").for_camera(10.0, 2.5, 40.0)
    assert defaults == MultiViewConfig() and parse(MultiViewOptions, {}).enabled


@pytest.mark.parametrize(
    ("node", "message"),
    [
        ({"azimuth": 3}, "multiview has unknown key 'azimuth'"),
        ({"size": "abc"}, "multiview.size = 'abc'"),
        ({"size": 4}, "multiview.size = 4"),
        ({"size": 16.0}, "multiview.size = 16.0"),
        ({"time": 2}, "multiview.time = 2"),
        ({"azimuths_deg": [0]}, "multiview.azimuths_deg: Tuple should have at least 2 items"),
        ({"azimuths_deg": [0, "left"]}, "multiview.azimuths_deg.1 = 'left'"),
        ({"opacity_threshold": 0}, "multiview.opacity_threshold = 0"),
        ({"depth_tolerance": 0}, "multiview.depth_tolerance = 0"),
        ({"enabled": "maybe"}, "multiview.enabled = 'maybe'"),
    ],
)
def test_bad_options_are_one_line_naming_the_key(node, message):
    with pytest.raises(ConfigError) as error:
        parse(MultiViewOptions, node, "multiview")
    assert str(error.value).startswith(message) and "\n" not in str(error.value)
