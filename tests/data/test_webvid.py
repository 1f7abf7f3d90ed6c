"""WebVidDataset: CSV + mp4 files written here with imageio; resampling and clear errors."""

from pathlib import Path

import imageio.v2 as imageio
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from t2v.data.webvid import WebVidDataset
from t2v.errors import ConfigError, T2VError


def _write_ramp(path: Path, frames: int = 12, height: int = 48, width: int = 64) -> Path:
    """Brightness rises with the frame index; the left half is red, the right half grey."""
    with imageio.get_writer(str(path), "ffmpeg", fps=12, macro_block_size=1) as writer:
        for index in range(frames):
            level = int(40 + 160 * index / (frames - 1))
            frame = np.full((height, width, 3), level, dtype=np.uint8)
            frame[:, : width // 2] = (220, 30, 30)
            writer.append_data(frame)
    return path


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "clips").mkdir()
    _write_ramp(tmp_path / "clips" / "a.mp4")
    _write_ramp(tmp_path / "b.mp4", frames=5)
    rows = [
        "caption,path,genre",
        "a red wall beside a brightening one,clips/a.mp4,noir",
        f"short clip,{tmp_path / 'b.mp4'},",
    ]
    (tmp_path / "videos.csv").write_text("\n".join(rows) + "\n")
    return tmp_path


def test_items_are_resampled_and_match_the_procedural_layout(folder: Path) -> None:
    dataset = WebVidDataset(folder / "videos.csv", frames=8, height=32, width=32)
    assert len(dataset) == 2
    item = dataset[0]
    assert item["caption"] == "a red wall beside a brightening one"
    assert item["genre"] == "noir"
    assert (item["colour"], item["shape"], item["motion"]) == ("", "", "")
    video = item["video"]
    assert video.shape == (8, 3, 32, 32)
    red = video[:, :, :, :12].mean(dim=(0, 2, 3))
    assert red[0] > 0.75 and red[1] < 0.25 and red[2] < 0.25
    grey = video[:, 1, :, 20:].mean(dim=(1, 2))
    # First and last kept frames are the first and last decoded ones (40/255 and 200/255).
    assert abs(float(grey[0]) - 40 / 255) < 0.05
    assert abs(float(grey[-1]) - 200 / 255) < 0.05
    assert bool((grey.diff() > 0).all())


def test_short_clips_repeat_frames_and_empty_genre_takes_the_default(folder: Path) -> None:
    item = WebVidDataset(folder / "videos.csv", frames=8)[1]
    assert item["genre"] == "none"
    assert item["video"].shape[0] == 8
    grey = item["video"][:, 1, :, 20:].mean(dim=(1, 2))
    assert bool((grey.diff() >= -0.01).all()) and float(grey[-1] - grey[0]) > 0.5


def test_batches_through_a_dataloader(folder: Path) -> None:
    loader = DataLoader(WebVidDataset(folder / "videos.csv"), batch_size=2)
    batch = next(iter(loader))
    assert batch["video"].shape == (2, 8, 3, 32, 32)
    assert batch["genre"] == ["noir", "none"]
    assert isinstance(batch["video"], torch.Tensor)


def test_configurable_columns_and_missing_genre_column(tmp_path: Path) -> None:
    _write_ramp(tmp_path / "c.mp4")
    (tmp_path / "webvid.csv").write_text("videoid,name,page_dir\nc.mp4,a clip,x\n")
    dataset = WebVidDataset(tmp_path / "webvid.csv", caption_column="name", path_column="videoid")
    assert dataset[0]["caption"] == "a clip" and dataset[0]["genre"] == "none"


def test_missing_csv_column_file_and_unreadable_video_are_one_line_errors(
    folder: Path, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match="CSV not found"):
        WebVidDataset(tmp_path / "nope.csv")
    with pytest.raises(ConfigError, match="no column 'text'"):
        WebVidDataset(folder / "videos.csv", caption_column="text")
    (tmp_path / "missing.csv").write_text("caption,path\nx,gone.mp4\n")
    with pytest.raises(ConfigError, match=r"line 2: video file not found: .*gone\.mp4"):
        WebVidDataset(tmp_path / "missing.csv")
    (tmp_path / "broken.mp4").write_bytes(b"this is not a video")
    (tmp_path / "broken.csv").write_text("caption,path\nx,broken.mp4\n")
    dataset = WebVidDataset(tmp_path / "broken.csv")
    with pytest.raises(T2VError, match=r"video .*broken\.mp4 cannot be decoded") as error:
        dataset[0]
    assert "\n" not in str(error.value)
    (tmp_path / "genre.csv").write_text("caption,path,genre\nx,b.mp4,opera\n")
    with pytest.raises(ConfigError, match="genre 'opera' is unknown"):
        WebVidDataset(tmp_path / "genre.csv", check_files=False)
