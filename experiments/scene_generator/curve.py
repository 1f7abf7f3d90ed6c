"""The training curve of a scene generator run: each loss term's mean per window of steps.

Reads `RUN_DIR/generator/logs/metrics.csv` (the csv logger's) and writes JSON.

Usage: python experiments/scene_generator/curve.py RUN_DIR --out F.json [--window 100]
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
from pathlib import Path

TERMS = ("loss", "static", "dynamic", "reference", "track", "motion")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--window", type=int, default=100)
    args = parser.parse_args()
    with (args.run_dir / "generator" / "logs" / "metrics.csv").open() as file:
        rows = list(csv.DictReader(file))
    last = max(int(row["step"]) for row in rows)
    curve = []
    for start in range(0, last + 1, args.window):
        window = [row for row in rows if start <= int(row["step"]) < start + args.window]
        entry: dict[str, float | int] = {"steps": f"{start}-{start + args.window - 1}"}  # type: ignore[dict-item]
        for term in TERMS:
            column = f"generator/{term}"
            values = [float(row[column]) for row in window if row.get(column)]
            if values:
                entry[term] = float(f"{statistics.mean(values):.4g}")
        curve.append(entry)
    args.out.write_text(json.dumps({"window": args.window, "curve": curve}, indent=2) + "\n")
    print(json.dumps(curve, indent=2))


if __name__ == "__main__":
    main()
