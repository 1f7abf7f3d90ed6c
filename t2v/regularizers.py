"""Regularizers of the stages: MAV3D's motion and temporal-consistency terms, an opacity
sparsity term that keeps the volume empty where the prior asks for no object, and a background
anchor that keeps the backdrop a stage never sees as the stage found it.

Each works through the `t2v.field.Field` contract (the field at points and times, its parameter
groups and declared motion groups) or on rendered frames, so it applies to any field.
"""

from __future__ import annotations

import math

import torch

from t2v.field.base import Field
from t2v.field.gaussians import GaussianField
from t2v.render.cameras import spherical_positions
from t2v.render.samplers import CameraSamplerConfig


def temporal_smoothness(
    field: Field, points: torch.Tensor, times: torch.Tensor, dt: float
) -> torch.Tensor:
    """Mean squared change of density (log-scaled) and colour at fixed points between t and t+dt.

    A finite-difference total variation over time: it penalises flicker and sudden jumps
    of the 4D field, not smooth motion, as long as `dt` is about one frame. A `gaussians` field
    (`GaussianField`) is judged on its deformation instead (`splat_smoothness`): its density at
    points sums every Gaussian at every point, while the deformation is the only thing of it
    that changes over time.
    """
    if isinstance(field, GaussianField):
        return splat_smoothness(field, times[:SPLAT_SMOOTHNESS_TIMES, 0], dt)
    later = (times + dt).clamp(0.0, 1.0)
    directions = torch.zeros_like(points)
    directions[:, 2] = -1.0  # colour seen from the front camera; any fixed direction will do
    now_out = field(points, times, directions)
    later_out = field(points, later, directions)
    density_change = torch.log1p(later_out.density) - torch.log1p(now_out.density)
    colour_change = (later_out.rgb - now_out.rgb) * now_out.density.detach().clamp(max=1.0)[:, None]
    return density_change.square().mean() + colour_change.square().sum(-1).mean()


# Times at which `splat_smoothness` reads the deformation: each covers every Gaussian, so a few
# stand for the thousands of random points the volume fields need.
SPLAT_SMOOTHNESS_TIMES = 4


def splat_smoothness(field: GaussianField, times: torch.Tensor, dt: float) -> torch.Tensor:
    """Mean over Gaussians and `times` (K,) of the squared change of the deformation between t
    and t+dt: position (world units), quaternion and log-scale, summed over their components.
    The global trajectory is left out: it is the smooth motion the motion terms ask for."""
    later = (times + dt).clamp(0.0, 1.0)
    change = field.deformation(torch.cat((later, times))).unflatten(0, (2, -1))
    return (change[0] - change[1]).square().sum(-1).mean()


def dynamic_sparsity(field: Field) -> torch.Tensor:
    """Mean absolute value of the parameters of the field's motion groups (its dynamic encoding or
    deformation): motion only where it is needed."""
    groups = field.parameter_groups()
    parameters = [p for name in field.capabilities.motion_groups for p in groups[name]]
    if not parameters:
        return torch.zeros(())
    total = sum(p.abs().sum() for p in parameters)
    count = sum(p.numel() for p in parameters)
    return total / count


def frame_consistency(frames: torch.Tensor, opacity: torch.Tensor | None = None) -> torch.Tensor:
    """Mean squared difference of consecutive frames `(B, T, 3, H, W)` (0 for a single frame).

    With `opacity` `(B, T, 1, H, W)`, only the foreground counts, so a moving background
    colour during training does not pull the scene still.
    """
    if frames.shape[1] < 2:
        return frames.new_zeros(())
    change = (frames[:, 1:] - frames[:, :-1]).square()
    if opacity is not None:
        change = change * torch.maximum(opacity[:, 1:], opacity[:, :-1])
    return change.mean()


def opacity_sparsity(opacity: torch.Tensor) -> torch.Tensor:
    """Accumulated opacity of the rendered pixels `(B, T, 1, H, W)`, summed per clip, mean over B.

    Summed like the SDS loss (`t2v.priors.sds`), so each pixel's gradient is the weight itself
    and one weight means the same at any resolution and frame count. Why: without it, SDS may
    paint a dark or hazy backdrop as thin density filling the whole scene box instead of with
    the background model, and then the occupancy grid skips nothing. The prior pays for the
    object's opacity through SDS; this term makes haze cost something. Off in the presets: it can
    clear a fog without an object forming in its place, and shift colours (experiments/genres).
    """
    return opacity.flatten(1).sum(1).mean()


def random_points(count: int, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    """Points uniform in the scene box [-1, 1]^3."""
    return (torch.rand(count, 3, generator=generator) * 2.0 - 1.0).to(device)


def unseen_directions(
    cameras: CameraSamplerConfig, aspect: float, count: int, generator: torch.Generator
) -> torch.Tensor:
    """The directions (M, 3) among `count` uniform on the sphere that no view `cameras` draws
    looks along: farther from the axis of every view in its azimuth and elevation ranges (each
    widened by the clip's camera motion) than the widest view's half-diagonal."""
    directions = torch.nn.functional.normalize(torch.randn(count, 3, generator=generator), dim=1)
    moves = cameras.dynamic_probability > 0
    reach_az = cameras.dynamic_azimuth_deg if moves else 0.0
    reach_el = cameras.dynamic_elevation_deg if moves else 0.0
    low_az, high_az = cameras.azimuth_deg
    low_el, high_el = cameras.elevation_deg
    azimuths = torch.linspace(low_az - reach_az, high_az + reach_az, 37)
    elevations = torch.linspace(max(low_el - reach_el, -90.0), min(high_el + reach_el, 90.0), 9)
    grid_az, grid_el = torch.meshgrid(azimuths, elevations, indexing="ij")
    # A camera at a position looks towards the origin: its axis is minus the position.
    axes = -spherical_positions(grid_az.flatten(), grid_el.flatten(), torch.ones(grid_az.numel()))
    half_y = math.radians(max(cameras.fov_deg)) / 2
    half_diagonal = math.atan(math.tan(half_y) * math.hypot(1.0, aspect))
    nearest = (directions @ axes.T).amax(dim=1).clamp(-1.0, 1.0).acos()
    return directions[nearest > half_diagonal]


def background_anchor(
    field: Field, directions: torch.Tensor, reference: torch.Tensor
) -> torch.Tensor:
    """Mean squared change of the background colour along `directions` (M, 3) from `reference`
    (M, 3). A view-dependent background that a stage trains from the front alone extrapolates
    to the sides it never sees (a dark genre's grey backdrop turned pink there, against which
    the object read a different colour: experiments/every_side); anchored along the unseen
    directions, the backdrop changes where the stage sees it and holds elsewhere."""
    if directions.numel() == 0:
        return reference.new_zeros(())
    return (field.background(directions) - reference).square().sum(-1).mean()
