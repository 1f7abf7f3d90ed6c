"""Cameras, look-at and rays: directions match the field of view at any aspect ratio."""

import math

import pytest
import torch

from t2v.errors import ConfigError
from t2v.render import Cameras, camera_rays, look_at, rays_for_indices, spherical_positions


def front_camera(width: int, height: int, fov_y: float = 60.0, distance: float = 3.0) -> Cameras:
    eyes = torch.tensor([[[0.0, 0.0, distance]]])
    return Cameras.look_at(eyes, torch.zeros(1, 1, 3), fov_y, width, height)


def test_look_at_is_orthonormal_and_right_handed():
    eyes = torch.randn(4, 3, 3) * 3
    targets = torch.randn(4, 3, 3) * 0.2
    c2w = look_at(eyes, targets)
    rotation = c2w[..., :3, :3]
    identity = rotation.transpose(-1, -2) @ rotation
    assert torch.allclose(identity, torch.eye(3).expand_as(identity), atol=1e-5)
    assert torch.allclose(torch.linalg.det(rotation), torch.ones(4, 3), atol=1e-5)
    # The camera's -z axis points at the target.
    forward = (targets - eyes) / (targets - eyes).norm(dim=-1, keepdim=True)
    assert torch.allclose(-rotation[..., 2], forward, atol=1e-5)
    assert torch.equal(c2w[..., 3, :], torch.tensor([0.0, 0.0, 0.0, 1.0]).expand(4, 3, 4))


def test_look_at_straight_down_stays_a_rotation():
    c2w = look_at(torch.tensor([[0.0, 2.0, 0.0]]), torch.zeros(1, 3))
    rotation = c2w[0, :3, :3]
    assert torch.allclose(rotation.T @ rotation, torch.eye(3), atol=1e-6)
    assert torch.allclose(-rotation[:, 2], torch.tensor([0.0, -1.0, 0.0]))
    assert torch.allclose(rotation[:, 0], torch.tensor([1.0, 0.0, 0.0]))


def test_front_camera_sees_world_x_as_screen_right():
    cameras = front_camera(64, 48)
    rotation = cameras.c2w[0, 0, :3, :3]
    assert torch.allclose(rotation, torch.eye(3), atol=1e-6)  # on +z looking down -z
    points = torch.tensor([[[[0.0, 0.0, 0.0], [-0.5, 0.0, 0.0], [0.0, 0.5, 0.0]]]])
    pixels = cameras.project(points)[0, 0]
    assert torch.allclose(pixels[0], torch.tensor([32.0, 24.0]), atol=1e-4)  # origin: centre
    assert pixels[1, 0] < 32.0  # world -x is screen-left
    assert pixels[2, 1] < 24.0  # world +y is screen-up (rows grow downwards)


def test_centre_and_corner_rays_match_the_field_of_view():
    width, height, fov_y = 9, 5, 50.0  # odd sizes: a pixel sits exactly at the centre
    cameras = front_camera(width, height, fov_y)
    rays = camera_rays(cameras)
    directions = rays.directions[0, 0]
    assert directions.shape == (height, width, 3)
    assert torch.allclose(directions.norm(dim=-1), torch.ones(height, width), atol=1e-6)
    assert torch.allclose(directions[2, 4], torch.tensor([0.0, 0.0, -1.0]), atol=1e-6)
    assert torch.allclose(rays.origins[0, 0], torch.tensor([0.0, 0.0, 3.0]).expand(5, 9, 3))
    tan_y = math.tan(math.radians(fov_y / 2))
    tan_x = tan_y * width / height
    # Top-left pixel centre sits half a pixel inside the image corner.
    corner = directions[0, 0]
    assert corner[0] / -corner[2] == pytest.approx(-tan_x * (1 - 1 / width), rel=1e-5)
    assert corner[1] / -corner[2] == pytest.approx(tan_y * (1 - 1 / height), rel=1e-5)
    fov_x = cameras.fov_x_deg[0, 0].item()
    assert fov_x == pytest.approx(math.degrees(2 * math.atan(tan_x)), rel=1e-5)
    assert fov_x > fov_y  # wide image: wider horizontally


def test_rays_project_back_to_their_pixel_centres_in_a_portrait_image():
    cameras = Cameras.look_at(
        torch.tensor([[[1.0, 1.5, 2.0], [-2.0, 0.3, 0.5]]]), torch.zeros(1, 2, 3), 70.0, 6, 11
    )
    rays = camera_rays(cameras)
    points = rays.origins + 2.0 * rays.directions  # (1, 2, H, W, 3)
    pixels = cameras.project(points.reshape(1, 2, -1, 3)).reshape(1, 2, 11, 6, 2)
    rows, columns = torch.meshgrid(torch.arange(11.0), torch.arange(6.0), indexing="ij")
    expected = torch.stack([columns + 0.5, rows + 0.5], dim=-1)
    assert torch.allclose(pixels, expected.expand_as(pixels), atol=1e-4)


def test_rays_for_indices_equal_the_full_grid():
    cameras = Cameras.look_at(torch.randn(2, 3, 3) + 4, torch.zeros(2, 3, 3), 45.0, 5, 4)
    full = camera_rays(cameras)
    indices = torch.tensor([0, 7, 19, 20, 59, 119])
    subset = rays_for_indices(cameras, indices)
    assert torch.allclose(subset.directions, full.directions.reshape(-1, 3)[indices])
    assert torch.allclose(subset.origins, full.origins.reshape(-1, 3)[indices])


def test_spherical_positions_follow_the_azimuth_convention():
    azimuth = torch.tensor([0.0, 90.0, 180.0, 0.0])
    elevation = torch.tensor([0.0, 0.0, 0.0, 90.0])
    points = spherical_positions(azimuth, elevation, torch.full((4,), 2.0))
    expected = torch.tensor([[0, 0, 2.0], [2.0, 0, 0], [0, 0, -2.0], [0, 2.0, 0]])
    assert torch.allclose(points, expected, atol=1e-5)


def test_cameras_reject_bad_shapes_and_sizes():
    c2w = torch.eye(4).expand(1, 2, 4, 4)
    with pytest.raises(ValueError, match="fov_y_deg"):
        Cameras(c2w, torch.ones(2), 4, 4)
    with pytest.raises(ConfigError, match="at least 1x1"):
        Cameras(c2w, torch.ones(1, 2), 0, 4)
    resized = Cameras(c2w, torch.full((1, 2), 40.0), 4, 4).resized(16, 9)
    assert (resized.width, resized.height) == (16, 9)
    assert resized.focal_px[0, 0].item() == pytest.approx(4.5 / math.tan(math.radians(20)))


def test_pixel_offsets_move_rays_to_those_points_of_their_pixels():
    cameras = Cameras.look_at(torch.tensor([[[1.0, 1.5, 2.0]]]), torch.zeros(1, 1, 3), 50.0, 7, 5)
    indices = torch.arange(35)
    offsets = torch.rand(35, 2, generator=torch.Generator().manual_seed(0))
    offsets[0] = 0.0  # the top-left corner of the first pixel: the image's own corner
    rays = rays_for_indices(cameras, indices, offsets)
    points = rays.origins + 2.0 * rays.directions
    pixels = cameras.project(points.reshape(1, 1, -1, 3)).reshape(-1, 2)
    expected = torch.stack([indices % 7, indices // 7], dim=-1).float() + offsets
    assert torch.allclose(pixels, expected, atol=1e-4)
    centres = rays_for_indices(cameras, indices, torch.full((35, 2), 0.5))
    assert torch.allclose(centres.directions, rays_for_indices(cameras, indices).directions)
