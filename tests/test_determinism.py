"""A seeded `debug` run of the real bundled prior gives the same field, bit for bit.

`tests/assets/debug_run_frames.pt` holds the final field's front frames of that run, rendered
in float32 when the reference was recorded. Refactors must not change what a run computes: on a
CPU with the same instruction set the frames must be identical; elsewhere (another SIMD path
reorders float sums) they must agree to 1e-4.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from t2v.rundir import RunDir

T2V = str(Path(sys.executable).with_name("t2v"))
REFERENCE = Path(__file__).parent / "assets" / "debug_run_frames.pt"


def render_final_frames(run_dir: Path) -> torch.Tensor:
    """The last stage's field, 4 frames at 32x32 along the genre's orbit 108 deg apart (where
    the reference frames were rendered from), ungraded."""
    run = RunDir(run_dir)
    scene = run.load_scene()
    camera, fps = scene.config.genre.camera, scene.config.fps
    speed = 108.0 * fps / camera.speed_deg_s  # x the genre's deg/s: 108 deg a frame
    return scene.frames(frames=4, width=32, height=32, grading=False, speed=speed)


@pytest.mark.slow
def test_seeded_debug_run_is_bit_identical_to_the_recorded_one(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "2"}
    result = subprocess.run(
        [
            T2V,
            "generate",
            "prompt=a red ball moving to the left",
            "genre=cartoon",
            "debug=default",
            "field=hexplane",  # the field of the recorded frames
            f"run_dir={run_dir}",
            f"cache_dir={tmp_path / 'cache'}",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    reference = torch.load(REFERENCE, weights_only=True)
    frames = render_final_frames(run_dir)
    assert frames.shape == reference["frames"].shape
    if reference["cpu_capability"] == torch.backends.cpu.get_cpu_capability():
        assert torch.equal(frames, reference["frames"])
    else:
        torch.testing.assert_close(frames, reference["frames"], rtol=0, atol=1e-4)
