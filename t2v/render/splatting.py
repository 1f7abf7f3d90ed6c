"""CPU rasterizer of 3D Gaussian splats, many views per call, pure PyTorch, differentiable.

Hand-written because gsplat and diff-gaussian-rasterization run on CUDA only (gsplat#555, #635).
It follows 3D Gaussian Splatting (Kerbl et al. 2023) with t2v's pinhole `Cameras`: each Gaussian
is projected by the EWA approximation (its covariance pushed through the Jacobian of the
perspective map) and composited front to back at every pixel centre it can reach, and a pixel
stops before the Gaussian that would take its transmittance below `TRANSMITTANCE_FLOOR`.

The work is proportional to the (pixel, Gaussian) pairs that overlap, for all views in one
call: every Gaussian lists the pixels of its bounding box in its view (where its alpha can reach
`ALPHA_FLOOR`), pairs below that alpha are dropped, one sort orders the pairs by (view, pixel)
and depth, and the compositing is a segmented scan: each pair's transmittance is the exponential
of a running sum of log(1 - alpha) within its pixel (float64, so long lists keep their
precision), and the colours are summed into their pixels with `index_add`.

Pixel i spans [i, i + 1] with its centre at i + 0.5 (as `t2v.render.rays`), x right, y down.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from t2v.field.components.quaternions import quaternion_matrices
from t2v.field.splats import Splats

# Alpha below this is skipped, and a Gaussian's pixels are only those its alpha can reach at
# this level (3DGS's 1/255): the pair lists then hold every Gaussian a pixel would composite.
ALPHA_FLOOR = 1.0 / 255.0
ALPHA_CEILING = 0.99  # keeps 1 - alpha > 0, so transmittance and its gradient stay finite
TRANSMITTANCE_FLOOR = 1e-4  # a pixel stops before the Gaussian that would take it below this


@dataclass(frozen=True)
class Projected:
    """Splats in their views' images, only those in front and overlapping the image (M), sorted
    front to back; each covers the pixel box [low, low + size) in its view."""

    index: Tensor  # (M,) long, into the Splats
    view: Tensor  # (M,) long, the view each is drawn in
    means2d: Tensor  # (M, 2) pixel coordinates
    conics: Tensor  # (M, 3) the inverse 2D covariance (a, b, c): a dx^2 + 2 b dx dy + c dy^2
    depths: Tensor  # (M,) distance along the camera's viewing axis
    low: Tensor  # (M, 2) long, the first pixel column and row it can reach
    size: Tensor  # (M, 2) long, how many columns and rows it can reach (>= 1)


@dataclass(frozen=True)
class SplatImage:
    """Rasterized images: rgb (..., H, W, 3) without background (premultiplied by opacity),
    opacity (..., H, W) = accumulated alpha, depth (..., H, W) = opacity-normalised mean view
    depth; the leading dimension is the view for `rasterize_views`, none for `rasterize`."""

    rgb: Tensor
    opacity: Tensor
    depth: Tensor


def project(
    splats: Splats,
    view: Tensor,
    c2w: Tensor,
    focal: Tensor,
    width: int,
    height: int,
    near: float = 0.01,
    dilation: float = 0.3,
) -> Projected:
    """Project splats, splat i through camera `view[i]`: c2w (V, 4, 4), focal lengths (V,) px.

    `dilation` (pixels^2) is added to every 2D covariance, 3DGS's screen-space low-pass filter:
    a Gaussian smaller than a pixel still covers about one, so it is neither missed by every
    pixel centre nor given an ill-conditioned conic.
    """
    rotation = c2w[:, :3, :3].index_select(0, view)
    origin = c2w[:, :3, 3].index_select(0, view)
    focal = focal.index_select(0, view)
    # Rows R^T (p - o): the means in camera axes.
    local = torch.einsum("ni,nij->nj", splats.means - origin, rotation)
    depth = -local[:, 2]
    safe = depth.clamp_min(near)
    x, y = local[:, 0], local[:, 1]
    u = width / 2 + focal * x / safe
    v = height / 2 - focal * y / safe
    zero = torch.zeros_like(safe)
    # Jacobian of (u, v) by the camera-space point (x, y, z), with depth = -z.
    jacobian = torch.stack(
        (
            torch.stack((focal / safe, zero, focal * x / safe**2), -1),
            torch.stack((zero, -focal / safe, -focal * y / safe**2), -1),
        ),
        dim=1,
    )
    # cov2d = J R^T (A A^T) R J^T with A = R_g S the Gaussian's scaled axes: one (2, 3) product.
    axes = quaternion_matrices(splats.rotations) * splats.scales[:, None, :]
    image_axes = jacobian @ rotation.transpose(1, 2) @ axes
    cov2d = image_axes @ image_axes.transpose(1, 2)
    a = cov2d[:, 0, 0] + dilation
    b = cov2d[:, 0, 1]
    c = cov2d[:, 1, 1] + dilation
    determinant = (a * c - b * b).clamp_min(1e-12)
    conics = torch.stack((c / determinant, -b / determinant, a / determinant), -1)
    with torch.no_grad():
        # Alpha reaches ALPHA_FLOOR inside the ellipse d^T cov2d^-1 d <= reach^2, whose extent
        # along x is reach sqrt(cov_xx) and along y reach sqrt(cov_yy).
        reach = (2 * torch.log((splats.opacities / ALPHA_FLOOR).clamp_min(1.0))).sqrt()
        half = reach[:, None] * torch.stack((a, c), -1).sqrt()
        centre = torch.stack((u, v), -1)
        limit = torch.tensor([width - 1, height - 1], device=u.device)
        low = torch.ceil(centre - half - 0.5).clamp(min=0)
        high = torch.floor(centre + half - 0.5)
        high = torch.minimum(high, limit.to(high.dtype))
        size = (high - low + 1).clamp(min=0)
        visible = (depth > near) & (size > 0).all(dim=1) & (reach > 0)
        index = visible.nonzero().squeeze(1)
        index = index[torch.argsort(depth[index], stable=True)]
    return Projected(
        index=index,
        view=view.index_select(0, index),
        means2d=torch.stack((u, v), -1).index_select(0, index),
        conics=conics.index_select(0, index),
        depths=depth.index_select(0, index),
        low=low.index_select(0, index).long(),
        size=size.index_select(0, index).long(),
    )


def rasterize_views(
    splats: Splats,
    view: Tensor,
    c2w: Tensor,
    fov_y_deg: Tensor,
    width: int,
    height: int,
    near: float = 0.01,
    dilation: float = 0.3,
) -> SplatImage:
    """Rasterize V views at once: splat i is drawn only in view `view[i]` (long, (N,)), through
    camera c2w (V, 4, 4) with vertical field of view `fov_y_deg` (V,) degrees. Several views of
    one scene pass its splats once per view (concatenated), each with its view's index."""
    views = c2w.shape[0]
    dtype, device = splats.means.dtype, splats.means.device
    fov = torch.as_tensor(fov_y_deg, dtype=c2w.dtype, device=c2w.device).reshape(-1)
    focal = (height / 2) / torch.tan(torch.deg2rad(fov) / 2)
    projected = project(splats, view, c2w.to(dtype), focal.to(dtype), width, height, near, dilation)
    pixels_per_view = width * height
    total = views * pixels_per_view

    # Per Gaussian, what its pairs read: (u, v, conic a, b, c, opacity) as contiguous columns.
    opacities = splats.opacities.index_select(0, projected.index)
    table = (*projected.means2d.unbind(1), *projected.conics.unbind(1), opacities)
    table = tuple(column.contiguous() for column in table)

    centres = _pixel_centres(views, width, height, dtype, device)
    with torch.no_grad():
        # One (Gaussian, pixel) pair per pixel of each Gaussian's box, in depth order: the
        # pair's column and row in the box, its offset from the Gaussian's centre and its key.
        counts = projected.size[:, 0] * projected.size[:, 1]
        gaussian = torch.repeat_interleave(torch.arange(counts.numel(), device=device), counts)
        starts = (counts.cumsum(0) - counts).index_select(0, gaussian)
        offset = torch.arange(gaussian.numel(), device=device) - starts
        columns = projected.size[:, 0].index_select(0, gaussian)
        row = torch.div(offset, columns, rounding_mode="floor")
        column = offset - row * columns
        corner = projected.low.to(dtype) + 0.5 - projected.means2d.detach()
        dx = corner[:, 0].index_select(0, gaussian) + column.to(dtype)
        dy = corner[:, 1].index_select(0, gaussian) + row.to(dtype)
        # Alpha reaches ALPHA_FLOOR where d^T conic d <= 2 log(opacity / ALPHA_FLOOR).
        a, b, c = (projected.conics[:, i].detach().index_select(0, gaussian) for i in range(3))
        reach = 2 * torch.log(opacities.detach() / ALPHA_FLOOR)
        inside = a * dx * dx + 2 * b * dx * dy + c * dy * dy <= reach.index_select(0, gaussian)
        first = projected.view * pixels_per_view + projected.low[:, 1] * width + projected.low[:, 0]
        pixel = first.index_select(0, gaussian) + row * width + column
        # Sort by pixel; the stable sort keeps each pixel's Gaussians front to back.
        kept = inside.nonzero().squeeze(1)
        pixel, order = torch.sort(pixel.index_select(0, kept), stable=True)
        gaussian = gaussian.index_select(0, kept.index_select(0, order))
        alpha = _pair_alpha(tuple(column.detach() for column in table), centres, gaussian, pixel)
        # A pixel composites a Gaussian only while its transmittance stays above the floor; the
        # transmittance does not increase along a pixel's list, so this keeps a prefix of it,
        # and the pairs after it (most of them, behind an opaque surface) are dropped before
        # autograd sees them.
        log_pass = torch.log1p(-alpha).double()
        log_after = _log_transmittance(pixel, log_pass, total) + log_pass
        composited = (log_after >= math.log(TRANSMITTANCE_FLOOR)).nonzero().squeeze(1)
        gaussian, pixel = gaussian.index_select(0, composited), pixel.index_select(0, composited)

    alpha = _pair_alpha(table, centres, gaussian, pixel)
    log_before = _log_transmittance(pixel, torch.log1p(-alpha).double(), total)
    weights = torch.exp(log_before).to(dtype) * alpha
    # Colour and depth of each pair's Gaussian, weighted and summed into its pixel.
    colours = splats.colours.index_select(0, projected.index)
    values = torch.cat((colours, projected.depths[:, None], torch.ones_like(opacities)[:, None]), 1)
    summed = splats.means.new_zeros(total, 5).index_add(
        0, pixel, weights[:, None] * values.index_select(0, gaussian)
    )
    colour, depth, opacity = summed[:, :3], summed[:, 3], summed[:, 4]
    depth = depth / opacity.clamp_min(1e-10)
    return SplatImage(
        rgb=colour.reshape(views, height, width, 3),
        opacity=opacity.reshape(views, height, width),
        depth=depth.reshape(views, height, width),
    )


def _log_transmittance(pixel: Tensor, log_pass: Tensor, total: int) -> Tensor:
    """Log-transmittance before each pair, pairs sorted by `pixel` (of `total`), `log_pass` the
    pairs' log(1 - alpha): a running sum over all pairs minus the sum before the pixel's first."""
    first = torch.bincount(pixel, minlength=total).cumsum(0)
    first = torch.cat((first.new_zeros(1), first[:-1]))[pixel]
    running = torch.cumsum(log_pass, 0) - log_pass
    return running - running[first]


def _pixel_centres(views: int, width: int, height: int, dtype, device) -> Tensor:
    """Pixel centres (2, views * height * width): x and y, row-major per view."""
    ys, xs = torch.meshgrid(
        torch.arange(height, dtype=dtype, device=device) + 0.5,
        torch.arange(width, dtype=dtype, device=device) + 0.5,
        indexing="ij",
    )
    return torch.stack((xs, ys)).reshape(2, 1, -1).expand(2, views, -1).reshape(2, -1)


def _pair_alpha(
    table: tuple[Tensor, ...], centres: Tensor, gaussian: Tensor, pixel: Tensor
) -> Tensor:
    """Alpha of each pair's Gaussian, `table` columns (u, v, conic a, b, c, opacity) per
    Gaussian, at its pixel's centre (`centres` (2, pixels) by `pixel`); clamped to
    ALPHA_CEILING."""
    u, v, a, b, c, opacity = (column.index_select(0, gaussian) for column in table)
    x, y = centres[0].index_select(0, pixel), centres[1].index_select(0, pixel)
    dx, dy = x - u, y - v
    power = -0.5 * (a * dx * dx + c * dy * dy) - b * dx * dy
    return (opacity * torch.exp(power)).clamp(max=ALPHA_CEILING)


def rasterize(
    splats: Splats,
    c2w: Tensor,
    fov_y_deg: Tensor | float,
    width: int,
    height: int,
    near: float = 0.01,
    dilation: float = 0.3,
) -> SplatImage:
    """Rasterize splats through one camera (c2w (4, 4), vertical field of view in degrees)."""
    view = torch.zeros(len(splats), dtype=torch.long, device=splats.means.device)
    fov = torch.as_tensor(fov_y_deg, dtype=c2w.dtype, device=c2w.device).reshape(1)
    image = rasterize_views(splats, view, c2w[None], fov, width, height, near, dilation)
    return SplatImage(rgb=image.rgb[0], opacity=image.opacity[0], depth=image.depth[0])
