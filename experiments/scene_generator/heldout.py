"""The scene generator's reads on prompts it never trained on, judged by `t2v evaluate`.

Draws `--count` held-out prompts (half from the vocabulary's `heldout_phrasing` split, half
with training words; every one a colour x motion x genre combination the generator never
trained on, `t2v.pretrain.scene_prompts`), runs `t2v generate` on each (default
`schedule=instant`; any overrides after `--`, e.g. `-- init=amortised schedule.static.steps=25`),
evaluates every run (no CLIP) and writes per-prompt reads and their accuracy as JSON.

Usage: python experiments/scene_generator/heldout.py --out F.json --root DIR [--count 8]
       [--generator pkg://t2v/assets/generators/bundled] [-- override ...]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from t2v import cli
from t2v.generator import read_manifest, resolve_folder
from t2v.pretrain.scene_prompts import heldout_prompts
from t2v.rundir import RunDir


def accuracy(rows: list[dict], where: str, key: str) -> float:
    """Share of runs whose `where` read (front view or video) gives the expected `key`."""
    return sum(row[where].get(key) == row["expected"].get(key) for row in rows) / len(rows)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--root", type=Path, required=True, help="folder for the run dirs")
    parser.add_argument("--count", type=int, default=8)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--generator", default="pkg://t2v/assets/generators/bundled")
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()
    manifest = read_manifest(resolve_folder(args.generator))
    genres = tuple(manifest["genres"])
    every = int(manifest["training"]["heldout_every"])
    half = args.count // 2
    prompts = heldout_prompts(half, genres, every, args.seed, "heldout_phrasing")
    prompts += heldout_prompts(args.count, genres, every, args.seed + 1, "train")[
        : args.count - half
    ]
    overrides = [f"generator={args.generator}", "logger=none", *args.overrides]
    if not any(o.startswith(("schedule=", "init=")) for o in args.overrides):
        overrides.append("schedule=instant")
    runs = []
    for number, prompt in enumerate(prompts):
        run_dir = args.root / f"{number:02d}"
        began = time.perf_counter()
        code = cli.main(
            [
                "generate",
                f"prompt='{prompt.caption}'",  # quoted: captions may hold commas
                f"genre={prompt.genre}",
                f"run_dir={run_dir}",
                *overrides,
            ]
        )
        if code != 0:
            raise SystemExit(f"generate failed for {prompt.caption!r}")
        runs.append((prompt, run_dir, time.perf_counter() - began))
    dirs = ",".join(str(run_dir) for _, run_dir, _ in runs)
    if cli.main(["evaluate", f"run_dirs=[{dirs}]", "clip_model=null"]) != 0:
        raise SystemExit("evaluate failed")
    rows = []
    for prompt, run_dir, seconds in runs:
        evaluation = RunDir(run_dir).read_metrics()["evaluation"]
        front = evaluation["attributes_front"]
        video = evaluation["attributes"]
        rows.append(
            {
                "prompt": prompt.caption,
                "genre": prompt.genre,
                "expected": front["expected"],
                "front": front["predicted"],
                "video": video["predicted"],
                "side_reads": {
                    key: value for key, value in evaluation.items() if key.startswith("views")
                },
                "seconds_in_process": round(seconds, 2),
            }
        )
    summary = {
        f"{where}_{key}": accuracy(rows, where, key)
        for where in ("front", "video")
        for key in ("colour", "motion", "genre")
    }
    result = {
        "generator": args.generator,
        "overrides": overrides,
        "summary": summary,
        "runs": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
