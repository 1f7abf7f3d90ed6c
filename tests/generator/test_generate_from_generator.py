"""`schedule=instant` and `init=amortised` on a tiny generator: the run dir is a run like any
other (render, evaluate, export read it), the stages start from the generator's field, and
what the generator cannot make or read is refused in one line with nothing written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from t2v import cli
from t2v.generator import GeneratorText, load_generator
from t2v.priors.tiny import save_tiny_bundled
from t2v.rundir import RunDir

from .conftest import GENRES, save_tiny_generator, tiny_field_node

PROMPT = "a red ball moves to the left"


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """A tiny prior, a tiny generator of the tiny field, and the overrides that use them."""
    root = tmp_path_factory.mktemp("instant")
    save_tiny_bundled(root / "prior", frames=4, size=16, genres=GENRES)
    overrides = [
        "debug=default",
        *(f"prior.{role}.model={root / 'prior'}" for role in ("image", "video", "sr")),
        "field=hexplane",
        "field.static_encoding.resolutions=[8,16]",
        "field.dynamic_encoding.resolutions=[8,16]",
        "field.hidden_dim=16",
        "renderer.num_samples=12",
        f"generator={root / 'generator'}",
        f"cache_dir={root / 'cache'}",
    ]
    save_tiny_generator(root / "generator", tiny_field_node(overrides))
    return root, overrides


def state(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, weights_only=True, map_location="cpu")["field"]


@pytest.fixture(scope="module")
def instant_run(workspace: tuple[Path, list[str]]) -> Path:
    root, overrides = workspace
    run_dir = root / "instant"
    args = [f"prompt={PROMPT}", "genre=cartoon", "schedule=instant", f"run_dir={run_dir}"]
    code = cli.main(["generate", *args, *overrides])
    assert code == 0
    return run_dir


def test_instant_writes_a_run_that_render_evaluate_and_export_read(
    instant_run: Path, workspace: tuple[Path, list[str]]
) -> None:
    root, _ = workspace
    run = RunDir(instant_run)
    assert run.finished_stages() == ["generator"] and run.video_file.stat().st_size > 0
    metrics = json.loads(run.metrics_file.read_text())
    assert metrics["stages"]["generator"]["steps"] == 0
    assert 0 < metrics["stages"]["generator"]["seconds"] < 60
    # the field written is exactly the generator's field for the prompt
    generator = load_generator(root / "generator")
    text = GeneratorText().encode([PROMPT])[0]
    made = generator.field_for(text, "cartoon").state_dict()
    written = state(run.stage_file("generator"))
    assert all(torch.equal(made[name], written[name]) for name in made)
    assert written["trajectory.offsets"].abs().max() > 1e-3  # the predicted path, not zeros
    assert cli.main(["render", f"run_dir={instant_run}", "frames=3", "width=16", "height=16"]) == 0
    assert cli.main(["evaluate", f"run_dir={instant_run}", "clip_model=null"]) == 0
    evaluation = json.loads(run.metrics_file.read_text())["evaluation"]
    assert evaluation["attributes_front"]["expected"] == {
        "colour": "red",
        "motion": "left",
        "genre": "cartoon",
    }
    assert cli.main(["export", f"run_dir={instant_run}", "grid=12"]) == 0
    assert list(run.exports.glob("generator_*.glb"))


def test_an_instant_run_never_imports_lightning(workspace: tuple[Path, list[str]]) -> None:
    """Lightning's import is most of a fresh process's start-up; a run that trains nothing
    must not pay it (the door checks no `trainer.*`, the job builds no Trainer)."""
    root, overrides = workspace
    args = [f"prompt={PROMPT}", "genre=noir", "schedule=instant", f"run_dir={root / 'bare'}"]
    script = (
        "import sys\n"
        "from t2v import cli\n"
        f"code = cli.main(['generate', *{[*args, *overrides]!r}])\n"
        "print(code, sorted(name for name in sys.modules if name.startswith('lightning')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.stdout.strip().splitlines()[-1] == "0 []", done.stdout + done.stderr
    assert RunDir(root / "bare").video_file.stat().st_size > 0


def test_amortised_stages_start_from_the_generators_field(
    workspace: tuple[Path, list[str]], instant_run: Path
) -> None:
    root, overrides = workspace
    run_dir = root / "amortised"
    only_static = [f"schedule.{stage}.steps=0" for stage in ("dynamic", "superres", "temporal")]
    args = [f"prompt={PROMPT}", "genre=cartoon", "init=amortised", f"run_dir={run_dir}"]
    code = cli.main(["generate", *args, *overrides, "schedule.static.steps=1", *only_static])
    assert code == 0
    run = RunDir(run_dir)
    assert run.finished_stages() == ["generator", "static"]
    start, after = state(run.stage_file("generator")), state(run.stage_file("static"))
    # the same field the instant run made (same prompt, genre and generator)
    instant = state(RunDir(instant_run).stage_file("generator"))
    assert all(torch.equal(start[name], instant[name]) for name in start)
    # the static stage trains no trajectory: the generator's path is kept exactly ...
    assert torch.equal(after["trajectory.offsets"], start["trajectory.offsets"])
    # ... and one Adam step (heads at lr 0.005) moves the heads by at most that much
    moved = (after["color_head.0.weight"] - start["color_head.0.weight"]).abs().max()
    assert 0 < moved <= 0.0051


@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        (["init=amortised", "field=hashgrid_cpu"], "field."),
        (["init=amortised", "genre=western"], "does not know"),
        (["schedule=instant", "generator=/nonexistent/generator"], "/nonexistent/generator"),
        (["schedule=instant", "prompt=" + " ".join(["red"] * 200)], "tokens"),
        (["schedule=instant", "+schedule.static.steps=3"], "schedule.instant"),
    ],
)
def test_what_the_generator_cannot_make_or_read_is_refused_in_one_line(
    workspace: tuple[Path, list[str]],
    capsys: pytest.CaptureFixture[str],
    overrides: list[str],
    says: str,
) -> None:
    root, base = workspace
    run_dir = root / "refused"
    args = ["generate", f"prompt={PROMPT}", f"run_dir={run_dir}", *base, *overrides]
    assert cli.main(args) == 2
    message = capsys.readouterr().err.strip()
    assert "\n" not in message and says in message, message
    assert not run_dir.exists()
