"""Video files: H.264 mp4 writing (atomic) and reading, through imageio-ffmpeg's bundled ffmpeg.

`read_video` returns every frame and the frame rate; `read_clip` returns frames resampled to a
count and size (datasets, evaluators). Both decode through `_decoder`, and a missing or
undecodable file is one `T2VError` line naming the file.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

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
    """Every frame of a video `(T, 3, H, W)` in [0, 1], and its frame rate."""
    source = _existing(path)
    with _decoder(source) as (fps, decoded):
        frames = list(decoded)
    return _to_tensor(source, frames), fps


def read_clip(
    path: str | Path,
    frames: int | None = None,
    height: int | None = None,
    width: int | None = None,
) -> torch.Tensor:
    """A video as `(frames, 3, height, width)` in [0, 1]: `frames` evenly spaced frames (the
    nearest ones repeated when the video is shorter), resized to `height` x `width`; a None
    keeps the video's own count or side."""
    source = _existing(path)
    with _decoder(source) as (_, decoded):
        if frames is None:
            kept = list(decoded)
        else:
            # Count first and keep only the frames wanted: a long video never sits in memory.
            wanted = _evenly_spaced(_frame_count(source), frames)
            kept = [frame for index, frame in enumerate(decoded) if index in wanted]
    if frames is not None and 0 < len(kept) < frames:
        picks = np.linspace(0, len(kept) - 1, frames).round().astype(int)
        kept = [kept[i] for i in picks]
    return resize_video(_to_tensor(source, kept), height, width)


def resize_video(video: torch.Tensor, height: int | None, width: int | None) -> torch.Tensor:
    """Resize `(T, 3, h, w)` to `(T, 3, height, width)` (antialiased when shrinking); a None
    keeps that side."""
    if height is None and width is None:
        return video
    size = (height or video.shape[-2], width or video.shape[-1])
    if tuple(video.shape[-2:]) == size:
        return video
    resized = F.interpolate(video, size=size, mode="bilinear", antialias=True, align_corners=False)
    return resized.clamp(0.0, 1.0)


def _existing(path: str | Path) -> Path:
    source = Path(path)
    if not source.is_file():
        raise T2VError(f"video {source} does not exist")
    return source


@contextlib.contextmanager
def _decoder(source: Path) -> Iterator[tuple[float, Iterator[np.ndarray]]]:
    """The frame rate and the frames `(H, W, 3)` uint8 as ffmpeg decodes them; ffmpeg's
    failures (a multi-line log) inside the block become one line naming the file."""
    import imageio_ffmpeg

    reader = imageio_ffmpeg.read_frames(str(source))
    try:
        meta = next(reader)
        width, height = meta["size"]
        frames = (np.frombuffer(chunk, np.uint8).reshape(height, width, 3) for chunk in reader)
        yield float(meta["fps"]), frames
    except (RuntimeError, OSError, StopIteration) as error:
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        reason = lines[-1] if lines else type(error).__name__
        raise T2VError(f"video {source} cannot be decoded ({reason})") from None
    finally:
        reader.close()  # stops ffmpeg when the caller leaves early


def _frame_count(source: Path) -> int:
    import imageio_ffmpeg

    return imageio_ffmpeg.count_frames_and_secs(str(source))[0]


def _evenly_spaced(total: int, frames: int) -> set[int]:
    if total <= frames:
        return set(range(total))
    return {int(i) for i in np.linspace(0, total - 1, frames).round()}


def _to_tensor(source: Path, frames: list[np.ndarray]) -> torch.Tensor:
    if not frames:
        raise T2VError(f"video {source} holds no frames")
    return torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).float() / 255.0
