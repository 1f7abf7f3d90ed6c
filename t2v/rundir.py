"""What a run directory holds, and whether a new run may use it (fresh, resume, or refuse)."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Any

from t2v.errors import RunDirError

CONFIG_FILE = "config.yaml"
VIDEO_FILE = "video.mp4"
METRICS_FILE = "metrics.json"
CHECKPOINT_DIR = "checkpoints"

# Keys that say how a run is executed, not what it produces: they may differ on resume.
EXECUTION_KEYS = frozenset({"run_dir", "trainer", "logger", "hydra", "cache_dir"})
# Files Hydra or a launcher may put into a run dir before the run itself writes anything.
LAUNCH_FILES = frozenset({".hydra", "generate.log", ".submitit"})


class RunDirState(enum.Enum):
    FRESH = "fresh"  # missing or empty: start from scratch
    RESUME = "resume"  # an unfinished run of the same config: continue from its last checkpoint


def run_identity(config: dict[str, Any]) -> dict[str, Any]:
    """The part of a resolved config that decides what a run produces."""
    return {key: value for key, value in config.items() if key not in EXECUTION_KEYS}


def is_finished(run_dir: Path) -> bool:
    return (run_dir / VIDEO_FILE).is_file() and (run_dir / METRICS_FILE).is_file()


def check_run_dir(run_dir: Path, config: dict[str, Any]) -> RunDirState:
    """Decide how `t2v generate` may use `run_dir` for `config` (resolved); never writes."""
    if run_dir.exists() and not run_dir.is_dir():
        raise RunDirError(f"run_dir {run_dir} is a file, not a directory")
    if not run_dir.exists() or not any(run_dir.iterdir()):
        return RunDirState.FRESH
    saved_file = run_dir / CONFIG_FILE
    if not saved_file.is_file():
        foreign = sorted(p.name for p in run_dir.iterdir() if p.name not in LAUNCH_FILES)
        if not foreign:
            return RunDirState.FRESH
        raise RunDirError(
            f"run_dir {run_dir} is not empty and holds no t2v run ({', '.join(foreign[:3])} ...); "
            "pick a new or empty run_dir"
        )
    saved = load_config(saved_file)
    difference = first_difference(run_identity(saved), run_identity(config))
    if difference is not None:
        raise RunDirError(
            f"run_dir {run_dir} holds another run (prompt {saved.get('prompt')!r}, genre "
            f"{_genre_name(saved)!r}; {difference}); pick a new run_dir"
        )
    if is_finished(run_dir):
        raise RunDirError(
            f"run_dir {run_dir} already holds this finished run; re-render it with "
            f"`t2v render run_dir={run_dir}` or pick a new run_dir"
        )
    return RunDirState.RESUME


def load_config(path: Path) -> dict[str, Any]:
    from omegaconf import OmegaConf

    try:
        loaded = OmegaConf.to_container(OmegaConf.load(path), resolve=False)
    except Exception as error:  # any YAML or OmegaConf failure means the same to the user
        raise RunDirError(f"{path} cannot be read as a t2v config ({error})") from None
    if not isinstance(loaded, dict):
        raise RunDirError(f"{path} is not a t2v config (not a mapping)")
    return loaded


def first_difference(old: Any, new: Any, prefix: str = "") -> str | None:
    """A short description of the first key where two nested configs differ, or None."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new), key=str):
            where = f"{prefix}.{key}" if prefix else str(key)
            if key not in old or key not in new:
                return f"{where} is only in {'the new' if key in new else 'the saved'} config"
            found = first_difference(old[key], new[key], where)
            if found is not None:
                return found
        return None
    if old != new:
        return f"{prefix or 'config'} was {old!r}, now {new!r}"
    return None


def _genre_name(config: dict[str, Any]) -> str:
    genre = config.get("genre")
    return str(genre.get("name")) if isinstance(genre, dict) else str(genre)
