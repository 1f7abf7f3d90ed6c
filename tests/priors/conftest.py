"""Tiny random prior folders, built once per test session under a fixed seed (no network)."""

from pathlib import Path

import pytest
import torch

from t2v.priors import tiny


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny models are overhead-bound: with 2 cores shared by many processes, one intra-op
    thread ran these tests ~10x faster than torch's default (measured: 0.12 s vs 1.5 s per
    training step of the SDS-loop test's UNet)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def tiny_folders(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tiny_priors")
    return {
        "sd": tiny.save_tiny_stable_diffusion(root / "sd", seed=0),
        "deepfloyd": tiny.save_tiny_deepfloyd(root / "deepfloyd", seed=1),
        "video": tiny.save_tiny_text_to_video(root / "video", seed=2),
        "upscaler": tiny.save_tiny_upscaler(root / "upscaler", seed=3),
        "bundled": tiny.save_tiny_bundled(root / "bundled", seed=4),
    }


@pytest.fixture(scope="session")
def flow_folders(tmp_path_factory) -> dict[str, Path]:
    """Tiny Wan 2.1 and LTX-Video folders (and an x4 upscaler for their SR role)."""
    from t2v.priors import tiny_flow

    root = tmp_path_factory.mktemp("tiny_flow_priors")
    return {
        "wan": tiny_flow.save_tiny_wan(root / "wan", seed=0),
        "ltx": tiny_flow.save_tiny_ltx(root / "ltx", seed=1),
        "upscaler": tiny.save_tiny_upscaler(root / "upscaler", seed=2),
    }


@pytest.fixture
def flow_generate_args():
    """The arguments of an in-process debug generate; torch's global flags that a run sets
    (`trainer.deterministic`) are put back afterwards, for the tests that follow."""
    deterministic = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    yield _flow_generate_args
    torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)


def _flow_generate_args(prior: str, folders: dict[str, Path], size: int, root: Path) -> list[str]:
    """`t2v generate ... debug=default prior=<prior>` on the tiny folders (renders resized to
    `size`² for the prior), every stage for a few steps."""
    model = folders[prior]
    return [
        "generate",
        "prompt=a red ball bouncing",
        "debug=default",
        f"prior={prior}",
        f"prior.video.model={model}",
        f"prior.image.model={model}",
        f"prior.sr.model={folders['upscaler']}",
        f"prior.video.resolution=[{size},{size}]",
        f"prior.image.resolution=[{size},{size}]",
        "field=hexplane",
        "field.static_encoding.resolutions=[8,16]",
        "field.dynamic_encoding.resolutions=[8,16]",
        "field.hidden_dim=16",
        "renderer.num_samples=12",
        f"cache_dir={root / 'cache'}",
        f"run_dir={root / prior}",
    ]
