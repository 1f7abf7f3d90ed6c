"""`t2v pretrain pretrain=scene_generator_debug`: trains, exports the EMA generator, resumes
from last.ckpt without drawing the reference clips again, and guards its run dir."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf, open_dict

from t2v import cli
from t2v.errors import T2VError
from t2v.generator import GeneratorText, load_generator
from t2v.pretrain.scene_prompts import heldout_prompts, is_heldout, training_prompts
from t2v.pretrain.train import checkpoint_path, load_checkpoint

GENRES = ("none", "action", "cartoon", "documentary", "horror", "noir", "scifi", "fantasy")


def pretrain(run_dir: Path, output: Path, *overrides: str) -> int:
    return cli.main(
        [
            "pretrain",
            "pretrain=scene_generator_debug",
            f"run_dir={run_dir}",
            f"output_dir={output}",
            "logger=none",
            *overrides,
        ]
    )


def test_debug_run_trains_exports_resumes_and_guards_the_run_dir(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir, output = tmp_path / "run", tmp_path / "generator"
    assert pretrain(run_dir, output) == 0
    last = checkpoint_path(run_dir, "generator")
    checkpoint = load_checkpoint(last)
    assert checkpoint["global_step"] == 2
    references = run_dir / "references.pt"
    drawn = references.stat().st_mtime_ns
    clips = torch.load(references, weights_only=True)["clips"]
    assert clips.shape == (3, 8, 3, 32, 32) and clips.min() >= 0 and clips.max() <= 1

    generator = load_generator(output)
    manifest = json.loads((output / "generator.json").read_text())
    assert manifest["training"]["steps"] == 2
    ema = {
        name.removeprefix("ema_generator."): value
        for name, value in checkpoint["state_dict"].items()
        if name.startswith("ema_generator.")
    }
    assert all(torch.equal(generator.state_dict()[name], ema[name]) for name in ema)
    # EMA and trained weights differ after training: the export is the average
    trained = checkpoint["state_dict"]["generator.out.weight"]
    assert not torch.equal(trained, ema["out.weight"]) and trained.abs().sum() > 0
    assert generator.reads_tokens  # the recipe's motion head reads token states
    text = GeneratorText().encode(["a red ball"], tokens=True)[0]
    field = generator.field_for(text, "noir")
    assert field.trajectory_offsets() is not None

    assert pretrain(run_dir, output, "pretrain.max_steps=3") == 0  # resumes from last.ckpt
    assert load_checkpoint(last)["global_step"] == 3
    assert references.stat().st_mtime_ns == drawn  # the clips were read, not drawn again

    capsys.readouterr()
    assert pretrain(run_dir, output, "pretrain.model.hidden_dim=32") == 2
    assert capsys.readouterr().err.strip().startswith("t2v pretrain: run_dir")
    assert load_checkpoint(last)["global_step"] == 3


@pytest.mark.parametrize(
    ("override", "names"),
    [
        ("pretrain.genres=[none,nosuchgenre]", "pretrain.genres"),
        ("pretrain.render_scale=1.5", "pretrain.render_scale"),
        ("pretrain.field._target_=t2v.field.GaussianField", "pretrain.field"),
        ("pretrain.lr.generator=-1.0", "pretrain.lr.generator"),
        ("pretrain.prior.video.guidance_scale=abc", "pretrain.prior.video.guidance_scale"),
    ],
)
def test_a_bad_recipe_is_refused_in_one_line_before_anything_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], override: str, names: str
) -> None:
    assert pretrain(tmp_path / "run", tmp_path / "out", override) == 2
    message = capsys.readouterr().err.strip()
    assert "\n" not in message and names in message, message
    assert not (tmp_path / "run").exists() and not (tmp_path / "out").exists()


def test_heldout_combinations_never_train_and_every_value_still_does() -> None:
    train = training_prompts(500, GENRES, 7, seed=0)
    assert not any(is_heldout(p.colour, p.motion, p.genre, GENRES, 7) for p in train)
    assert {p.colour for p in train} == {
        p.colour for p in heldout_prompts(99, GENRES, 7, 1, "train")
    }
    assert len({p.motion for p in train}) == 11 and len({p.genre for p in train}) == len(GENRES)
    held = heldout_prompts(8, GENRES, 7, seed=1, split="heldout_phrasing")
    assert len(held) == 8 and all(is_heldout(p.colour, p.motion, p.genre, GENRES, 7) for p in held)
    assert not {p.caption for p in held} & {p.caption for p in train}


def recipe_leaves() -> list[tuple[str, object]]:
    """Every leaf key under `pretrain.` of the scene generator's recipe, with its default."""
    cli.register_resolvers()
    cfg = cli.compose("pretrain", ["pretrain=scene_generator", "output_dir=x"])
    plain = OmegaConf.to_container(cfg.pretrain, resolve=False)

    def walk(node: object, prefix: str) -> list[tuple[str, object]]:
        if isinstance(node, dict) and node:
            return [leaf for key, value in node.items() for leaf in walk(value, f"{prefix}.{key}")]
        return [(prefix, node)]

    return [(key, value) for key, value in walk(plain, "pretrain") if "_target_" not in key]


def wrong_value(default: object) -> object:
    """A value of another type than `default`'s."""
    if isinstance(default, bool):
        return "maybe"
    if isinstance(default, int | float):
        return "abc"
    if isinstance(default, str):
        return {"x": 1}
    if isinstance(default, list):
        return "abc"
    return [[1], 2]  # null by default: a nested list fits nothing


def test_every_key_of_the_recipe_refuses_a_wrong_type_naming_it() -> None:
    """The door fuzz test composes `pretrain=debug`; the generator's recipe gets the same."""
    from t2v.commands import pretrain as command

    cfg = cli.compose("pretrain", ["pretrain=scene_generator", "output_dir=/nonexistent/x"])
    job = OmegaConf.masked_copy(cfg, [key for key in cfg if key != "hydra"])
    leaves = recipe_leaves()
    assert len(leaves) > 60
    for key, default in leaves:
        patched = copy.deepcopy(job)
        with open_dict(patched):
            OmegaConf.update(patched, key, wrong_value(default), merge=False)
        with pytest.raises(T2VError) as refused:
            command.settings(patched)
        message = str(refused.value)
        assert refused.value.exit_code == 2 and "\n" not in message, message
        assert key in message, (key, message)
