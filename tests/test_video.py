"""H.264 round trip: the frame count, size, rate and pixels come back; clips resample."""

from pathlib import Path

import pytest
import torch

from t2v.errors import T2VError
from t2v.video import read_clip, read_video, write_video


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
    for read in (read_video, read_clip):
        with pytest.raises(T2VError, match=r"junk\.mp4 cannot be decoded|holds no frames") as error:
            read(tmp_path / "junk.mp4")
        assert "\n" not in str(error.value)  # ffmpeg's log is a page; the user gets one line


def test_clips_take_evenly_spaced_frames_repeat_short_videos_and_resize(tmp_path: Path) -> None:
    levels = torch.linspace(0.1, 0.9, 9)
    frames = levels.view(9, 1, 1, 1).expand(9, 3, 16, 24).clone()
    path = write_video(tmp_path / "ramp.mp4", frames, fps=8)
    whole, _ = read_video(path)
    assert torch.equal(read_clip(path), whole)
    first_middle_last = read_clip(path, frames=3)
    assert torch.equal(first_middle_last, whole[[0, 4, 8]])
    stretched = read_clip(path, frames=17)  # the nearest decoded frames, repeated
    assert torch.equal(stretched, whole[torch.linspace(0, 8, 17).round().long()])
    small = read_clip(path, frames=2, height=8, width=12)
    assert small.shape == (2, 3, 8, 12)
    assert torch.allclose(small.mean((1, 2, 3)), whole[[0, 8]].mean((1, 2, 3)), atol=0.01)
