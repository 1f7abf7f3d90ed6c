"""`ViewConfig`: the typed configuration of `t2v view`."""

from __future__ import annotations

from dataclasses import field
from pathlib import Path

from t2v.config.paths import unique_runs
from t2v.errors import ConfigError
from t2v.schema import Text, settings

PAGE_NAME = "view.html"


@settings
class ViewConfig:
    run_dir: Text | None = None  # one run: its page, by default <run_dir>/view.html ...
    run_dirs: list[Text] = field(default_factory=list)  # ... or several: a gallery at output=
    output: Text | None = None  # the page; required for several runs

    def __post_init__(self) -> None:
        if not self.run_dir and not self.run_dirs:
            raise ConfigError("no run to view: pass run_dir=DIR or run_dirs=[DIR,DIR]")
        if len(self.runs()) > 1 and self.output is None:
            raise ConfigError("a gallery of several runs needs output=PATH (an .html file)")

    def runs(self) -> list[Path]:
        """The requested run folders, each once, `run_dir` first."""
        return unique_runs(self.run_dir, self.run_dirs)

    def page(self) -> Path:
        return Path(self.output) if self.output is not None else self.runs()[0] / PAGE_NAME
