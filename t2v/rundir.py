"""`RunDir`: the layout of a run folder, and whether a new run may use it (fresh, resume, refuse).

```
DIR/config.yaml               the resolved configuration (written first)
DIR/checkpoints/<stage>.pt    the field after each finished stage (the hand-off to the next);
                              generator.pt: the scene generator's field, before the first stage
DIR/checkpoints/<stage>/      Lightning's resume points inside a stage (last.ckpt)
DIR/video.mp4, metrics.json   the result
DIR/media/, logs/             preview videos, the experiment logger's files
DIR/renders/, exports/        what `t2v render` and `t2v export` write
```

Every command that reads or writes a run folder goes through this class.
"""

from __future__ import annotations

import enum
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from t2v.errors import RunDirError
from t2v.stages.spec import HANDOFF_ORDER

if TYPE_CHECKING:
    from t2v.config.generate import GenerateConfig
    from t2v.scene import Scene

# Keys that say how a run is executed, not what it produces: they may differ on resume.
EXECUTION_KEYS = frozenset({"run_dir", "trainer", "logger", "hydra", "cache_dir"})
# Files Hydra or a launcher may put into a run dir before the run itself writes anything.
LAUNCH_FILES = frozenset({".hydra", "generate.log", ".submitit"})


class RunDirState(enum.Enum):
    FRESH = "fresh"  # missing or empty: start from scratch
    RESUME = "resume"  # an unfinished run of the same config: continue from its last checkpoint


class RunDir:
    """One run folder (see the module docstring for its layout)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"RunDir({str(self.root)!r})"

    @property
    def config_file(self) -> Path:
        return self.root / "config.yaml"

    @property
    def video_file(self) -> Path:
        return self.root / "video.mp4"

    @property
    def metrics_file(self) -> Path:
        return self.root / "metrics.json"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def media(self) -> Path:
        return self.root / "media"

    @property
    def renders(self) -> Path:
        return self.root / "renders"

    @property
    def exports(self) -> Path:
        return self.root / "exports"

    def stage_file(self, stage: str) -> Path:
        """The field after `stage`, handed to the next stage."""
        return self.checkpoints / f"{stage}.pt"

    def stage_dir(self, stage: str) -> Path:
        """Lightning's checkpoints inside `stage` (resume points)."""
        return self.checkpoints / stage

    # --- state ------------------------------------------------------------------------

    def holds_run(self) -> bool:
        return self.config_file.is_file()

    def is_finished(self) -> bool:
        return self.video_file.is_file() and self.metrics_file.is_file()

    def finished_stages(self) -> list[str]:
        return [stage for stage in HANDOFF_ORDER if self.stage_file(stage).is_file()]

    def stage_checkpoint(self, stage: str | None = None) -> Path:
        """The field after `stage`, or after the last stage that finished."""
        finished = self.finished_stages()
        if stage is None:
            if not finished:
                raise RunDirError(
                    f"run_dir {self.root} has no finished stage yet (no checkpoints/<stage>.pt)"
                )
            return self.stage_file(finished[-1])
        if stage not in HANDOFF_ORDER:
            raise RunDirError(
                f"stage '{stage}' is unknown; choose one of: {', '.join(HANDOFF_ORDER)}"
            )
        if stage not in finished:
            has = ", ".join(finished) or "none"
            raise RunDirError(
                f"run_dir {self.root} has not finished stage {stage} (finished: {has})"
            )
        return self.stage_file(stage)

    def check_new_run(self, resolved: Mapping[str, Any]) -> RunDirState:
        """How `t2v generate` may use this folder for `resolved` (its configuration); it never
        writes."""
        root = self.root
        if root.exists() and not root.is_dir():
            raise RunDirError(f"run_dir {root} is a file, not a directory")
        if not root.exists() or not any(root.iterdir()):
            return RunDirState.FRESH
        if not self.holds_run():
            foreign = sorted(p.name for p in root.iterdir() if p.name not in LAUNCH_FILES)
            if not foreign:
                return RunDirState.FRESH
            raise RunDirError(
                f"run_dir {root} is not empty and holds no t2v run ({', '.join(foreign[:3])} "
                "...); pick a new or empty run_dir"
            )
        saved = self.read_config()
        difference = first_difference(run_identity(saved), run_identity(dict(resolved)))
        if difference is not None:
            raise RunDirError(
                f"run_dir {root} holds another run (prompt {saved.get('prompt')!r}, genre "
                f"{genre_name(saved)!r}; {difference}); pick a new run_dir"
            )
        if self.is_finished():
            raise RunDirError(
                f"run_dir {root} already holds this finished run; re-render it with "
                f"`t2v render run_dir={root}` or pick a new run_dir"
            )
        return RunDirState.RESUME

    # --- files --------------------------------------------------------------------------

    def read_config(self) -> dict[str, Any]:
        """config.yaml as plain containers."""
        import yaml

        if not self.holds_run():
            raise RunDirError(f"run_dir {self.root} holds no t2v run (no config.yaml)")
        try:
            loaded = yaml.safe_load(self.config_file.read_text())
        except (OSError, yaml.YAMLError) as error:
            problem = " ".join(str(error).split())
            raise RunDirError(f"{self.config_file} cannot be read ({problem})") from None
        if not isinstance(loaded, dict):
            raise RunDirError(f"{self.config_file} is not a t2v config (not a mapping)")
        return loaded

    def load_config(self) -> GenerateConfig:
        """The run's configuration, typed (the settings it was generated with)."""
        from t2v.config.generate import parse_generate
        from t2v.errors import ConfigError
        from t2v.genres import upgrade_camera

        saved = {k: v for k, v in self.read_config().items() if k != "hydra"}
        genre = saved.get("genre")
        if isinstance(genre, dict) and isinstance(genre.get("camera"), dict):
            saved["genre"] = {**genre, "camera": upgrade_camera(genre["camera"])}
        try:
            return parse_generate(saved)
        except ConfigError as error:
            raise RunDirError(f"{self.config_file} is not a t2v generate config: {error}") from None

    def write_config(self, resolved: Mapping[str, Any]) -> None:
        """config.yaml, once: a resumed run keeps the file it started with."""
        import yaml

        if self.config_file.exists():
            return
        self.root.mkdir(parents=True, exist_ok=True)
        text = yaml.safe_dump(dict(resolved), sort_keys=False, allow_unicode=True)
        atomic_write_text(self.config_file, text)

    def read_metrics(self) -> dict[str, Any]:
        """metrics.json, or {} when there is none yet."""
        if not self.metrics_file.is_file():
            return {}
        try:
            metrics = json.loads(self.metrics_file.read_text())
        except json.JSONDecodeError as error:
            raise RunDirError(
                f"{self.metrics_file} is not valid JSON ({error}); fix or remove it"
            ) from None
        if not isinstance(metrics, dict):
            raise RunDirError(f"{self.metrics_file} does not hold a JSON object; fix or remove it")
        return metrics

    def update_metrics(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """metrics.json with `values` merged in at the top level, written atomically."""
        metrics = {**self.read_metrics(), **values}
        text = json.dumps(metrics, indent=2, allow_nan=False) + "\n"
        atomic_write_text(self.metrics_file, text)
        return metrics

    def render_file(
        self,
        trajectory: str,
        width: int,
        height: int,
        frames: int,
        stage: str | None,
        camera: str | None = None,
    ) -> Path:
        after = f"_{stage}" if stage else ""
        view = f"_{camera}" if camera else ""
        return self.renders / f"{trajectory}{view}_{width}x{height}_{frames}f{after}.mp4"

    def load_scene(self, stage: str | None = None, device: str = "cpu") -> Scene:
        """The run's field and renderer as `stage` (default: the last finished) left them."""
        from t2v.scene import Scene

        return Scene.load(self.load_config(), self.stage_checkpoint(stage), device=device)


def atomic_write_text(path: Path, text: str) -> None:
    """Write `text` to `path` through a partial file, so readers never see half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text)
    os.replace(partial, path)


def run_identity(config: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a resolved config that decides what a run produces."""
    return {key: value for key, value in config.items() if key not in EXECUTION_KEYS}


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


def genre_name(config: Mapping[str, Any]) -> str:
    genre = config.get("genre")
    return str(genre.get("name")) if isinstance(genre, dict) else str(genre)
