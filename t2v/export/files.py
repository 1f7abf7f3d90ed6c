"""Atomic export outputs: a file or a folder built at a hidden partial path, renamed when whole."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_output(path: Path, folder: bool = False) -> Iterator[Path]:
    """Yield a partial path beside `path` to write (a file, or a folder if `folder`); on
    success it becomes `path`, on failure it is removed. `path` must not exist."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    remove(partial)
    if folder:
        partial.mkdir()
    try:
        yield partial
        if path.exists():
            raise FileExistsError(f"{path} appeared while it was being exported")
        os.replace(partial, path)
    finally:
        remove(partial)


def remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()
