"""Hash-grid encoding: fast torch path == per-corner reference, gradients, layout, backends."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

from t2v.errors import ConfigError
from t2v.field.hashgrid import (
    HashGridEncoding,
    _InterpolateTable,
    level_layout,
    resolve_backend,
    tcnn_available,
    triton_available,
)

_REFERENCE_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "reference_hashgrid.py"
_spec = importlib.util.spec_from_file_location("reference_hashgrid", _REFERENCE_PATH)
reference = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(reference)


def small_grid(dims: int, **overrides) -> HashGridEncoding:
    # Coarse levels dense, fine levels hashed into a small table: both index paths are used.
    settings = dict(levels=6, features_per_level=2, log2_table_size=9, base_resolution=2)
    settings.update(finest_resolution=48, backend="torch")
    settings.update(overrides)
    return HashGridEncoding(dims, **settings).double()


@pytest.mark.parametrize("dims", [3, 4])
def test_fast_path_equals_reference_values_and_table_gradient(dims: int) -> None:
    encoding = small_grid(dims)
    layout = encoding.layout
    assert 0 < layout.dense_levels < encoding.levels  # both dense and hashed levels present
    with torch.no_grad():
        encoding.table.normal_()  # init-scale values would make any mismatch tiny
    ref = reference.ReferenceHashGrid(encoding)
    x = torch.rand(300, dims, dtype=torch.float64)
    x[0] = 1.0  # upper boundary corners wrap in dense levels, as in tcnn
    x[1] = 0.0
    fast_out, ref_out = encoding(x), ref(x)
    assert fast_out.shape == (300, encoding.output_dim)
    torch.testing.assert_close(fast_out, ref_out, rtol=1e-12, atol=1e-12)
    upstream = torch.randn_like(fast_out)
    (fast_out * upstream).sum().backward()
    (ref_out * upstream).sum().backward()
    torch.testing.assert_close(encoding.table.grad, ref.table.grad, rtol=1e-12, atol=1e-12)
    assert encoding.table.grad.abs().sum() > 0


@pytest.mark.parametrize("dims", [3, 4])
def test_gradcheck_table_and_inputs(dims: int) -> None:
    encoding = small_grid(dims, levels=3, log2_table_size=6, finest_resolution=12)
    table = torch.randn_like(encoding.table, requires_grad=True)
    # Keep points away from cell borders, where trilinear interpolation has kinks.
    x = (torch.rand(12, dims, dtype=torch.float64) * 0.8 + 0.1).requires_grad_()

    def encode(table_values: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        indices, weights = encoding._corner_indices_and_weights(points)
        return _InterpolateTable.apply(table_values, indices, weights)

    assert torch.autograd.gradcheck(encode, (table, x), eps=1e-7, atol=1e-6)


def test_layout_matches_tcnn_rules() -> None:
    # 3D, 16 levels, 2^19, 16 -> 2048: tcnn's numbers (scale = base * b^l - 1, res = ceil + 1).
    layout = level_layout(3, 16, 19, 16, (2048 / 16) ** (1 / 15))
    assert layout.resolutions[0] == 16 and layout.scales[0] == pytest.approx(15.0)
    assert layout.resolutions[-1] == 2048
    # Dense while res^3 fits in 2^19 (res <= 80): the levels with res 16, 23, 31, 43 and 59.
    assert layout.dense_levels == sum(r**3 <= 2**19 for r in layout.resolutions) == 5
    assert layout.table_sizes[0] == 16**3 and layout.table_sizes[-1] == 2**19
    assert all(size % 8 == 0 for size in layout.table_sizes)
    assert layout.offsets[1] == 16**3


def test_init_scale_and_output_layout() -> None:
    encoding = HashGridEncoding(
        3, levels=4, log2_table_size=12, finest_resolution=64, backend="torch"
    )
    assert encoding.table.abs().max() <= 1e-4
    assert encoding.table.abs().max() > 5e-5
    out = encoding(torch.rand(10, 3))
    assert out.shape == (10, 8)
    # Level-major output: features of level l are columns [2l, 2l+2).
    with torch.no_grad():
        encoding.table.zero_()
        level = 2
        start = encoding.layout.offsets[level]
        encoding.table[start : start + encoding.layout.table_sizes[level], 1] = 1.0
    out = encoding(torch.rand(10, 3))
    expected = torch.zeros(10, 8)
    expected[:, 2 * level + 1] = 1.0
    torch.testing.assert_close(out, expected)


def test_checkpoint_of_the_tcnn_layout_loads_into_torch() -> None:
    encoding = HashGridEncoding(
        4, levels=3, log2_table_size=8, finest_resolution=16, backend="torch"
    )
    values = torch.randn(encoding.table.numel())
    # What a tcnn-backed encoding saves: its flat `params` under `_tcnn.params`.
    encoding.load_state_dict({"_tcnn.params": values.half()})
    torch.testing.assert_close(encoding.table.detach(), values.half().float().view(-1, 2))


def test_backend_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_backend("torch") == "torch"
    # auto: tcnn, else triton on a CUDA device, else torch.
    if tcnn_available():
        assert resolve_backend("auto") == "tcnn"
    elif torch.cuda.is_available() and triton_available():
        assert resolve_backend("auto") == "triton"
    else:
        assert resolve_backend("auto") == "torch"
    if not torch.cuda.is_available():
        # Triton's interpreter makes the triton backend usable on a CPU, but never the default.
        monkeypatch.setenv("TRITON_INTERPRET", "1")
        assert resolve_backend("auto") == "torch"
        monkeypatch.setenv("TRITON_INTERPRET", "0")
        with pytest.raises(ConfigError, match="'triton' needs triton importable and a CUDA"):
            HashGridEncoding(3, backend="triton")
    if not tcnn_available():
        with pytest.raises(ConfigError, match="tcnn"):
            HashGridEncoding(3, backend="tcnn")
    with pytest.raises(ConfigError, match="unknown field backend"):
        resolve_backend("cuda")
    with pytest.raises(ConfigError, match="dims"):
        HashGridEncoding(2, backend="torch")


@pytest.mark.gpu
@pytest.mark.tcnn
@pytest.mark.skipif(not tcnn_available(), reason="needs tinycudann importable and a CUDA device")
@pytest.mark.parametrize("other", ["torch", "triton"])
@pytest.mark.parametrize("dims", [3, 4])
def test_tcnn_agrees_with_torch_and_triton(dims: int, other: str) -> None:
    if other == "triton" and not triton_available():
        pytest.skip("triton is not installed")
    settings = dict(levels=8, features_per_level=2, log2_table_size=14, base_resolution=4)
    settings.update(finest_resolution=256)
    fast = HashGridEncoding(dims, backend="tcnn", **settings).cuda()
    slow = HashGridEncoding(dims, backend=other, **settings).cuda()
    assert fast.table_params.numel() == slow.table.numel()  # same layout, same size
    with torch.no_grad():
        values = torch.randn_like(slow.table)
        slow.table.copy_(values)
        fast._tcnn.params.copy_(values.reshape(-1).to(fast._tcnn.params.dtype))
    x = torch.rand(4096, dims, device="cuda")
    torch.testing.assert_close(fast(x), slow(x), rtol=1e-3, atol=1e-3)
    upstream = torch.randn(4096, fast.output_dim, device="cuda")
    (fast(x) * upstream).sum().backward()
    (slow(x) * upstream).sum().backward()
    torch.testing.assert_close(
        fast._tcnn.params.grad.reshape(-1, 2).float(), slow.table.grad, rtol=1e-3, atol=1e-3
    )


@pytest.mark.slow
def test_compiled_index_math_equals_eager() -> None:
    settings = dict(levels=4, log2_table_size=10, base_resolution=4, finest_resolution=64)
    eager = HashGridEncoding(4, backend="torch", **settings)
    compiled = HashGridEncoding(4, backend="torch", compile_index_math=True, **settings)
    with torch.no_grad():
        compiled.table.copy_(torch.randn_like(eager.table))
        eager.table.copy_(compiled.table)
    for points in (1000, 357):  # a second size: dynamic shapes must not give stale results
        x = torch.rand(points, 4)
        torch.testing.assert_close(compiled(x), eager(x))
