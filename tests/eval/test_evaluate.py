"""`t2v evaluate` on run dirs built by hand: merged metrics.json, table, notes, errors, W&B."""

from __future__ import annotations

import json
import math

import pytest
import torch
from omegaconf import open_dict

from t2v.cli import compose, main, register_resolvers
from t2v.commands.door import resolved
from t2v.commands.evaluate import run, settings
from t2v.eval.clip import save_tiny_clip
from t2v.eval.prompts import DEFAULT_PROMPTS
from t2v.rundir import RunDir
from t2v.scene import Scene, save_stage_state
from t2v.video import write_video

SIZE, FRAMES = 32, 8


@pytest.fixture(scope="module")
def tiny_clip_dir(tmp_path_factory):
    return save_tiny_clip(tmp_path_factory.mktemp("tiny_clip"), seed=0)


def disc_video(colour: tuple[float, float, float], step: float) -> torch.Tensor:
    """A shaded disc over a grey gradient, moving `step` pixels a frame along x."""
    ys, xs = torch.meshgrid(torch.arange(SIZE).float(), torch.arange(SIZE).float(), indexing="ij")
    background = (0.35 + 0.3 * ys / SIZE).expand(3, SIZE, SIZE)
    frames = []
    for t in range(FRAMES):
        cx = SIZE / 2 + step * (t - (FRAMES - 1) / 2)
        distance = ((xs - cx) ** 2 + (ys - SIZE / 2) ** 2).sqrt()
        inside = (distance < 6).float()
        shade = 1 - 0.3 * distance / 6
        disc = torch.tensor(colour)[:, None, None] * shade
        frames.append(inside * disc + (1 - inside) * background)
    return torch.stack(frames).clamp(0, 1)


def job(name: str, overrides: list[str]):
    """One composed job as the command's `settings` receives it, without its `hydra` node
    (outside a Hydra app the node's job number is unset, so it cannot resolve)."""
    register_resolvers()
    cfg = compose(name, overrides)
    with open_dict(cfg):
        cfg.pop("hydra")
    return cfg


def make_run(run_dir, prompt, genre, video, checkpoint=False, metrics=None, overrides=()):
    """A finished run as `t2v generate` leaves it (config.yaml, video.mp4, metrics.json)."""
    run = RunDir(run_dir)
    overrides = [f"prompt={prompt}", f"genre={genre}", f"run_dir={run_dir}", *overrides]
    run.write_config(resolved(job("generate", overrides)))
    write_video(run.video_file, video, fps=8)
    if metrics is not None:
        run.update_metrics(metrics)
    if checkpoint:
        torch.manual_seed(0)
        scene = Scene.build(run.load_config())
        run.checkpoints.mkdir()
        save_stage_state(run.stage_file("static"), scene.field, scene.renderer, "static", 0)
    return run_dir


def cli(*args: str) -> int:
    """`t2v ARGS`'s exit code: errors inside the Hydra job leave through SystemExit."""
    try:
        return main(list(args))
    except SystemExit as leaving:
        return int(leaving.code or 0)


def evaluate_config(*overrides: str):
    return settings(job("evaluate", list(overrides)))


def test_evaluate_scores_runs_merges_metrics_and_writes_a_table(tmp_path, tiny_clip_dir, capsys):
    moving = make_run(
        tmp_path / "runs" / "red_left",
        "a red ball moving to the left",
        "none",
        disc_video((0.9, 0.1, 0.1), step=-2.0),
        checkpoint=True,
        metrics={"stages": {"static": {"steps": 3}}, "prompt": "a red ball moving to the left"},
    )
    still = make_run(
        tmp_path / "runs" / "blue_still",
        "a corgi playing with a ball",
        "noir",
        disc_video((0.1, 0.2, 0.9), step=0.0),
    )
    cfg = evaluate_config(
        f"run_dirs=[{moving},{still}]",
        f"clip_model={tiny_clip_dir}",
        "frames=4",
        "multiview.size=16",
    )
    run(cfg)

    saved = json.loads((moving / "metrics.json").read_text())
    assert saved["stages"] == {"static": {"steps": 3}}  # generate's keys survive
    first = saved["evaluation"]
    clip = first["clip"]
    # Both run prompts are also built-in prompts: the set is the built-in one.
    assert clip["prompt_set_size"] == len(DEFAULT_PROMPTS)
    assert clip["frames"] == 4 and clip["r_precision_at_1"] in (0.0, 0.25, 0.5, 0.75, 1.0)
    assert 1 <= clip["mean_rank"] <= len(DEFAULT_PROMPTS) and -100 <= clip["clip_score"] <= 100
    temporal = first["temporal"]
    second = json.loads((still / "metrics.json").read_text())["evaluation"]
    # The disc (~11% of the frame) moves 2 px a frame; the still run does not move at all.
    assert 0.1 < temporal["motion_magnitude"] < 2.0
    assert second["temporal"]["motion_magnitude"] < 0.02 < temporal["motion_magnitude"] / 5
    assert first["attributes"]["expected"] == {"colour": "red", "motion": "left", "genre": "none"}
    correct = first["attributes"]["correct"]
    assert first["attributes"]["accuracy"] == pytest.approx(sum(correct.values()) / 3)
    assert first["attributes"]["predicted"]["colour"] == "red"
    multiview = first["multiview"]
    assert multiview["checkpoint"] == "static.pt" and multiview["views"] == 5
    assert 0 <= multiview["clip_spread"] < 2
    assert math.isfinite(multiview["reprojection_error"]) or multiview["valid_fraction"] == 0
    assert "attributes" not in second and "multiview" not in second
    assert any("no checkpoints" in note for note in second["notes"])
    assert any("names no colour or motion" in note for note in second["notes"])

    table = (tmp_path / "runs" / "evaluation.md").read_text()
    lines = table.strip().splitlines()
    assert len(lines) == 5 and lines[2].startswith("| red_left | a red ball moving to the left |")
    assert lines[4].startswith("| mean |")
    assert table in capsys.readouterr().out


def save_moving_ball(run_dir, colour_logits, start_x, end_x):
    """checkpoints/superres.pt of the run's own field, set by hand: a ball of one colour (its
    density is the field's blob, its colour a constant head) on a grey background, carried
    along world x from `start_x` to `end_x` over the scene time by the global trajectory."""
    run = RunDir(run_dir)
    scene = Scene.build(run.load_config())
    field = scene.field
    with torch.no_grad():
        for head in (field.density_head[-1], field.color_head[-1], field.background_head[-1]):
            head.weight.zero_()
            head.bias.zero_()
        field.color_head[-1].bias.copy_(torch.tensor(colour_logits))
        offsets = field.trajectory.offsets
        offsets[:, 0] = torch.linspace(start_x, end_x, offsets.shape[0])
    run.checkpoints.mkdir()
    save_stage_state(run.stage_file("superres"), field, scene.renderer, "superres", 0)


def test_attributes_are_also_read_from_the_front_of_the_final_field(tmp_path):
    # The videos show a still blue disc; the fields hold a red ball moving left, and a green
    # one moving right: the front-view reads must come from the fields.
    small_ball = ["field=hexplane", "field.density_blob_radius=0.25"]
    still_blue = disc_video((0.1, 0.2, 0.9), step=0.0)
    left = make_run(
        tmp_path / "left", "a red ball moving to the left", "none", still_blue, overrides=small_ball
    )
    right = make_run(
        tmp_path / "right",
        "a green cube moving to the right",
        "cartoon",
        still_blue,
        overrides=small_ball,
    )
    save_moving_ball(left, (4.0, -4.0, -4.0), 0.4, -0.4)
    save_moving_ball(right, (-4.0, 4.0, -4.0), -0.4, 0.4)
    run(evaluate_config(f"run_dirs=[{left},{right}]", "clip_model=null", "multiview.size=16"))

    for run_dir, colour, motion in ((left, "red", "left"), (right, "green", "right")):
        evaluation = json.loads((run_dir / "metrics.json").read_text())["evaluation"]
        video, front = evaluation["attributes"], evaluation["attributes_front"]
        assert video["predicted"]["colour"] == "blue" and video["predicted"]["motion"] == "none"
        assert front["expected"] == video["expected"]
        assert front["predicted"]["colour"] == colour and front["predicted"]["motion"] == motion
        assert front["correct"]["colour"] and front["correct"]["motion"]
        assert evaluation["multiview"]["checkpoint"] == "superres.pt"
        # The same ball from the sides and behind: its colour, the front's silhouette, and
        # the motion mirrored; a compact ball leaves no haze.
        views, haze = evaluation["views"], evaluation["haze"]
        assert views["side_left"]["colour"]["predicted"] == colour
        assert views["side_right"]["colour"]["predicted"] == colour
        assert views["side_colour_accuracy"] == 1.0 and views["side_silhouette_iou"] > 0.8
        mirror = {"left": "right", "right": "left"}[motion]
        assert views["back"]["motion"] == {"expected": mirror, "predicted": mirror, "correct": True}
        assert haze["border_opacity"] < 0.05 and haze["empty_opacity"] < 0.05
    table = (tmp_path / "evaluation.md").read_text().splitlines()
    assert "| front attr acc | side colour acc | side IoU | back motion acc |" in table[0]

    no_multiview = "multiview.enabled=false"
    run(evaluate_config(f"run_dir={left}", "clip_model=null", "front_view=false", no_multiview))
    evaluation = json.loads((left / "metrics.json").read_text())["evaluation"]
    assert "attributes_front" not in evaluation and "attributes" in evaluation
    assert "views" in evaluation
    run(evaluate_config(f"run_dir={left}", "clip_model=null", "side_views=false", no_multiview))
    evaluation = json.loads((left / "metrics.json").read_text())["evaluation"]
    assert "views" not in evaluation and "haze" not in evaluation
    assert evaluation["attributes_front"]["predicted"]["motion"] == "left"


def test_the_cli_refuses_bad_runs_in_one_line(tmp_path, capsys):
    broken = tmp_path / "unfinished"
    started = job("generate", ["prompt=a red ball", "genre=none", f"run_dir={broken}"])
    RunDir(broken).write_config(resolved(started))  # generate began, and has no video yet
    assert cli("evaluate", f"run_dir={broken}", "clip_model=null") == 2
    error = capsys.readouterr().err.strip()
    assert "has no video.mp4 yet" in error and "\n" not in error
    assert cli("evaluate", f"run_dir={tmp_path / 'missing'}") == 2
    assert "holds no t2v run" in capsys.readouterr().err
    assert not (tmp_path / "evaluation.md").exists()


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("+multiview.azimuth=3", "multiview has unknown key 'azimuth'"),
        ("multiview.size=abc", "multiview.size = 'abc'"),
        ("multiview.time=2", "multiview.time = 2"),
        ("multiview.azimuths_deg=[0]", "multiview.azimuths_deg: Tuple should have at least 2"),
        ("multiview.depth_tolerance=0", "multiview.depth_tolerance = 0"),
        ("front_view=maybe", "front_view = 'maybe'"),
        ("side_views=2", "side_views = 2"),
    ],
)
def test_bad_multiview_settings_are_refused_before_anything_is_written(
    tmp_path, capsys, setting, message
):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text("prompt: a red ball\n")
    assert cli("evaluate", f"run_dir={run}", "clip_model=null", setting) == 2
    error = capsys.readouterr().err.strip()
    assert message in error and "\n" not in error
    assert sorted(p.name for p in run.iterdir()) == ["config.yaml"]


def test_logger_wandb_logs_the_table_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    finished = make_run(tmp_path / "run", "a red ball", "none", disc_video((1, 0, 0), 1.0))
    cfg = evaluate_config(
        f"run_dir={finished}", "clip_model=null", "multiview.enabled=false", "logger=wandb"
    )
    run(cfg)
    offline_runs = list((finished / "wandb").glob("offline-run-*"))
    assert len(offline_runs) == 1
    assert list(offline_runs[0].glob("*.wandb"))
    evaluation = json.loads((finished / "metrics.json").read_text())["evaluation"]
    assert "clip: skipped (clip_model=null)" in evaluation["notes"]


def test_evaluate_offline_without_clip_weights_scores_the_rest_and_says_so(
    tmp_path, capsys, monkeypatch
):
    """The default clip_model (a hub id) not in the local cache, downloads off: exit 0, every
    other metric in metrics.json, and one line saying what was skipped and how to get it."""
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "empty_cache"))
    monkeypatch.chdir(tmp_path)
    moving = make_run(
        tmp_path / "red_left",
        "a red ball moving to the left",
        "none",
        disc_video((0.9, 0.1, 0.1), step=-2.0),
        checkpoint=True,
    )
    capsys.readouterr()
    assert cli("evaluate", f"run_dir={moving}", "multiview.size=16") == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert "CLIP R-precision, CLIP score and multiview clip_spread skipped" in err[0]
    assert "`hf download openai/clip-vit-base-patch32`" in err[0]
    assert "clip_model=null" in err[0]
    evaluation = json.loads((moving / "metrics.json").read_text())["evaluation"]
    assert "clip" not in evaluation and evaluation["multiview"]["clip_spread"] is None
    assert evaluation["temporal"]["motion_magnitude"] > 0.1
    assert evaluation["attributes"]["predicted"]["colour"] == "red"
    assert evaluation["multiview"]["views"] == 5 and "attributes_front" in evaluation
    assert "clip: skipped (openai/clip-vit-base-patch32 is not in the local" in " ".join(
        evaluation["notes"]
    )
    # A CLIP folder that is not there stays an error: one line, exit 2, nothing written.
    before = (moving / "metrics.json").read_text()
    assert cli("evaluate", f"run_dir={moving}", f"clip_model={tmp_path / 'no_clip'}") == 2
    error = capsys.readouterr().err.strip()
    assert "no_clip" in error and "\n" not in error
    assert (moving / "metrics.json").read_text() == before


def test_side_views_are_read_through_the_gaussian_rasterizer_too(tmp_path):
    """A `field=gaussians` run: its views come from the stage renderer it used (a rasterizer);
    the freshly initialised cloud, round about the centre, has the front's silhouette."""
    finished = make_run(
        tmp_path / "splats",
        "a red ball moving to the left",
        "none",
        disc_video((0.9, 0.1, 0.1), step=-2.0),
        checkpoint=True,
        overrides=["field=gaussians"],
    )
    run(evaluate_config(f"run_dir={finished}", "clip_model=null", "multiview.enabled=false"))
    evaluation = json.loads((finished / "metrics.json").read_text())["evaluation"]
    views, haze = evaluation["views"], evaluation["haze"]
    assert views["side_silhouette_iou"] > 0.8
    assert 0.8 < views["side_left"]["area_ratio"] < 1.25
    assert views["back"]["motion"]["expected"] == "right"
    assert 0.0 <= haze["border_opacity"] < 0.2 and 0.1 < haze["foreground_fraction"] < 0.9
