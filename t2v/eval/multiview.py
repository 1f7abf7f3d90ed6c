"""Multi-view consistency of a field: renders of one scene time from several views must agree.

Each view is rendered with depth (expected ray distance). A pixel x of view A whose opacity is
at least `opacity_threshold` lifts to the world point P = o_A + depth_A(x) d_A(x); P projects
into view B at pixel p = project_B(P). The pair (x, p) is kept when p lies inside view B,
B's opacity at p is at least the threshold, and P is visible from B:
| |P - c_B| - depth_B(p) | <= depth_tolerance * |P - c_B|  (c_B: B's centre).

reprojection error = sum over kept pairs of mean_c |rgb_A(x) - rgb_B(p)| / number of kept
pairs, over every ordered pair of neighbouring views (A, B) and (B, A); B's values at p are
bilinear samples. valid fraction = kept pairs / opaque pixels of A. A field whose colour does
not depend on the viewing direction scores ~0; view-dependent colour or inconsistent
geometry scores higher. With a CLIP encoder, `clip_spread` is the mean cosine distance of the
views' image embeddings from their normalised mean (`t2v.eval.clip.embedding_spread`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Annotated

import pydantic
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from t2v.eval.clip import ClipEncoder, embedding_spread
from t2v.field.base import Field
from t2v.render import Cameras, VolumeRenderer, camera_rays, orbit_cameras
from t2v.schema import Bool, Float, Int, PositiveFloat, UnitFloat, settings


@dataclass(frozen=True)
class MultiViewConfig:
    """Which views of which scene time are compared, and how strictly."""

    time: float = 0.5  # scene time in [0, 1]
    azimuths_deg: tuple[float, ...] = (-40.0, -20.0, 0.0, 20.0, 40.0)  # the frontal band
    elevation_deg: float = 10.0
    distance: float = 2.5
    fov_deg: float = 40.0
    width: int = 64
    height: int = 64
    opacity_threshold: float = 0.5
    depth_tolerance: float = 0.05  # relative to the distance from the other camera


Azimuths = Annotated[tuple[Float, ...], pydantic.Field(min_length=2)]  # two views to compare
ViewSide = Annotated[Int, pydantic.Field(ge=8, le=1024)]
Opacity = Annotated[Float, pydantic.Field(gt=0, le=1)]


@settings
class MultiViewOptions:
    """`t2v evaluate`'s `multiview.*`: whether to score a run's field, and which views of it.

    The camera's elevation, distance and field of view come from each run's genre:
    `for_camera` completes the options into a `MultiViewConfig`.
    """

    enabled: Bool = True
    time: UnitFloat = MultiViewConfig.time
    azimuths_deg: Azimuths = MultiViewConfig.azimuths_deg
    size: ViewSide = MultiViewConfig.width  # each view's width and height
    opacity_threshold: Opacity = MultiViewConfig.opacity_threshold
    depth_tolerance: PositiveFloat = MultiViewConfig.depth_tolerance

    def for_camera(self, elevation_deg: float, distance: float, fov_deg: float) -> MultiViewConfig:
        """The views to compare, seen from a camera at this elevation, distance and fov."""
        return MultiViewConfig(
            time=float(self.time),
            azimuths_deg=tuple(float(azimuth) for azimuth in self.azimuths_deg),
            elevation_deg=float(elevation_deg),
            distance=float(distance),
            fov_deg=float(fov_deg),
            width=self.size,
            height=self.size,
            opacity_threshold=float(self.opacity_threshold),
            depth_tolerance=float(self.depth_tolerance),
        )


@dataclass(frozen=True)
class MultiViewMetrics:
    reprojection_error: float
    valid_fraction: float
    views: int
    clip_spread: float | None = None

    def to_dict(self) -> dict[str, float | int | None]:
        return asdict(self)


@dataclass(frozen=True)
class ViewRenders:
    """Renders of V views: rgb (V, 3, H, W), opacity and depth (V, 1, H, W), cameras (1, V)."""

    rgb: Tensor
    opacity: Tensor
    depth: Tensor
    cameras: Cameras


def view_cameras(config: MultiViewConfig) -> Cameras:
    azimuth = torch.tensor(config.azimuths_deg, dtype=torch.float32)[None]
    return orbit_cameras(
        azimuth,
        torch.full_like(azimuth, config.elevation_deg),
        torch.full_like(azimuth, config.distance),
        torch.full_like(azimuth, config.fov_deg),
        config.width,
        config.height,
    )


def render_views(field: Field, renderer: VolumeRenderer, config: MultiViewConfig) -> ViewRenders:
    """Render every view of `config` at its scene time, dynamic part included."""
    cameras = view_cameras(config).to(_device(field))
    times = torch.full(cameras.batch_shape, float(config.time), device=cameras.c2w.device)
    was_training, was_static = renderer.training, field.static_only
    renderer.eval()
    field.static_only = False
    try:
        with torch.no_grad():
            out = renderer.render(field, cameras, times)
    finally:
        renderer.train(was_training)
        field.static_only = was_static
    return ViewRenders(out.rgb[0], out.opacity[0], out.depth[0], cameras)


def _device(field: Field) -> torch.device:
    """Where the field's parameters live (a field is an nn.Module; CPU when it has none)."""
    parameter = next(iter(field.parameters()), None) if isinstance(field, nn.Module) else None
    return parameter.device if parameter is not None else torch.device("cpu")


def _sample(image: Tensor, pixels: Tensor, width: int, height: int) -> Tensor:
    """Bilinear samples of image (C, H, W) at pixel coordinates (N, 2) -> (N, C)."""
    # Pixel i spans [i, i+1], so align_corners=False maps coordinate u to 2u/W - 1.
    grid = torch.stack([2 * pixels[:, 0] / width - 1, 2 * pixels[:, 1] / height - 1], dim=-1)
    sampled = F.grid_sample(
        image[None], grid[None, None], mode="bilinear", padding_mode="border", align_corners=False
    )
    return sampled[0, :, 0].T


def reproject_pair(
    renders: ViewRenders, source: int, target: int, config: MultiViewConfig
) -> tuple[Tensor, int, int]:
    """Per-pixel colour errors of kept pairs (K,), kept count, opaque pixels of `source`."""
    cameras = renders.cameras
    width, height = cameras.width, cameras.height
    rays = camera_rays(cameras)
    origins = rays.origins[0, source].reshape(-1, 3)
    directions = rays.directions[0, source].reshape(-1, 3)
    opaque = renders.opacity[source, 0].reshape(-1) >= config.opacity_threshold
    points = (
        origins[opaque] + renders.depth[source, 0].reshape(-1)[opaque, None] * directions[opaque]
    )
    target_camera = Cameras(
        cameras.c2w[:, target : target + 1],
        cameras.fov_y_deg[:, target : target + 1],
        width,
        height,
    )
    pixels = target_camera.project(points[None, None])[0, 0]
    centre = cameras.positions[0, target]
    offset = points - centre
    forward = -cameras.c2w[0, target, :3, 2]
    in_front = (offset @ forward) > 0
    inside = (
        in_front
        & (pixels[:, 0] >= 0)
        & (pixels[:, 0] <= width)
        & (pixels[:, 1] >= 0)
        & (pixels[:, 1] <= height)
    )
    target_opacity = _sample(renders.opacity[target], pixels, width, height)[:, 0]
    target_depth = _sample(renders.depth[target], pixels, width, height)[:, 0]
    distance = offset.norm(dim=-1)
    visible = (distance - target_depth).abs() <= config.depth_tolerance * distance
    kept = inside & (target_opacity >= config.opacity_threshold) & visible
    source_rgb = renders.rgb[source].reshape(3, -1).T[opaque][kept]
    target_rgb = _sample(renders.rgb[target], pixels[kept], width, height)
    errors = (source_rgb - target_rgb).abs().mean(dim=-1)
    return errors, int(kept.sum()), int(opaque.sum())


def reprojection_error(renders: ViewRenders, config: MultiViewConfig) -> tuple[float, float]:
    """(mean colour error over kept pairs, kept fraction of opaque pixels); NaN if none kept."""
    views = renders.rgb.shape[0]
    total_error, kept, opaque = 0.0, 0, 0
    for first in range(views - 1):
        for source, target in ((first, first + 1), (first + 1, first)):
            errors, pair_kept, pair_opaque = reproject_pair(renders, source, target, config)
            total_error += float(errors.sum())
            kept += pair_kept
            opaque += pair_opaque
    error = total_error / kept if kept else float("nan")
    return error, (kept / opaque if opaque else 0.0)


def multiview_consistency(
    field: Field,
    renderer: VolumeRenderer,
    config: MultiViewConfig | None = None,
    clip: ClipEncoder | None = None,
) -> MultiViewMetrics:
    """Render the views of `config` and score how well they agree."""
    config = config or MultiViewConfig()
    if len(config.azimuths_deg) < 2:
        raise ValueError("multi-view consistency needs at least two views")
    renders = render_views(field, renderer, config)
    error, valid = reprojection_error(renders, config)
    spread = embedding_spread(clip.embed_images(renders.rgb)) if clip is not None else None
    return MultiViewMetrics(error, valid, len(config.azimuths_deg), spread)
