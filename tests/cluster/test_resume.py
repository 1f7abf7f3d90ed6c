"""t2v.cluster.resume_checkpoint: the newest readable periodic or requeue checkpoint."""

from __future__ import annotations

from pathlib import Path

import torch

from t2v.cluster import ResumePoint, checkpoint_step, resume_checkpoint


def save(path: Path, step: int) -> Path:
    torch.save({"global_step": step, "state_dict": {"w": torch.full((4,), float(step))}}, path)
    return path


def test_fresh_stage_has_no_resume_point(tmp_path: Path) -> None:
    assert resume_checkpoint(tmp_path) is None
    assert resume_checkpoint(tmp_path / "missing") is None


def test_requeue_checkpoint_newer_than_last_wins(tmp_path: Path) -> None:
    save(tmp_path / "last.ckpt", 4)
    hpc = save(tmp_path / "hpc_ckpt_1.ckpt", 5)
    assert resume_checkpoint(tmp_path) == ResumePoint(hpc, 5)


def test_last_wins_over_an_older_requeue_checkpoint_and_ties(tmp_path: Path) -> None:
    last = save(tmp_path / "last.ckpt", 8)
    save(tmp_path / "hpc_ckpt_1.ckpt", 5)
    save(tmp_path / "hpc_ckpt_2.ckpt", 8)
    assert resume_checkpoint(tmp_path) == ResumePoint(last, 8)


def test_truncated_checkpoint_is_skipped(tmp_path: Path) -> None:
    older = save(tmp_path / "hpc_ckpt_1.ckpt", 6)
    whole = save(tmp_path / "last.ckpt", 10).read_bytes()
    (tmp_path / "last.ckpt").write_bytes(whole[: len(whole) // 2])  # killed while writing
    assert checkpoint_step(tmp_path / "last.ckpt") is None
    assert resume_checkpoint(tmp_path) == ResumePoint(older, 6)
