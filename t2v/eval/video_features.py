"""Measurements of a clip for the attribute evaluator: object mask, hue, track, global look.

Works on `(T, 3, H, W)` in [0, 1]. The object is found by colour: scenes put a saturated
object in front of a muted background, so chroma relative to the clip's typical colour
separates the two under every genre grade (tints shift both, desaturation scales both).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

LUMA = (0.299, 0.587, 0.114)


def opponent(video: torch.Tensor) -> torch.Tensor:
    """Red-green / yellow-blue opponent axes `(T, 2, H, W)`; hue is their angle (red = 0°)."""
    red, green, blue = video.unbind(dim=1)
    return torch.stack([red - (green + blue) / 2, (green - blue) * math.sqrt(3) / 2], dim=1)


def luma(video: torch.Tensor) -> torch.Tensor:
    return (video * video.new_tensor(LUMA).view(1, 3, 1, 1)).sum(dim=1)


def _smooth(images: torch.Tensor) -> torch.Tensor:
    return F.avg_pool2d(images, 3, stride=1, padding=1, count_include_pad=False)


@dataclass(frozen=True)
class ObjectTrack:
    """Where the object is: mask `(T, H, W)`, centroid and size `(T,)` in image units."""

    mask: torch.Tensor
    x: torch.Tensor  # 0 = left edge, 1 = right edge
    y: torch.Tensor  # 0 = top edge, 1 = bottom edge
    size: torch.Tensor  # radius of gyration of the mask, in image units
    hue_vector: torch.Tensor  # mean opponent colour of the object relative to the background (2,)


def track_object(video: torch.Tensor) -> ObjectTrack:
    """Segment the most colourful region of each frame; follow its centroid and size."""
    height, width = video.shape[-2:]
    # Chromaticity (colour over brightness) makes a multiplicative tint a constant offset,
    # which subtracting the clip's median colour then removes.
    colour = opponent(video) / (luma(video)[:, None] + 0.35)
    background = colour.permute(1, 0, 2, 3).reshape(2, -1).median(dim=1).values.view(1, 2, 1, 1)
    relative = _smooth(colour - background)
    chroma = relative.norm(dim=1)
    # Per-frame thresholds follow flicker; the clip-wide floor stops a frame without an
    # object from promoting noise.
    frame_peak = torch.quantile(chroma.flatten(1), 0.995, dim=1)
    clip_peak = frame_peak.max()
    threshold = torch.maximum(0.45 * frame_peak, 0.25 * clip_peak).clamp(min=0.05)
    mask = (chroma > threshold.view(-1, 1, 1)).float()
    cols = (torch.arange(width, dtype=video.dtype) + 0.5) / width
    rows = (torch.arange(height, dtype=video.dtype) + 0.5) / height
    count = mask.sum(dim=(1, 2))
    x = (mask.sum(dim=1) * cols).sum(-1) / count.clamp(min=1)
    y = (mask.sum(dim=2) * rows).sum(-1) / count.clamp(min=1)
    x, y = _fill_gaps(x, count), _fill_gaps(y, count)
    # Size as the radius of gyration: unlike the area it ignores holes (a ring's centre
    # fills in when small and opens when large).
    spread_x = (mask.sum(dim=1) * (cols - x[:, None]) ** 2).sum(-1)
    spread_y = (mask.sum(dim=2) * (rows - y[:, None]) ** 2).sum(-1)
    size = ((spread_x + spread_y) / count.clamp(min=1)).sqrt()
    size = _fill_gaps(size, count)
    weights = mask[:, None]
    hue_vector = (relative * weights).sum(dim=(0, 2, 3)) / weights.sum().clamp(min=1)
    return ObjectTrack(mask=mask, x=x, y=y, size=size, hue_vector=hue_vector)


def _fill_gaps(values: torch.Tensor, count: torch.Tensor) -> torch.Tensor:
    """Frames where nothing was found take the nearest found frame's value."""
    found = (count > 0).nonzero().flatten()
    if len(found) == 0 or len(found) == len(values):
        return values if len(found) else torch.full_like(values, 0.5)
    index = torch.arange(len(values))
    nearest = found[(index[:, None] - found[None, :]).abs().argmin(dim=1)]
    return values[nearest]


def hue_degrees(vector: torch.Tensor) -> float:
    return math.degrees(math.atan2(float(vector[1]), float(vector[0]))) % 360.0


@dataclass(frozen=True)
class MotionFeatures:
    """Screen-space motion of the tracked object, in fractions of the frame size."""

    dx: float  # net horizontal displacement, + = right
    dy: float  # net vertical displacement, + = up (image rows decrease)
    vertical_range: float  # largest minus smallest height reached
    rise_then_fall: float  # how far the middle frames sit above both ends (bounce)
    log_size_ratio: float  # log(end size / start size)
    silhouette_change: float  # 1 - IoU of consecutive masks (spin of a non-round shape)
    pattern_change: float  # change of the brightness pattern inside the object (spin)
    speed: float  # mean per-frame centroid step


def motion_features(video: torch.Tensor, track: ObjectTrack) -> MotionFeatures:
    ends = max(1, len(track.x) // 4)
    x_start, x_end = track.x[:ends].mean(), track.x[-ends:].mean()
    up = 1.0 - track.y  # height above the bottom edge
    up_start, up_end = up[:ends].mean(), up[-ends:].mean()
    size_start = track.size[:ends].mean().clamp(min=1e-3)
    size_end = track.size[-ends:].mean().clamp(min=1e-3)
    steps = torch.stack([track.x.diff(), track.y.diff()], dim=-1).norm(dim=-1)
    return MotionFeatures(
        dx=float(x_end - x_start),
        dy=float(up_end - up_start),
        vertical_range=float(up.max() - up.min()),
        rise_then_fall=float(up.max() - torch.maximum(up_start, up_end)),
        log_size_ratio=float(torch.log(size_end / size_start)),
        silhouette_change=_silhouette_change(track.mask),
        pattern_change=_pattern_change(video, track.mask),
        speed=float(steps.mean()),
    )


def _silhouette_change(mask: torch.Tensor) -> float:
    if len(mask) < 2:
        return 0.0
    overlap = (mask[1:] * mask[:-1]).sum(dim=(1, 2))
    union = torch.maximum(mask[1:], mask[:-1]).sum(dim=(1, 2)).clamp(min=1.0)
    return float(1.0 - (overlap / union).mean())


def _pattern_change(video: torch.Tensor, mask: torch.Tensor) -> float:
    """How much more the object's pixels change between frames than the background's.

    Luma is smoothed (grain averages out), each frame difference loses its background
    median (flicker is a uniform offset), and the background's remaining change (the noise
    floor) is subtracted from the object's.
    """
    if len(video) < 2:
        return 0.0
    pattern = _smooth(luma(video)[:, None])[:, 0]
    grown = F.max_pool2d(mask[:, None], 5, stride=1, padding=2)[:, 0]
    still = ((1 - grown[1:]) * (1 - grown[:-1])).bool()
    both = (mask[1:] * mask[:-1]).bool()
    change = pattern[1:] - pattern[:-1]
    offsets = torch.stack(
        [c[s].median() if s.any() else c.median() for c, s in zip(change, still, strict=True)]
    )
    change = (change - offsets.view(-1, 1, 1)).abs()
    noise = _masked_mean(change, still)
    return float(_masked_mean(change, both) - noise)


_LINEAR_FEATURES = (
    "luma_mean",
    "luma_std",
    "luma_p05",
    "luma_p95",
    "dark_fraction",
    "chroma_mean",
    "object_saturation",
    "background_chroma",
    "tint_red_green",
    "tint_yellow_blue",
    "flicker",
    "temporal_noise",
    "spatial_detail",
    "outline",
    "vignette",
    "sparkles",
    "object_contrast",
    "background_flatness",
    "speed",
)
# Small positive statistics that are ~0 for one look and small for another (grain, flicker,
# outlines, ...) also enter on a log scale, where a linear model can separate them.
_LOG_FEATURES = (
    "temporal_noise",
    "spatial_detail",
    "flicker",
    "sparkles",
    "outline",
    "dark_fraction",
    "background_flatness",
    "speed",
    "object_saturation",
    "background_chroma",
)
GENRE_FEATURES = _LINEAR_FEATURES + tuple(f"log_{name}" for name in _LOG_FEATURES)


def genre_features(video: torch.Tensor, track: ObjectTrack, speed: float) -> torch.Tensor:
    """Global look statistics `(len(GENRE_FEATURES),)`: brightness, contrast, colour, texture."""
    brightness = luma(video)  # (T, H, W)
    colour = opponent(video)
    chroma = colour.norm(dim=1)
    object_mask = track.mask > 0
    background = ~F.max_pool2d(track.mask[:, None], 5, stride=1, padding=2)[:, 0].bool()
    if background.sum() < 16:
        background = ~object_mask
    flat = brightness.flatten()
    frame_means = brightness.mean(dim=(1, 2))
    # Flicker: frame brightness jumps that a smooth brightness trend does not explain.
    flicker = (frame_means[1:-1] - (frame_means[:-2] + frame_means[2:]) / 2).abs().mean()
    temporal = (brightness[1:] - brightness[:-1]).abs()
    still = background[1:] & background[:-1]
    detail = (brightness - _smooth(brightness[:, None])[:, 0]).abs()
    ring = F.max_pool2d(track.mask[:, None], 3, stride=1, padding=1)[:, 0] - track.mask
    outline = _masked_mean((brightness < 0.15).float(), ring.bool())
    height, width = brightness.shape[-2:]
    corner = max(2, height // 8)
    corners = torch.cat(
        [
            brightness[:, :corner, :corner].flatten(1),
            brightness[:, :corner, -corner:].flatten(1),
            brightness[:, -corner:, :corner].flatten(1),
            brightness[:, -corner:, -corner:].flatten(1),
        ],
        dim=1,
    ).mean()
    centre = brightness[:, height // 4 : -height // 4, width // 4 : -width // 4].mean()
    sparkle = (brightness - _smooth(brightness[:, None])[:, 0]) > 0.2
    sparkle &= chroma < 0.15
    object_luma = _masked_mean(brightness, object_mask)
    background_luma = _masked_mean(brightness, background)
    local_std = _smooth(brightness[:, None] ** 2)[:, 0] - _smooth(brightness[:, None])[:, 0] ** 2
    values = [
        flat.mean(),
        flat.std(),
        torch.quantile(flat, 0.05),
        torch.quantile(flat, 0.95),
        (flat < 0.08).float().mean(),
        chroma.mean(),
        _masked_mean(chroma, object_mask) / object_luma.clamp(min=0.05),
        _masked_mean(chroma, background),
        _masked_mean(colour[:, 0], background),
        _masked_mean(colour[:, 1], background),
        flicker / frame_means.mean().clamp(min=0.02),
        _masked_mean(temporal, still),
        _masked_mean(detail, background),
        outline,
        corners / centre.clamp(min=0.02),
        sparkle.float().mean() * 100,
        object_luma - background_luma,
        _masked_mean((local_std.clamp(min=0).sqrt() < 0.01).float(), background),
        torch.tensor(speed),
    ]
    linear = torch.stack([torch.as_tensor(v, dtype=torch.float32) for v in values])
    picked = linear[[_LINEAR_FEATURES.index(name) for name in _LOG_FEATURES]]
    return torch.cat([linear, torch.log1p(100 * picked.clamp(min=0.0))])


def _masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    mask = mask.to(values.dtype)
    return (values * mask).sum() / mask.sum().clamp(min=1.0)
