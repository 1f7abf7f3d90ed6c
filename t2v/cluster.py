"""Where a stage interrupted on Slurm resumes from: its periodic or its requeue checkpoint.

A stage can leave two kinds of Lightning checkpoints in its directory: `last.ckpt`, written every
`checkpoint_every` steps by `ModelCheckpoint`, and `hpc_ckpt_<n>.ckpt`, written by Lightning's
SLURM environment when the requeue signal (SIGUSR1) arrives, into the trainer's
`default_root_dir`. The newer one is the resume point. Lightning itself only picks up an HPC
checkpoint when `fit` gets `ckpt_path=None`, from whatever `default_root_dir` is; so each stage
should use its own directory as `default_root_dir` and pass `ckpt_path=resume_checkpoint(dir)`
explicitly, or one stage's requeue checkpoint is loaded into the next stage.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import torch

log = logging.getLogger(__name__)

PERIODIC_CHECKPOINT = "last.ckpt"
REQUEUE_CHECKPOINT_GLOB = "hpc_ckpt_*.ckpt"


@dataclass(frozen=True)
class ResumePoint:
    path: Path
    global_step: int


def checkpoint_step(path: Path) -> int | None:
    """The `global_step` saved in a Lightning checkpoint; None when it cannot be read."""
    try:
        state = torch.load(path, weights_only=True, map_location="cpu", mmap=True)
        return int(state["global_step"])
    except Exception as error:  # truncated by a kill, foreign file: either way not resumable
        log.warning("ignoring unreadable checkpoint %s (%s)", path, error)
        return None


def resume_checkpoint(stage_dir: Path) -> ResumePoint | None:
    """The readable checkpoint of `stage_dir` with the most steps done, or None (start fresh).

    Ties go to the periodic checkpoint, which the loop writes between steps (the requeue one is
    written from a signal handler).
    """
    candidates = [stage_dir / PERIODIC_CHECKPOINT, *sorted(stage_dir.glob(REQUEUE_CHECKPOINT_GLOB))]
    best: ResumePoint | None = None
    for path in candidates:
        if not path.is_file():
            continue
        step = checkpoint_step(path)
        if step is not None and (best is None or step > best.global_step):
            best = ResumePoint(path, step)
    return best
