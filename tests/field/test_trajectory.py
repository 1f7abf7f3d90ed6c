"""GlobalTrajectory's bound: a centred path, each knot within the bound, kept by projection."""

from __future__ import annotations

import torch

from t2v.field.components import GlobalTrajectory


def test_unbounded_path_is_the_offsets_themselves() -> None:
    path = GlobalTrajectory(3)
    with torch.no_grad():
        path.offsets.copy_(torch.tensor([[0.5, 0.0, 0.0], [0.2, 0.1, 0.0], [-0.4, 0.3, 0.0]]))
    torch.testing.assert_close(path.knots(), path.offsets)
    torch.testing.assert_close(path(torch.tensor([[0.25]])), torch.tensor([[0.35, 0.05, 0.0]]))


def test_bounded_path_is_centred_and_projected_into_the_bound() -> None:
    path = GlobalTrajectory(3, bound=0.3)
    raw = torch.tensor([[1.4, 0.10, 0.0], [0.6, 0.20, 0.0], [-0.2, 0.30, 0.0]])
    with torch.no_grad():
        path.offsets.copy_(raw)
    # Centred on every axis: the scene stays, on average, where the static stage built it.
    torch.testing.assert_close(path.knots()[:, 1], torch.tensor([-0.1, 0.0, 0.1]))
    torch.testing.assert_close(path.knots().mean(dim=0), torch.zeros(3))
    path.project_()
    # x: centred on its mean 0.6 (0.8, 0.0, -0.8), then each knot clamped to the bound;
    # y reached only 0.1 from its mean: centred, not clamped.
    torch.testing.assert_close(path.offsets[:, 0].detach(), torch.tensor([0.3, 0.0, -0.3]))
    torch.testing.assert_close(path.offsets[:, 1].detach(), torch.tensor([-0.1, 0.0, 0.1]))
    torch.testing.assert_close(path.knots(), path.offsets)
    # A knot at the bound keeps its gradient (so a step can bring it back in); the gradient
    # loses its mean (moving every knot alike would move the centre).
    path.knots()[:, 0].mul(torch.tensor([1.0, 2.0, 6.0])).sum().backward()
    torch.testing.assert_close(path.offsets.grad[:, 0], torch.tensor([-2.0, -1.0, 3.0]))


def test_bounded_path_moves_the_gaussian_field() -> None:
    from t2v.field import GaussianField

    field = GaussianField(count=16, trajectory_knots=2, trajectory_bound=0.2)
    with torch.no_grad():
        field.trajectory.offsets.copy_(torch.tensor([[1.0, 0.0, 0.0], [-1.0, 0.0, 0.0]]))
    field.trajectory.project_()
    torch.testing.assert_close(
        field.trajectory_offsets(), torch.tensor([[0.2, 0.0, 0.0], [-0.2, 0.0, 0.0]])
    )
