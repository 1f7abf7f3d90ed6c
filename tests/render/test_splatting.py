"""The Gaussian rasterizer against a brute-force per-pixel reference: values and gradients."""

import math

import pytest
import torch

from t2v.field.splats import Splats
from t2v.render import Cameras
from t2v.render.splatting import (
    ALPHA_CEILING,
    ALPHA_FLOOR,
    TRANSMITTANCE_FLOOR,
    rasterize,
    rasterize_views,
)


def rotation_reference(quaternions: torch.Tensor) -> torch.Tensor:
    """Rotation matrices by Rodrigues' formula from the quaternion's axis and angle."""
    q = quaternions / quaternions.norm(dim=-1, keepdim=True)
    w, v = q[:, 0], q[:, 1:]
    sin_half = v.norm(dim=-1).clamp_min(1e-12)
    angle = 2 * torch.atan2(sin_half, w)
    k = v / sin_half[:, None]
    zero = torch.zeros_like(w)
    cross = torch.stack(
        (zero, -k[:, 2], k[:, 1], k[:, 2], zero, -k[:, 0], -k[:, 1], k[:, 0], zero), -1
    ).reshape(-1, 3, 3)
    eye = torch.eye(3, dtype=q.dtype).expand_as(cross)
    s, c = torch.sin(angle)[:, None, None], torch.cos(angle)[:, None, None]
    return eye + s * cross + (1 - c) * cross @ cross


def reference(splats: Splats, camera: Cameras, dilation: float = 0.3, near: float = 0.01):
    """Every Gaussian at every pixel centre, sorted by depth, composited front to back."""
    c2w = camera.c2w[0, 0]
    focal = camera.focal_px[0, 0]
    width, height = camera.width, camera.height
    w2c = torch.linalg.inv(c2w)
    local = (w2c[:3, :3] @ splats.means.T).T + w2c[:3, 3]
    depth = -local[:, 2]
    keep = depth > near
    order = torch.argsort(depth[keep])
    local, depth = local[keep][order], depth[keep][order]
    pixel_xy = camera.project(splats.means[None, None])[0, 0][keep][order]
    rot = rotation_reference(splats.rotations[keep][order])
    scales = splats.scales[keep][order]
    sigma = rot @ torch.diag_embed(scales**2) @ rot.transpose(1, 2)
    sigma_cam = w2c[:3, :3] @ sigma @ w2c[:3, :3].T
    x, y, z = local.unbind(-1)
    jac = torch.zeros(len(depth), 2, 3, dtype=local.dtype)
    jac[:, 0, 0] = focal / -z
    jac[:, 0, 2] = focal * x / z**2
    jac[:, 1, 1] = focal / z
    jac[:, 1, 2] = -focal * y / z**2
    cov2d = jac @ sigma_cam @ jac.transpose(1, 2) + dilation * torch.eye(2, dtype=local.dtype)
    conic = torch.linalg.inv(cov2d)
    ys, xs = torch.meshgrid(
        torch.arange(height, dtype=local.dtype) + 0.5,
        torch.arange(width, dtype=local.dtype) + 0.5,
        indexing="ij",
    )
    pixels = torch.stack((xs, ys), -1).reshape(-1, 1, 2)
    delta = pixels - pixel_xy[None]
    maha = torch.einsum("pni,nij,pnj->pn", delta, conic, delta)
    alpha = splats.opacities[keep][order][None] * torch.exp(-0.5 * maha)
    alpha = alpha.clamp(max=ALPHA_CEILING)
    alpha = torch.where(alpha < ALPHA_FLOOR, 0.0, alpha)
    after = torch.cumprod(1 - alpha, dim=1)
    alpha = torch.where(after >= TRANSMITTANCE_FLOOR, alpha, 0.0)
    after = torch.cumprod(1 - alpha, dim=1)
    before = torch.cat((torch.ones_like(after[:, :1]), after[:, :-1]), 1)
    weights = before * alpha
    rgb = weights @ splats.colours[keep][order]
    opacity = weights.sum(1)
    mean_depth = (weights @ depth) / opacity.clamp_min(1e-10)
    shape = (height, width)
    return rgb.reshape(*shape, 3), opacity.reshape(shape), mean_depth.reshape(shape)


FIELDS = ("means", "scales", "rotations", "opacities", "colours")


def random_splats(count: int, seed: int, dtype=torch.float64) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)

    def rand(*shape):
        return torch.rand(*shape, generator=generator, dtype=dtype)

    return {
        "means": (rand(count, 3) * 2 - 1) * 0.8,
        "scales": 0.02 + 0.2 * rand(count, 3),
        "rotations": rand(count, 4) * 2 - 1,
        "opacities": 0.2 + 0.79 * rand(count),
        "colours": rand(count, 3),
    }


def camera(width: int, height: int, azimuth: float = 20.0) -> Cameras:
    angle = math.radians(azimuth)
    eyes = torch.tensor(
        [[[3.0 * math.sin(angle), 0.6, 3.0 * math.cos(angle)]]], dtype=torch.float64
    )
    return Cameras.look_at(eyes, torch.zeros(1, 1, 3, dtype=torch.float64), 45.0, width, height)


@pytest.mark.parametrize(("width", "height"), [(21, 13), (16, 24)])
def test_values_and_gradients_match_brute_force(width, height):
    leaves = {k: v.requires_grad_() for k, v in random_splats(60, seed=width).items()}
    splats = Splats(**leaves)
    view = camera(width, height)
    image = rasterize(splats, view.c2w[0, 0], view.fov_y_deg[0, 0], width, height)
    rgb, opacity, depth = reference(splats, view)
    assert image.rgb.shape == (height, width, 3) and image.opacity.shape == (height, width)
    assert (
        float(opacity.detach().max()) > 0.9 and float(opacity.detach().min()) < 0.1
    )  # a real scene, not empty
    for ours, theirs in ((image.rgb, rgb), (image.opacity, opacity), (image.depth, depth)):
        torch.testing.assert_close(ours, theirs, rtol=1e-9, atol=1e-10)
    generator = torch.Generator().manual_seed(1)
    probes = [torch.randn(t.shape, generator=generator, dtype=t.dtype) for t in (rgb, opacity)]
    probe_depth = torch.randn(depth.shape, generator=generator, dtype=depth.dtype)

    def loss(out_rgb, out_opacity, out_depth):
        weighted = (out_rgb * probes[0]).sum() + (out_opacity * probes[1]).sum()
        return weighted + 0.1 * (out_depth * out_opacity.detach() * probe_depth).sum()

    ours = torch.autograd.grad(loss(image.rgb, image.opacity, image.depth), list(leaves.values()))
    theirs = torch.autograd.grad(loss(rgb, opacity, depth), list(leaves.values()))
    for name, a, b in zip(leaves, ours, theirs, strict=True):
        assert float(b.abs().max()) > 0, name
        torch.testing.assert_close(a, b, rtol=1e-7, atol=1e-9, msg=name)


def test_views_in_one_call_match_one_call_each():
    # Two views of different splats and cameras at once, as a clip's frames are drawn.
    first, second = (Splats(**random_splats(40, seed=s)) for s in (3, 4))
    views = [camera(19, 11, azimuth=a) for a in (0.0, 35.0)]
    both = Splats(*(torch.cat((getattr(first, n), getattr(second, n))) for n in FIELDS))
    view = torch.arange(2).repeat_interleave(40)
    c2w = torch.cat([v.c2w[0] for v in views])
    fov = torch.cat([v.fov_y_deg[0] for v in views])
    image = rasterize_views(both, view, c2w, fov, 19, 11)
    for index, (splats, view) in enumerate(zip((first, second), views, strict=True)):
        alone = rasterize(splats, view.c2w[0, 0], view.fov_y_deg[0, 0], 19, 11)
        assert float(alone.opacity.max()) > 0.5
        for ours, theirs in ((image.rgb, alone.rgb), (image.opacity, alone.opacity)):
            torch.testing.assert_close(ours[index], theirs, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(image.depth[index], alone.depth, rtol=1e-12, atol=1e-12)


def test_projection_agrees_with_cameras_and_depth_is_view_depth():
    # One small opaque Gaussian straight ahead at distance 2: its pixel, opacity and depth.
    view = camera(33, 17, azimuth=0.0)
    eye = view.positions[0, 0]
    target = eye + 2.0 * (-view.c2w[0, 0, :3, 2])
    splats = Splats(
        means=target[None],
        scales=torch.full((1, 3), 0.05, dtype=torch.float64),
        rotations=torch.tensor([[1.0, 0, 0, 0]], dtype=torch.float64),
        opacities=torch.tensor([0.9], dtype=torch.float64),
        colours=torch.tensor([[1.0, 0.5, 0.0]], dtype=torch.float64),
    )
    image = rasterize(splats, view.c2w[0, 0], view.fov_y_deg[0, 0], 33, 17)
    peak = divmod(int(image.opacity.argmax()), 33)
    assert peak == (8, 16)  # the centre pixel of a 33 x 17 image
    assert float(image.opacity[8, 16]) == pytest.approx(0.9, rel=1e-3)
    assert float(image.depth[8, 16]) == pytest.approx(2.0, rel=1e-9)
    assert image.rgb[8, 16].tolist() == pytest.approx([0.9 * 1.0, 0.9 * 0.5, 0.0], rel=1e-3)


def test_opaque_stack_terminates_early_and_stays_finite():
    count = 40
    splats = Splats(
        means=torch.stack(
            (torch.zeros(count), torch.zeros(count), torch.linspace(-0.5, 0.5, count)), 1
        ),
        scales=torch.full((count, 3), 0.5),
        rotations=torch.tensor([[1.0, 0, 0, 0]]).expand(count, 4),
        opacities=torch.full((count,), 0.95, requires_grad=True),
        colours=torch.rand(count, 3),
    )
    eyes = torch.tensor([[[0.0, 0.0, 3.0]]])
    c2w = Cameras.look_at(eyes, torch.zeros(1, 1, 3), 45.0, 17, 17).c2w[0, 0]
    image = rasterize(splats, c2w, 45.0, 17, 17)
    centre = float(image.opacity[8, 8].detach())
    assert 1 - centre == pytest.approx(0.05**3, rel=1e-3)  # stopped after 3 near-opaque layers
    image.rgb[8, 8].sum().backward()
    grad = splats.opacities.grad
    assert torch.isfinite(grad).all()
    # The back ones are hidden at the centre: nothing but float64 rounding of the running sum.
    assert float(grad[-1]) != 0
    assert float(grad[: count // 2].abs().max()) < 1e-9 * float(grad.abs().max())
