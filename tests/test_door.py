"""Every key of every command's configuration is checked at the door.

For each leaf key of every command's composed configuration (generate, render, evaluate,
export, view, pretrain), hypothesis draws a wrong-typed value (and, for numbers, an out-of-range
one); the command must refuse it before anything is written: one `T2VError` (exit 2) whose one
line names the key,
the working folder untouched. Each case patches the composed job rather than composing it again
(the door's parse is what is under test; one case goes through the command line itself).
"""

from __future__ import annotations

import copy
import hashlib
import importlib
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from omegaconf import OmegaConf, open_dict

from t2v import cli
from t2v.commands.door import resolved
from t2v.errors import T2VError
from t2v.priors.tiny import save_tiny_bundled
from t2v.rundir import RunDir
from t2v.scene import Scene, save_stage_state

# Numbers any value of which is meaningful (a seed, a signed offset, an exposure shift).
UNBOUNDED = {
    "seed",
    "genre.grading.brightness",
    "renderer.cameras.static.azimuth_deg",
    "renderer.cameras.dynamic.azimuth_deg",
}
# Arguments of Lightning's Trainer and loggers and of torch's optimiser: typed by their own
# libraries' annotations, which state no ranges; they get wrong types only.
THIRD_PARTY = ("trainer.", "logger.", "optimizer.")
# Leaves that name a class (`_target_`) or Hydra's own: checked by their own tests.
SKIPPED_SUFFIXES = ("_target_", "_partial_")


def leaves(node: Any, prefix: str = "") -> list[tuple[str, Any]]:
    found = []
    for key, value in node.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            found += leaves(value, f"{path}.")
        else:
            found.append((path, value))
    return found


def override_text(value: Any) -> str:
    """A value as Hydra's override grammar writes it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f"'{value}'"
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}:{override_text(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(override_text(v) for v in value) + "]"
    return repr(value)


def wrong_values(default: Any, key: str) -> st.SearchStrategy[Any]:
    """Values of another type than `default`'s, and numbers out of any sane range."""
    mapping = st.just({"x": 1})
    if isinstance(default, bool):
        return st.sampled_from(["maybe", 3, {"x": 1}])
    if key.startswith(THIRD_PARTY):
        return mapping  # their own annotations allow str, lists and more: a mapping fits none
    if isinstance(default, int | float):
        wrong = st.sampled_from(["abc", [1, 2], {"x": 1}, True])
        if key in UNBOUNDED:
            return wrong
        return st.one_of(wrong, st.just(-(10**9)))  # every other number here is a count, a
        # size, a rate, a weight or a probability
    if isinstance(default, str):
        return st.one_of(mapping, st.just([1, 2]))
    if isinstance(default, list):
        return st.one_of(mapping, st.just("abc"))
    return st.one_of(mapping, st.just([[1], 2]))  # null by default: a nested list fits nothing


def tree_digest(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding a finished run (what render and evaluate read) and a tiny prior."""
    root = tmp_path_factory.mktemp("door")
    prior = root / "prior"
    save_tiny_bundled(prior, frames=4, size=16, genres=("none", "cartoon"))
    cli.register_resolvers()
    cfg = cli.compose("generate", ["prompt=a red ball", "debug=default", f"run_dir={root}/run"])
    job = OmegaConf.masked_copy(cfg, [key for key in cfg if key != "hydra"])
    run = RunDir(root / "run")
    run.write_config(resolved(job))
    config = run.load_config()
    scene = Scene.build(config)
    run.checkpoints.mkdir()
    save_stage_state(run.stage_file("temporal"), scene.field, scene.renderer, "temporal", 1)
    run.video_file.write_bytes(b"")  # only its presence is checked at the door
    torch.manual_seed(0)
    return root


def base_overrides(command: str, root: Path) -> list[str]:
    return {
        "generate": ["prompt=a red ball", f"run_dir={root}/new"],
        "render": [f"run_dir={root}/run"],
        "evaluate": [f"run_dir={root}/run", "clip_model=null"],
        "export": [f"run_dir={root}/run"],
        "view": [f"run_dir={root}/run"],
        "pretrain": [f"output_dir={root}/out", f"run_dir={root}/pretrain", "pretrain=debug"],
    }[command]


def command_keys(command: str) -> list[tuple[str, Any]]:
    """Every leaf key of the command's default configuration (a stand-in run folder)."""
    cli.register_resolvers()
    root = Path("/nonexistent")
    cfg = cli.compose(command, base_overrides(command, root))
    job = OmegaConf.masked_copy(cfg, [key for key in cfg if key != "hydra"])
    plain = OmegaConf.to_container(job, resolve=False)
    return [
        (key, value)
        for key, value in leaves(plain)
        if not key.endswith(SKIPPED_SUFFIXES)
        and not key.startswith("hydra")
        and not (isinstance(value, str) and value.startswith("${"))  # set from another key
    ]


CASES = [
    pytest.param(command, key, default, id=f"{command}:{key}")
    for command in cli.COMMANDS
    for key, default in command_keys(command)
]


class Composed(dict):
    """Each command's job as the door composes it (short repr: hypothesis prints arguments)."""

    def __repr__(self) -> str:
        return f"Composed({', '.join(self)})"


@pytest.fixture(scope="module")
def composed(workspace: Path) -> Composed:
    """Each command's job composed once; each case patches a copy."""
    cli.register_resolvers()
    return Composed(
        {name: cli.compose(name, base_overrides(name, workspace)) for name in cli.COMMANDS}
    )


@pytest.mark.parametrize(("command", "key", "default"), CASES)
@settings(
    max_examples=3,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_a_bad_value_of_any_key_is_refused_in_one_line(
    command: str,
    key: str,
    default: Any,
    data: st.DataObject,
    workspace: Path,
    composed: Composed,
) -> None:
    value = data.draw(wrong_values(default, key), label=key)
    cfg = copy.deepcopy(composed[command])
    with open_dict(cfg):
        OmegaConf.update(cfg, key, value, merge=False)
    before = tree_digest(workspace)
    module = importlib.import_module(cli.COMMANDS[command].module)
    run_dir = cli.job_run_dir(cfg, 0, multirun=False)
    with pytest.raises(T2VError) as refused:
        cli.job_settings(command, module, cfg, run_dir)
    message = str(refused.value)
    assert refused.value.exit_code == 2
    assert "\n" not in message and message.strip(), message
    assert key in message, (key, value, message)
    assert tree_digest(workspace) == before


def test_the_door_refuses_through_the_command_line_in_one_line(
    workspace: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the cases above check is what a user sees: exit 2, one line, nothing written."""
    monkeypatch.chdir(workspace)
    before = tree_digest(workspace)
    code = cli.main(["generate", *base_overrides("generate", workspace), "seed=abc"])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.err == "t2v generate: seed = 'abc': Input should be a valid integer\n"
    assert tree_digest(workspace) == before
