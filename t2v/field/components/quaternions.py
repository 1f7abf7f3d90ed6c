"""Rotation matrices of unit quaternions (w, x, y, z): the axes of Gaussian primitives."""

from __future__ import annotations

import torch
from torch import Tensor


def quaternion_matrices(quaternions: Tensor) -> Tensor:
    """Rotation matrices (N, 3, 3) of quaternions (N, 4) (w, x, y, z), normalised here; the
    columns are the rotated x, y and z axes."""
    w, x, y, z = (quaternions / quaternions.norm(dim=-1, keepdim=True)).unbind(-1)
    rows = (
        1 - 2 * (y * y + z * z),
        2 * (x * y - w * z),
        2 * (x * z + w * y),
        2 * (x * y + w * z),
        1 - 2 * (x * x + z * z),
        2 * (y * z - w * x),
        2 * (x * z - w * y),
        2 * (y * z + w * x),
        1 - 2 * (x * x + y * y),
    )
    return torch.stack(rows, dim=-1).reshape(-1, 3, 3)
