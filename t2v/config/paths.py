"""Folders a command will write: refused at the door when they cannot be made or written."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from t2v.errors import ConfigError


def check_writable_folder(key: str, path: Path) -> None:
    """`path` is, or can be made, a writable folder: its nearest existing part is a folder
    this process may write to."""
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(f"{key} {path} cannot be a folder: {existing} is a file")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(f"{key} {path} cannot be written: {existing} is not writable")


def unique_runs(run_dir: str | None, run_dirs: Sequence[str]) -> list[Path]:
    """The run folders a command was given, each once (by resolved path), `run_dir` first."""
    unique: list[Path] = []
    for item in map(Path, ([run_dir] if run_dir else []) + list(run_dirs)):
        if item.resolve() not in {d.resolve() for d in unique}:
            unique.append(item)
    return unique
