"""Guidance calibration runs end to end on a tiny bundled prior and restores its settings."""

import json

import pytest

from t2v.priors import PixelVideoPrior, SDSConfig
from t2v.priors.calibrate import calibrate, main


def test_calibration_reports_accuracy_per_scale_and_restores_the_scale(tiny_folders):
    prior = PixelVideoPrior.from_folder(
        str(tiny_folders["bundled"]), sds=SDSConfig(guidance_scale=5.0), device="cpu"
    )
    prompts = [
        ("a red ball moving to the left", "red", "left"),
        ("a blue ball moving up", "blue", "up"),
    ]
    report = calibrate(prior, [1.0, 4.0], prompts, iterations=3)
    assert prior.config.guidance_scale == 5.0
    assert list(report["scales"]) == ["1.0", "4.0"]
    for result in report["scales"].values():
        rows = result["clips"]
        assert [row["prompt"] for row in rows] == [p for p, _, _ in prompts]
        assert (
            result["colour_accuracy"]
            == sum(r["colour"] == c for r, (_, c, _) in zip(rows, prompts, strict=True)) / 2
        )
        assert all(row["skipped_steps"] == 0 for row in rows)


@pytest.mark.slow
def test_command_line_writes_json(tiny_folders, tmp_path, capsys):
    out = tmp_path / "guidance.json"
    args = ["--prior", str(tiny_folders["bundled"]), "--scales", "2", "--iterations", "1"]
    assert main([*args, "--out", str(out)]) == 0
    written = json.loads(out.read_text())
    assert written["prior"] == str(tiny_folders["bundled"]) and "2.0" in written["scales"]
    assert json.loads(capsys.readouterr().out) == written
