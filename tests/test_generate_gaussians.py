"""`t2v generate ... field=gaussians` through every stage, resumed after SIGKILL, then render and
evaluate.

The cheap Gaussian variant of tests/test_generate.py: the same tiny prior and debug schedule,
a GaussianField of a few hundred Gaussians drawn by the CPU rasterizer, densified in the static
stage (so the count in the checkpoints differs from the configured one).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from t2v.cluster import checkpoint_step
from t2v.priors.tiny import save_tiny_bundled
from t2v.video import read_video

T2V = str(Path(sys.executable).with_name("t2v"))
PROMPT = "a red ball moving to the left"
COUNT = 192
BOUND = 0.002


@pytest.fixture(scope="module")
def tiny_prior(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("prior")
    save_tiny_bundled(folder, frames=4, size=16, genres=("none", "cartoon"))
    return folder


def overrides(prior: Path, cache: Path) -> list[str]:
    return [
        "debug=default",
        f"prior.image.model={prior}",
        f"prior.video.model={prior}",
        f"prior.sr.model={prior}",
        "field=gaussians",
        f"field.count={COUNT}",
        "field.deformation.resolutions=[8,16]",
        "field.hidden_dim=16",
        # Densify at every static step: the count changes before the first checkpoint.
        "field.densify.start_step=1",
        "field.densify.every=1",
        "field.densify.grad_threshold=1e-12",
        f"field.densify.max_count={COUNT + 64}",
        # A bound the trajectory's first steps overrun: the stages must project it back.
        f"field.trajectory_bound={BOUND}",
        f"cache_dir={cache}",
    ]


def run_t2v(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [T2V, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )


STATIC_STEPS = 30  # long enough for the kill to land mid-stage


@pytest.fixture(scope="module")
def finished_run(tiny_prior: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run killed (SIGKILL) mid static stage, after densification changed the count, then
    resumed to the end by the same command."""
    root = tmp_path_factory.mktemp("runs")
    run_dir = root / "gaussian_ball"
    args = [
        "generate",
        f"prompt={PROMPT}",
        "genre=cartoon",
        f"run_dir={run_dir}",
        *overrides(tiny_prior, root / "cache"),
        f"schedule.static.steps={STATIC_STEPS}",
        "schedule.checkpoint_every=2",
    ]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(
        [T2V, *args], cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    checkpoint = run_dir / "checkpoints" / "static" / "last.ckpt"
    deadline = time.monotonic() + 600
    killed_at = None
    while process.poll() is None and time.monotonic() < deadline:
        killed_at = checkpoint_step(checkpoint) if checkpoint.exists() else None
        if killed_at:
            os.kill(process.pid, signal.SIGKILL)
            break
        time.sleep(0.02)
    process.wait()
    assert killed_at is not None and 0 < killed_at < STATIC_STEPS
    result = run_t2v(*args, cwd=root)
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["stages"]["static"]["resumed_from_step"] >= killed_at
    final = torch.load(checkpoint, weights_only=True, map_location="cpu")
    assert final["global_step"] == STATIC_STEPS
    return run_dir


def test_every_stage_runs_and_the_count_grew(finished_run: Path) -> None:
    metrics = json.loads((finished_run / "metrics.json").read_text())
    assert set(metrics["stages"]) == {"static", "dynamic", "superres", "temporal"}
    video, _ = read_video(finished_run / "video.mp4")
    assert video.shape[0] == 4 and float(video.float().std()) > 0
    state = torch.load(finished_run / "checkpoints" / "static.pt", weights_only=True)
    assert COUNT < state["field"]["raw_means"].shape[0] <= COUNT + 64


def test_the_trajectory_moved_and_stayed_within_its_bound(finished_run: Path) -> None:
    for stage in ("dynamic", "superres"):
        state = torch.load(finished_run / "checkpoints" / f"{stage}.pt", weights_only=True)
        offsets = state["field"]["trajectory.offsets"]
        # Unprojected, the first step alone would move a knot by the rate (0.01).
        assert float(offsets.abs().max()) == pytest.approx(BOUND, rel=1e-5)


def test_render_and_evaluate_a_gaussian_run(
    finished_run: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through `cli.main` in this process (the script runs the generate above)."""
    from t2v import cli

    monkeypatch.chdir(finished_run.parent)
    output = finished_run / "renders" / "wide.mp4"
    args = ["render", f"run_dir={finished_run}", "trajectory=orbit", "frames=5", "fps=8"]
    code = cli.main([*args, "width=40", "height=24", f"output={output}"])
    assert code == 0, capsys.readouterr().err[-3000:]
    video, _ = read_video(output)
    assert video.shape == (5, 3, 24, 40)
    args = ["evaluate", f"run_dir={finished_run}", "clip_model=null", "multiview.size=16"]
    assert cli.main(args) == 0, capsys.readouterr().err[-3000:]
    evaluation = json.loads((finished_run / "metrics.json").read_text())
    assert "multiview" in json.dumps(evaluation)


def test_gsplat_where_it_cannot_run_is_one_line(
    tiny_prior: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Through `cli.main` in this process: refused at the door, nothing written."""
    from t2v import cli
    from t2v.field import gsplat_available

    if gsplat_available():
        pytest.skip("gsplat can run here")
    monkeypatch.chdir(tmp_path)
    run_dir = tmp_path / "refused"
    args = ["generate", f"prompt={PROMPT}", f"run_dir={run_dir}", "logger=none"]
    code = cli.main([*args, *overrides(tiny_prior, tmp_path / "cache"), "field.backend=gsplat"])
    err = capsys.readouterr().err
    assert code == 2, err[-2000:]
    assert len(err.strip().splitlines()) == 1 and "field.backend: 'gsplat' needs gsplat" in err
    assert list(tmp_path.iterdir()) == []


def test_export_of_a_gaussian_run_holds_its_own_splats(
    finished_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`t2v export format=ply` writes the field's own Gaussians at each frame's time (not
    Gaussians resampled from its density), and `format=glb` meshes its density."""
    from plyfile import PlyData

    from t2v import cli
    from t2v.rundir import RunDir
    from t2v.scene import scene_times

    folder = tmp_path / "ply"
    args = ["export", f"run_dir={finished_run}", "frames=2", "grid=32"]
    assert cli.main([*args, "format=ply", f"output={folder}"]) == 0, capsys.readouterr().err
    field = RunDir(finished_run).load_scene().field
    field.static_only = False
    for index, scene_time in enumerate(scene_times(2).tolist()):
        vertices = PlyData.read(str(folder / f"frame_{index + 1:06d}.ply"))["vertex"]
        written = torch.tensor(np.stack([vertices[a] for a in "xyz"], axis=1))
        with torch.no_grad():
            expected = field.splats(scene_time).means
        assert written.shape == expected.shape  # the densified count, one vertex per Gaussian
        assert torch.allclose(written, expected.float(), atol=1e-6)
    glb = tmp_path / "scene.glb"
    assert cli.main([*args, "format=glb", f"output={glb}"]) == 0, capsys.readouterr().err
    assert glb.stat().st_size > 0
