"""Volume rendering against analytic answers: slab opacity, sphere depth, chunking, gradients."""

import math

import pytest
import torch

from t2v.errors import ConfigError
from t2v.render import (
    Cameras,
    RendererConfig,
    RendererSettings,
    StageCameras,
    VolumeRenderer,
    camera_rays,
    composite,
    intersect_box,
    stratified_samples,
)
from t2v.schema import parse


def front_camera(width: int, height: int, fov_y: float = 40.0, distance: float = 3.0) -> Cameras:
    eyes = torch.tensor([[[0.0, 0.0, distance]]])
    return Cameras.look_at(eyes, torch.zeros(1, 1, 3), fov_y, width, height)


def test_box_intersection_distances():
    origins = torch.tensor([[0.0, 0.0, 3.0], [0.0, 0.0, 0.0], [0.0, 2.0, 3.0], [0.5, 0.5, 3.0]])
    directions = torch.tensor([[0.0, 0.0, -1.0], [1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0, 0, -1.0]])
    near, far, hit = intersect_box(origins, directions)
    assert hit.tolist() == [True, True, False, True]
    assert near[[0, 1, 3]].tolist() == pytest.approx([2.0, 0.0, 2.0])
    assert far[[0, 1, 3]].tolist() == pytest.approx([4.0, 1.0, 4.0])
    assert near[2] == far[2]  # a miss has an empty span


def test_stratified_samples_cover_their_bins():
    near, far = torch.tensor([1.0, 2.0]), torch.tensor([3.0, 2.5])
    midpoints = stratified_samples(near, far, 4)
    assert midpoints.distances[0].tolist() == pytest.approx([1.25, 1.75, 2.25, 2.75])
    assert midpoints.deltas.sum(-1).tolist() == pytest.approx([2.0, 0.5])
    jitter = torch.rand(2, 4)
    jittered = stratified_samples(near, far, 4, jitter)
    bin_start = near[:, None] + torch.arange(4) * ((far - near) / 4)[:, None]
    offset = (jittered.distances - bin_start) / ((far - near) / 4)[:, None]
    assert torch.allclose(offset, jitter, atol=1e-5)


def test_composite_constant_density_and_weights():
    sigma, length, samples = 1.7, 1.3, 10
    density = torch.full((1, samples), sigma)
    distances = torch.linspace(0.05, 1.25, samples)[None]
    deltas = torch.full((1, samples), length / samples)
    rgb = torch.tensor([0.2, 0.4, 0.6]).expand(1, samples, 3)
    result = composite(density, rgb, distances, deltas)
    expected = 1 - math.exp(-sigma * length)
    assert result.opacity.item() == pytest.approx(expected, rel=1e-6)
    assert result.weights.sum().item() == pytest.approx(expected, rel=1e-6)
    assert result.rgb[0].tolist() == pytest.approx([0.2 * expected, 0.4 * expected, 0.6 * expected])
    # Transmittance before sample i is exp(-sigma * delta * i).
    first_weights = result.weights[0, :3]
    alpha = 1 - math.exp(-sigma * length / samples)
    expected_weights = [alpha * (1 - alpha) ** i for i in range(3)]
    assert first_weights.tolist() == pytest.approx(expected_weights, rel=1e-5)


@pytest.mark.parametrize("sigma", [0.5, 3.0])
def test_slab_opacity_is_analytic(make_slab, sigma):
    field = make_slab(sigma=sigma, half_thickness=0.5)
    cameras = front_camera(7, 5, fov_y=20.0)  # every ray crosses the slab inside the box
    renderer = VolumeRenderer(num_samples=256).eval()
    out = renderer.render(field, cameras, torch.zeros(1, 1), return_weights=True)
    assert out.weights.shape == (1, 1, 5, 7, 256)
    assert torch.allclose(out.weights.sum(-1), out.opacity[:, :, 0], atol=1e-6)
    directions = camera_rays(cameras).directions[0, 0]  # (H, W, 3)
    path_length = 1.0 / directions[..., 2].abs()  # through |z| < 0.5
    expected = 1 - torch.exp(-sigma * path_length)
    assert torch.allclose(out.opacity[0, 0, 0], expected, atol=3e-3)
    assert out.opacity[0, 0, 0, 2, 3].item() == pytest.approx(1 - math.exp(-sigma), abs=1e-5)
    colour = field.colour[:, None, None] * expected + field.background_colour[:, None, None] * (
        1 - expected
    )
    assert torch.allclose(out.rgb[0, 0], colour, atol=3e-3)


def test_sphere_depth_matches_ray_sphere_distance(make_sphere):
    field = make_sphere(sigma=2000.0, radius=0.6)
    cameras = front_camera(15, 11, fov_y=40.0, distance=2.5)
    samples = 128
    out = VolumeRenderer(num_samples=samples).eval().render(field, cameras, torch.zeros(1, 1))
    rays = camera_rays(cameras)
    origins, directions = rays.origins[0, 0], rays.directions[0, 0]
    # |o + t d|^2 = r^2 with |d| = 1: t = -(o.d) - sqrt((o.d)^2 - |o|^2 + r^2).
    along = (origins * directions).sum(-1)
    discriminant = along**2 - (origins**2).sum(-1) + 0.6**2
    hits = discriminant > 0.01  # leave out grazing rays
    analytic = -along - discriminant.clamp_min(0).sqrt()
    near, far, _ = intersect_box(origins.reshape(-1, 3), directions.reshape(-1, 3))
    spacing = ((far - near) / samples).reshape(analytic.shape)
    depth, opacity = out.depth[0, 0, 0], out.opacity[0, 0, 0]
    assert hits.sum() > 20
    assert ((depth - analytic).abs()[hits] <= spacing[hits]).all()
    assert (opacity[hits] > 0.999).all()
    misses = discriminant < -0.05
    assert misses.sum() > 20
    assert (opacity[misses] == 0).all()
    background = field.background_colour[:, None].expand(3, int(misses.sum()))
    assert torch.allclose(out.rgb[0, 0][:, misses], background)


def test_occupancy_skipping_keeps_the_image_and_evaluates_far_fewer_samples(make_sphere):
    field = make_sphere(sigma=30.0, radius=0.45, start=(0.1, -0.1, 0.0))
    cameras = Cameras.look_at(
        torch.tensor([[[0.0, 0.5, 2.5], [1.5, 0.8, 2.0]]]), torch.zeros(1, 2, 3), 40.0, 24, 20
    )
    times = torch.tensor([[0.2, 0.7]])
    renderer = VolumeRenderer(num_samples=64, occupancy={"resolution": 24}).eval()
    dense = renderer.render(field, cameras, times)
    assert not renderer.occupancy.active
    assert dense.evaluated_samples == field.evaluated  # nothing evaluated behind our back
    renderer.occupancy.refresh(field, rounds=2, generator=torch.Generator().manual_seed(0))
    field.evaluated = 0
    skipped = renderer.render(field, cameras, times)
    assert skipped.evaluated_samples == field.evaluated
    assert (skipped.rgb - dense.rgb).abs().max() < 1e-2
    assert (skipped.depth - dense.depth).abs().max() < 1e-2
    assert skipped.evaluated_samples < 0.15 * dense.evaluated_samples  # measured: 0.096
    assert renderer.occupancy.occupied_fraction < 0.15


def test_occupancy_follows_a_moving_object(make_sphere):
    field = make_sphere(sigma=30.0, radius=0.3, start=(-0.5, 0.0, 0.0), velocity=(1.0, 0.0, 0.0))
    cameras = Cameras.look_at(
        torch.tensor([[[0.0, 0.3, 2.5]] * 3]), torch.zeros(1, 3, 3), 45.0, 24, 16
    )
    times = torch.tensor([[0.05, 0.5, 0.95]])
    config = {"resolution": 24, "time_bins": 8}
    renderer = VolumeRenderer(num_samples=64, occupancy=config).eval()
    dense = renderer.render(field, cameras, times)
    renderer.occupancy.refresh(field, rounds=8, generator=torch.Generator().manual_seed(0))
    skipped = renderer.render(field, cameras, times)
    assert (skipped.rgb - dense.rgb).abs().max() < 1e-2
    assert skipped.evaluated_samples < 0.1 * dense.evaluated_samples  # measured: 0.034
    # The sphere is left at t = 0.05 and right at t = 0.95: opacity mass follows it.
    columns = torch.arange(24.0)
    centre_of_mass = (skipped.opacity[0, :, 0].sum(1) * columns).sum(-1) / skipped.opacity[
        0, :, 0
    ].sum((1, 2))
    assert centre_of_mass[0] < 9 < 12 < centre_of_mass[2]


def test_occupancy_schedule_warmup_and_static_fields(make_sphere):
    field = make_sphere(radius=0.5)
    assert field.static_only
    config = {"resolution": 8, "time_bins": 3, "update_every": 4, "warmup_steps": 8}
    renderer = VolumeRenderer(occupancy=config)
    done = [renderer.update_occupancy(field, step) for step in range(13)]
    assert [i for i, d in enumerate(done) if d] == [8, 12]
    assert renderer.occupancy.active
    assert field.evaluated == 2 * 8**3  # a static-only field is evaluated once per cell
    occupied = renderer.occupancy.occupied
    assert torch.equal(occupied[0], occupied[2])
    assert 0.2 < occupied.float().mean() < 0.8
    renderer.occupancy.reset()
    assert not renderer.occupancy.active
    disabled = VolumeRenderer(occupancy={"enabled": False})
    assert not disabled.update_occupancy(field, 256)


def test_occupancy_state_travels_in_the_state_dict(make_sphere):
    field = make_sphere(radius=0.5)
    renderer = VolumeRenderer(occupancy={"resolution": 8})
    renderer.occupancy.refresh(field)
    restored = VolumeRenderer(occupancy={"resolution": 8})
    restored.load_state_dict(renderer.state_dict())
    assert restored.occupancy.active
    assert torch.equal(restored.occupancy.occupied, renderer.occupancy.occupied)


def test_training_with_occupancy_updates_fits_a_target(make_sphere, make_grid_field):
    target_field = make_sphere(sigma=30.0, radius=0.5)
    field = make_grid_field(resolution=12, density_bias=-6.0)
    cameras = Cameras.look_at(
        torch.tensor([[[0.0, 0.4, 2.5], [2.0, 0.5, 1.2], [-2.0, 0.2, 1.0]]]),
        torch.zeros(1, 3, 3),
        40.0,
        16,
        16,
    )
    times = torch.zeros(1, 3)
    renderer = VolumeRenderer(
        num_samples=24, occupancy={"resolution": 16, "warmup_steps": 10, "update_every": 5}
    )
    with torch.no_grad():
        target = renderer.eval().render(target_field, cameras, times).rgb
    renderer.train()
    optimizer = torch.optim.Adam(field.parameters(), lr=0.1)
    generator = torch.Generator().manual_seed(0)
    losses = []
    for step in range(60):
        out = renderer.render(field, cameras, times, generator)
        loss = (out.rgb - target).square().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        renderer.update_occupancy(field, step, generator)
        losses.append(loss.item())
    assert renderer.occupancy.active and renderer.occupancy.occupied_fraction < 0.95
    assert losses[-1] < 0.1 * losses[0]
    assert min(losses[:10]) > 2 * max(losses[-10:])  # kept improving with skipping on
    # Training only saw t = 0: late in time the field keeps its low initial density, and the
    # space-time grid skips most samples there.
    late = renderer.eval().render(field, cameras, torch.full((1, 3), 0.95))
    assert late.evaluated_samples < 0.5 * late.total_samples


def _loss_and_grads(renderer, field, cameras, times, generator=None):
    field.zero_grad()
    out = renderer.render(field, cameras, times, generator=generator)
    weights = torch.linspace(0.5, 1.5, out.rgb.numel()).reshape(out.rgb.shape)
    loss = (out.rgb * weights).sum() + out.opacity.sum() + 0.1 * out.depth.sum()
    loss.backward()
    return out, [p.grad.clone() for p in field.parameters()]


def test_chunked_render_equals_unchunked_with_gradients(make_grid_field):
    field = make_grid_field()
    cameras = Cameras.look_at(torch.randn(1, 2, 3) + 3, torch.zeros(1, 2, 3), 45.0, 9, 7)
    times = torch.tensor([[0.25, 0.75]])
    whole = VolumeRenderer(num_samples=16, chunk_rays=10_000).eval()
    chunked = VolumeRenderer(num_samples=16, chunk_rays=13).eval()
    out_whole, grads_whole = _loss_and_grads(whole, field, cameras, times)
    out_chunked, grads_chunked = _loss_and_grads(chunked, field, cameras, times)
    assert torch.allclose(out_whole.rgb, out_chunked.rgb, atol=1e-6)
    assert torch.allclose(out_whole.depth, out_chunked.depth, atol=1e-5)
    assert out_whole.evaluated_samples == out_chunked.evaluated_samples
    for grad_whole, grad_chunked in zip(grads_whole, grads_chunked, strict=True):
        assert grad_whole.abs().sum() > 0
        assert torch.allclose(grad_whole, grad_chunked, atol=1e-5)


def test_checkpointed_chunks_give_the_same_training_gradients(make_grid_field):
    field = make_grid_field()
    cameras = Cameras.look_at(torch.randn(1, 1, 3) + 3, torch.zeros(1, 1, 3), 45.0, 8, 8)
    times = torch.tensor([[0.4]])
    plain = VolumeRenderer(num_samples=16, chunk_rays=20, checkpoint_chunks=False).train()
    saved = VolumeRenderer(
        num_samples=16, chunk_rays=20, checkpoint_chunks=True, checkpoint_min_rays=0
    ).train()
    out_plain, grads_plain = _loss_and_grads(
        plain, field, cameras, times, torch.Generator().manual_seed(3)
    )
    out_saved, grads_saved = _loss_and_grads(
        saved, field, cameras, times, torch.Generator().manual_seed(3)
    )
    assert torch.allclose(out_plain.rgb, out_saved.rgb)
    for grad_plain, grad_saved in zip(grads_plain, grads_saved, strict=True):
        assert torch.allclose(grad_plain, grad_saved, atol=1e-6)


def test_training_jitter_is_seeded_and_eval_is_deterministic(make_grid_field):
    field = make_grid_field()
    cameras = Cameras.look_at(torch.randn(1, 1, 3) + 3, torch.zeros(1, 1, 3), 45.0, 6, 6)
    times = torch.tensor([[0.4]])
    renderer = VolumeRenderer(num_samples=8).train()
    with torch.no_grad():
        first = renderer.render(field, cameras, times, torch.Generator().manual_seed(1)).rgb
        again = renderer.render(field, cameras, times, torch.Generator().manual_seed(1)).rgb
        other = renderer.render(field, cameras, times, torch.Generator().manual_seed(2)).rgb
        renderer.eval()
        midpoint = renderer.render(field, cameras, times).rgb
    assert torch.equal(first, again)
    assert (first - other).abs().max() > 1e-4
    assert torch.equal(midpoint, renderer.render(field, cameras, times).rgb)


def test_renderer_settings_from_hydra_build_the_renderer_and_refuse_bad_keys():
    from hydra import compose, initialize_config_module
    from omegaconf import OmegaConf

    def node(name: str) -> dict:
        with initialize_config_module("t2v.conf", version_base=None):
            composed = compose(overrides=[f"+renderer={name}"]).renderer
        return OmegaConf.to_container(composed, resolve=True)

    default = parse(RendererSettings, node("default"), "renderer")
    cpu = parse(RendererSettings, node("cpu"), "renderer")
    assert default.renderer == RendererConfig()
    assert (cpu.num_samples, cpu.occupancy.resolution) == (32, 24)
    assert cpu.occupancy.time_bins == 4  # inherited from default
    assert cpu.cameras == default.cameras == StageCameras()
    assert default.cameras.static.azimuth_deg == (-180.0, 180.0)
    dynamic = default.cameras.for_stage("dynamic")
    assert dynamic.azimuth_deg == (-30.0, 30.0) and dynamic.dynamic_probability == 0.5
    renderer = cpu.build()
    assert type(renderer) is VolumeRenderer and renderer.config == cpu.renderer
    bad = {
        "num_sample": "renderer has unknown key 'num_sample'",
        "occupancy": "renderer.occupancy has unknown key 'res'",
        "_target_": "renderer._target_: 'torch.nn.Linear' is not a VolumeRenderer",
        "cameras": "renderer.cameras.static.distance.0 = 0.0: Input should be greater than 0",
    }
    values = {
        "num_sample": 3,
        "occupancy": {"res": 3},
        "_target_": "torch.nn.Linear",
        "cameras": {"static": {"distance": [0.0, 1.0]}},
    }
    for key, message in bad.items():
        with pytest.raises(ConfigError) as error:
            parse(RendererSettings, {**node("default"), key: values[key]}, "renderer")
        assert str(error.value) == message
    with pytest.raises(ConfigError, match=r"renderer.num_samples = 0"):
        VolumeRenderer(num_samples=0)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_render_matches_cpu_with_a_cpu_generator(make_grid_field):
    field = make_grid_field()
    cameras = Cameras.look_at(torch.randn(1, 2, 3) + 3, torch.zeros(1, 2, 3), 45.0, 12, 10)
    times = torch.tensor([[0.3, 0.6]])
    results = []
    for device in ("cpu", "cuda"):
        renderer = VolumeRenderer(num_samples=16, occupancy={"resolution": 8}).to(device).train()
        renderer.occupancy.refresh(field.to(device), generator=torch.Generator().manual_seed(0))
        out = renderer.render(
            field, cameras.to(device), times.to(device), torch.Generator().manual_seed(1)
        )
        results.append(out.rgb.cpu())
    assert torch.allclose(results[0], results[1], atol=1e-4)


def test_chunks_are_checkpointed_only_in_renders_of_enough_rays(make_grid_field, monkeypatch):
    from t2v.render import renderer as renderer_module

    calls = []
    original = renderer_module.checkpoint

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(renderer_module, "checkpoint", counting)
    field = make_grid_field()
    times = torch.tensor([[0.4]])
    renderer = VolumeRenderer(
        num_samples=8, chunk_rays=16, checkpoint_chunks=True, checkpoint_min_rays=64
    ).train()
    small = Cameras.look_at(torch.randn(1, 1, 3) + 3, torch.zeros(1, 1, 3), 45.0, 6, 6)  # 36 rays
    large = Cameras.look_at(torch.randn(1, 1, 3) + 3, torch.zeros(1, 1, 3), 45.0, 8, 8)  # 64 rays
    renderer.render(field, small, times).rgb.sum().backward()
    assert calls == []
    renderer.render(field, large, times).rgb.sum().backward()
    assert len(calls) == 4  # 64 rays in chunks of 16
    with pytest.raises(ConfigError, match="checkpoint_min_rays"):
        VolumeRenderer(checkpoint_min_rays=-1)
    with pytest.raises(ConfigError, match=r"renderer.pixel_jitter = 'maybe'"):
        VolumeRenderer(pixel_jitter="maybe")


def test_pixel_jitter_averages_to_the_pixels_area_coverage(make_sphere):
    # An opaque sphere's edge pixels are partly covered: centre rays say 0 or 1, jittered
    # training rays average to the covered fraction, as a supersampled render box-filtered.
    field = make_sphere(sigma=5000.0, radius=0.55)
    size, factor = 9, 8
    renderer = VolumeRenderer(num_samples=96).eval()
    with torch.no_grad():
        fine = renderer.render(field, front_camera(size * factor, size * factor), torch.zeros(1, 1))
        coverage = torch.nn.functional.avg_pool2d(fine.opacity[0, 0], factor)[0]
        centres = renderer.render(field, front_camera(size, size), torch.zeros(1, 1)).opacity
        jittered = VolumeRenderer(num_samples=96, pixel_jitter=True).train()
        draws = [
            jittered.render(
                field, front_camera(size, size), torch.zeros(1, 1), torch.Generator().manual_seed(s)
            ).opacity[0, 0, 0]
            for s in range(256)
        ]
        unjittered = VolumeRenderer(num_samples=96, pixel_jitter=False).train()
        fixed = unjittered.render(
            field, front_camera(size, size), torch.zeros(1, 1), torch.Generator().manual_seed(0)
        ).opacity[0, 0, 0]
    mean = torch.stack(draws).mean(0)
    edge = (coverage > 0.05) & (coverage < 0.95)
    assert edge.sum() >= 8
    error = (mean - coverage).abs()[edge]  # Monte Carlo: 256 draws, std <= 0.031 per pixel
    assert error.mean() < 0.05 and error.max() < 0.15
    assert (centres[0, 0, 0] - coverage).abs()[edge].mean() > 0.2
    assert torch.equal(fixed, centres[0, 0, 0].round())  # pixel centres when off (opaque: 0 or 1)


def test_a_field_of_another_kind_is_refused_in_one_line(make_sphere):
    from t2v.field.base import FieldCapabilities

    field = make_sphere()
    field.capabilities = FieldCapabilities(kind="gaussians")
    renderer = VolumeRenderer(num_samples=8)
    with pytest.raises(ConfigError, match="must answer splats"):
        renderer.render(field, front_camera(4, 4), torch.zeros(1, 1))
    rays = camera_rays(front_camera(4, 4))
    with pytest.raises(ConfigError, match="cannot ray-march a 'gaussians' field"):
        renderer.render_rays(field, rays.origins[0, 0, 0], rays.directions[0, 0, 0], torch.zeros(4))
