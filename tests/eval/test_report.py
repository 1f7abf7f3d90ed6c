"""Evaluation into metrics.json (generate's keys kept, strict JSON, atomic) and the table."""

from __future__ import annotations

import json
import math

import pytest

from t2v.errors import RunDirError
from t2v.eval.report import json_ready, markdown_table
from t2v.rundir import RunDir


def merge_evaluation(run_dir, evaluation):
    """What `t2v evaluate` does with one run's scores."""
    return RunDir(run_dir).update_metrics({"evaluation": json_ready(evaluation)})


def test_merge_keeps_every_other_key_and_replaces_only_evaluation(tmp_path):
    generated = {"stages": {"static": {"steps": 10}}, "video": {"fps": 8}, "prompt": "p"}
    (tmp_path / "metrics.json").write_text(json.dumps({**generated, "evaluation": {"old": 1}}))
    merge_evaluation(tmp_path, {"clip": {"r_precision_at_1": 0.5}, "temporal": {"x": math.nan}})
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert {key: saved[key] for key in generated} == generated
    assert saved["evaluation"] == {"clip": {"r_precision_at_1": 0.5}, "temporal": {"x": None}}
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]  # no partial file left


def test_merge_creates_metrics_json_and_refuses_a_corrupt_one(tmp_path):
    merge_evaluation(tmp_path, {"a": 1})
    assert RunDir(tmp_path).read_metrics() == {"evaluation": {"a": 1}}
    (tmp_path / "metrics.json").write_text("{not json")
    with pytest.raises(RunDirError, match="not valid JSON"):
        merge_evaluation(tmp_path, {"a": 2})
    assert (tmp_path / "metrics.json").read_text() == "{not json"  # left as it was


def test_markdown_table_has_a_row_per_run_and_a_mean_row():
    first = {
        "prompt": "a red | ball",
        "genre": "noir",
        "clip": {"r_precision_at_1": 1.0, "r_precision_at_5": 1.0, "clip_score": 31.234},
        "temporal": {"motion_magnitude": 2.0, "warping_error": 0.01},
    }
    second = {
        "prompt": "a blue cube",
        "genre": "none",
        "clip": {"r_precision_at_1": 0.5, "r_precision_at_5": 1.0, "clip_score": 28.0},
        "temporal": {"motion_magnitude": 4.0, "warping_error": None},
    }
    table = markdown_table([("run_a", first), ("run_b", second)])
    lines = table.strip().splitlines()
    assert len(lines) == 5
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    assert header[:6] == ["run", "prompt", "genre", "R@1", "R@5", "CLIP score"]
    row_a = lines[2]
    assert "a red \\| ball" in row_a and "| 1.000 | 1.000 | 31.23 |" in row_a
    assert "| n/a |" in lines[3]  # missing and null values
    mean = [cell.strip() for cell in lines[4].strip("|").split("|")]
    assert mean[0] == "mean"
    assert mean[header.index("R@1")] == "0.750"
    assert mean[header.index("motion px/f")] == "3.00"
    assert mean[header.index("warp err")] == "0.0100"  # the mean of the values present
    assert mean[header.index("MV err")] == "n/a"
