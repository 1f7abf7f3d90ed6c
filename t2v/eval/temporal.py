"""Temporal consistency of a video: flicker, flow-warping error and motion magnitude.

Optical flow is a small dense pyramidal Lucas-Kanade written here in torch: no flow library
(OpenCV, RAFT weights) is installed, and a network would need weights we cannot download.

Definitions, for frames f_t (T, 3, H, W) in [0, 1] and luma Y = 0.299 R + 0.587 G + 0.114 B:

- brightness flicker = mean_t |mean_x Y_{t+1} - mean_x Y_t|;
- low-pass flicker   = mean_t mean_{x,c} |L(f_{t+1}) - L(f_t)|, L = area downsampling by 8
  (so fine motion barely counts, global colour pulses do);
- flow F_t maps pixel x of frame t to x + F_t(x) in frame t+1 (pixels); the warping error is
  sum_t sum_x M_t(x) mean_c |f_t(x) - f_{t+1}(x + F_t(x))| / sum_t sum_x M_t(x), where M_t
  keeps pixels whose target lies inside the frame and that pass the forward-backward check
  |F_t(x) + B_t(x + F_t(x))|^2 < 0.01 (|F_t|^2 + |B_t|^2) + 0.5 (B_t: flow from t+1 to t),
  which drops occluded pixels;
- motion magnitude = mean_{t,x} |F_t(x)|, in pixels of the original video per frame.

Flow and warping error are computed on frames area-downsampled to `FlowConfig.max_side`
(128 px) on the long side; motion is scaled back to the original pixels.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

LUMA = (0.299, 0.587, 0.114)
LOWPASS_FACTOR = 8


@dataclass(frozen=True)
class FlowConfig:
    """Pyramidal Lucas-Kanade settings."""

    window: int = 9  # side of the (box) window the normal equations are summed over
    iterations: int = 5  # Gauss-Newton steps per pyramid level
    min_level_side: int = 12  # the coarsest level keeps at least this many pixels a side
    max_levels: int = 5
    regularisation: float = 1e-5  # added to the structure tensor: no flow where no texture
    max_side: int = 128  # frames are area-downsampled to this long side before estimating


@dataclass(frozen=True)
class TemporalMetrics:
    brightness_flicker: float
    lowpass_flicker: float
    warping_error: float
    warping_valid_fraction: float
    motion_magnitude: float
    frames: int

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)


def luma(frames: Tensor) -> Tensor:
    """(N, 3, H, W) -> (N, 1, H, W)."""
    weights = frames.new_tensor(LUMA)[None, :, None, None]
    return (frames * weights).sum(dim=1, keepdim=True)


def brightness_flicker(frames: Tensor) -> float:
    if frames.shape[0] < 2:
        return 0.0
    means = luma(frames).mean(dim=(1, 2, 3))
    return float((means[1:] - means[:-1]).abs().mean())


def lowpass_flicker(frames: Tensor, factor: int = LOWPASS_FACTOR) -> float:
    if frames.shape[0] < 2:
        return 0.0
    height, width = frames.shape[-2:]
    size = (max(1, height // factor), max(1, width // factor))
    low = F.interpolate(frames, size=size, mode="area")
    return float((low[1:] - low[:-1]).abs().mean())


# --- optical flow -----------------------------------------------------------------------------


def pixel_grid(height: int, width: int, like: Tensor) -> Tensor:
    """(1, 2, H, W) pixel coordinates (x, y) of each pixel."""
    ys, xs = torch.meshgrid(
        torch.arange(height, dtype=like.dtype, device=like.device),
        torch.arange(width, dtype=like.dtype, device=like.device),
        indexing="ij",
    )
    return torch.stack([xs, ys])[None]


def warp(image: Tensor, flow: Tensor) -> tuple[Tensor, Tensor]:
    """Sample `image` (N, C, H, W) at x + flow(x); returns it and where that lies inside."""
    height, width = image.shape[-2:]
    target = pixel_grid(height, width, flow) + flow
    slack = 1e-3  # a flow of 1e-8 px at the last column still lands on it
    valid = (
        (target[:, 0] >= -slack)
        & (target[:, 0] <= width - 1 + slack)
        & (target[:, 1] >= -slack)
        & (target[:, 1] <= height - 1 + slack)
    )
    normalised = torch.stack(
        [
            2 * target[:, 0] / max(width - 1, 1) - 1,
            2 * target[:, 1] / max(height - 1, 1) - 1,
        ],
        dim=-1,
    )
    warped = F.grid_sample(
        image, normalised, mode="bilinear", padding_mode="border", align_corners=True
    )
    return warped, valid[:, None]


def _smooth(image: Tensor) -> Tensor:
    """3x3 binomial blur (replicate borders): steadier derivatives."""
    kernel = image.new_tensor([1.0, 2.0, 1.0])
    kernel = (kernel[:, None] * kernel[None, :] / 16.0)[None, None]
    return F.conv2d(F.pad(image, (1, 1, 1, 1), mode="replicate"), kernel)


def _gradients(image: Tensor) -> tuple[Tensor, Tensor]:
    """Central differences (one-sided at borders), (N, 1, H, W) each."""
    padded = F.pad(image, (1, 1, 1, 1), mode="replicate")
    dx = (padded[..., 1:-1, 2:] - padded[..., 1:-1, :-2]) / 2
    dy = (padded[..., 2:, 1:-1] - padded[..., :-2, 1:-1]) / 2
    return dx, dy


def _window_mean(image: Tensor, window: int) -> Tensor:
    return F.avg_pool2d(image, window, stride=1, padding=window // 2, count_include_pad=False)


def _refine(source: Tensor, target: Tensor, flow: Tensor, config: FlowConfig) -> Tensor:
    """Gauss-Newton Lucas-Kanade steps at one level, starting from `flow`.

    Each pixel solves the 2x2 normal equations summed over its window, counting only window
    pixels whose target lies inside the frame (border padding would pull the flow to zero),
    then the flow is averaged over the same window: without that, neighbouring pixels'
    estimates disagree with the shared-shift model of their windows and the iteration diverges.
    """
    window = config.window if config.window % 2 else config.window + 1
    source_dx, source_dy = _gradients(source)
    for _ in range(config.iterations):
        warped, inside = warp(target, flow)
        warped_dx, warped_dy = _gradients(warped)
        # The mean of both images' gradients converges faster than either alone.
        gx, gy = (source_dx + warped_dx) / 2, (source_dy + warped_dy) / 2
        difference = warped - source
        weight = inside.to(source.dtype)
        sxx = _window_mean(gx * gx * weight, window) + config.regularisation
        syy = _window_mean(gy * gy * weight, window) + config.regularisation
        sxy = _window_mean(gx * gy * weight, window)
        bx = _window_mean(gx * difference * weight, window)
        by = _window_mean(gy * difference * weight, window)
        determinant = sxx * syy - sxy * sxy
        step = torch.cat(
            [-(syy * bx - sxy * by) / determinant, -(sxx * by - sxy * bx) / determinant], dim=1
        )
        # A step of more than a pixel at one level is outside where the linearisation holds.
        flow = _window_mean(flow + step.clamp(-1.0, 1.0), window)
    return flow


def estimate_flow(source: Tensor, target: Tensor, config: FlowConfig | None = None) -> Tensor:
    """Dense flow (N, 2, H, W) in pixels with source(x) ~ target(x + flow(x)); inputs (N,1,H,W)."""
    config = config or FlowConfig()
    height, width = source.shape[-2:]
    levels = 1
    while levels < config.max_levels and min(height, width) / 2**levels >= config.min_level_side:
        levels += 1
    pyramid = [(_smooth(source), _smooth(target))]
    for _ in range(levels - 1):
        coarse_source, coarse_target = pyramid[-1]
        pyramid.append((F.avg_pool2d(coarse_source, 2), F.avg_pool2d(coarse_target, 2)))
    flow = source.new_zeros(source.shape[0], 2, *pyramid[-1][0].shape[-2:])
    for level_source, level_target in reversed(pyramid):
        level_height, level_width = level_source.shape[-2:]
        if flow.shape[-2:] != (level_height, level_width):
            scale = flow.new_tensor([level_width / flow.shape[-1], level_height / flow.shape[-2]])
            flow = F.interpolate(
                flow, size=(level_height, level_width), mode="bilinear", align_corners=False
            )
            flow = flow * scale[None, :, None, None]
        flow = _refine(level_source, level_target, flow, config)
    return flow


def consistent_flow_mask(forward: Tensor, backward: Tensor) -> Tensor:
    """Pixels (N, 1, H, W) whose forward flow the backward flow undoes (not occluded)."""
    backward_at_target, inside = warp(backward, forward)
    mismatch = (forward + backward_at_target).square().sum(dim=1, keepdim=True)
    scale = forward.square().sum(1, keepdim=True) + backward_at_target.square().sum(1, keepdim=True)
    return inside & (mismatch < 0.01 * scale + 0.5)


def working_frames(frames: Tensor, max_side: int) -> tuple[Tensor, float]:
    """Frames area-downsampled so the long side is at most `max_side`, and the scale used."""
    height, width = frames.shape[-2:]
    scale = min(1.0, max_side / max(height, width))
    if scale == 1.0:
        return frames, 1.0
    size = (max(1, round(height * scale)), max(1, round(width * scale)))
    return F.interpolate(frames, size=size, mode="area"), size[1] / width


def flow_metrics(frames: Tensor, config: FlowConfig | None = None) -> tuple[float, float, float]:
    """(warping error, valid fraction, motion magnitude in original pixels per frame)."""
    config = config or FlowConfig()
    if frames.shape[0] < 2:
        return 0.0, 0.0, 0.0
    small, scale = working_frames(frames.float(), config.max_side)
    gray = luma(small)
    earlier, later = gray[:-1], gray[1:]
    both = estimate_flow(torch.cat([earlier, later]), torch.cat([later, earlier]), config)
    forward, backward = both.split(earlier.shape[0])
    mask = consistent_flow_mask(forward, backward)
    warped, _ = warp(small[1:], forward)
    error = (warped - small[:-1]).abs().mean(dim=1, keepdim=True)
    kept = mask.float()
    valid = float(kept.mean())
    warping_error = float((error * kept).sum() / kept.sum()) if valid > 0 else math.nan
    motion = float(forward.norm(dim=1).mean()) / scale
    return warping_error, valid, motion


def temporal_metrics(frames: Tensor, config: FlowConfig | None = None) -> TemporalMetrics:
    """Every temporal metric of one video (T, 3, H, W) in [0, 1]."""
    if frames.ndim != 4 or frames.shape[1] != 3:
        raise ValueError(f"frames must be (T, 3, H, W), got {tuple(frames.shape)}")
    frames = frames.float()
    if frames.shape[0] < 2:  # one frame has no temporal behaviour to measure
        return TemporalMetrics(math.nan, math.nan, math.nan, 0.0, math.nan, int(frames.shape[0]))
    warping_error, valid, motion = flow_metrics(frames, config)
    return TemporalMetrics(
        brightness_flicker=brightness_flicker(frames),
        lowpass_flicker=lowpass_flicker(frames),
        warping_error=warping_error,
        warping_valid_fraction=valid,
        motion_magnitude=motion,
        frames=int(frames.shape[0]),
    )
