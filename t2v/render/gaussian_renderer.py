"""Draws a `gaussians` field: its splats at each frame's time, rasterized, over its background.

The output is the volume renderer's `RenderOutput` and is composited the same way: rgb over the
field's background along each pixel's ray, then the field's exposure at the frame's time; depth
is the distance along the pixel's ray (the Gaussians' view depth over the ray's cosine), as the
volume renderer's is. Two rasterizers draw the splats: `t2v.render.splatting` (pure PyTorch,
any device) and gsplat's CUDA `rasterization` (`pip install -e ".[gsplat]"`).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from t2v.field.splats import SplatField, Splats
from t2v.render.cameras import Cameras
from t2v.render.rays import camera_rays
from t2v.render.splatting import SplatImage, rasterize_views

RasterBackend = Literal["torch", "gsplat"]
SPLAT_FIELDS = ("means", "scales", "rotations", "opacities", "colours")


def render_gaussians(
    field: SplatField, cameras: Cameras, times: Tensor, backend: RasterBackend = "torch"
) -> tuple[Tensor, Tensor, Tensor]:
    """Frames of `field` seen by `cameras` (B, T) at `times` (B, T): rgb (B, T, 3, H, W) with
    background and exposure, opacity and depth (B, T, 1, H, W)."""
    batch, frames = cameras.batch_shape
    height, width = cameras.height, cameras.width
    c2w = cameras.c2w.reshape(-1, 4, 4)
    fov = cameras.fov_y_deg.reshape(-1)
    flat_times = times.reshape(-1)
    # The splats once per distinct time (a clip's frames, or one time seen by several cameras).
    distinct, which = torch.unique(flat_times, return_inverse=True)
    at_times = field.splats_at(distinct)
    if backend == "gsplat":
        images = [
            rasterize_gsplat(at_times[int(which[i])], c2w[i], fov[i], width, height)
            for i in range(batch * frames)
        ]
        rgb = torch.stack([image.rgb for image in images]).reshape(-1, 3)
        opacity = torch.stack([image.opacity for image in images]).reshape(-1)
        depth = torch.stack([image.depth for image in images]).reshape(-1)
    else:
        views = [at_times[int(k)] for k in which]
        splats = Splats(*(torch.cat([getattr(s, name) for s in views]) for name in SPLAT_FIELDS))
        view = torch.repeat_interleave(
            torch.arange(len(views), device=splats.means.device),
            torch.tensor([len(s) for s in views], device=splats.means.device),
        )
        image = rasterize_views(splats, view, c2w.to(splats.means), fov, width, height)
        rgb, opacity, depth = (
            image.rgb.reshape(-1, 3),
            image.opacity.reshape(-1),
            image.depth.reshape(-1),
        )
    rays = camera_rays(cameras)
    directions = rays.directions.reshape(-1, 3).to(rgb.dtype)
    # The view axis of each camera, per pixel: depth along the ray = view depth / cosine.
    forward = -c2w[:, :3, 2].to(rgb.dtype).repeat_interleave(height * width, dim=0)
    depth = depth / (directions * forward).sum(-1).clamp_min(1e-6)
    background = field.background(directions).to(rgb.dtype)
    colour = rgb + (1.0 - opacity[:, None]) * background
    pixel_times = flat_times.to(rgb).repeat_interleave(height * width)[:, None]
    colour = field.expose(colour, pixel_times)

    def image(values: Tensor, channels: int) -> Tensor:
        return values.reshape(batch, frames, height, width, channels).permute(0, 1, 4, 2, 3)

    return image(colour, 3), image(opacity[:, None], 1), image(depth[:, None], 1)


# gsplat's cameras look down +z with y down (OpenCV); t2v's look down -z with y up (OpenGL).
OPENGL_TO_OPENCV = torch.diag(torch.tensor([1.0, -1.0, -1.0, 1.0]))


def rasterize_gsplat(
    splats: Splats, c2w: Tensor, fov_y_deg: Tensor, width: int, height: int
) -> SplatImage:
    """One camera through gsplat's `rasterization` (CUDA), with the CPU rasterizer's settings:
    the same 0.3 px^2 dilation (`eps2d`), near plane and tile size, expected depth."""
    from gsplat import rasterization

    dtype = splats.means.dtype
    viewmat = OPENGL_TO_OPENCV.to(c2w) @ torch.linalg.inv(c2w)
    focal = (height / 2) / torch.tan(torch.deg2rad(fov_y_deg) / 2)
    intrinsics = torch.zeros(3, 3, dtype=c2w.dtype, device=c2w.device)
    intrinsics[0, 0] = intrinsics[1, 1] = focal
    intrinsics[0, 2], intrinsics[1, 2], intrinsics[2, 2] = width / 2, height / 2, 1.0
    colours, alphas, _ = rasterization(
        means=splats.means.float(),
        quats=splats.rotations.float(),
        scales=splats.scales.float(),
        opacities=splats.opacities.float(),
        colors=splats.colours.float(),
        viewmats=viewmat[None].float(),
        Ks=intrinsics[None].float(),
        width=width,
        height=height,
        near_plane=0.01,
        eps2d=0.3,
        tile_size=16,
        render_mode="RGB+ED",
        packed=False,
    )
    return SplatImage(
        rgb=colours[0, ..., :3].to(dtype),
        opacity=alphas[0, ..., 0].to(dtype),
        depth=colours[0, ..., 3].to(dtype),
    )
