"""Hash-grid encoding, triton backend: the same numbers as the torch backend.

On a CPU the kernels run in Triton's interpreter, which must be switched on before triton is
first imported, so that comparison runs this file as a script in a subprocess. On a GPU the
same comparison runs in-process on CUDA tensors at Instant-NGP sizes.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest
import torch

from t2v.field.hashgrid import HashGridEncoding, resolve_backend, tcnn_available

TRITON_IMPORTABLE = importlib.util.find_spec("triton") is not None

# Small grids for the interpreter: (dims, features, settings); both index paths are used.
DENSE_AND_HASHED = dict(levels=4, log2_table_size=10, base_resolution=4, finest_resolution=64)
ONLY_HASHED = dict(levels=3, log2_table_size=10, base_resolution=16, finest_resolution=64)
INTERPRETER_CASES = [
    (3, 1, DENSE_AND_HASHED),
    (3, 2, DENSE_AND_HASHED),
    (3, 4, DENSE_AND_HASHED),
    (4, 1, DENSE_AND_HASHED),
    (4, 2, DENSE_AND_HASHED),
    (4, 4, DENSE_AND_HASHED),
    (3, 2, ONLY_HASHED),  # no dense level: the kernels get an empty dense-strides buffer
]


def compare_with_torch(
    dims: int, features: int, device: str, points: int, input_grad: bool = True, **settings
) -> None:
    """Triton and torch backends with one random table: output, table and input gradients.

    Random table values and upstream gradients (the +-1e-4 init would hide mismatches); the
    points include both corners of the unit cube, whose upper vertices wrap in dense levels.
    Tolerances: float32 sums in a different order (atomics, embedding_bag), so 1e-5 relative to
    each tensor's largest entry.
    """
    generator = torch.Generator().manual_seed(dims * 100 + features)
    reference = HashGridEncoding(dims, features_per_level=features, backend="torch", **settings)
    fused = HashGridEncoding(dims, features_per_level=features, backend="triton", **settings)
    layout = reference.layout
    with torch.no_grad():
        reference.table.copy_(torch.randn(reference.table.shape, generator=generator))
    fused.load_state_dict(reference.state_dict())  # same keys: checkpoints move between them
    reference, fused = reference.to(device), fused.to(device)
    x = torch.rand(points, dims, generator=generator)
    x[0], x[1] = 1.0, 0.0
    x = x.to(device)
    upstream = torch.randn(points, reference.output_dim, generator=generator).to(device)

    results = []
    for encoding in (reference, fused):
        inputs = x.clone().requires_grad_(input_grad)
        out = encoding(inputs)
        (out * upstream).sum().backward()
        results.append((out.detach(), encoding.table.grad, inputs.grad))
    case = f"dims={dims} F={features} dense_levels={layout.dense_levels}/{len(layout.scales)}"
    names = ("output", "table gradient", "input gradient")
    for name, expected, actual in zip(names, *results, strict=True):
        if name == "input gradient" and not input_grad:
            assert expected is None and actual is None
            continue
        assert actual.dtype == expected.dtype == torch.float32 and actual.device == x.device
        scale = expected.abs().max().item()
        assert scale > 0, f"{case}: {name} is all zero"
        torch.testing.assert_close(
            actual, expected, rtol=1e-5, atol=1e-5 * scale, msg=lambda m, n=name: f"{case} {n}: {m}"
        )


def run_interpreter_checks() -> None:
    """What the subprocess runs, with TRITON_INTERPRET=1 and no GPU needed."""
    from t2v.field.hashgrid import triton_available

    torch.set_num_threads(1)
    assert triton_available()
    for dims, features, settings in INTERPRETER_CASES:
        # 200 points: two programs per level, the second with a masked tail.
        compare_with_torch(dims, features, "cpu", 200, **settings)
    compare_with_torch(4, 2, "cpu", 200, input_grad=False, **DENSE_AND_HASHED)
    fused = HashGridEncoding(3, backend="triton", **DENSE_AND_HASHED)
    assert fused(torch.zeros(0, 3)).shape == (0, 8)
    # What a tcnn-backed encoding saves loads into the triton backend too.
    values = torch.randn(fused.table.numel())
    fused.load_state_dict({"_tcnn.params": values})
    torch.testing.assert_close(fused.table.detach(), values.view(-1, 2))
    if not torch.cuda.is_available():
        assert resolve_backend("auto") == "torch"  # the interpreter is for tests, never chosen


@pytest.mark.skipif(not TRITON_IMPORTABLE, reason="triton is not installed")
def test_triton_backend_equals_torch_in_the_interpreter() -> None:
    env = dict(os.environ, TRITON_INTERPRET="1")
    result = subprocess.run(
        [sys.executable, __file__], env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "interpreter checks passed" in result.stdout


@pytest.mark.skipif(not TRITON_IMPORTABLE, reason="triton is not installed")
def test_triton_backend_takes_the_torch_path_on_cpu_tensors(monkeypatch: pytest.MonkeyPatch):
    # Built where triton can run (here: the interpreter switch), then used on CPU tensors
    # without the interpreter, as a field trained on a GPU and moved to the CPU is.
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    fused = HashGridEncoding(4, backend="triton", **DENSE_AND_HASHED)
    monkeypatch.setenv("TRITON_INTERPRET", "0")
    reference = HashGridEncoding(4, backend="torch", **DENSE_AND_HASHED)
    with torch.no_grad():
        fused.table.normal_()
    reference.load_state_dict(fused.state_dict())
    x = torch.rand(50, 4)
    torch.testing.assert_close(fused(x), reference(x), rtol=0, atol=0)


NEEDS_CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
NEEDS_TRITON = pytest.mark.skipif(not TRITON_IMPORTABLE, reason="triton is not installed")


@pytest.mark.gpu
@NEEDS_CUDA
@NEEDS_TRITON
@pytest.mark.parametrize("log2_table_size", [14, 19])
@pytest.mark.parametrize("dims", [3, 4])
def test_triton_backend_equals_torch_on_cuda(dims: int, log2_table_size: int) -> None:
    # Instant-NGP sizes; 2^14 entries leave 4D with no dense level at all. A point count that
    # is not a multiple of the block size exercises the masked tail.
    settings = dict(levels=16, log2_table_size=log2_table_size)
    settings.update(base_resolution=16, finest_resolution=2048 if dims == 3 else 512)
    points = 2**16 - 51
    compare_with_torch(dims, 2, "cuda", points, **settings)
    compare_with_torch(dims, 2, "cuda", points, input_grad=False, **settings)


@pytest.mark.gpu
@NEEDS_CUDA
@NEEDS_TRITON
def test_triton_forward_writes_every_output_element() -> None:
    encoding = HashGridEncoding(4, levels=16, log2_table_size=19, backend="triton").cuda()
    points = 2**16 - 51
    x = torch.rand(points, 4, device="cuda")
    expected = HashGridEncoding(4, levels=16, log2_table_size=19, backend="torch").cuda()
    expected.load_state_dict(encoding.state_dict())
    # Leave a NaN-filled block of exactly the output's size in the caching allocator: the
    # kernel's torch.empty output reuses it, so an element the kernel skips stays NaN.
    poison = torch.full((points, encoding.output_dim), float("nan"), device="cuda")
    del poison
    with torch.no_grad():
        out = encoding(x)
        reference = expected(x)
    assert not out.isnan().any()
    torch.testing.assert_close(out, reference, rtol=1e-5, atol=1e-9)


@pytest.mark.gpu
@NEEDS_CUDA
@NEEDS_TRITON
def test_auto_picks_triton_on_cuda_without_tcnn() -> None:
    assert resolve_backend("auto") == ("tcnn" if tcnn_available() else "triton")
    assert resolve_backend("triton") == "triton"
    encoding = HashGridEncoding(3, levels=4, log2_table_size=12, backend="triton")
    # A triton-backed encoding left on the CPU (outside the interpreter) takes the torch path.
    assert encoding(torch.rand(10, 3)).shape == (10, 8)


if __name__ == "__main__":
    run_interpreter_checks()
    print("interpreter checks passed")
