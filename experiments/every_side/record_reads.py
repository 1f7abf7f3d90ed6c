"""Add one 24-job sweep's reads to sweep_reads.json, under a label, with the code it ran.

Usage: python experiments/every_side/record_reads.py LABEL "CODE" SWEEP_DIR
(SWEEP_DIR as for sweep_table.py: one run folder per job, an optional times.txt.)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from sweep_table import jobs, wall_times

READS = Path(__file__).with_name("sweep_reads.json")


def job_reads(evaluation: dict, seconds: float | None) -> dict:
    front, video = evaluation["attributes_front"], evaluation["attributes"]
    views = evaluation["views"]
    return {
        "front": front["predicted"],
        "front_correct": front["correct"],
        "video": video["predicted"],
        "video_correct": video["correct"],
        "side_colour": [views[n]["colour"]["predicted"] for n in ("side_left", "side_right")],
        "side_silhouette_iou": round(views["side_silhouette_iou"], 4),
        "back_motion": views["back"]["motion"]["predicted"],
        "back_motion_expected": views["back"]["motion"]["expected"],
        "border_opacity": round(evaluation["haze"]["border_opacity"], 4),
        "wall_seconds": seconds,
    }


def main(label: str, code: str, folder: str) -> None:
    sweep = Path(folder)
    times = wall_times(sweep)
    reads = json.loads(READS.read_text()) if READS.is_file() else {}
    found = jobs(sweep)
    reads[label] = {"code": code, "jobs": {n: job_reads(e, times.get(n)) for n, e in found.items()}}
    READS.write_text(json.dumps(reads, indent=1) + "\n")
    print(f"{label}: {len(found)} jobs")


if __name__ == "__main__":
    main(*sys.argv[1:])
