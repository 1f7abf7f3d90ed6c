"""The `t2v` command as a user runs it: help texts, and bad input refused with exit 2."""

from __future__ import annotations

import hashlib
import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from t2v import cli

T2V = str(Path(sys.executable).with_name("t2v"))


def run_t2v(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HYDRA_FULL_ERROR": "0"}
    return subprocess.run(
        [T2V, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def tree_digest(root: Path) -> dict[str, str]:
    """Every file under root with the hash of its bytes: proof that nothing was written."""
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def test_top_level_help_lists_every_command(tmp_path: Path) -> None:
    result = run_t2v("--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    for name in cli.COMMANDS:
        assert f"  {name}  " in result.stdout
    assert run_t2v(cwd=tmp_path).returncode == 2  # bare `t2v` prints usage and fails


def test_generate_help_lists_groups_and_genres(tmp_path: Path) -> None:
    result = run_t2v("generate", "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    genre_line = next(line for line in result.stdout.splitlines() if line.startswith("genre:"))
    for genre in ("action", "cartoon", "documentary", "fantasy", "horror", "noir", "none"):
        assert genre in genre_line
    for group in ("resolution:", "trainer:", "logger:", "debug:"):
        assert any(line.startswith(group) for line in result.stdout.splitlines())
    assert list(tmp_path.iterdir()) == []


BAD_INPUTS = [
    (["prompt="], "prompt = '': the prompt is empty"),
    (["prompt=   "], "prompt = '': the prompt is empty"),
    (["prompt='   '"], "prompt = '   ': the prompt is empty: pass one"),
    ([], "prompt is missing: pass prompt=..."),
    (["prompt=a ball", "seed=abc"], "seed = 'abc': Input should be a valid integer"),
    (["prompt=a ball", "genre=telenovela"], "unknown genre 'telenovela'; choose one of: action"),
    (["prompt=a ball", "resolution=8k"], "unknown resolution '8k'; choose one of: base, cpu"),
    (["prompt=a ball", "trainer=tpu"], "unknown trainer 'tpu' (did you mean 'gpu'?)"),
    (["prompt=a ball", "logger=mlflow"], "unknown logger 'mlflow'; choose one of: csv, none"),
    (["prompt=a ball", "resolution.width=30"], "resolution.width = 30: Input should be a multiple"),
    (["prompt=a ball", "resolution.height=0"], "resolution.height = 0: Input should be greater"),
    (
        ["prompt=a ball", "resolution.sr_width=16"],
        "resolution: sr_width x sr_height (16x64) must be at least width x height",
    ),
    (["prompt=a ball", "resolution.frames=0"], "resolution.frames = 0: Input should be greater"),
    (["prompt=a ball", "fps=0"], "fps = 0: Input should be greater than 0"),
    (["prompt=a ball", "duration=-1"], "duration = -1: Input should be greater than 0"),
    (["prompt=a ball", "promt=typo"], "unknown option 'promt'"),
    (["prompt=a ball", "genre=noir,cartoon"], "genre=noir,cartoon gives several values: add -m"),
    (["-m", "prompt=a ball", "genre=noir,nope"], "unknown genre 'nope'"),
    (
        ["prompt=a ball", "genre.camera.trajectory=spiral"],
        "genre.camera.trajectory = 'spiral': Input should be 'orbit'",
    ),
    (
        ["prompt=a ball", "field=hashgrid", "field.backend=cuda"],
        "field.backend = 'cuda': Input should be 'auto', 'torch'",
    ),
    (
        ["prompt=a ball", "renderer.checkpoint_min_rays=-1"],
        "renderer.checkpoint_min_rays = -1: Input should be greater than or equal to 0",
    ),
    (["prompt=a ball", "field.trajectory_knots=1"], "field.trajectory_knots = 1: must be 0"),
    (["prompt=a ball", "field.exposure_knots=1"], "field.exposure_knots = 1: must be 0"),
    (
        ["prompt=a ball", "prior.export_grading=sometimes"],
        "prior.export_grading = 'sometimes': Input should be a valid boolean",
    ),
    (
        ["prompt=a ball", "prior.image.timesteps.t_min_start=0.99"],
        "prior.image.timesteps: t_min_start = 0.99 is above t_max_start",
    ),
    (
        ["prompt=a ball", "prior.video.guidance_scale=-1"],
        "prior.video.guidance_scale = -1: Input should be greater than or equal to 0",
    ),
    (
        ["prompt=a ball", "prior.sr.weighting=loud"],
        "prior.sr.weighting = 'loud': Input should be 'sds'",
    ),
    (["prompt=a ball", "prior.video=null"], "prior 'bundled' has no video prior (prior.video)"),
    (
        ["prompt=a ball", "schedule.dynamic.regularizers.temporal_smoothness.end_step=-5"],
        "schedule.dynamic.regularizers.temporal_smoothness.end_step = -5: Input should be",
    ),
    (
        [
            "prompt=a ball",
            "schedule.dynamic.regularizers.temporal_smoothness={start_step:5,end_step:1}",
        ],
        "schedule.dynamic.regularizers.temporal_smoothness: the ramp ends (end_step 1) before",
    ),
    (["prompt=a ball", "schedule.static.steps=-5"], "schedule.static.steps = -5: Input should be"),
    (["prompt=a ball", "prior.reference={steps:0}"], "prior.reference.steps = 0: Input should be"),
    (["prompt=a ball", "prior.reference={weight:-1}"], "prior.reference.weight = -1: Input should"),
    (["prompt=a ball", "+prior.reference.size=8"], "prior.reference has unknown key 'size'"),
    (
        ["prompt=a ball", "+prior.reference.weight.sr=3"],
        "prior.reference.weight has unknown stage(s) sr (stages: static, dynamic, superres",
    ),
    (
        [
            "prompt=a ball",
            "prior.reference={steps:5}",
            "prior.video._target_=t2v.priors.LatentVideoPrior.from_pretrained",
        ],
        "prior.reference needs a video prior that samples clips (t2v.priors.PixelVideoPrior), "
        "not t2v.priors.LatentVideoPrior.from_pretrained",
    ),
    (
        ["prompt=a ball", "+schedule.dynamic.regularizers.reference=1"],
        "schedule.dynamic.regularizers has unknown key 'reference'",
    ),
    (
        ["prompt=a ball", "+schedule.dynamic.side_veiws={probability:0.5}"],
        "schedule.dynamic has unknown key 'side_veiws'",
    ),
    (["prompt=a ball", "+schedule.dynammic.steps=3"], "schedule has unknown key 'dynammic'"),
    (["prompt=a ball", "schedule.dynamic=3"], "schedule.dynamic = 3: Input should be a dict"),
    (["prompt=a ball", "+field.hidden_dimm=3"], "field has unknown key 'hidden_dimm'; known:"),
    (["prompt=a ball", "+resolution.widht=64"], "resolution has unknown key 'widht'"),
    (["prompt=a ball", "+trainer.max_steps=5"], "trainer.max_steps is set by t2v"),
    (["prompt=a ball", "+logger.flush_every=3"], "logger has unknown key 'flush_every'"),
    (
        ["prompt=a ball", "field._target_=t2v.field.Nope"],
        "field._target_ 't2v.field.Nope' cannot be imported",
    ),
]


@pytest.mark.parametrize(("args", "message"), BAD_INPUTS, ids=lambda v: str(v)[:40])
def test_bad_input_exits_2_with_one_line(
    tmp_path: Path,
    args: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """In this process (`cli.main` is what the `t2v` script calls; an exception it did not
    turn into its one line would fail the test); the next test runs the real script."""
    monkeypatch.chdir(tmp_path)
    code = cli.main(["generate", *args])
    captured = capsys.readouterr()
    assert code == 2, (captured.out, captured.err)
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("t2v generate: ")
    assert message in lines[0]
    assert list(tmp_path.iterdir()) == []  # nothing written


@pytest.mark.parametrize(("args", "message"), [BAD_INPUTS[0], BAD_INPUTS[-1]], ids=["a", "b"])
def test_bad_input_in_the_real_script_is_one_line_without_traceback(
    tmp_path: Path, args: list[str], message: str
) -> None:
    result = run_t2v("generate", *args, cwd=tmp_path)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert list(tmp_path.iterdir()) == []


def test_unknown_command(tmp_path: Path) -> None:
    result = run_t2v("train", "prompt=x", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "t2v train: unknown command 'train'; choose one of: "
        "generate, render, evaluate, export, view, pretrain"
    )


def write_run(run_dir: Path, prompt: str, genre: str = "noir") -> None:
    run_dir.mkdir(parents=True)
    config = {"prompt": prompt, "genre": {"name": genre}, "seed": 0, "run_dir": str(run_dir)}
    (run_dir / "config.yaml").write_text(yaml.safe_dump(config))
    (run_dir / "checkpoints").mkdir()
    (run_dir / "checkpoints" / "last.ckpt").write_bytes(b"weights")


def refusal_in_process(
    args: list[str], cwd: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> str:
    """`cli.main(args)` run from `cwd` in this process: exit 2 and its one stderr line."""
    monkeypatch.chdir(cwd)
    code = cli.main(args)
    err = capsys.readouterr().err
    assert code == 2, err[-2000:]
    assert len(err.strip().splitlines()) == 1, err
    return err.strip()


def test_run_dir_holding_another_run_is_refused_and_untouched(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    run_dir = tmp_path / "runs" / "cat"
    write_run(run_dir, prompt="a cat sleeping")
    before = tree_digest(tmp_path)
    args = ["generate", "prompt=a dog running", f"run_dir={run_dir}"]
    err = refusal_in_process(args, tmp_path, capsys, monkeypatch)
    assert f"run_dir {run_dir} holds another run (prompt 'a cat sleeping'" in err
    assert tree_digest(tmp_path) == before


def test_run_dir_with_foreign_files_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    run_dir = tmp_path / "thesis"
    run_dir.mkdir()
    (run_dir / "chapter1.tex").write_text("precious")
    before = tree_digest(tmp_path)
    args = ["generate", "prompt=a dog", f"run_dir={run_dir}"]
    err = refusal_in_process(args, tmp_path, capsys, monkeypatch)
    assert "is not empty and holds no t2v run (chapter1.tex" in err
    assert tree_digest(tmp_path) == before


def test_user_genre_from_a_yaml_file_alone(tmp_path: Path) -> None:
    conf = tmp_path / "myconf" / "genre"
    conf.mkdir(parents=True)
    source = Path(cli.__file__).parents[1] / "conf" / "genre" / "noir.yaml"
    preset = yaml.safe_load(source.read_text())
    preset.update(name="giallo", prompt_template="{prompt}, giallo film, lurid colours")
    (conf / "giallo.yaml").write_text(yaml.safe_dump(preset))
    args = ["generate", "--config-dir", str(tmp_path / "myconf"), "prompt=a knife", "genre=giallo"]
    shown = run_t2v(*args, "--cfg", "job", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "prompt_template: '{prompt}, giallo film, lurid colours'" in shown.stdout
    cli.register_resolvers()
    invocation = cli.parse_flags("generate", [*args[1:], f"run_dir={tmp_path / 'out'}"])
    command = importlib.import_module(cli.COMMANDS["generate"].module)
    [(cfg, config)] = cli.check_invocation("generate", invocation, command)  # no error
    assert cfg.genre.name == "giallo"
    assert config.genre.name == "giallo"
    assert config.genre.compose_prompt("a knife").startswith("a knife, giallo film")
    assert not (tmp_path / "out").exists()  # checked, not started


def test_broken_user_genre_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    conf = tmp_path / "myconf" / "genre"
    conf.mkdir(parents=True)
    (conf / "bad.yaml").write_text("name: bad\ndescription: x\nprompt_template: no placeholder\n")
    args = ["generate", "--config-dir", str(tmp_path / "myconf"), "prompt=x", "genre=bad"]
    assert refusal_in_process(args, tmp_path, capsys, monkeypatch) == (
        "t2v generate: genre.prompt_template: 'no placeholder' must contain '{prompt}' "
        "(where the prompt goes)"
    )


def test_sweep_expansion_matches_basic_sweeper() -> None:
    jobs = cli.expand_jobs(["prompt=a,b", "genre=noir,cartoon,none", "seed=1"], multirun=True)
    assert len(jobs) == 6
    assert jobs[0] == ["prompt=a", "genre=noir", "seed=1"]
    assert jobs[-1] == ["prompt=b", "genre=none", "seed=1"]


def test_sweep_expansion_takes_the_configs_own_sweeper_params() -> None:
    # `t2v generate -m +experiment=genres`: 3 prompts x 4 genres from the experiment's config;
    # a command-line override of a swept key replaces it where it stood, as in Hydra.
    jobs = cli.expand_jobs(["+experiment=genres"], multirun=True, command="generate")
    assert len(jobs) == 12
    assert jobs[0] == ['prompt="a red ball moving to the left"', "genre=none", "+experiment=genres"]
    assert jobs[-1][:2] == ['prompt="a yellow cone moving to the right"', "genre=horror"]
    narrowed = cli.expand_jobs(
        ["+experiment=genres", "genre=noir", "seed=3"], multirun=True, command="generate"
    )
    assert [job[1] for job in narrowed] == ["genre=noir"] * 3
    assert all(job[-1] == "seed=3" for job in narrowed)
