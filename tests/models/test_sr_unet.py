"""PixelSRUNet: shapes, fixed-seed values, dependence on the low-res input, round trip."""

import pytest
import torch

from t2v.models import PixelSRUNet

TINY = dict(block_channels=(8, 16), embed_dim=16, norm_groups=4, text_dim=12, max_frames=6)


def tiny_model() -> PixelSRUNet:
    torch.manual_seed(0)
    return PixelSRUNet(**TINY).eval()


def tiny_inputs():
    generator = torch.Generator().manual_seed(2)
    sample = torch.randn(2, 3, 3, 16, 16, generator=generator)
    low = torch.rand(2, 3, 3, 8, 8, generator=generator) * 2 - 1
    text = torch.randn(2, 12, generator=generator)
    return sample, torch.tensor([5, 500]), low, torch.tensor([0, 100]), text, torch.tensor([2, 0])


def test_forward_backward_shapes_and_fixed_values():
    model = tiny_model()
    inputs = tiny_inputs()
    output = model(*inputs)
    assert output.shape == inputs[0].shape
    assert output[1, :, 2, 5, 5].tolist() == pytest.approx([0.2447, 0.0188, 0.3612], abs=1e-3)
    assert float(output.abs().mean()) == pytest.approx(0.2426, abs=1e-3)
    output.square().mean().backward()
    assert float(model.core.conv_in.weight.grad.abs().sum()) > 0


def test_output_depends_on_low_res_and_noise_level():
    model = tiny_model()
    sample, timestep, low, level, text, genres = tiny_inputs()
    base = model(sample, timestep, low, level, text, genres)
    assert float((model(sample, timestep, -low, level, text, genres) - base).abs().max()) > 1e-3
    assert (
        float((model(sample, timestep, low, level + 200, text, genres) - base).abs().max()) > 1e-3
    )


def test_round_trip_and_shape_check(tmp_path):
    model = tiny_model()
    model.save_pretrained(tmp_path, safe_serialization=True)
    loaded = PixelSRUNet.from_pretrained(tmp_path, low_cpu_mem_usage=False).eval()
    assert loaded.config.sr_factor == 2
    inputs = tiny_inputs()
    torch.testing.assert_close(loaded(*inputs), model(*inputs))
    sample, timestep, low, level, text, genres = inputs
    with pytest.raises(ValueError, match="must match"):
        model(sample, timestep, low[:, :, :2], level, text, genres)
