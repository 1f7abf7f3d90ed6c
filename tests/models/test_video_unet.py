"""PixelVideoUNet: shapes, fixed-seed values, frame independence at init, save/load round trip."""

import pytest
import torch

from t2v.models import PixelVideoUNet

TINY = dict(block_channels=(8, 16), embed_dim=16, norm_groups=4, text_dim=12, max_frames=6)


def tiny_model() -> PixelVideoUNet:
    torch.manual_seed(0)
    return PixelVideoUNet(**TINY).eval()


def tiny_inputs(clips: int = 2, frames: int = 4, size: int = 8):
    generator = torch.Generator().manual_seed(1)
    sample = torch.randn(clips, 3, frames, size, size, generator=generator)
    text = torch.randn(clips, 12, generator=generator)
    return sample, torch.tensor([10, 900])[:clips], text, torch.tensor([0, 3])[:clips]


def test_forward_backward_shapes_and_fixed_values():
    model = tiny_model()
    sample, timestep, text, genres = tiny_inputs()
    output = model(sample, timestep, text, genres)
    assert output.shape == sample.shape
    assert output[0, :, 0, 0, 0].tolist() == pytest.approx([0.0498, 0.0617, -0.0464], abs=1e-3)
    assert float(output.abs().mean()) == pytest.approx(0.2354, abs=1e-3)
    output.square().mean().backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None for g in grads)
    assert float(model.core.conv_in.weight.grad.abs().sum()) > 0


def test_condition_changes_the_output():
    model = tiny_model()
    sample, timestep, text, genres = tiny_inputs()
    base = model(sample, timestep, text, genres)
    other_genre = model(sample, timestep, text, torch.tensor([1, 1]))
    other_text = model(sample, timestep, -text, genres)
    assert float((base - other_genre).abs().max()) > 1e-3
    assert float((base - other_text).abs().max()) > 1e-3


def test_fresh_model_treats_frames_independently():
    model = tiny_model()
    sample, timestep, text, genres = tiny_inputs(frames=5)
    order = torch.tensor([3, 0, 4, 1, 2])
    output = model(sample, timestep, text, genres)
    permuted = model(sample[:, :, order], timestep, text, genres)
    torch.testing.assert_close(permuted, output[:, :, order], atol=1e-5, rtol=1e-5)
    # Once the temporal convs are non-zero, frames talk to each other: the check can fail.
    with torch.no_grad():
        for block in [*model.core.down, model.core.middle, *model.core.up]:
            block.temporal.conv.weight.normal_(0.0, 0.3)
    output = model(sample, timestep, text, genres)
    permuted = model(sample[:, :, order], timestep, text, genres)
    assert float((permuted - output[:, :, order]).abs().max()) > 1e-2


def test_save_and_load_give_identical_outputs(tmp_path):
    model = tiny_model()
    with torch.no_grad():  # non-trivial temporal weights and frame embedding must survive too
        model.embedding.frame_embedding.normal_()
        model.core.up[0].temporal.conv.weight.normal_()
    model.save_pretrained(tmp_path, safe_serialization=True)
    loaded = PixelVideoUNet.from_pretrained(tmp_path, low_cpu_mem_usage=False).eval()
    assert list(loaded.config.genres) == list(model.config.genres)
    assert loaded.config.prediction_type == "v_prediction"
    sample, timestep, text, genres = tiny_inputs()
    torch.testing.assert_close(
        loaded(sample, timestep, text, genres), model(sample, timestep, text, genres)
    )


def test_rejects_genre_list_without_none_first_and_too_many_frames():
    with pytest.raises(ValueError, match="none"):
        PixelVideoUNet(**{**TINY, "genres": ("noir", "none")})
    sample, timestep, text, genres = tiny_inputs(frames=7)
    with pytest.raises(ValueError, match="at most 6"):
        tiny_model()(sample, timestep, text, genres)


def test_text_scale_is_a_reparametrisation_of_the_text_projection():
    model = tiny_model()
    torch.manual_seed(0)
    scaled = PixelVideoUNet(**TINY, text_scale=4.0).eval()
    scaled.load_state_dict(model.state_dict())
    with torch.no_grad():
        scaled.embedding.text_proj.weight.div_(4.0)
    inputs = tiny_inputs()
    torch.testing.assert_close(scaled(*inputs), model(*inputs), atol=1e-5, rtol=1e-5)
    assert PixelVideoUNet.from_config(scaled.config).config.text_scale == 4.0


def test_mlp_text_pathway_reads_the_direction_of_the_sentence_vector_only():
    torch.manual_seed(0)
    model = PixelVideoUNet(**TINY, text_pathway="mlp").eval()
    sample, timestep, text, genres = tiny_inputs()
    base = model(sample, timestep, text, genres)
    # Standardised input: a sentence vector scaled up or down gives the same output...
    torch.testing.assert_close(model(sample, timestep, 7.0 * text, genres), base, atol=1e-4, rtol=0)
    # ...while another sentence changes it, as much as another genre does (same order).
    other_text = (model(sample, timestep, text.flip(0), genres) - base).abs().mean()
    other_genre = (model(sample, timestep, text, torch.tensor([5, 6])) - base).abs().mean()
    assert other_text > 0.2 * other_genre
    assert PixelVideoUNet.from_config(model.config).config.text_pathway == "mlp"
    with pytest.raises(ValueError, match="text_pathway"):
        PixelVideoUNet(**TINY, text_pathway="transformer")
