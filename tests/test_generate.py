"""`t2v generate` / `t2v render` end to end on a tiny prior: outputs, re-rendering, resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch
from omegaconf import open_dict

from t2v import cli
from t2v.cluster import checkpoint_step
from t2v.commands.door import resolved
from t2v.config.generate import parse_generate
from t2v.priors.tiny import save_tiny_bundled
from t2v.rundir import RunDir
from t2v.scene import Scene
from t2v.stages import StageSpec
from t2v.video import read_video

T2V = str(Path(sys.executable).with_name("t2v"))
PROMPT = "a red ball moving to the left"


@pytest.fixture(scope="module")
def tiny_prior(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("prior")
    save_tiny_bundled(folder, frames=4, size=16, genres=("none", "cartoon", "noir"))
    return folder


def tiny_overrides(prior: Path, cache: Path) -> list[str]:
    """debug=default (16x16 base, 32x32 SR, 4 frames, every stage for a few steps), small field."""
    return [
        "debug=default",
        f"prior.image.model={prior}",
        f"prior.video.model={prior}",
        f"prior.sr.model={prior}",
        "field=hexplane",
        "field.static_encoding.resolutions=[8,16]",
        "field.dynamic_encoding.resolutions=[8,16]",
        "field.hidden_dim=16",
        "renderer.num_samples=12",
        f"cache_dir={cache}",
    ]


def run_t2v(*args: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "2"}
    return subprocess.run(
        [T2V, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="module")
def finished_run(tiny_prior: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("runs")
    run_dir = root / "red_ball"
    args = ["generate", f"prompt={PROMPT}", "genre=cartoon", f"run_dir={run_dir}"]
    result = run_t2v(*args, *tiny_overrides(tiny_prior, root / "cache"), cwd=root)
    assert result.returncode == 0, result.stderr[-3000:]
    return run_dir


def test_debug_run_writes_video_config_checkpoints_metrics(finished_run: Path) -> None:
    run = RunDir(finished_run)
    config = run.load_config()
    schedule = run.read_config()["schedule"]
    assert config.prompt == PROMPT
    assert config.genre.name == "cartoon"
    video, fps = read_video(run.video_file)
    expected_frames = round(config.duration * config.fps)
    assert video.shape == (
        expected_frames,
        3,
        config.resolution.sr_height,
        config.resolution.sr_width,
    )
    assert fps == pytest.approx(config.fps)
    assert video.std() > 0.01  # a rendered scene, not a blank frame
    metrics = json.loads(run.metrics_file.read_text())
    assert list(metrics["stages"]) == ["static", "dynamic", "superres", "temporal"]
    for stage, figures in metrics["stages"].items():
        assert figures["steps"] == schedule[stage]["steps"]
        assert figures["it_per_s"] > 0
        state = torch.load(run.stage_file(stage), weights_only=True)
        assert state["stage"] == stage
        last = torch.load(run.stage_dir(stage) / "last.ckpt", weights_only=True, map_location="cpu")
        assert last["global_step"] == schedule[stage]["steps"]


def test_stages_hand_on_one_field(finished_run: Path) -> None:
    """The static stage leaves the dynamic grid and trajectory untouched; the dynamic stage trains
    them."""
    static = torch.load(finished_run / "checkpoints" / "static.pt", weights_only=True)["field"]
    dynamic = torch.load(finished_run / "checkpoints" / "dynamic.pt", weights_only=True)["field"]
    dynamic_keys = [k for k in static if k.startswith("dynamic_encoding")]
    static_keys = [k for k in static if k.startswith("static_encoding")]
    assert dynamic_keys and static_keys
    fresh = cli_fresh_field(finished_run)
    for key in dynamic_keys:
        assert torch.equal(static[key], fresh[key]), key  # off during the static stage
    assert any(not torch.equal(static[k], dynamic[k]) for k in dynamic_keys)
    assert any(not torch.equal(fresh[k], static[k]) for k in static_keys)
    # The global trajectory stays at zero through the static stage and moves in the dynamic one.
    assert not static["trajectory.offsets"].any()
    assert dynamic["trajectory.offsets"].abs().max() > 0


def cli_fresh_field(run_dir: Path) -> dict[str, torch.Tensor]:
    """The field as the run built it before its first stage (seeded as `run_generate` seeds)."""
    config = RunDir(run_dir).load_config()
    pl.seed_everything(config.seed, verbose=False)
    return Scene.build(config).field.state_dict()


def test_render_at_another_size_length_and_trajectory(finished_run: Path) -> None:
    output = finished_run / "renders" / "wide.mp4"
    result = run_t2v(
        "render",
        f"run_dir={finished_run}",
        "trajectory=orbit",
        "frames=7",
        "fps=12",
        "width=48",
        "height=24",
        f"output={output}",
        cwd=finished_run.parent,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    video, fps = read_video(output)
    assert video.shape == (7, 3, 24, 48)
    assert fps == pytest.approx(12)


def render_in_process(*args: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`t2v render` through `cli.main` in this process (the script itself is run by
    test_render_at_another_size_length_and_trajectory)."""
    code = cli.main(["render", *args])
    assert code == 0, capsys.readouterr().err[-3000:]


def test_render_shows_the_field_after_a_chosen_stage(
    finished_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """stage=static renders checkpoints/static.pt: no motion yet, unlike the finished field."""
    outputs = {}
    for stage in ("static", None):
        output = finished_run / "renders" / f"front_{stage}.mp4"
        args = [f"run_dir={finished_run}", "trajectory=static", f"output={output}"]
        render_in_process(*args, *([f"stage={stage}"] if stage else []), capsys=capsys)
        outputs[stage] = read_video(output)[0]
    still = outputs["static"]
    assert (still - still[:1]).abs().max() < 0.02  # the dynamic grid was off: frames agree
    assert (still - outputs[None]).abs().mean() > 0.005  # later stages changed the field


def test_render_grades_as_the_run_did_unless_told(
    finished_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The bundled prior's runs export ungraded (prior.export_grading: false); a re-render
    repeats that by default and grades with grading=true."""
    assert RunDir(finished_run).load_config().export_grading is False
    frames = {}
    for grading in (None, "true"):
        output = finished_run / "renders" / f"graded_{grading}.mp4"
        args = [f"run_dir={finished_run}", f"output={output}"]
        render_in_process(*args, *([f"grading={grading}"] if grading else []), capsys=capsys)
        frames[grading] = read_video(output)[0]
    exported = read_video(finished_run / "video.mp4")[0]
    assert (frames[None] - exported).abs().max() < 0.03  # the same frames, encoded again
    assert (frames["true"] - exported).abs().mean() > 0.01  # cartoon's grading changes them


def test_render_from_a_camera_names_it_and_an_orbit_starts_there(
    finished_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """azimuth_deg/elevation_deg/distance place the camera; the default file name says where, so
    two views never share a file; an orbit from azimuth 180 starts at the fixed view from 180."""
    style = RunDir(finished_run).load_config().genre.camera
    renders = finished_run / "renders"
    size = ["width=16", "height=16", "frames=2"]
    views = {}
    for azimuth in (0, 180):
        render_in_process(
            f"run_dir={finished_run}",
            "trajectory=static",
            f"azimuth_deg={azimuth}",
            *size,
            capsys=capsys,
        )
        name = f"static_az{azimuth}_el{style.elevation_deg:g}_d{style.distance:g}_16x16_2f.mp4"
        views[azimuth] = read_video(renders / name)[0]
    assert (views[0] - views[180]).abs().mean() > 0.01  # the back is another view
    render_in_process(
        f"run_dir={finished_run}",
        "trajectory=orbit",
        "speed=10",  # x the genre's 24 deg/s: 30 deg a frame at the run's 8 fps
        "azimuth_deg=180",
        "distance=3",
        "elevation_deg=5",
        *size,
        capsys=capsys,
    )
    orbit = read_video(renders / "orbit_az180_el5_d3_16x16_2f.mp4")[0]
    fixed_output = renders / "fixed.mp4"
    render_in_process(
        f"run_dir={finished_run}",
        "trajectory=static",
        "azimuth_deg=180",
        "distance=3",
        "elevation_deg=5",
        f"output={fixed_output}",
        *size,
        capsys=capsys,
    )
    fixed = read_video(fixed_output)[0]
    assert (orbit[0] - fixed[0]).abs().max() < 0.03  # the same first frame, encoded twice
    assert (orbit[1] - fixed[1]).abs().mean() > 0.01  # then the orbit turns on


def test_render_refuses_bad_input_in_one_line(
    finished_run: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Through `cli.main` in this process (what the `t2v` script calls)."""
    monkeypatch.chdir(tmp_path)
    before = sorted(p.name for p in finished_run.rglob("*"))
    for args, message in [
        ([f"run_dir={tmp_path}"], "holds no t2v run"),
        ([f"run_dir={finished_run}", "width=33"], "width = 33: Input should be a multiple of 2"),
        ([f"run_dir={finished_run}", "frames=0"], "frames = 0: Input should be greater than"),
        ([f"run_dir={finished_run}", "trajectory=spiral"], "spiral"),
        ([f"run_dir={finished_run}", "stage=middle"], "stage = 'middle': Input should be"),
        ([f"run_dir={finished_run}", "grading=maybe"], "grading = 'maybe': Input should be"),
        ([f"run_dir={finished_run}", "distance=0"], "distance = 0: Input should be greater"),
        ([f"run_dir={finished_run}", "elevation_deg=90"], "elevation_deg = 90: Input should"),
    ]:
        code = cli.main(["render", *args])
        err = capsys.readouterr().err
        assert code == 2, (args, err[-2000:])
        assert message in err
        assert len(err.strip().splitlines()) == 1, err
    assert sorted(p.name for p in finished_run.rglob("*")) == before
    assert list(tmp_path.iterdir()) == []


def test_finished_run_dir_is_not_overwritten(
    finished_run: Path, tiny_prior: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    video = (finished_run / "video.mp4").read_bytes()
    args = ["generate", f"prompt={PROMPT}", "genre=cartoon", f"run_dir={finished_run}"]
    code = cli.main([*args, *tiny_overrides(tiny_prior, finished_run.parent / "cache")])
    assert code == 2
    assert "already holds this finished run" in capsys.readouterr().err
    assert (finished_run / "video.mp4").read_bytes() == video


@pytest.mark.slow
def test_killed_run_resumes_and_ends_with_the_same_steps(tiny_prior: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "killed"
    steps = 20  # the kill follows the first checkpoint (step 2) within one 20 ms poll
    args = [
        "generate",
        f"prompt={PROMPT}",
        "genre=noir",
        f"run_dir={run_dir}",
        *tiny_overrides(tiny_prior, tmp_path / "cache"),
        f"schedule.dynamic.steps={steps}",
        "schedule.checkpoint_every=2",
    ]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    process = subprocess.Popen(
        [T2V, *args], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    checkpoint = run_dir / "checkpoints" / "dynamic" / "last.ckpt"
    deadline = time.monotonic() + 600
    killed_at = None
    while process.poll() is None and time.monotonic() < deadline:
        killed_at = checkpoint_step(checkpoint) if checkpoint.exists() else None
        if killed_at:  # a readable periodic checkpoint: kill mid-stage right away
            os.kill(process.pid, signal.SIGKILL)
            break
        time.sleep(0.02)
    process.wait()
    assert killed_at is not None, "the run ended before it could be killed"
    assert not (run_dir / "checkpoints" / "dynamic.pt").exists()
    assert 0 < killed_at < steps

    result = run_t2v(*args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["stages"]["dynamic"]["resumed_from_step"] >= killed_at
    assert "static" not in metrics["stages"]  # finished before the kill: not run again
    final = torch.load(checkpoint, weights_only=True, map_location="cpu")
    assert final["global_step"] == steps
    video, _ = read_video(run_dir / "video.mp4")
    assert video.shape[0] == 4  # debug: duration 1 s x 4 fps


def stages_of(*overrides: str) -> dict[str, StageSpec]:
    """The stage specs of a composed `t2v generate` job, by name."""
    cli.register_resolvers()
    # No logger: the CSV logger writes under run_dir, which only the door sets.
    cfg = cli.compose("generate", ["logger=none", *overrides])
    with open_dict(cfg):
        cfg.pop("hydra")  # outside a Hydra app its job number is unset: it cannot resolve
    return {spec.name: spec for spec in parse_generate(resolved(cfg)).stages}


def test_each_stage_spec_follows_schedule_resolution_and_genre() -> None:
    specs = stages_of("prompt=x", "genre=action", "schedule=mav3d", "resolution=base")
    assert list(specs) == ["static", "dynamic", "superres", "temporal"]
    assert (specs["static"].frames, specs["static"].width) == (1, 64)
    assert specs["static"].cameras.azimuth_deg == (-180.0, 180.0)
    assert specs["dynamic"].cameras.azimuth_deg == (
        -30.0,
        30.0,
    )  # frontal band: screen-space motion
    assert (specs["superres"].width, specs["superres"].height, specs["superres"].frames) == (
        256,
        256,
        16,
    )
    assert specs["dynamic"].lr["static"] < specs["static"].lr["static"]  # static grid slowed
    # action: motion 1.6, smoothness 0.6 -> smoothness weight x 0.375; speed 1.8 -> span x 1.8
    assert specs["temporal"].regularizers["temporal_smoothness"](10_000) == pytest.approx(
        2.0 * 0.375
    )
    assert specs["dynamic"].times.span == pytest.approx((1.0 / 2.0 * 1.8, 1.0))
    assert "temporal" not in stages_of("prompt=x")  # off in `fast`
