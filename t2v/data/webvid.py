"""Real video-text data in the WebVid layout: a CSV of captions and video paths (+ genre).

Column names are configurable (WebVid itself calls the caption `name`); paths are absolute
or relative to the CSV's folder. Items match the procedural dataset's; attributes that a
real clip does not state (colour, shape, motion) are "".
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from torch.utils.data import Dataset

from t2v.data.looks import GENRES
from t2v.errors import ConfigError
from t2v.video import read_clip


class WebVidDataset(Dataset):
    """Map-style dataset over the rows of a caption/video CSV; videos decode on access."""

    def __init__(
        self,
        csv_path: str | Path,
        frames: int = 8,
        height: int = 32,
        width: int = 32,
        caption_column: str = "caption",
        path_column: str = "path",
        genre_column: str | None = "genre",
        default_genre: str = "none",
        check_files: bool = True,
    ) -> None:
        self.csv_path = Path(csv_path)
        self.frames, self.height, self.width = frames, height, width
        if default_genre not in GENRES:
            raise ConfigError(
                f"default_genre '{default_genre}' is unknown; known: {', '.join(GENRES)}"
            )
        self.rows = _read_rows(
            self.csv_path, caption_column, path_column, genre_column, default_genre
        )
        if check_files:
            for number, (_, path, _) in enumerate(self.rows, start=2):
                if not path.is_file():
                    raise ConfigError(
                        f"{self.csv_path} line {number}: video file not found: {path}"
                    )

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> dict[str, Any]:
        caption, path, genre = self.rows[index]
        return {
            "video": read_clip(path, self.frames, self.height, self.width),
            "caption": caption,
            "genre": genre,
            "colour": "",
            "shape": "",
            "motion": "",
        }


def _read_rows(
    csv_path: Path,
    caption_column: str,
    path_column: str,
    genre_column: str | None,
    default_genre: str,
) -> list[tuple[str, Path, str]]:
    if not csv_path.is_file():
        raise ConfigError(f"video-text CSV not found: {csv_path}")
    with csv_path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        columns = reader.fieldnames or []
        for needed in (caption_column, path_column):
            if needed not in columns:
                raise ConfigError(
                    f"{csv_path} has no column '{needed}' (columns: {', '.join(columns) or 'none'})"
                )
        has_genre = genre_column is not None and genre_column in columns
        rows = []
        for number, row in enumerate(reader, start=2):
            genre = (row.get(genre_column) or "").strip() if has_genre else ""
            genre = genre or default_genre
            if genre not in GENRES:
                raise ConfigError(
                    f"{csv_path} line {number}: genre '{genre}' is unknown; "
                    f"known: {', '.join(GENRES)}"
                )
            path = Path((row[path_column] or "").strip())
            if not path.is_absolute():
                path = csv_path.parent / path
            rows.append(((row[caption_column] or "").strip(), path, genre))
    if not rows:
        raise ConfigError(f"{csv_path} lists no videos")
    return rows
