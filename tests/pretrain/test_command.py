"""`t2v pretrain`: a debug run trains both stages and exports, a rerun resumes, a changed model
refuses the run dir with one line."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from t2v.pretrain.train import checkpoint_path, load_checkpoint


def t2v(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "t2v", "pretrain", *args, "logger=none"]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)


@pytest.mark.slow
def test_debug_run_trains_exports_resumes_and_guards_the_run_dir(tmp_path: Path):
    run_dir, prior = tmp_path / "run", tmp_path / "prior"
    common = ("pretrain=debug", f"run_dir={run_dir}", f"output_dir={prior}")
    first = t2v(*common)
    assert first.returncode == 0, first.stderr[-2000:]
    assert load_checkpoint(checkpoint_path(run_dir, "video"))["global_step"] == 4
    assert load_checkpoint(checkpoint_path(run_dir, "sr"))["global_step"] == 2
    meta = json.loads((prior / "t2v_prior.json").read_text())
    assert meta == {
        **meta,
        "kind": "pixel_video",
        "text_encoder": "minilm_tokens",  # debug inherits bundled's token-attention pathway
        "frames": 4,
        "height": 8,
        "width": 8,
        "sr_factor": 2,
    }
    assert meta["genres"][:2] == ["", "none"]  # the dropped genre has a slot of its own
    for part in ("unet", "scheduler", "sr_unet", "sr_scheduler"):
        assert (prior / part).is_dir()

    longer = t2v(*common, "pretrain.video.max_steps=6", "pretrain.stages=[video]")
    assert longer.returncode == 0, longer.stderr[-2000:]
    assert load_checkpoint(checkpoint_path(run_dir, "video"))["global_step"] == 6

    other = t2v(*common, "pretrain.video.model.embed_dim=32")
    assert other.returncode == 2
    assert other.stderr.strip().splitlines()[-1].startswith("t2v pretrain: run_dir")
    assert load_checkpoint(checkpoint_path(run_dir, "video"))["global_step"] == 6
