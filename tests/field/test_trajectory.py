"""GlobalTrajectory's bound: a centred path, scaled down per axis to reach at most the bound."""

from __future__ import annotations

import torch

from t2v.field.components import GlobalTrajectory


def test_unbounded_path_is_the_offsets_themselves() -> None:
    path = GlobalTrajectory(3)
    with torch.no_grad():
        path.offsets.copy_(torch.tensor([[0.5, 0.0, 0.0], [0.2, 0.1, 0.0], [-0.4, 0.3, 0.0]]))
    torch.testing.assert_close(path.knots(), path.offsets)
    torch.testing.assert_close(path(torch.tensor([[0.25]])), torch.tensor([[0.35, 0.05, 0.0]]))


def test_bounded_path_is_centred_and_scaled_per_axis_to_the_bound() -> None:
    path = GlobalTrajectory(3, bound=0.3)
    raw = torch.tensor([[1.4, 0.10, 0.0], [0.6, 0.20, 0.0], [-0.2, 0.30, 0.0]])
    with torch.no_grad():
        path.offsets.copy_(raw)
    knots = path.knots()
    # Centred on every axis: the scene stays, on average, where the static stage built it.
    torch.testing.assert_close(knots.mean(dim=0), torch.zeros(3))
    # x reached 0.8 from its mean 0.6: scaled by 0.3 / 0.8, its shape kept (equal steps).
    torch.testing.assert_close(knots[:, 0], torch.tensor([0.3, 0.0, -0.3]))
    # y reached only 0.1: centred, not scaled.
    torch.testing.assert_close(knots[:, 1], torch.tensor([-0.1, 0.0, 0.1]))
    assert float(knots.abs().max()) <= 0.3 + 1e-6
    # Every knot keeps a gradient, the one at the bound included (no saturation).
    (knots[:, 0] * torch.tensor([1.0, 2.0, 5.0])).sum().backward()
    assert path.offsets.grad is not None
    assert bool((path.offsets.grad[:, 0] != 0).all())


def test_bounded_path_moves_the_gaussian_field() -> None:
    from t2v.field import GaussianField

    field = GaussianField(count=16, trajectory_knots=2, trajectory_bound=0.2)
    with torch.no_grad():
        field.trajectory.offsets.copy_(torch.tensor([[1.0, 0.0, 0.0], [-1.0, 0.0, 0.0]]))
    torch.testing.assert_close(
        field.trajectory_offsets(), torch.tensor([[0.2, 0.0, 0.0], [-0.2, 0.0, 0.0]])
    )
