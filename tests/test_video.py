"""H.264 round trip: the frame count, size, rate and pixels come back."""

from pathlib import Path

import pytest
import torch

from t2v.errors import T2VError
from t2v.video import read_video, write_video


def test_round_trip_keeps_count_size_fps_and_colours(tmp_path: Path) -> None:
    frames = torch.zeros(12, 3, 32, 48)
    frames[:, 0] = torch.linspace(0, 1, 12)[:, None, None]  # red ramps up over time
    frames[:, 2, :, 24:] = 1.0  # right half blue
    path = write_video(tmp_path / "clip.mp4", frames, fps=6)
    decoded, fps = read_video(path)
    assert decoded.shape == (12, 3, 32, 48)
    assert fps == pytest.approx(6.0)
    # H.264 at crf 18 with 4:2:0 chroma: flat regions come back within a few levels.
    centre = (slice(None), slice(None), slice(8, 24), slice(4, 20))
    assert torch.allclose(decoded[centre].mean((2, 3)), frames[centre].mean((2, 3)), atol=0.04)
    assert decoded[:, 2, 8:24, 30:44].mean() > 0.9
    assert not list(tmp_path.glob(".*partial*"))


def test_odd_sizes_and_missing_files_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(T2VError, match="even sides"):
        write_video(tmp_path / "odd.mp4", torch.zeros(2, 3, 31, 32), fps=8)
    with pytest.raises(T2VError, match="does not exist"):
        read_video(tmp_path / "missing.mp4")
    (tmp_path / "junk.mp4").write_bytes(b"not a video")
    with pytest.raises(T2VError, match=r"cannot be decoded|holds no frames"):
        read_video(tmp_path / "junk.mp4")
