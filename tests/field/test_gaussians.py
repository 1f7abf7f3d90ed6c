"""GaussianField: the Field contract, its deformation, density at points, and how it renders."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch

from t2v.errors import ConfigError
from t2v.field import Field, GaussianField, PlaneSpec, SplatField, gsplat_available
from t2v.field.gaussians import BLOB_EDGE, splat_density
from t2v.field.splats import Splats
from t2v.render import Cameras, VolumeRenderer, camera_rays
from t2v.targets import check_target

PLANES = PlaneSpec(features=2, resolutions=(8,), time_resolution=4)


def small_field(**changes) -> GaussianField:
    torch.manual_seed(0)
    options = {"count": 64, "deformation": PLANES, "hidden_dim": 8, "backend": "torch"}
    return GaussianField(**{**options, **changes})


def front_camera(width: int, height: int) -> Cameras:
    return Cameras.look_at(
        torch.tensor([[[0.0, 0.0, 3.0]]]), torch.zeros(1, 1, 3), 40.0, width, height
    )


def test_contract_groups_and_blob_start():
    field = small_field(trajectory_knots=3, exposure_knots=2)
    assert isinstance(field, Field) and isinstance(field, SplatField)
    caps = field.capabilities
    assert (caps.kind, caps.trajectory, caps.exposure, caps.motion_groups) == (
        "gaussians",
        True,
        True,
        ("dynamic",),
    )
    groups = field.parameter_groups()
    listed = [id(p) for ps in groups.values() for p in ps]
    assert sorted(listed) == sorted(id(p) for p in field.parameters())  # each exactly once
    assert set(groups) >= {"static", "dynamic", "heads", "background", "trajectory", "exposure"}
    assert float(field.means.detach().norm(dim=1).max()) <= 0.5 * BLOB_EDGE + 1e-6
    # A still scene at first: the deformation's last layer starts at zero.
    a, b = field.splats(0.0), field.splats(1.0)
    assert torch.equal(a.means, b.means) and torch.equal(a.scales, b.scales)


def test_deformation_moves_and_static_only_switches_it_off():
    field = small_field(trajectory_knots=2)
    with torch.no_grad():
        # The network's output is scaled by the deformation step factor.
        change = torch.tensor([0.1, 0, 0, 0, 0, 0, 0, 0, 0, 0.0]) / field.steps.deformation
        field.deformation_head[-1].bias.copy_(change)
        field.trajectory.offsets[1] = torch.tensor([0.0, 0.2, 0.0])
    moved = field.splats(1.0).means - field.means
    bounded = field.max_deformation * math.tanh(0.1 / field.max_deformation)  # its soft bound
    assert torch.allclose(moved, torch.tensor([bounded, 0.2, 0.0]).expand_as(moved), atol=1e-6)
    # All of a clip's times in one deformation call give each time's own splats.
    with torch.no_grad():
        field.deformation_head[-1].weight.normal_(std=0.1)
    times = torch.tensor([0.0, 0.3, 1.0])
    for at_time, time in zip(field.splats_at(times), times.tolist(), strict=True):
        alone = field.splats(time)
        assert float((at_time.means - alone.means).abs().max()) < 1e-6
        assert float((at_time.rotations - alone.rotations).abs().max()) < 1e-6
        assert float((at_time.scales - alone.scales).abs().max()) < 1e-6
    assert float((field.splats(0.0).means - field.splats(1.0).means).abs().max()) > 1e-3
    field.static_only = True
    assert torch.equal(field.splats(1.0).means, field.means)
    with pytest.raises(ConfigError, match="backend 'nope'"):
        small_field(backend="nope")
    if not gsplat_available():
        with pytest.raises(ConfigError, match="needs gsplat installed"):
            small_field(backend="gsplat")


def test_colour_grade_is_shared_by_every_gaussian_and_off_in_the_static_stage():
    field = small_field(colour_grade=True, exposure_knots=2)
    assert field.grade is not None
    assert {id(p) for p in field.grade.parameters()} <= {
        id(p) for p in field.parameter_groups()["exposure"]
    }
    plain = torch.sigmoid(field.colour_logits)
    assert torch.allclose(field.splats(0.5).colours, plain)  # the identity at first
    with torch.no_grad():  # a grade that swaps red and blue and lifts green
        field.grade.matrix.copy_(torch.tensor([[0.0, 0, 1], [0, 1, 0], [1, 0, 0]]))
        field.grade.bias.copy_(torch.tensor([0.0, 2.0, 0.0]))
    logits = field.colour_logits
    expected = torch.sigmoid(torch.stack([logits[:, 2], logits[:, 1] + 2, logits[:, 0]], 1))
    assert torch.allclose(field.splats(0.5).colours, expected, atol=1e-6)
    field.static_only = True  # the static stage paints the colours themselves
    assert torch.allclose(field.splats(0.5).colours, plain)
    field.static_only = False
    # One gradient step on the grade moves the colour of every Gaussian.
    field.splats(0.5).colours[:, 0].sum().backward()
    assert field.grade.matrix.grad is not None and float(field.grade.bias.grad[0]) > 0
    assert field.raw_colour_logits.grad is not None


def test_density_integrates_to_the_opacity_along_an_axis():
    splats = Splats(
        means=torch.zeros(1, 3, dtype=torch.float64),
        scales=torch.tensor([[0.1, 0.2, 0.05]], dtype=torch.float64),
        rotations=torch.tensor([[1.0, 0.0, 0.0, 0.0]], dtype=torch.float64),
        opacities=torch.tensor([0.6], dtype=torch.float64),
        colours=torch.tensor([[0.2, 0.4, 0.6]], dtype=torch.float64),
    )
    z = torch.linspace(-1, 1, 4001, dtype=torch.float64)
    points = torch.stack((torch.zeros_like(z), torch.zeros_like(z), z), 1)
    density, colour = splat_density(splats, points, with_colour=True)
    optical_depth = torch.trapezoid(density, z)
    # Along z (scale 0.05) against the geometric mean of the scales: -log(1 - 0.6) rescaled.
    mean_scale = (0.1 * 0.2 * 0.05) ** (1 / 3)
    assert float(optical_depth) == pytest.approx(-math.log(0.4) * 0.05 / mean_scale, rel=1e-6)
    seen = density > 0  # beyond 4 standard deviations of the widest axis nothing is evaluated
    assert 3000 < int(seen.sum()) < len(z)
    assert torch.allclose(colour[seen] / density[seen, None], splats.colours.expand(3, 3)[:1])


def test_field_density_is_blob_like_and_zero_outside_the_box():
    field = small_field(count=512)
    times = torch.rand(4, 1)
    points = torch.tensor([[0.0, 0.0, 0.0], [0.9, 0.9, 0.9], [1.5, 0.0, 0.0], [0.0, 0.1, 0.0]])
    out = field(points, times, torch.zeros(4, 3))
    assert float(out.density[0]) > 1.0 > 0.01 > float(out.density[1])
    assert float(out.density[2]) == 0.0
    assert out.rgb.shape == (4, 3) and float(out.rgb.min()) >= 0 and float(out.rgb.max()) <= 1
    assert torch.allclose(field.density(points, times), out.density)


def test_renderer_rasterizes_over_the_background_with_ray_depth():
    field = small_field(background="solid", solid_color=(0.2, 0.4, 0.6), exposure_knots=2)
    with torch.no_grad():
        # Nothing drawn: only the background is left.
        field.set_values("logit_opacities", torch.full((field.count,), -30.0))
    renderer = VolumeRenderer().eval()
    cameras = front_camera(12, 9)
    out = renderer.render(field, cameras, torch.zeros(1, 1))
    assert out.rgb.shape == (1, 1, 3, 9, 12) and out.depth.shape == (1, 1, 1, 9, 12)
    assert torch.allclose(out.rgb[0, 0, :, 4, 6], torch.tensor([0.2, 0.4, 0.6]), atol=1e-4)
    with torch.no_grad():
        field.exposure.gains.fill_(1.0)  # the exposure curve shifts every pixel, background too
    exposed = renderer.render(field, cameras, torch.ones(1, 1)).rgb
    assert float(exposed[0, 0, 0, 4, 6]) == pytest.approx(
        1 / (1 + math.exp(-(math.log(0.25) + 1))), rel=1e-3
    )

    # One opaque Gaussian off-axis: the depth is the distance along the pixel's ray.
    field = small_field(count=1, background="solid", solid_color=(1.0, 1.0, 1.0))
    with torch.no_grad():
        field.set_values("means", torch.tensor([[0.3, 0.2, 0.0]]))
        field.set_values("log_scales", torch.full((1, 3), math.log(0.2)))
        field.set_values("logit_opacities", torch.full((1,), 4.0))
    cameras = front_camera(64, 64)
    out = renderer.render(field, cameras, torch.zeros(1, 1))
    pixel = torch.round(cameras.project(field.means[None, None].detach())[0, 0, 0] - 0.5).long()
    x, y = int(pixel[0]), int(pixel[1])
    rays = camera_rays(cameras)
    cosine = float(-rays.directions[0, 0, y, x, 2])
    assert float(out.depth[0, 0, 0, y, x]) == pytest.approx(3.0 / cosine, rel=1e-4)
    assert float(out.opacity[0, 0, 0, y, x]) > 0.9
    assert renderer.update_occupancy(field, 100) is False  # no grid for rasterized fields


@pytest.mark.gpu
@pytest.mark.skipif(not gsplat_available(), reason="needs gsplat and a CUDA device")
def test_gsplat_matches_the_cpu_rasterizer():
    from t2v.render.gaussian_renderer import rasterize_gsplat
    from t2v.render.splatting import rasterize

    field = small_field(count=300).cuda()
    splats = field.splats(0.5)
    cameras = front_camera(48, 32).to("cuda")
    ours = rasterize(splats, cameras.c2w[0, 0], cameras.fov_y_deg[0, 0], 48, 32)
    theirs = rasterize_gsplat(splats, cameras.c2w[0, 0], cameras.fov_y_deg[0, 0], 48, 32)
    assert torch.allclose(ours.rgb, theirs.rgb, atol=2e-3)
    assert torch.allclose(ours.opacity, theirs.opacity, atol=2e-3)
    seen = ours.opacity > 0.5
    assert torch.allclose(ours.depth[seen], theirs.depth[seen], rtol=1e-3)


class RedBall:
    """A source field: density 10 in a ball of radius 0.3 at (0.4, 0, 0), red there."""

    def density(self, points, times):
        return 10.0 * ((points - torch.tensor([0.4, 0.0, 0.0])).norm(dim=1) < 0.3).float()

    def __call__(self, points, times, directions):
        rgb = torch.tensor([0.9, 0.1, 0.1]).expand(points.shape[0], 3)
        return SimpleNamespace(density=self.density(points, times), rgb=rgb)


def test_place_from_a_finished_field_and_init_from_checked_at_the_door(tmp_path):
    field = small_field(count=300)
    dense = field.place_from(RedBall(), resolution=24)
    assert dense == pytest.approx(4 / 3 * math.pi * 0.3**3 / (2 / 24) ** 3, rel=0.15)
    distance = (field.means.detach() - torch.tensor([0.4, 0.0, 0.0])).norm(dim=1)
    assert float(distance.max()) < 0.3 + 2 / 24
    assert torch.allclose(field.splats(0.0).colours, torch.tensor([0.9, 0.1, 0.1]), atol=1e-5)

    node = {"_target_": "t2v.field.GaussianField", "init_from": str(tmp_path)}
    with pytest.raises(ConfigError, match=r"field.init_from = .*: not a t2v run"):
        check_target("field", node)


def test_step_factors_scale_cap_and_deformation_bound():
    field = small_field(max_scale=0.1, max_deformation=0.05)
    before = {name: value.detach().clone() for name, value in field.gaussian_values().items()}
    optimizer = torch.optim.Adam(list(field.gaussian_parameters().values()), lr=0.02)
    splats = field.splats(0.0)
    loss = sum(t.sum() for t in (splats.means, splats.scales, splats.opacities, splats.colours))
    (loss + splats.rotations.sum()).backward()
    optimizer.step()
    # Adam's first step is the rate times the sign: each attribute moves rate x its factor.
    for name, value in field.gaussian_values().items():
        moved = (value.detach() - before[name]).abs().max()
        assert float(moved) == pytest.approx(0.02 * field.step(name), rel=1e-3), name
    with torch.no_grad():
        field.set_values("log_scales", torch.full((field.count, 3), math.log(0.5)))
        field.deformation_head[-1].bias.fill_(100.0)
    assert float(field.splats(0.0).scales.max()) == pytest.approx(0.1, rel=1e-6)
    field.static_only = False
    offsets = field.deformation(torch.tensor([0.5]))
    assert float(offsets.max()) == pytest.approx(0.05, rel=1e-4)
