"""CPU tiled rasterizer of 3D Gaussian splats, pure PyTorch and differentiable by autograd.

Hand-written because gsplat and diff-gaussian-rasterization run on CUDA only (gsplat#555, #635).
It follows 3D Gaussian Splatting (Kerbl et al. 2023) with t2v's pinhole `Cameras`: each Gaussian
is projected by the EWA approximation (its covariance pushed through the Jacobian of the
perspective map), the image is cut into square tiles, every tile composites the Gaussians that
touch it front to back in depth order, and a pixel stops once its transmittance would fall below
`TRANSMITTANCE_FLOOR`. Tiles are batched and Gaussians taken in depth chunks, so the work is a
few large tensor operations and the loop over chunks ends once every pixel has stopped.

Pixel i spans [i, i + 1] with its centre at i + 0.5 (as `t2v.render.rays`), x right, y down.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from t2v.field.components.quaternions import quaternion_matrices
from t2v.field.splats import Splats

# Alpha below this is skipped, and a pixel's Gaussian extends only as far as its alpha can reach
# it (3DGS's 1/255): the tile lists then hold every Gaussian a pixel would composite.
ALPHA_FLOOR = 1.0 / 255.0
ALPHA_CEILING = 0.99  # keeps 1 - alpha > 0, so transmittance and its gradient stay finite
TRANSMITTANCE_FLOOR = 1e-4  # a pixel stops before the Gaussian that would take it below this
TILE_BUDGET = 1 << 20  # tiles x pixels x Gaussians composited at once: bounds peak memory


@dataclass(frozen=True)
class Projected:
    """Splats in one camera's image, only those in front of it and overlapping the image (M)."""

    index: Tensor  # (M,) long, into the Splats, sorted front to back
    means2d: Tensor  # (M, 2) pixel coordinates
    conics: Tensor  # (M, 3) the inverse 2D covariance (a, b, c): a dx^2 + 2 b dx dy + c dy^2
    depths: Tensor  # (M,) distance along the camera's viewing axis
    radii: Tensor  # (M,) pixels beyond which the Gaussian's alpha is below ALPHA_FLOOR
    opacities: Tensor  # (M,)
    colours: Tensor  # (M, 3)


@dataclass(frozen=True)
class SplatImage:
    """One rasterized image: rgb (H, W, 3) without background (premultiplied by opacity),
    opacity (H, W) = accumulated alpha, depth (H, W) = opacity-normalised mean view depth."""

    rgb: Tensor
    opacity: Tensor
    depth: Tensor


def covariances(scales: Tensor, rotations: Tensor) -> Tensor:
    """World covariances (N, 3, 3) = R S S R^T of scales (N, 3) and quaternions (N, 4)."""
    axes = quaternion_matrices(rotations) * scales[:, None, :]
    return axes @ axes.transpose(1, 2)


def project(
    splats: Splats,
    c2w: Tensor,
    focal: Tensor,
    width: int,
    height: int,
    near: float = 0.01,
    dilation: float = 0.3,
) -> Projected:
    """Project splats through one pinhole camera: c2w (4, 4), focal length in pixels (scalar).

    `dilation` (pixels^2) is added to every 2D covariance, 3DGS's screen-space low-pass filter:
    a Gaussian smaller than a pixel still covers about one, so it is neither missed by every
    pixel centre nor given an ill-conditioned conic.
    """
    rotation, origin = c2w[:3, :3], c2w[:3, 3]
    local = (splats.means - origin) @ rotation  # rows: R^T (p - o), camera axes
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
    camera_cov = rotation.T @ covariances(splats.scales, splats.rotations) @ rotation
    cov2d = jacobian @ camera_cov @ jacobian.transpose(1, 2)
    a = cov2d[:, 0, 0] + dilation
    b = cov2d[:, 0, 1]
    c = cov2d[:, 1, 1] + dilation
    determinant = (a * c - b * b).clamp_min(1e-12)
    conics = torch.stack((c / determinant, -b / determinant, a / determinant), -1)
    # The ellipse's extent where its alpha can still reach ALPHA_FLOOR, bounded by a circle
    # of its largest standard deviation.
    with torch.no_grad():
        middle = (a + c) / 2
        largest = middle + (middle * middle - determinant).clamp_min(0).sqrt()
        reach = (2 * torch.log((splats.opacities / ALPHA_FLOOR).clamp_min(1.0))).sqrt()
        radii = reach * largest.sqrt()
        visible = (
            (depth > near)
            & (radii > 0)
            & (u + radii > 0)
            & (u - radii < width)
            & (v + radii > 0)
            & (v - radii < height)
        )
        index = visible.nonzero().squeeze(1)
        index = index[torch.argsort(depth[index], stable=True)]
    return Projected(
        index=index,
        means2d=torch.stack((u, v), -1)[index],
        conics=conics[index],
        depths=depth[index],
        radii=radii[index],
        opacities=splats.opacities[index],
        colours=splats.colours[index],
    )


def gaussian_alpha(pixels: Tensor, means2d: Tensor, conics: Tensor, opacities: Tensor) -> Tensor:
    """Alpha of Gaussians at pixels: pixels (..., P, 2), the rest (..., K, ...) -> (..., P, K);
    clamped to ALPHA_CEILING and zero below ALPHA_FLOOR (skipped, as 3DGS does)."""
    delta = pixels[..., :, None, :] - means2d[..., None, :, :]
    dx, dy = delta.unbind(-1)
    a, b, c = (conics[..., None, :, i] for i in range(3))
    power = -0.5 * (a * dx * dx + c * dy * dy) - b * dx * dy
    alpha = (opacities[..., None, :] * torch.exp(power)).clamp(max=ALPHA_CEILING)
    return torch.where(alpha < ALPHA_FLOOR, torch.zeros_like(alpha), alpha)


def quadratic_coefficients(means2d: Tensor, conics: Tensor) -> Tensor:
    """Coefficients (..., 6) of the exponent -(d^T conic d) / 2, d = pixel - mean, on the
    pixel features (x^2, x y, y^2, x, y, 1)."""
    a, b, c = conics.unbind(-1)
    mx, my = means2d.unbind(-1)
    return torch.stack(
        (
            -0.5 * a,
            -b,
            -0.5 * c,
            a * mx + b * my,
            b * mx + c * my,
            -(0.5 * a * mx * mx + b * mx * my + 0.5 * c * my * my),
        ),
        dim=-1,
    )


def rasterize(
    splats: Splats,
    c2w: Tensor,
    fov_y_deg: Tensor | float,
    width: int,
    height: int,
    tile_size: int = 16,
    chunk: int = 128,
    near: float = 0.01,
    dilation: float = 0.3,
) -> SplatImage:
    """Rasterize splats through one camera (c2w (4, 4), vertical field of view in degrees)."""
    fov = torch.as_tensor(fov_y_deg, dtype=c2w.dtype, device=c2w.device)
    focal = (height / 2) / torch.tan(torch.deg2rad(fov) / 2)
    projected = project(splats, c2w, focal, width, height, near, dilation)
    tiles_x, tiles_y = math.ceil(width / tile_size), math.ceil(height / tile_size)
    num_tiles, tile_pixels = tiles_x * tiles_y, tile_size * tile_size
    device, dtype = c2w.device, splats.means.dtype

    # Pixel centres of every tile, (tiles, tile_size^2, 2); pixels past the image edge are
    # computed and dropped.
    offsets = torch.arange(tile_size, device=device, dtype=dtype)
    local_y, local_x = torch.meshgrid(offsets, offsets, indexing="ij")
    tile_row, tile_column = torch.meshgrid(
        torch.arange(tiles_y, device=device), torch.arange(tiles_x, device=device), indexing="ij"
    )
    origin_x = (tile_column.reshape(-1) * tile_size).to(dtype)
    origin_y = (tile_row.reshape(-1) * tile_size).to(dtype)
    pixels = torch.stack(
        (
            origin_x[:, None] + local_x.reshape(-1)[None] + 0.5,
            origin_y[:, None] + local_y.reshape(-1)[None] + 0.5,
        ),
        dim=-1,
    )

    # Tile lists: which Gaussians' bounding squares meet each tile, in depth order, padded.
    with torch.no_grad():
        centre, radius = projected.means2d.detach(), projected.radii
        low = ((centre - radius[:, None]) / tile_size).floor()
        high = ((centre + radius[:, None]) / tile_size).floor()
        hits = (
            (origin_x[:, None] / tile_size >= low[None, :, 0])
            & (origin_x[:, None] / tile_size <= high[None, :, 0])
            & (origin_y[:, None] / tile_size >= low[None, :, 1])
            & (origin_y[:, None] / tile_size <= high[None, :, 1])
        )  # (tiles, M), M in depth order
        counts = hits.sum(dim=1)
        longest = int(counts.max()) if counts.numel() else 0
        order = torch.sort(hits.to(torch.uint8), dim=1, descending=True, stable=True).indices
        lists = order[:, :longest]
        valid = torch.arange(longest, device=device)[None] < counts[:, None]

    # Tiles in groups, so the (tiles, pixels, chunk) tensors stay small at any image size.
    group = max(1, TILE_BUDGET // (tile_pixels * chunk))
    parts = [
        _composite_tiles(
            projected,
            pixels[first : first + group],
            lists[first : first + group],
            valid[first : first + group],
            chunk,
        )
        for first in range(0, num_tiles, group)
    ]
    colour = torch.cat([part[0] for part in parts])
    opacity = torch.cat([part[1] for part in parts])
    depth = torch.cat([part[2] for part in parts])

    def image(values: Tensor) -> Tensor:
        grid = values.reshape(tiles_y, tiles_x, tile_size, tile_size, -1)
        grid = grid.permute(0, 2, 1, 3, 4).reshape(tiles_y * tile_size, tiles_x * tile_size, -1)
        return grid[:height, :width]

    return SplatImage(
        rgb=image(colour),
        opacity=image(opacity[..., None])[..., 0],
        depth=image(depth[..., None])[..., 0],
    )


def _composite_tiles(
    projected: Projected, pixels: Tensor, lists: Tensor, valid: Tensor, chunk: int
) -> tuple[Tensor, Tensor, Tensor]:
    """Front-to-back compositing of tiles: pixels (G, P, 2), depth-ordered lists (G, L) into the
    projected Gaussians, valid (G, L) -> colour (G, P, 3), opacity (G, P), depth (G, P)."""
    num_tiles, tile_pixels = pixels.shape[:2]
    device = pixels.device
    # Tile-local coordinates keep the quadratic form's terms small (no cancellation) in float32.
    origins = pixels[:, :1] - 0.5
    local = pixels - origins
    px, py = local.unbind(-1)
    features = torch.stack((px * px, px * py, py * py, px, py, torch.ones_like(px)), -1)
    colour = pixels.new_zeros(num_tiles, tile_pixels, 3)
    depth = pixels.new_zeros(num_tiles, tile_pixels)
    transmittance = pixels.new_ones(num_tiles, tile_pixels)
    active = torch.ones(num_tiles, dtype=torch.bool, device=device)
    done = torch.zeros(num_tiles, tile_pixels, dtype=torch.bool, device=device)
    for start in range(0, lists.shape[1], chunk):
        tiles = (active & valid[:, start]).nonzero().squeeze(1)
        if tiles.numel() == 0:
            break
        ids = lists[tiles, start : start + chunk]
        opacities = torch.where(valid[tiles, start : start + chunk], projected.opacities[ids], 0.0)
        # The Gaussians' exponents at every pixel as one batched matmul: features (P, 6) of the
        # pixel times coefficients (6, K) of each Gaussian's quadratic form.
        power = features[tiles] @ quadratic_coefficients(
            projected.means2d[ids] - origins[tiles], projected.conics[ids]
        ).transpose(1, 2)
        alpha = (opacities[:, None, :] * torch.exp(power)).clamp(max=ALPHA_CEILING)
        alpha = torch.where(alpha < ALPHA_FLOOR, 0.0, alpha)
        # Stopped pixels start the chunk with no transmittance: they composite nothing more.
        live = torch.where(done[tiles], 0.0, transmittance[tiles])
        after = live[..., None] * torch.cumprod(1 - alpha, dim=-1)
        # A pixel composites a Gaussian only while its transmittance stays above the floor;
        # `after` is non-increasing, so this keeps a prefix of each pixel's list.
        kept = after.detach() >= TRANSMITTANCE_FLOOR
        before = torch.cat((live[..., None], after[..., :-1]), dim=-1)
        weights = torch.where(kept, before * alpha, 0.0)
        colour = colour.index_add(0, tiles, weights @ projected.colours[ids])
        depth = depth.index_add(0, tiles, (weights @ projected.depths[ids][..., None])[..., 0])
        transmittance = transmittance.index_add(0, tiles, -weights.sum(-1))
        stopped = done[tiles] | (~kept[..., -1] & (live > 0))
        done = done.index_copy(0, tiles, stopped)
        active = active.index_copy(0, tiles, ~stopped.all(dim=1))
    opacity = 1 - transmittance
    return colour, opacity, depth / opacity.clamp_min(1e-10)
