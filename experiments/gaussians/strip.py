"""Save a contact sheet of a run: rows front, +90, 180, -90 at 4 times, rgb | opacity.

Usage: python experiments/gaussians/strip.py OUT.png RUN_DIR[:STAGE] ...
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from PIL import Image

from t2v.render.trajectories import CameraStart, genre_trajectory_cameras
from t2v.rundir import RunDir
from t2v.scene import scene_times

AZIMUTHS = (0.0, 90.0, 180.0, -90.0)


def main(out: str, arguments: list[str]) -> None:
    rows = []
    for argument in arguments:
        folder, _, stage = argument.partition(":")
        scene = RunDir(Path(folder)).load_scene(stage or None, device="cpu")
        scene.renderer.eval()
        scene.field.static_only = False
        for azimuth in AZIMUTHS:
            cameras = genre_trajectory_cameras(
                scene.config.genre.camera, 4, 64, 64, "static", start=CameraStart(azimuth)
            )
            with torch.no_grad():
                views = scene.renderer.render(scene.field, cameras, scene_times(4)[None])
            rgb = views.rgb[0].clamp(0, 1)
            opacity = views.opacity[0].expand(-1, 3, -1, -1)
            rows.append(torch.cat([torch.cat(list(rgb), -1), torch.cat(list(opacity), -1)], -1))
    image = torch.cat(rows, -2).permute(1, 2, 0).mul(255).byte().numpy()
    size = (image.shape[1] * 2, image.shape[0] * 2)
    Image.fromarray(image).resize(size, Image.NEAREST).save(out)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
