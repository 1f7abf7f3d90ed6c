"""Pretraining modules: condition dropout, loss going down, SR inputs, resume, export, sampling."""

import json

import pytest
import torch

from t2v.models.ddim import guided
from t2v.pretrain.modules import UNCONDITIONAL_PROMPT, SRPriorModule, VideoPriorModule
from t2v.pretrain.prior_folder import MAX_PRIOR_BYTES, load_prior, weights_bytes
from t2v.pretrain.sampling import sample_video
from t2v.pretrain.train import checkpoint_path, export_run, fit_stage, load_checkpoint

from .conftest import TINY_VIDEO, hashed_encoder, procedural_batch


def video_module(**options) -> VideoPriorModule:
    torch.manual_seed(0)
    return VideoPriorModule(model_config=TINY_VIDEO, text_encoder=hashed_encoder, **options)


def sr_module() -> SRPriorModule:
    torch.manual_seed(0)
    config = {**TINY_VIDEO, "sample_size": 16}
    return SRPriorModule(model_config=config, text_encoder=hashed_encoder)


def test_condition_dropout_replaces_text_and_genre():
    batch = procedural_batch(clips=6, frames=4, size=8)
    kept = video_module(text_dropout=0.0, genre_dropout=0.0)
    text, genres = kept.condition(batch, drop=True)
    torch.testing.assert_close(text, hashed_encoder(list(batch["caption"])))
    assert genres.tolist() == [kept.genres.index(g) for g in batch["genre"]]
    dropped = video_module(text_dropout=1.0, genre_dropout=1.0)
    text, genres = dropped.condition(batch, drop=True)
    torch.testing.assert_close(text, hashed_encoder([UNCONDITIONAL_PROMPT]).expand(6, -1))
    assert genres.tolist() == [0] * 6


def test_condition_dropout_replaces_token_states_whole():
    def token_encoder(texts):
        states = hashed_encoder(texts)[:, None, :].repeat(1, 5, 1)
        for row, text in enumerate(texts):
            states[row, len(text.split()) :] = 0  # "" keeps no token
        return states

    torch.manual_seed(0)
    config = {**TINY_VIDEO, "text_pathway": "attention"}
    module = VideoPriorModule(
        model_config=config, text_encoder=token_encoder, text_dropout=0.5, genre_dropout=0.0
    )
    batch = procedural_batch(clips=16, frames=4, size=8)
    text, _ = module.condition(batch, drop=True)
    full = token_encoder(list(batch["caption"]))
    dropped = text.abs().sum(dim=(1, 2)) == 0
    assert 0 < int(dropped.sum()) < 16
    torch.testing.assert_close(text[~dropped], full[~dropped])
    assert torch.isfinite(module.denoising_loss(batch, drop=True))


def test_a_few_steps_lower_the_loss_on_a_fixed_batch():
    module = video_module()
    batch = procedural_batch(clips=4, frames=4, size=8)
    before = sum(module.fixed_loss(batch, seed) for seed in range(3))
    optimizer = module.configure_optimizers()
    for _ in range(40):
        optimizer.zero_grad()
        module.denoising_loss(batch, drop=False).backward()
        optimizer.step()
    after = sum(module.fixed_loss(batch, seed) for seed in range(3))
    assert after < 0.8 * before


def test_sr_inputs_are_the_pooled_clip_noised_at_a_level():
    module = sr_module()
    batch = procedural_batch(clips=3, frames=4, size=16)
    clean, extra = module.denoising_inputs(batch, torch.Generator().manual_seed(0))
    assert clean.shape == (3, 3, 4, 16, 16)
    assert extra["low_res"].shape == (3, 3, 4, 8, 8)
    assert extra["noise_level"].min() >= 0 and extra["noise_level"].max() <= 350
    pooled = torch.nn.functional.avg_pool2d(clean[:, :, 0], 2)
    alpha = module.noise_scheduler.alphas_cumprod[extra["noise_level"]].sqrt()
    # The low-res input is sqrt(alpha_bar) * pooled + noise: closest to the pooled clip.
    residual = extra["low_res"][:, :, 0] - alpha[:, None, None, None] * pooled
    assert float(residual.std()) == pytest.approx(float((1 - alpha**2).sqrt().mean()), rel=0.5)
    loss = module.denoising_loss(batch, drop=True)
    assert torch.isfinite(loss) and float(loss) > 0


def test_resume_continues_the_step_count_and_data_offset(tmp_path):
    from t2v.data.procedural import ProceduralVideoText

    offsets = []

    def make_dataset(offset):
        offsets.append(offset)
        return ProceduralVideoText(frames=4, height=8, width=8, seed=0, start=offset * 2)

    options = {"accelerator": "cpu"}
    first = fit_stage(video_module(), "video", tmp_path, make_dataset, 2, 3, 2, options)
    saved = load_checkpoint(checkpoint_path(tmp_path, "video"))
    assert first == 3 and saved["global_step"] == 3
    resumed = video_module()
    final = fit_stage(resumed, "video", tmp_path, make_dataset, 2, 5, 2, options)
    assert final == 5 and offsets == [0, 3]
    assert load_checkpoint(checkpoint_path(tmp_path, "video"))["global_step"] == 5
    assert not list(checkpoint_path(tmp_path, "video").parent.glob("last-v*.ckpt"))
    # The resumed module started from the saved EMA, not from a fresh copy of the model.
    fresh = video_module()
    assert not torch.equal(
        resumed.ema_model.core.conv_in.weight, fresh.ema_model.core.conv_in.weight
    )

    folder = export_run(tmp_path, tmp_path / "prior")
    meta = json.loads((folder / "t2v_prior.json").read_text())
    assert meta["kind"] == "pixel_video" and meta["frames"] == 4 and meta["height"] == 8
    assert meta["genres"][0] == "none" and meta["sr_factor"] == 1  # no SR stage trained
    assert 0 < weights_bytes(folder) < MAX_PRIOR_BYTES
    prior = load_prior(folder)
    sample = torch.randn(1, 3, 4, 8, 8)
    text = hashed_encoder(["a red ball"])
    torch.testing.assert_close(
        prior.unet(sample, 500, text, 2), resumed.ema_model(sample, 500, text, 2)
    )


def test_guidance_arithmetic():
    pair = torch.tensor([[3.0], [1.0]])
    assert guided(pair, 1.0).tolist() == [[3.0]]
    assert guided(pair, 2.5).tolist() == [[6.0]]  # 1 + 2.5 * (3 - 1)


def test_sampling_is_seeded_and_in_range(tmp_path):
    from t2v.pretrain.prior_folder import PriorModels

    module = video_module()
    models = PriorModels(module.ema_model.eval(), module.noise_scheduler)
    args = (["a red ball moves left", "a blue cube"], ["none", "noir"])
    first = sample_video(models, *args, steps=3, guidance=2.0, seed=1, text_encoder=hashed_encoder)
    again = sample_video(models, *args, steps=3, guidance=2.0, seed=1, text_encoder=hashed_encoder)
    other = sample_video(models, *args, steps=3, guidance=2.0, seed=2, text_encoder=hashed_encoder)
    assert first.shape == (2, 4, 3, 8, 8)
    assert float(first.min()) >= 0.0 and float(first.max()) <= 1.0
    torch.testing.assert_close(first, again)
    assert float((first - other).abs().max()) > 1e-3


def test_foreground_weight_reweights_the_squared_error_by_the_object_mask():
    batch = procedural_batch(clips=2, frames=4, size=8)
    assert batch["mask"].shape == (2, 4, 1, 8, 8)
    assert 0.0 < float(batch["mask"].mean()) < 0.5
    plain, weighted = video_module(), video_module(foreground_weight=3.0)
    weighted.model.load_state_dict(plain.model.state_dict())
    no_mask = {key: value for key, value in batch.items() if key != "mask"}
    seed = torch.Generator().manual_seed
    # Without a mask the weighted module is plain MSE.
    assert float(weighted.denoising_loss(no_mask, False, seed(0))) == pytest.approx(
        float(plain.denoising_loss(batch, False, seed(0))), rel=1e-6
    )
    # With one, the loss is the weighted mean of the per-pixel errors, recomputed here.
    clean, _ = plain.denoising_inputs(batch)
    text, genre_ids = plain.condition(batch, drop=False)
    generator = seed(0)
    noise = torch.randn(clean.shape, generator=generator)
    timesteps = torch.randint(0, 1000, (2,), generator=generator)
    noisy = plain.noise_scheduler.add_noise(clean, noise, timesteps)
    with torch.no_grad():
        prediction = plain.model(noisy, timesteps, text, genre_ids)
    error = prediction - plain.target(clean, noise, timesteps)
    weights = (1 + 3.0 * batch["mask"].transpose(1, 2)).expand_as(error)
    expected = float((weights * error.square()).sum() / weights.sum())
    loss = float(weighted.denoising_loss(batch, False, seed(0)))
    assert loss == pytest.approx(expected, rel=1e-5)
    assert expected != pytest.approx(float(plain.denoising_loss(batch, False, seed(0))), rel=1e-3)


def test_warm_start_into_a_grown_model_keeps_its_outputs(tmp_path):
    from t2v.errors import ConfigError
    from t2v.pretrain.train import warm_start

    trained = video_module()
    with torch.no_grad():
        for parameter in trained.ema_model.parameters():
            parameter.add_(0.01 * torch.randn_like(parameter))
    path = tmp_path / "last.ckpt"
    torch.save({"state_dict": trained.state_dict(), "global_step": 7}, path)
    grown_config = {
        **TINY_VIDEO,
        "coordinates": True,
        "frame_mixing": True,
        "layout_channels": 4,
    }
    grown = VideoPriorModule(model_config=grown_config, text_encoder=hashed_encoder)
    new = warm_start(grown, path)
    assert sorted(new) == [
        "embedding.frame_mlp.1.bias",
        "embedding.frame_mlp.1.weight",
        "embedding.frame_mlp.3.bias",
        "embedding.frame_mlp.3.weight",
        "layout.grid.1.bias",
        "layout.grid.1.weight",
        "layout.grid.3.bias",
        "layout.grid.3.weight",
        "layout.project.bias",
        "layout.project.weight",
    ]
    assert grown.model.core.conv_in.weight.shape[1] == 5
    # Coordinates enter through zero weights, the frame MLP and layout map through zero layers:
    # so the grown model starts as the checkpoint's EMA model, and can then learn to use them.
    generator = torch.Generator().manual_seed(0)
    sample = torch.randn(2, 3, 4, 8, 8, generator=generator)
    text, genres = torch.randn(2, 12, generator=generator), torch.tensor([0, 2])
    with torch.no_grad():
        expected = trained.ema_model(sample, torch.tensor([5, 500]), text, genres)
        for model in (grown.model, grown.ema_model):
            actual = model(sample, torch.tensor([5, 500]), text, genres)
            torch.testing.assert_close(actual, expected, atol=1e-5, rtol=1e-5)
    smaller = VideoPriorModule(
        model_config={**TINY_VIDEO, "block_channels": (8, 8)}, text_encoder=hashed_encoder
    )
    with pytest.raises(ConfigError, match="init_from"):
        warm_start(smaller, path)


def test_warm_start_from_a_prior_folder_takes_its_unet_weights(tmp_path):
    from diffusers import DDPMScheduler

    from t2v.errors import ConfigError
    from t2v.pretrain.prior_folder import PriorModels, save_prior
    from t2v.pretrain.train import warm_start

    trained = video_module()
    with torch.no_grad():
        for parameter in trained.ema_model.parameters():
            parameter.add_(0.01 * torch.randn_like(parameter))
    folder = save_prior(PriorModels(trained.ema_model, DDPMScheduler()), tmp_path / "prior")
    fresh = video_module()
    assert warm_start(fresh, folder) == []
    for model in (fresh.model, fresh.ema_model):
        for name, value in model.state_dict().items():
            torch.testing.assert_close(value, trained.ema_model.state_dict()[name])
    with pytest.raises(ConfigError, match="without sr_unet/"):
        warm_start(sr_module(), folder)
    with pytest.raises(ConfigError, match="neither a checkpoint file nor a prior folder"):
        warm_start(fresh, tmp_path / "missing.ckpt")


def test_attribute_heads_read_the_caption_labels_from_the_text_pathway():
    batch = procedural_batch(clips=8, frames=4, size=8)
    assert video_module().attribute_loss(batch) is None  # off by default: no heads
    module = video_module(attribute_weight=0.1)
    unlabelled = {key: value for key, value in batch.items() if key not in ("colour", "motion")}
    del unlabelled["shape"]
    assert module.attribute_loss(unlabelled) is None  # real data carries no labels
    optimizer = module.configure_optimizers()
    head_weights = {id(p) for p in module.attribute_heads.parameters()}
    assert head_weights <= {id(p) for group in optimizer.param_groups for p in group["params"]}
    before = float(module.attribute_loss(batch))
    for _ in range(200):
        optimizer.zero_grad()
        module.attribute_loss(batch).backward()
        optimizer.step()
    # The heads and the text pathway learn the labels; the UNet body gets no gradient from it.
    assert float(module.attribute_loss(batch)) < 0.5 * before
    assert module.model.core.conv_in.weight.grad is None
    torch.manual_seed(1)
    step_loss = module.training_step(batch, 0)
    torch.manual_seed(1)
    expected = module.denoising_loss(batch, drop=True) + 0.1 * module.attribute_loss(batch)
    assert float(step_loss) == pytest.approx(float(expected), rel=1e-6)
