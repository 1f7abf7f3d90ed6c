"""`EvaluateConfig`: the typed configuration of `t2v evaluate`."""

from __future__ import annotations

from dataclasses import field
from pathlib import Path
from typing import Any

from t2v.config.paths import unique_runs
from t2v.errors import ConfigError
from t2v.eval.multiview import MultiViewOptions
from t2v.schema import Bool, Int, NonNegativeInt, PositiveInt, Text, settings
from t2v.targets import Target


@settings
class EvaluateConfig:
    run_dir: Text | None = None  # one finished run ...
    run_dirs: list[Text] = field(default_factory=list)  # ... or several
    output: Text | None = None  # the markdown table; None: evaluation.md beside the first run
    clip_model: Text | None = None  # a CLIP folder or hub id; None skips the CLIP metrics
    prompt_set: Text | None = None  # prompts for R-precision, one a line; None: built in
    frames: NonNegativeInt = 16  # frames sampled for the CLIP metrics (0: every frame)
    seed: Int = 0
    device: Text = "cpu"
    threads: PositiveInt | None = 1  # torch CPU threads (None: torch's default)
    flow_max_side: PositiveInt = 128  # videos are downsampled to this long side for flow
    front_view: Bool = True  # attributes of the final field seen from the genre's front
    side_views: Bool = True  # side, back and haze reads of the final field (t2v.eval.views)
    multiview: MultiViewOptions = field(default_factory=MultiViewOptions)
    logger: dict[str, Any] | None = None  # logger=wandb also logs the table

    def __post_init__(self) -> None:
        if not self.run_dir and not self.run_dirs:
            raise ConfigError("no run to evaluate: pass run_dir=DIR or run_dirs=[DIR,DIR]")

    def runs(self) -> list[Path]:
        """The requested run folders, each once, `run_dir` first."""
        return unique_runs(self.run_dir, self.run_dirs)

    @property
    def logger_target(self) -> Target | None:
        return Target(self.logger) if self.logger is not None else None
