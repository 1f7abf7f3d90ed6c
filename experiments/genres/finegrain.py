"""The finest-scale detail of videos: python experiments/genres/finegrain.py VIDEO.mp4 ...

Mean |2x2 Haar detail| (horizontal + vertical + diagonal) at the video's own pixel scale, and
its ratio to the same at half the size: a dot grid at the pixel scale raises both.
"""

from __future__ import annotations

import sys

import torch
import torch.nn.functional as F

from t2v.video import read_clip


def haar_detail(frames: torch.Tensor) -> float:
    """Mean absolute 2x2 Haar detail coefficients of (T, C, H, W) frames."""
    a, b = frames[..., 0::2, 0::2], frames[..., 0::2, 1::2]
    c, d = frames[..., 1::2, 0::2], frames[..., 1::2, 1::2]
    details = (a - b + c - d, a + b - c - d, a - b - c + d)
    return float(sum(x.abs().mean() for x in details))


if __name__ == "__main__":
    for path in sys.argv[1:]:
        video = read_clip(path)
        fine, coarse = haar_detail(video), haar_detail(F.avg_pool2d(video, 2))
        print(f"{path}: detail {fine:.4f}, at half size {coarse:.4f}, ratio {fine / coarse:.2f}")
