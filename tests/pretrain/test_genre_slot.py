"""genre_slot: an unconditional genre slot of its own, and one genre row learned alone."""

import json

import pytest
import torch

from t2v.errors import ConfigError
from t2v.models import PixelSRUNet, PixelVideoUNet
from t2v.pretrain.genre_slot import (
    learn_genre_row,
    main,
    procedural_batches,
    with_unconditional_slot,
)
from t2v.pretrain.modules import VideoPriorModule, default_scheduler_config
from t2v.text.prompt import PromptEncoder

from .conftest import TEXT_DIM, TINY_VIDEO, hashed_encoder


def tiny_video_unet() -> PixelVideoUNet:
    torch.manual_seed(0)
    unet = PixelVideoUNet(**TINY_VIDEO).eval()
    with torch.no_grad():  # genre rows far apart, so a wrong id changes the output
        unet.embedding.genre_embedding.weight.normal_(0.0, 3.0)
        for parameter in unet.parameters():  # zero-initialised layers would hide the genre
            parameter.add_(0.05 * torch.randn_like(parameter))
    return unet


def outputs(unet: PixelVideoUNet, genre_id: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(1)
    sample = torch.randn(2, 3, 4, 8, 8, generator=generator)
    text = torch.randn(2, TEXT_DIM, generator=generator)
    with torch.no_grad():
        return unet(sample, torch.tensor([100, 700]), text, torch.full((2,), genre_id))


def test_slot_moves_every_genre_up_and_keeps_its_outputs():
    old = tiny_video_unet()
    new = with_unconditional_slot(old)
    old_genres, new_genres = list(old.config.genres), list(new.config.genres)
    assert new_genres == ["", *old_genres]
    for genre in old_genres[1:]:
        torch.testing.assert_close(
            outputs(new, new_genres.index(genre)), outputs(old, old_genres.index(genre))
        )
    # The unconditional branch and, until trained, `none` both answer as the old id 0 did.
    torch.testing.assert_close(outputs(new, 0), outputs(old, 0))
    torch.testing.assert_close(outputs(new, new_genres.index("none")), outputs(old, 0))
    assert not torch.equal(outputs(old, 0), outputs(old, 1))  # the genre does matter
    with pytest.raises(ConfigError, match="already"):
        with_unconditional_slot(new)


def test_slot_applies_to_the_sr_unet():
    torch.manual_seed(0)
    old = PixelSRUNet(**{**TINY_VIDEO, "sample_size": 16})
    new = with_unconditional_slot(old)
    weights = new.embedding.genre_embedding.weight
    assert list(new.config.genres) == ["", *old.config.genres]
    torch.testing.assert_close(weights[1:], old.embedding.genre_embedding.weight)
    torch.testing.assert_close(weights[0], weights[1])


def test_prompt_ids_follow_the_slot():
    encoder = PromptEncoder(None, genres=("", "none", "horror"))  # type: ignore[arg-type]
    assert encoder.genre_id("none") == 1
    assert encoder.genre_id("horror") == 2
    assert encoder.genre_id("western") == 0  # a genre the prior never saw: unconditional


def held_out_loss(unet: PixelVideoUNet) -> float:
    """Denoising loss on fixed `none` clips and fixed noise, no dropout."""
    module = VideoPriorModule(
        model_config={**TINY_VIDEO, "genres": tuple(unet.config.genres)},
        foreground_weight=10.0,
        text_encoder=hashed_encoder,
    )
    module.model = unet
    batch = next(procedural_batches("none", 4, 8, batch_size=8, seed=99))
    return module.fixed_loss(batch, seed=3)


def test_learning_the_none_row_changes_nothing_else_and_lowers_its_loss():
    unet = with_unconditional_slot(tiny_video_unet())
    before = {name: value.clone() for name, value in unet.state_dict().items()}
    loss_before = held_out_loss(unet)
    learn_genre_row(
        unet,
        default_scheduler_config(),
        steps=40,
        batch_size=4,
        lr=0.05,
        text_encoder=hashed_encoder,
        log_every=0,
    )
    after = unet.state_dict()
    key = "embedding.genre_embedding.weight"
    for name, value in after.items():
        if name != key:
            assert torch.equal(value, before[name]), name
    row = list(unet.config.genres).index("none")
    others = [index for index in range(after[key].shape[0]) if index != row]
    assert torch.equal(after[key][others], before[key][others])
    assert not torch.equal(after[key][row], before[key][row])
    assert held_out_loss(unet) < loss_before


def test_learning_a_row_needs_the_slot():
    with pytest.raises(ConfigError, match="unconditional slot"):
        learn_genre_row(tiny_video_unet(), default_scheduler_config(), steps=1)


def test_cli_refuses_bad_folders(tmp_path, capsys):
    assert main([str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    assert "not a prior folder" in capsys.readouterr().err
    (tmp_path / "t2v_prior.json").write_text(json.dumps({"genres": ["none"]}))
    existing = tmp_path / "existing"
    existing.mkdir()
    (existing / "keep.txt").write_text("mine")
    assert main([str(tmp_path), "--out", str(existing)]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "exists" in error
    assert (existing / "keep.txt").read_text() == "mine"


def test_cli_refuses_zero_steps_before_writing(tmp_path, capsys):
    (tmp_path / "t2v_prior.json").write_text(json.dumps({"genres": ["none"]}))
    out = tmp_path / "out"
    assert main([str(tmp_path), "--out", str(out), "--steps", "0"]) == 2
    assert "at least 1" in capsys.readouterr().err
    assert not out.exists()
