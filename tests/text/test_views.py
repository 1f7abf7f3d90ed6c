"""View buckets: edges, azimuth wrapping, angles from camera poses, suffixes."""

import math

import pytest
import torch

from t2v.text.views import (
    camera_angles,
    view_bucket,
    view_buckets_from_c2w,
    with_view_suffix,
    wrap_azimuth,
)


@pytest.mark.parametrize(
    ("azimuth", "elevation", "bucket"),
    [
        (0.0, 0.0, "front"),
        (45.0, 0.0, "front"),  # front edge is inclusive
        (-45.0, 0.0, "front"),
        (45.001, 0.0, "side"),
        (-45.001, 0.0, "side"),
        (90.0, 30.0, "side"),
        (134.999, 0.0, "side"),
        (135.0, 0.0, "back"),  # back edge is inclusive
        (-135.0, 0.0, "back"),
        (180.0, 0.0, "back"),
        (-180.0, 0.0, "back"),
        (0.0, 59.999, "front"),
        (0.0, 60.0, "overhead"),  # overhead wins from 60 degrees up, whatever the azimuth
        (180.0, 75.0, "overhead"),
        (315.0, 0.0, "front"),  # wraps to -45
        (225.0, 0.0, "back"),  # wraps to -135
        (-270.0, 0.0, "side"),  # wraps to 90
    ],
)
def test_bucket_edges(azimuth, elevation, bucket):
    assert view_bucket(azimuth, elevation) == bucket


def test_wrap_azimuth_into_half_open_interval():
    assert wrap_azimuth(180.0) == 180.0
    assert wrap_azimuth(-180.0) == 180.0
    assert wrap_azimuth(540.0) == 180.0
    assert wrap_azimuth(-190.0) == 170.0


def _c2w_at(x, y, z):
    pose = torch.eye(4)
    pose[:3, 3] = torch.tensor([x, y, z])
    return pose


def test_angles_follow_the_front_camera_on_plus_z_convention():
    poses = torch.stack(
        [
            _c2w_at(0, 0, 2),
            _c2w_at(2, 0, 0),
            _c2w_at(0, 0, -2),
            _c2w_at(-1, 1, 0),
            _c2w_at(0, 3, 0.1),
        ]
    )
    azimuth, elevation = camera_angles(poses)
    assert azimuth[:4].tolist() == pytest.approx([0.0, 90.0, 180.0, -90.0])
    assert elevation[3].item() == pytest.approx(45.0)
    assert elevation[4].item() == pytest.approx(math.degrees(math.atan2(3, 0.1)))


def test_one_bucket_per_clip_from_its_first_camera():
    first = torch.stack([_c2w_at(0, 0, 2), _c2w_at(0, 0, -2), _c2w_at(2, 0.2, 0)])
    later = torch.stack([_c2w_at(0, 0, -2)] * 3)  # ignored: the first frame decides
    c2w = torch.stack([first, later], dim=1)  # (B=3, T=2, 4, 4)
    assert view_buckets_from_c2w(c2w) == ["front", "back", "side"]
    assert view_buckets_from_c2w(first) == ["front", "back", "side"]


def test_suffixes():
    assert with_view_suffix("a red ball", "back") == "a red ball, back view"
    assert with_view_suffix("a red ball", "any") == "a red ball"
    with pytest.raises(ValueError, match="unknown view"):
        with_view_suffix("a red ball", "left")
