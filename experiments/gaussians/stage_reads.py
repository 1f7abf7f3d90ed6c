"""Print a run's 3D reads per stage: side silhouette IoU with the front, side area ratio, haze.

Usage: python experiments/gaussians/stage_reads.py RUN_DIR[:STAGE] ... (no stage: the last).
"""

from __future__ import annotations

import sys
from pathlib import Path

from t2v.eval.views import render_fixed_views, view_reads
from t2v.rundir import RunDir
from t2v.scene import scene_times


def main(arguments: list[str]) -> None:
    for argument in arguments:
        folder, _, stage = argument.partition(":")
        scene = RunDir(Path(folder)).load_scene(stage or None, device="cpu")
        camera = scene.config.genre.camera
        views = render_fixed_views(scene.field, scene.renderer, camera, scene_times(16), 64, 64)
        reads = view_reads(views, {"colour": "red", "motion": "left"})
        left, right = reads["views"]["side_left"], reads["views"]["side_right"]
        haze = {key: round(value, 3) for key, value in reads["haze"].items() if value is not None}
        print(
            argument,
            f"side IoU L/R {left['silhouette_iou']:.3f} {right['silhouette_iou']:.3f}",
            f"area L/R {left['area_ratio']:.2f} {right['area_ratio']:.2f}",
            f"haze {haze}",
        )


if __name__ == "__main__":
    main(sys.argv[1:])
