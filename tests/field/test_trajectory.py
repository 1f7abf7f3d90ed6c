"""GlobalTrajectory's bound: the path centred and each knot clamped, by projection after a step."""

from __future__ import annotations

import torch

from t2v.field.components import GlobalTrajectory


def test_unbounded_path_is_piecewise_linear_over_its_offsets() -> None:
    path = GlobalTrajectory(3)
    with torch.no_grad():
        path.offsets.copy_(torch.tensor([[0.5, 0.0, 0.0], [0.2, 0.1, 0.0], [-0.4, 0.3, 0.0]]))
    path.project_()  # no bound: nothing to do
    torch.testing.assert_close(path(torch.tensor([[0.25]])), torch.tensor([[0.35, 0.05, 0.0]]))


def test_bounded_path_is_centred_and_clamped_and_keeps_gradients_at_the_bound() -> None:
    path = GlobalTrajectory(3, bound=0.3)
    with torch.no_grad():
        path.offsets.copy_(torch.tensor([[1.4, 0.4, 0.2], [0.6, 0.2, 0.2], [-0.2, 0.3, 0.2]]))
    path.project_()
    # x: centred on its mean 0.6 (0.8, 0, -0.8), then clamped; y: centred, inside the bound;
    # z: a path that only sat off-centre comes back to where the static stage built the scene.
    expected = torch.tensor([[0.3, 0.1, 0.0], [0.0, -0.1, 0.0], [-0.3, 0.0, 0.0]])
    torch.testing.assert_close(path.offsets.detach(), expected)
    # A knot at the bound keeps its gradient, so a step can bring it back in.
    path(torch.tensor([[0.0], [0.5]])).sum().backward()
    assert path.offsets.grad is not None
    torch.testing.assert_close(path.offsets.grad[:, 0], torch.tensor([1.0, 1.0, 0.0]))
    # Projecting a projected path changes nothing.
    before = path.offsets.detach().clone()
    path.project_()
    torch.testing.assert_close(path.offsets.detach(), before)


def test_bounded_path_moves_the_gaussian_field() -> None:
    from t2v.field import GaussianField

    field = GaussianField(count=16, trajectory_knots=2, trajectory_bound=0.2)
    with torch.no_grad():
        field.trajectory.offsets.copy_(torch.tensor([[1.0, 0.0, 0.0], [-1.0, 0.1, 0.0]]))
    field.trajectory.project_()
    torch.testing.assert_close(
        field.trajectory_offsets(), torch.tensor([[0.2, -0.05, 0.0], [-0.2, 0.05, 0.0]])
    )


def test_per_axis_bound_clamps_each_axis_to_its_own_and_leaves_a_zero_axis_free() -> None:
    path = GlobalTrajectory(2, bound=(0.4, 0.0, 0.1))
    with torch.no_grad():
        path.offsets.copy_(torch.tensor([[1.0, 2.0, 0.5], [-1.0, -2.0, -0.5]]))
    path.project_()
    torch.testing.assert_close(
        path.offsets.detach(), torch.tensor([[0.4, 2.0, 0.1], [-0.4, -2.0, -0.1]])
    )
    # The bound is not state: a checkpoint written with another bound loads into this one.
    assert set(path.state_dict()) == {"offsets"}
