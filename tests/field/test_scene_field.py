"""SceneField and plane encodings: blob init, static-only mode, groups, background, configs."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from t2v.errors import ConfigError
from t2v.field import HashGridSpec, PlaneEncoding, PlaneSpec, SceneField
from t2v.field.components import trunc_exp

CONF = Path(__file__).resolve().parents[2] / "conf"
SMALL_HASH = HashGridSpec(levels=4, log2_table_size=12, base_resolution=4, finest_resolution=64)
SMALL_PLANES = PlaneSpec(features=4, resolutions=[8, 16], time_resolution=4)


def small_field(**overrides) -> SceneField:
    settings = dict(static_encoding=SMALL_HASH, dynamic_encoding=SMALL_HASH, backend="torch")
    settings.update(overrides)
    return SceneField(**settings)


def test_density_blob_centre_dense_far_empty_outside_zero() -> None:
    field = small_field()
    points = torch.tensor([[0.0, 0.0, 0.0], [0.9, 0.9, 0.9], [1.2, 0.0, 0.0], [0.0, -1.5, 0.0]])
    density = field.density(points, torch.full((4, 1), 0.5))
    assert density[0] > 9.0  # softplus(10 + ~0) at the centre
    assert density[1] < 1e-3  # far from the blob: raw ~ -10
    assert density[2] == 0 and density[3] == 0  # outside the scene box
    zero_crossing = 0.5 * (2 * torch.log(torch.tensor(2.0))).sqrt()
    bias = field.blob.bias(torch.tensor([[0.0, 0.0, 0.0], [0.0, zero_crossing, 0.0]]))
    torch.testing.assert_close(bias, torch.tensor([10.0, 0.0]))
    dreamfusion = small_field(density_blob="dreamfusion", density_activation="trunc_exp")
    bias = dreamfusion.blob.bias(torch.tensor([[0.0, 0.0, 0.0], [0.0, 0.0, -0.75]]))
    torch.testing.assert_close(bias, torch.tensor([10.0, -5.0]))
    centre = dreamfusion.density(points[:1], torch.zeros(1, 1))
    assert 0.5 * torch.exp(torch.tensor(10.0)) < centre.item() < 2 * torch.exp(torch.tensor(10.0))


def test_forward_ranges_and_shapes() -> None:
    field = small_field()
    points = torch.rand(50, 3) * 2 - 1
    out = field(points, torch.rand(50, 1), torch.nn.functional.normalize(torch.randn(50, 3), dim=1))
    assert out.density.shape == (50,) and out.rgb.shape == (50, 3)
    assert (out.density >= 0).all()
    assert (out.rgb > 0).all() and (out.rgb < 1).all()


def test_static_only_skips_dynamic_encoding_and_its_gradient() -> None:
    field = small_field(static_only=True)
    with torch.no_grad():
        field.dynamic_encoding.table.normal_()  # a dynamic grid that would change the output
    points = torch.rand(64, 3) * 2 - 1
    early = field(points, torch.zeros(64, 1), points)
    late = field(points, torch.ones(64, 1), points)
    torch.testing.assert_close(early.density, late.density)
    (late.density.sum() + late.rgb.sum()).backward()
    assert field.dynamic_encoding.table.grad is None
    assert field.static_encoding.table.grad.abs().sum() > 0
    field.static_only = False
    moving = field(points, torch.ones(64, 1), points)
    assert (moving.density - early.density).abs().max() > 1e-3


def test_parameter_groups_partition_parameters() -> None:
    field = small_field()
    groups = field.parameter_groups()
    assert set(groups) == {"static", "dynamic", "heads", "background", "trajectory", "exposure"}
    ids = [id(p) for group in groups.values() for p in group]
    assert len(ids) == len(set(ids))
    assert set(ids) == {id(p) for p in field.parameters()}
    assert groups["static"][0] is field.static_encoding.table
    assert groups["dynamic"][0] is field.dynamic_encoding.table
    assert groups["trajectory"] == []
    assert small_field(background="solid").parameter_groups()["background"] == []
    moving = small_field(trajectory_knots=4).parameter_groups()
    assert [p.shape for p in moving["trajectory"]] == [torch.Size([4, 3])]


def test_global_trajectory_carries_the_scene_and_starts_still() -> None:
    torch.manual_seed(0)
    still = SceneField(SMALL_PLANES, SMALL_PLANES, backend="torch")
    torch.manual_seed(0)
    field = SceneField(SMALL_PLANES, SMALL_PLANES, backend="torch", trajectory_knots=3)
    points = torch.rand(64, 3) * 1.2 - 0.6
    times = torch.rand(64, 1)
    # Zero offsets: exactly the field without a trajectory.
    torch.testing.assert_close(field.density(points, times), still.density(points, times))
    shift = torch.tensor([-0.3, 0.1, 0.0])
    with torch.no_grad():
        field.trajectory.offsets[2] = shift  # knots at t = 0, 0.5, 1
    # Time planes start at 1, so before training the content is the same at every time: what
    # sat at p at t = 0 sits at p + shift at t = 1 and, linearly between the last two knots, at
    # p + shift / 2 at t = 0.75.
    t0, t1, between = (torch.full((64, 1), value) for value in (0.0, 1.0, 0.75))
    at_start = field.density(points, t0)
    torch.testing.assert_close(field.density(points + shift, t1), at_start)
    torch.testing.assert_close(
        field.density(points, between), still.density(points - shift / 2, between)
    )
    assert not torch.allclose(field.density(points, t1), at_start)
    # The scene box does not move: beyond it the density is still zero.
    assert field.density(torch.tensor([[-1.1, 0.0, 0.0]]), t1[:1]).item() == 0.0
    # Off in the static stage, and the offsets learn from what is rendered.
    field.static_only = True
    torch.testing.assert_close(field.density(points + shift, t1), field.density(points + shift, t0))
    field.static_only = False
    field.density(points, times).sum().backward()
    assert field.trajectory.offsets.grad.abs().sum() > 0
    with pytest.raises(ConfigError, match="trajectory_knots"):
        SceneField(SMALL_PLANES, SMALL_PLANES, backend="torch", trajectory_knots=1)


def test_exposure_curve_shifts_the_rendered_colour_over_time() -> None:
    from t2v.render import Cameras, VolumeRenderer

    # No blob and no density: each pixel is exactly the solid background colour.
    field = small_field(
        exposure_knots=3, background="solid", solid_color=(0.2, 0.5, 0.8), density_blob="none"
    )
    with torch.no_grad():
        field.density_head[-1].bias[0] = -30.0
    camera = Cameras.look_at(
        torch.tensor([[[0.0, 0.0, 3.0]] * 3]),
        torch.zeros(1, 3, 3),
        fov_y_deg=40.0,
        width=4,
        height=4,
    )
    times = torch.tensor([[0.0, 0.75, 1.0]])
    renderer = VolumeRenderer(num_samples=8).eval()
    solid = torch.tensor([0.2, 0.5, 0.8])
    # Zero gains: the colour is what it would be without an exposure curve.
    start = renderer.render(field, camera, times).rgb
    torch.testing.assert_close(start, solid[None, None, :, None, None].expand_as(start))
    with torch.no_grad():
        field.exposure.gains[:, 0] = torch.tensor([0.0, -1.0, 2.0])  # knots at t = 0, 0.5, 1
    rgb = renderer.render(field, camera, times).rgb[0, :, :, 0, 0]
    logit = torch.logit(solid)
    # Gain 0 at t = 0, halfway between -1 and 2 at t = 0.75, 2 at t = 1.
    expected = torch.sigmoid(logit + torch.tensor([0.0, 0.5, 2.0])[:, None])
    torch.testing.assert_close(rgb, expected)
    assert rgb[2].max() < 1.0  # a gain lifts the logit: bright stays below white
    # Off in the static stage; the gains learn from what is rendered.
    field.static_only = True
    torch.testing.assert_close(renderer.render(field, camera, times).rgb, start)
    field.static_only = False
    renderer.render(field, camera, times).rgb[:, 1].mean().backward()
    grad = field.exposure.gains.grad[:, 0]
    assert grad[1:].abs().min() > 0 and grad[0] == 0  # t = 0.75 lies between knots 1 and 2
    assert small_field(exposure_knots=4).parameter_groups()["exposure"][0].shape == (4, 1)
    with pytest.raises(ConfigError, match="exposure_knots"):
        small_field(exposure_knots=1)


def test_background_learned_and_solid() -> None:
    directions = torch.nn.functional.normalize(torch.randn(20, 3), dim=1)
    learned = small_field().background(directions)
    assert learned.shape == (20, 3) and (learned > 0).all() and (learned < 1).all()
    assert learned.std(dim=0).max() > 0  # depends on direction
    solid = small_field(background="solid", solid_color=(0.2, 0.4, 0.6))
    torch.testing.assert_close(solid.background(directions)[7], torch.tensor([0.2, 0.4, 0.6]))
    solid.solid_color = torch.tensor([1.0, 0.0, 0.0])  # a caller's random colour per step
    torch.testing.assert_close(solid.background(directions)[0], torch.tensor([1.0, 0.0, 0.0]))


def around(azimuth_deg: float, count: int = 64) -> torch.Tensor:
    """View directions of a camera at `azimuth_deg` (t2v.render.cameras) within 20 degrees of
    its axis, at heights between -0.3 and 0.3."""
    generator = torch.Generator().manual_seed(int(azimuth_deg) % 360)
    spread = (torch.rand(count, generator=generator) - 0.5) * math.radians(40)
    azimuth = math.radians(azimuth_deg) + spread
    height = (torch.rand(count, generator=generator) - 0.5) * 0.6
    flat = (1 - height**2).sqrt()
    # The camera sits at azimuth a and looks back through the origin: direction -(sin a, cos a).
    return torch.stack([-flat * torch.sin(azimuth), height, -flat * torch.cos(azimuth)], dim=1)


@pytest.mark.parametrize("mode", ["learned", "dome"])
def test_dome_background_carries_what_the_front_teaches_to_every_side(mode: str) -> None:
    torch.manual_seed(0)
    field = small_field(background=mode)
    target = torch.tensor([0.8, 0.1, 0.1])
    optimiser = torch.optim.Adam(field.background_head.parameters(), lr=0.02)
    front = around(0.0)
    for _ in range(200):  # taught from the front alone, as the frontal stages do
        optimiser.zero_grad()
        (field.background(front) - target).square().sum(-1).mean().backward()
        optimiser.step()
    with torch.no_grad():
        errors = {a: (field.background(around(a)) - target).norm(dim=1).mean() for a in (90, 180)}
        assert (field.background(front) - target).norm(dim=1).mean() < 0.05
        if mode == "dome":  # one colour per height: the sides and the back see the front's
            assert max(errors.values()) < 0.05
            level = torch.tensor([[0.0, 0.2, -1.0], [1.0, 0.2, 0.0], [0.0, 0.2, 1.0]])
            colours = field.background(torch.nn.functional.normalize(level, dim=1))
            torch.testing.assert_close(colours, colours[:1].expand(3, 3))
        else:  # the direction MLP keeps its own colour where the front never looked
            assert min(errors.values()) > 0.1
    with pytest.raises(ConfigError, match="learned, dome, solid"):
        small_field(background="sky")


def test_hexplane_dynamic_with_triplane_static() -> None:
    field = small_field(static_encoding=SMALL_PLANES, dynamic_encoding=SMALL_PLANES)
    assert isinstance(field.dynamic_encoding, PlaneEncoding) and field.dynamic_encoding.dims == 4
    assert field.static_encoding.dims == 3
    points = torch.rand(30, 3) * 2 - 1
    # Time planes start at 1: the scene starts time-independent, then learns to move.
    early = field.density(points, torch.zeros(30, 1))
    torch.testing.assert_close(early, field.density(points, torch.ones(30, 1)))
    field.density(points, torch.rand(30, 1)).sum().backward()
    assert all(p.grad is not None for p in field.dynamic_encoding.parameters())
    with pytest.raises(ConfigError, match="pure PyTorch"):
        small_field(static_encoding=SMALL_PLANES, dynamic_encoding=SMALL_PLANES, backend="tcnn")


def test_plane_encoding_interpolates_bilinearly_and_multiplies_pairs() -> None:
    encoding = PlaneEncoding(dims=4, features=1, resolutions=[5], time_resolution=3)
    ramp = torch.linspace(0, 1, 5)
    with torch.no_grad():
        encoding.space_planes[0].zero_()
        encoding.space_planes[0][0, 0] = ramp[None, :]  # XY plane varies along x (width axis)
        encoding.time_planes[0].fill_(1.0)
        encoding.time_planes[0][0, 0] = torch.tensor([0.0, 1.0, 2.0])[:, None]  # ZT along t
    x = torch.tensor([[0.3, 0.7, 0.2, 0.25], [0.9, 0.1, 0.5, 1.0]])
    out = encoding(x)
    assert out.shape == (2, 3)
    # XY*ZT = x * (2 t); the other two pairs read zero spatial planes.
    torch.testing.assert_close(out[:, 0], torch.tensor([0.3 * 0.5, 0.9 * 2.0]))
    torch.testing.assert_close(out[:, 1:], torch.zeros(2, 2))


def test_trunc_exp_clamps_gradient() -> None:
    x = torch.tensor([1.0, 30.0], requires_grad=True)
    trunc_exp(x).sum().backward()
    torch.testing.assert_close(x.grad, torch.exp(torch.tensor([1.0, 15.0])))


@pytest.mark.parametrize("name", ["hashgrid", "hashgrid_cpu", "hexplane"])
def test_field_configs_instantiate(name: str) -> None:
    with initialize_config_dir(str(CONF), version_base=None):
        node = compose(overrides=[f"+field={name}", "field.backend=torch"]).field
    field = instantiate(node)
    assert isinstance(field, SceneField)
    points = torch.rand(8, 3) * 2 - 1
    out = field(points, torch.rand(8, 1), points)
    assert (out.density >= 0).all() and out.rgb.shape == (8, 3)
    expected = {"hashgrid": (16, 19), "hashgrid_cpu": (8, 15)}.get(name)
    if expected is not None:
        assert (field.dynamic_encoding.levels, field.dynamic_encoding.log2_table_size) == expected
    else:
        assert isinstance(field.dynamic_encoding, PlaneEncoding)


def test_checkpoint_round_trip_with_weights_only(tmp_path: Path) -> None:
    field = small_field(dynamic_encoding=SMALL_PLANES)
    with torch.no_grad():
        field.static_encoding.table.normal_()
    torch.save(field.state_dict(), tmp_path / "field.pt")
    restored = small_field(dynamic_encoding=SMALL_PLANES)
    restored.load_state_dict(torch.load(tmp_path / "field.pt", weights_only=True))
    points = torch.rand(16, 3) * 2 - 1
    times = torch.rand(16, 1)
    torch.testing.assert_close(restored.density(points, times), field.density(points, times))
