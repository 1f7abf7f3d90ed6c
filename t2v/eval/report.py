"""Evaluation output: metrics made strict JSON, a markdown table and a W&B table of runs.

Where the numbers are stored (metrics.json's "evaluation" key) is the run folder's business
(`t2v.rundir.RunDir.update_metrics`); this module only shapes and tabulates them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Column:
    """One table column: its header and where its value sits in an evaluation dict."""

    header: str
    path: tuple[str, ...]
    digits: int = 3


COLUMNS: tuple[Column, ...] = (
    Column("R@1", ("clip", "r_precision_at_1")),
    Column("R@5", ("clip", "r_precision_at_5")),
    Column("CLIP score", ("clip", "clip_score"), 2),
    Column("attr acc", ("attributes", "accuracy")),
    Column("front attr acc", ("attributes_front", "accuracy")),
    Column("side colour acc", ("views", "side_colour_accuracy")),
    Column("side IoU", ("views", "side_silhouette_iou")),
    Column("back motion acc", ("views", "back_motion_accuracy")),
    Column("border opacity", ("haze", "border_opacity")),
    Column("empty opacity", ("haze", "empty_opacity")),
    Column("flicker", ("temporal", "brightness_flicker"), 4),
    Column("low-pass flicker", ("temporal", "lowpass_flicker"), 4),
    Column("warp err", ("temporal", "warping_error"), 4),
    Column("motion px/f", ("temporal", "motion_magnitude"), 2),
    Column("MV err", ("multiview", "reprojection_error"), 4),
    Column("MV CLIP spread", ("multiview", "clip_spread"), 4),
)


def json_ready(value: Any) -> Any:
    """NaN and infinities become null: metrics.json stays strict JSON."""
    if isinstance(value, Mapping):
        return {str(key): json_ready(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def lookup(evaluation: Mapping[str, Any], path: Sequence[str]) -> Any:
    value: Any = evaluation
    for key in path:
        if not isinstance(value, Mapping) or key not in value:
            return None
        value = value[key]
    return value


def format_value(value: Any, digits: int) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def table_rows(
    runs: Sequence[tuple[str, Mapping[str, Any]]], columns: Sequence[Column] = COLUMNS
) -> tuple[list[str], list[list[Any]]]:
    """Headers and raw values (run, prompt, genre, then `columns`) of each (name, evaluation)."""
    headers = ["run", "prompt", "genre", *(column.header for column in columns)]
    rows = [
        [
            name,
            evaluation.get("prompt"),
            evaluation.get("genre"),
            *(lookup(evaluation, column.path) for column in columns),
        ]
        for name, evaluation in runs
    ]
    return headers, rows


def markdown_table(
    runs: Sequence[tuple[str, Mapping[str, Any]]], columns: Sequence[Column] = COLUMNS
) -> str:
    """A GitHub markdown table with one row per run and a mean row when there are several."""
    headers, rows = table_rows(runs, columns)
    digits = [3, 3, 3, *(column.digits for column in columns)]
    lines = [
        "| " + " | ".join(headers) + " |",
        "| " + " | ".join("---" if i < 3 else "---:" for i in range(len(headers))) + " |",
    ]
    for row in rows:
        cells = [_escape(format_value(value, d)) for value, d in zip(row, digits, strict=True)]
        lines.append("| " + " | ".join(cells) + " |")
    if len(rows) > 1:
        means = [_mean([row[i] for row in rows]) for i in range(3, len(headers))]
        cells = [
            "mean",
            "",
            "",
            *(format_value(m, d) for m, d in zip(means, digits[3:], strict=True)),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _mean(values: Sequence[Any]) -> float | None:
    numbers = [
        float(v)
        for v in values
        if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
    ]
    return sum(numbers) / len(numbers) if numbers else None


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def log_wandb_table(
    runs: Sequence[tuple[str, Mapping[str, Any]]],
    logger: Mapping[str, Any],
    save_dir: Path,
) -> Path:
    """Log the table as a `wandb.Table` named "evaluation"; offline unless the config says not.

    Returns the directory W&B wrote to.
    """
    import wandb

    headers, rows = table_rows(runs)
    offline = bool(logger.get("offline", True))
    save_dir.mkdir(parents=True, exist_ok=True)
    run = wandb.init(
        project=logger.get("project") or "t2v",
        entity=logger.get("entity"),
        name=logger.get("name") or "evaluate",
        group=logger.get("group"),
        tags=list(logger.get("tags") or []),
        dir=str(save_dir),
        mode="offline" if offline else "online",
        job_type="evaluate",
        reinit="finish_previous",
    )
    try:
        cells = [[_wandb_cell(value) for value in row] for row in rows]
        run.log({"evaluation": wandb.Table(columns=headers, data=cells)})
        return Path(run.dir).parent
    finally:
        run.finish()


def _wandb_cell(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
