"""Temporal metrics on videos whose answer is known: translation, stillness, injected flicker."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from t2v.eval.temporal import (
    FlowConfig,
    brightness_flicker,
    estimate_flow,
    lowpass_flicker,
    luma,
    temporal_metrics,
    warp,
)


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny tensors: one torch thread is several times faster on a shared CPU."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def texture(size: int, seed: int = 0) -> torch.Tensor:
    """A smooth random colour texture (1, 3, size, size) in [0.2, 0.8]."""
    noise = torch.rand(1, 3, size // 8, size // 8, generator=torch.Generator().manual_seed(seed))
    smooth = F.interpolate(noise, size=(size, size), mode="bicubic", align_corners=False)
    return 0.2 + 0.6 * smooth.clamp(0, 1)


def panning_video(step: tuple[float, float], frames: int = 4, side: int = 48) -> torch.Tensor:
    """A window sliding over a texture by `step` pixels a frame: the content moves by -step."""
    source = texture(4 * side)
    full = source.shape[-1]
    ys, xs = torch.meshgrid(torch.arange(side).float(), torch.arange(side).float(), indexing="ij")
    clip = []
    for t in range(frames):
        x = xs + side + step[0] * t
        y = ys + side + step[1] * t
        grid = torch.stack([2 * x / (full - 1) - 1, 2 * y / (full - 1) - 1], dim=-1)[None]
        clip.append(F.grid_sample(source, grid, align_corners=True)[0])
    return torch.stack(clip)


@pytest.mark.parametrize("step", [(2.0, 1.0), (-3.0, 2.0)])
def test_flow_of_a_translated_texture_is_the_translation(step):
    video = panning_video(step)
    gray = luma(video)
    flow = estimate_flow(gray[:-1], gray[1:])
    inner = flow[..., 6:-6, 6:-6]  # away from where content enters or leaves the frame
    error = (inner - torch.tensor([-step[0], -step[1]])[None, :, None, None]).norm(dim=1)
    assert float(error.median()) < 0.05
    assert float(error.max()) < 0.3
    metrics = temporal_metrics(video)
    assert metrics.motion_magnitude == pytest.approx(float(torch.tensor(step).norm()), rel=0.03)
    # Warping the next frame back undoes the motion; without warping frames differ a lot.
    unwarped = float((video[1:] - video[:-1]).abs().mean())
    assert metrics.warping_error < 0.002 < 0.02 < unwarped
    assert metrics.warping_valid_fraction > 0.8


def test_motion_is_reported_in_pixels_of_the_original_video():
    video = panning_video((4.0, 0.0), frames=3, side=96)
    metrics = temporal_metrics(video, FlowConfig(max_side=48))  # flow runs at half size
    assert metrics.motion_magnitude == pytest.approx(4.0, rel=0.05)


def test_a_static_video_has_no_motion_flicker_or_warping_error():
    video = texture(32).expand(5, -1, -1, -1).clone()
    metrics = temporal_metrics(video)
    assert metrics.motion_magnitude < 1e-4
    assert metrics.warping_error < 1e-6
    assert metrics.brightness_flicker == 0.0
    assert metrics.lowpass_flicker == 0.0
    assert metrics.warping_valid_fraction == 1.0
    single = temporal_metrics(video[:1])  # one frame: nothing temporal to measure
    assert math.isnan(single.motion_magnitude) and math.isnan(single.warping_error)


def test_flicker_measures_the_injected_brightness_change():
    still = texture(32)
    pulse = torch.tensor([0.0, 0.05, 0.0, 0.05, 0.0, 0.05])  # +-0.05 from frame to frame
    video = still + pulse[:, None, None, None]
    assert brightness_flicker(video) == pytest.approx(0.05, abs=1e-6)
    assert lowpass_flicker(video) == pytest.approx(0.05, abs=1e-6)
    ramp = still + torch.linspace(0, 0.1, 6)[:, None, None, None]  # 0.02 a frame
    assert brightness_flicker(ramp) == pytest.approx(0.02, abs=1e-6)
    # Brightness flicker does not see a red-for-green swap of equal luma; low-pass flicker does.
    swap = torch.stack([still[0], still[0][[1, 0, 2]]])
    swap[:, 2] = 0.5
    luma_change = float((luma(swap[1:]) - luma(swap[:1])).mean().abs())
    assert brightness_flicker(swap) == pytest.approx(luma_change, abs=1e-6)
    assert lowpass_flicker(swap) > 0.05


def test_warp_samples_at_the_flow_target_and_marks_what_leaves_the_frame():
    ramp = torch.arange(6.0).expand(1, 1, 4, 6).clone()  # value = x
    flow = torch.zeros(1, 2, 4, 6)
    flow[:, 0] = 1.5
    warped, inside = warp(ramp, flow)
    assert torch.allclose(warped[0, 0, 0, :4], torch.tensor([1.5, 2.5, 3.5, 4.5]))
    assert inside[0, 0, 0].tolist() == [True, True, True, True, False, False]
