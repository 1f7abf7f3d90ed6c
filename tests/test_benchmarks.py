"""benchmarks/gpu.py: its models have the published sizes, and its whole path runs (toy sizes)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import real_size  # noqa: E402


def _parameters(cls, config) -> int:
    with torch.device("meta"):  # no memory, no initialisation: only the architecture
        return sum(p.numel() for p in cls(**config).parameters())


def test_real_size_configs_have_the_published_parameter_counts() -> None:
    from diffusers import AutoencoderKL, UNet2DConditionModel, UNet3DConditionModel

    # Exact counts of the hub checkpoints (stable-diffusion-2-1-base unet/ and vae/).
    assert _parameters(UNet2DConditionModel, real_size.sd21_unet()) == 865_910_724
    assert _parameters(AutoencoderKL, real_size.sd_vae()) == 83_653_863
    # zeroscope_v2_576w / ModelScope: "1.7B" with its 0.35B text encoder and the VAE; the x4
    # upscaler's UNet: 473M.
    assert 1.40e9 < _parameters(UNet3DConditionModel, real_size.zeroscope_unet()) < 1.42e9
    assert 473.0e6 < _parameters(UNet2DConditionModel, real_size.upscaler_unet()) < 473.6e6


def test_wan_configs_have_the_published_parameter_counts() -> None:
    from diffusers import AutoencoderKLWan, WanTransformer3DModel

    # Wan 2.1 T2V "1.3B" and "14B" transformers and their shared 127M VAE.
    assert _parameters(WanTransformer3DModel, real_size.wan_transformer("1.3b")) == 1_418_996_800
    assert _parameters(WanTransformer3DModel, real_size.wan_transformer("14b")) == 14_288_491_584
    assert _parameters(AutoencoderKLWan, real_size.wan_vae()) == 126_892_531


@pytest.mark.slow
def test_gpu_benchmark_runs_end_to_end_at_toy_size(tmp_path: Path) -> None:
    out = tmp_path / "gpu.json"
    command = [sys.executable, str(BENCHMARKS / "gpu.py"), "--tiny", "--backends", "torch"]
    command += ["--encoding-backends", "torch", "--profile"]
    command += ["--stages", "static", "dynamic", "superres", "--steps", "2", "--warmup", "1"]
    command += ["--out", str(out)]
    # One torch thread: on a shared 2-core machine two OpenMP threads wait on each other far
    # longer than one computes (see tests/field/conftest.py).
    env = dict(os.environ, OMP_NUM_THREADS="1")
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(out.read_text())
    stages = result["stages"]["torch"]
    for name in ("static", "dynamic", "superres"):
        assert stages[name]["timed_steps"] == 2
        assert stages[name]["it_per_s"] > 0
    assert 0 < stages["occupied_fraction"] < 1  # the grid is in use, as mid-run
    parts = stages["parts_seconds"]
    assert set(parts["dynamic"]) == {"render_forward_backward", "video_sds", "image_sds_1_frame"}
    assert set(parts["superres"]) == {"render_forward_backward", "sr_sds", "base_video_sds"}
    assert all(seconds > 0 for part in parts.values() for seconds in part.values())
    assert stages["dynamic"]["profile"]["profiled_steps"] == 3
    encodings = result["encodings"]["4d"]["backends"]["torch"]
    assert encodings["speedup_vs_torch"] == 1.0 and encodings["forward_backward_ms"] > 0


def test_gaussian_rasterizer_benchmark_runs_at_toy_size(tmp_path: Path) -> None:
    out = tmp_path / "gaussians.json"
    command = [sys.executable, str(BENCHMARKS / "gaussians.py"), str(out), "--quick"]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    done = subprocess.run(
        [*command, "--repeats", "1"], capture_output=True, text=True, timeout=300, env=env
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(out.read_text())
    assert [(c["count"], c["views"]) for c in result["cases"]] == [
        (256, 1),
        (512, 1),
        (512, 1),
        (256, 8),
        (256, 8),
    ]
    assert all(c["forward_backward_ms"] > 0 for c in result["cases"])
