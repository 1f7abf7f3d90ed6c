"""Video files: H.264 mp4 writing (atomic) and reading, through imageio-ffmpeg's bundled ffmpeg."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from t2v.errors import T2VError


def write_video(path: str | Path, frames: torch.Tensor, fps: float, crf: int = 18) -> Path:
    """Write frames `(T, 3, H, W)` in [0, 1] as H.264/yuv420p; replaces `path` only when done.

    yuv420p needs even sides, which is what every player expects; odd sides are refused
    rather than silently cropped.
    """
    import imageio_ffmpeg

    if frames.ndim != 4 or frames.shape[1] != 3:
        raise ValueError(f"frames must be (T, 3, H, W), got {tuple(frames.shape)}")
    count, _, height, width = frames.shape
    if count == 0:
        raise ValueError("no frames to write")
    if height % 2 or width % 2:
        raise T2VError(f"video size {width}x{height} must have even sides for H.264")
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.stem}.partial{target.suffix}")
    pixels = (frames.detach().float().clamp(0, 1) * 255).round().to(torch.uint8)
    pixels = pixels.permute(0, 2, 3, 1).contiguous().cpu().numpy()
    writer = imageio_ffmpeg.write_frames(
        str(partial),
        (width, height),
        fps=float(fps),
        codec="libx264",
        pix_fmt_out="yuv420p",
        macro_block_size=1,
        output_params=["-crf", str(crf), "-preset", "medium"],
        ffmpeg_log_level="error",
    )
    writer.send(None)
    for frame in pixels:
        writer.send(frame.tobytes())
    writer.close()
    os.replace(partial, target)  # readers never see a half-written video
    return target


def read_video(path: str | Path) -> tuple[torch.Tensor, float]:
    """Decode a video into frames `(T, 3, H, W)` in [0, 1] and its frame rate."""
    import imageio_ffmpeg

    source = Path(path)
    if not source.is_file():
        raise T2VError(f"video {source} does not exist")
    try:
        reader = imageio_ffmpeg.read_frames(str(source))
        meta = next(reader)
        width, height = meta["size"]
        frames = [np.frombuffer(chunk, np.uint8).reshape(height, width, 3) for chunk in reader]
    except (RuntimeError, OSError, StopIteration) as error:
        raise T2VError(f"video {source} cannot be decoded ({error})") from None
    if not frames:
        raise T2VError(f"video {source} holds no frames")
    stacked = torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).float() / 255.0
    return stacked, float(meta["fps"])
