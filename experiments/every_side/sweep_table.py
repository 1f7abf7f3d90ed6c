"""One before/after table of the 24-job genre sweep from `t2v evaluate`'s metrics.json.

Usage: python experiments/every_side/sweep_table.py LABEL=SWEEP_DIR ... > table.md
Each SWEEP_DIR holds one run folder per job (<object>-<genre>-s<seed>) and, optionally, a
times.txt of "<run_dir> <seconds> s" lines (the job's wall time).
"""

from __future__ import annotations

import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path

GENRES = ("none", "noir", "cartoon", "horror")
BORDER = 0.05


def jobs(folder: Path) -> dict[str, dict]:
    found = {}
    for run in sorted(folder.glob("*-s[0-9]")):
        metrics = run / "metrics.json"
        if metrics.is_file() and "evaluation" in (data := json.loads(metrics.read_text())):
            found[run.name] = data["evaluation"]
    return found


def wall_times(folder: Path) -> dict[str, float]:
    times = folder / "times.txt"
    if not times.is_file():
        return {}
    return {
        Path(line.split()[0]).name: float(line.split()[1])
        for line in times.read_text().splitlines()
        if line.strip()
    }


def row(label: str, folder: Path) -> list[str]:
    runs = jobs(folder)
    n = len(runs)

    def count(key: str, attribute: str) -> str:
        return f"{sum(bool(e[key]['correct'][attribute]) for e in runs.values())}/{n}"

    views = [e["views"] for e in runs.values()]
    iou = statistics.median(v["side_silhouette_iou"] for v in views)
    side_colour = sum(round(2 * v["side_colour_accuracy"]) for v in views)
    back = sum(round(v["back_motion_accuracy"]) for v in views)
    border = {name: e["haze"]["border_opacity"] for name, e in runs.items()}
    per_genre = defaultdict(list)
    for name, value in border.items():
        per_genre[name.split("-")[1]].append(value)
    clean = " / ".join(f"{sum(b <= BORDER for b in per_genre[g])}" for g in GENRES)
    times = wall_times(folder)
    by_genre = defaultdict(list)
    for name, seconds in times.items():
        by_genre[name.split("-")[1]].append(seconds)
    ratio = (
        f"{statistics.median(by_genre['horror']) / statistics.median(by_genre['cartoon']):.2f}"
        if by_genre["horror"] and by_genre["cartoon"]
        else "-"
    )
    return [
        label,
        f"{count('attributes_front', 'colour')}, {count('attributes_front', 'motion')}, "
        f"{count('attributes_front', 'genre')}",
        f"{count('attributes', 'colour')}, {count('attributes', 'motion')}, "
        f"{count('attributes', 'genre')}",
        f"{iou:.2f}",
        f"{side_colour}/{2 * n}",
        f"{back}/{n}",
        f"{statistics.median(border.values()):.3f} ({max(border.values()):.3f})",
        f"{sum(b <= BORDER for b in border.values())}/{n} ({clean})",
        f"{statistics.median(times.values()):.0f} s" if times else "-",
        ratio,
    ]


def main(arguments: list[str]) -> None:
    header = [
        "sweep",
        "front colour, motion, look",
        "video colour, motion, look",
        "side IoU (median)",
        "side colour",
        "back motion mirrored",
        "border median (max)",
        f"border <= {BORDER} (none / noir / cartoon / horror)",
        "job wall time (median)",
        "horror / cartoon time",
    ]
    print("| " + " | ".join(header) + " |")
    print("| " + " | ".join("---" for _ in header) + " |")
    for argument in arguments:
        label, _, folder = argument.partition("=")
        print("| " + " | ".join(row(label, Path(folder))) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
