"""Regularizers: each term on a small field or render, and how stages weigh them."""

import pytest
import torch

from t2v.field import FieldCapabilities, PlaneSpec, SceneField
from t2v.regularizers import dynamic_sparsity, opacity_sparsity
from t2v.render import VolumeRenderer, orbit_cameras


def test_opacity_sparsity_sums_opacity_and_clears_a_haze() -> None:
    torch.manual_seed(0)
    # No density blob: softplus of near-zero features is a thin haze filling the scene box.
    field = SceneField(PlaneSpec(), PlaneSpec(), density_blob="none", hidden_dim=16)
    renderer = VolumeRenderer(num_samples=32, occupancy={"enabled": False})
    cameras = orbit_cameras(
        torch.tensor([[0.0]]),
        torch.tensor([[10.0]]),
        torch.tensor([[2.5]]),
        torch.tensor([[40.0]]),
        12,
        12,
    )
    times = torch.zeros(1, 1)
    optimizer = torch.optim.Adam(field.parameters(), lr=0.02)
    values = []
    for _ in range(30):
        rendered = renderer.render(field, cameras, times)
        loss = opacity_sparsity(rendered.opacity)
        assert loss.item() == pytest.approx(rendered.opacity.sum().item())  # one clip
        values.append(loss.item())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert values[0] > 0.5 * 12 * 12  # the haze is there: most pixels over half opaque
    assert values[-1] < 0.25 * values[0]  # and the term alone empties the volume


def test_opacity_sparsity_is_configured_per_stage_and_not_scaled_by_genre() -> None:
    from omegaconf import OmegaConf

    from t2v import cli  # the command layer: imported here, so the terms' tests stand alone
    from t2v.commands.door import resolved
    from t2v.config.generate import parse_generate

    cli.register_resolvers()
    overrides = [
        "prompt=x",
        "+schedule.static.regularizers={opacity_sparsity: 0.5}",
        "+schedule.dynamic.regularizers.opacity_sparsity=0.25",
    ]
    weights = {}
    for genre in ("none", "action"):  # action: more motion, less smoothness
        cfg = cli.compose("generate", [*overrides, "logger=none", f"genre={genre}"])
        job = OmegaConf.masked_copy(cfg, [key for key in cfg if key != "hydra"])
        specs = {spec.name: spec for spec in parse_generate(resolved(job)).stages}
        weights[genre] = {
            name: {term: ramp(10**6) for term, ramp in spec.regularizers.items()}
            for name, spec in specs.items()
        }
    for genre in ("none", "action"):
        assert weights[genre]["static"] == {"opacity_sparsity": 0.5}
        assert weights[genre]["dynamic"]["opacity_sparsity"] == 0.25
        assert "opacity_sparsity" not in weights[genre]["superres"]  # off unless asked for
    smoothness = [weights[g]["dynamic"]["temporal_smoothness"] for g in ("none", "action")]
    assert smoothness[1] < smoothness[0]  # the motion terms still follow the genre


def test_dynamic_sparsity_reads_the_declared_motion_groups() -> None:
    planes = PlaneSpec(features=2, resolutions=(4,), time_resolution=2)
    field = SceneField(planes, planes, backend="torch", hidden_dim=8, trajectory_knots=3)
    with torch.no_grad():
        field.trajectory.offsets.fill_(5.0)  # a global path is not local motion: not counted
    dynamic = torch.cat([p.reshape(-1) for p in field.dynamic_encoding.parameters()])
    torch.testing.assert_close(dynamic_sparsity(field), dynamic.abs().mean())

    class StillField(SceneField):
        @property
        def capabilities(self) -> FieldCapabilities:
            return FieldCapabilities()  # no time-dependent part declared

    still = StillField(planes, planes, backend="torch", hidden_dim=8)
    assert dynamic_sparsity(still).item() == 0.0


def test_temporal_smoothness_of_gaussians_is_the_change_of_their_deformation() -> None:
    from t2v.field import GaussianField
    from t2v.regularizers import temporal_smoothness

    torch.manual_seed(0)
    deformation = PlaneSpec(features=2, resolutions=(4,), time_resolution=4)
    field = GaussianField(count=64, deformation=deformation, trajectory_knots=4)
    points, times = torch.zeros(4096, 3), torch.rand(4096, 1)
    with torch.no_grad():
        field.trajectory.offsets.normal_()  # global motion does not count
    still = temporal_smoothness(field, points, times, 0.1)
    assert float(still) == 0.0  # the deformation starts at zero

    class Drifting(GaussianField):
        """Every Gaussian moves by (1, 2, 2) t and grows its log-scales by 3 t."""

        def deformation(self, times: torch.Tensor) -> torch.Tensor:
            rate = torch.tensor([1.0, 2.0, 2.0, 0, 0, 0, 0, 3.0, 3.0, 3.0])
            return (times[:, None, None] * rate).expand(-1, self.count, -1)

    drifting = Drifting(count=64, deformation=deformation)
    # Times well inside [0, 1]: the change over dt = 0.1 is (|(1, 2, 2)|^2 + 3 * 3^2) 0.1^2.
    value = temporal_smoothness(drifting, points, torch.full((4096, 1), 0.5), 0.1)
    assert float(value) == pytest.approx((9.0 + 27.0) * 0.01, rel=1e-5)

    with torch.no_grad():
        field.deformation_head[-1].weight.normal_()
    temporal_smoothness(field, points, times, 0.1).backward()
    assert float(field.deformation_head[-1].weight.grad.abs().max()) > 0


def test_unseen_directions_are_those_no_view_of_the_band_looks_along() -> None:
    from t2v.regularizers import unseen_directions
    from t2v.render.cameras import spherical_positions
    from t2v.render.samplers import CameraSamplerConfig

    band = CameraSamplerConfig(azimuth_deg=(-30.0, 30.0), elevation_deg=(0.0, 20.0))
    generator = torch.Generator().manual_seed(0)
    unseen = unseen_directions(band, 1.0, 4096, generator)
    assert torch.allclose(unseen.norm(dim=1), torch.ones(len(unseen)))
    # The axis of a view in the band and the directions at its frame's corners are seen; the
    # axes of the side and back views are not.
    seen_axis = -spherical_positions(torch.tensor([20.0]), torch.tensor([10.0]), torch.ones(1))
    side_axis = -spherical_positions(torch.tensor([90.0]), torch.tensor([10.0]), torch.ones(1))
    back_axis = -spherical_positions(torch.tensor([180.0]), torch.tensor([0.0]), torch.ones(1))
    nearest = lambda axis: float((unseen @ axis[0]).max().clamp(max=1).acos().rad2deg())  # noqa: E731
    assert nearest(seen_axis) > 25.0 * 2**0.5  # the 50-degree view's half-diagonal
    assert nearest(side_axis) < 5.0 and nearest(back_axis) < 5.0
    # A wider band (its clips' camera motion included) sees more; all round, only the poles.
    moving = CameraSamplerConfig(
        azimuth_deg=(-30.0, 30.0), elevation_deg=(0.0, 20.0), dynamic_probability=0.5
    )
    fewer = unseen_directions(moving, 1.0, 4096, torch.Generator().manual_seed(0))
    assert len(fewer) < len(unseen)
    poles = unseen_directions(CameraSamplerConfig.full(), 1.0, 4096, generator)
    assert float(poles[:, 1].abs().min()) > 0.5


def test_background_anchor_holds_the_unseen_backdrop_while_the_seen_one_changes() -> None:
    from t2v.field import GaussianField
    from t2v.regularizers import background_anchor

    torch.manual_seed(0)
    field = GaussianField(count=16, hidden_dim=8)
    front = torch.tensor([[0.0, 0.0, -1.0]])  # what the front camera looks along
    sides = torch.nn.functional.normalize(
        torch.randn(256, 3) * torch.tensor([1.0, 0.3, 0.1]), dim=1
    )
    with torch.no_grad():
        reference = field.background(sides)
        target = field.background(front) + torch.tensor([[0.3, -0.2, 0.0]])
    with torch.no_grad():
        assert float(background_anchor(field, sides, reference)) == 0.0
    initial = {k: v.clone() for k, v in field.background_head.state_dict().items()}
    drift = {}
    for anchored in (False, True):
        field.background_head.load_state_dict(initial)
        optimizer = torch.optim.Adam(field.background_head.parameters(), lr=0.01)
        for _ in range(200):
            loss = (field.background(front) - target).square().sum()
            if anchored:
                loss = loss + 10.0 * background_anchor(field, sides, reference)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            drift[anchored] = float(background_anchor(field, sides, reference))
            assert float((field.background(front) - target).abs().max()) < 0.05  # seen: changed
    assert drift[True] < 0.2 * drift[False]
