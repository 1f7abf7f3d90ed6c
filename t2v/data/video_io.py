"""Read video files into `(T, 3, H, W)` tensors in [0, 1], resampled to a frame count and size."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from t2v.errors import ConfigError


def read_video(
    path: str | Path,
    frames: int | None = None,
    height: int | None = None,
    width: int | None = None,
) -> torch.Tensor:
    """Decode `path` with imageio-ffmpeg; keep `frames` evenly spaced frames, resize to HxW.

    Missing or undecodable files raise ConfigError naming the file.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"video file not found: {path}")
    import imageio.v2 as imageio

    try:
        reader = imageio.get_reader(str(path), "ffmpeg")
        try:
            total = reader.count_frames()
            wanted = _evenly_spaced(total, frames)
            kept = [frame for index, frame in enumerate(reader) if index in wanted]
        finally:
            reader.close()
    except Exception as error:  # imageio raises several types for broken files
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ConfigError(f"cannot read video {path}: {reason}") from None
    if not kept:
        raise ConfigError(f"cannot read video {path}: it holds no frames")
    if frames is not None and len(kept) < frames:
        # Short clips: repeat the nearest decoded frames up to the asked count.
        picks = np.linspace(0, len(kept) - 1, frames).round().astype(int)
        kept = [kept[i] for i in picks]
    video = torch.from_numpy(np.stack(kept)[..., :3]).permute(0, 3, 1, 2).float() / 255.0
    return resize_video(video, height, width)


def resize_video(video: torch.Tensor, height: int | None, width: int | None) -> torch.Tensor:
    """Resize `(T, 3, h, w)` to `(T, 3, height, width)` (antialiased when shrinking)."""
    if height is None and width is None:
        return video
    size = (height or video.shape[-2], width or video.shape[-1])
    if tuple(video.shape[-2:]) == size:
        return video
    resized = F.interpolate(video, size=size, mode="bilinear", antialias=True, align_corners=False)
    return resized.clamp(0.0, 1.0)


def _evenly_spaced(total: int, frames: int | None) -> set[int]:
    if frames is None or total <= frames:
        return set(range(total))
    return {int(i) for i in np.linspace(0, total - 1, frames).round()}


def write_video(path: str | Path, video: torch.Tensor, fps: int = 8) -> Path:
    """Write `(T, 3, H, W)` in [0, 1] as an H.264 mp4 (even sizes are safest for players)."""
    import imageio.v2 as imageio

    path = Path(path)
    frames = (video.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    with imageio.get_writer(str(path), "ffmpeg", fps=fps, macro_block_size=1) as writer:
        for frame in frames:
            writer.append_data(frame)
    return path
