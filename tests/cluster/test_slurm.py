"""`t2v generate` through a real Slurm: the sbatch template, a submitit job array, a requeue."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import torch
from omegaconf import OmegaConf

if TYPE_CHECKING:
    from conftest import LocalSlurm

pytestmark = pytest.mark.slurm

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "slurm" / "generate_1node.sbatch"
# The template asks for 4 GPUs on 8 CPUs each; the test node has neither.
CPU_JOB = [
    "--gpus-per-node=0",
    "--ntasks-per-node=1",
    "--cpus-per-task=1",
    "--time=00:10:00",
    "--export=ALL,T2V_ACCELERATOR=cpu",
]
JOB_TIMEOUT_S = 240
# A static stage long enough to be caught between its first checkpoint (step 2) and its end.
STATIC_STEPS = 60  # tiny steps take ~0.1 s: 6 steps could end before a signal lands
# The requeue tests are about Slurm and Lightning's signal handling, not DDP: one process.
ONE_PROCESS = ["trainer.strategy=auto"]


def read_metrics(run_dir: Path) -> dict:
    return json.loads((run_dir / "metrics.json").read_text())


def job_log(path: Path) -> str:
    return path.read_text(errors="replace")[-3000:] if path.is_file() else "(no job log)"


def test_job_runs_t2v_from_this_environment(slurm_cluster: LocalSlurm, tmp_path: Path) -> None:
    out = tmp_path / "smoke.out"
    job = slurm_cluster.sbatch(f"--output={out}", "--wrap=srun t2v --version", cwd=tmp_path)
    assert slurm_cluster.wait(job, timeout_s=60) == "COMPLETED", job_log(out)
    from t2v import __version__

    assert out.read_text().strip() == f"t2v {__version__}"


def test_sbatch_template_generates_a_video(
    slurm_cluster: LocalSlurm, tiny_generate: list[str], tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    out = tmp_path / "job.out"
    job = slurm_cluster.sbatch(
        *CPU_JOB,
        "--ntasks-per-node=2",  # two DDP ranks over gloo, started by srun as on a GPU node
        f"--output={out}",
        str(TEMPLATE),
        "prompt=a red ball moving left",
        "genre=cartoon",
        *tiny_generate,
        f"run_dir={run_dir}",
        cwd=tmp_path,
    )
    assert slurm_cluster.wait(job, timeout_s=JOB_TIMEOUT_S) == "COMPLETED", job_log(out)
    assert (run_dir / "video.mp4").stat().st_size > 0
    metrics = read_metrics(run_dir)
    assert metrics["prompt"] == "a red ball moving left"
    assert metrics["genre"] == "cartoon"
    assert all(stage["resumed_from_step"] == 0 for stage in metrics["stages"].values())
    # The template's trainer settings reached the run, and Lightning took its ranks from Slurm.
    trainer = OmegaConf.load(run_dir / "config.yaml").trainer
    assert (trainer.strategy, trainer.accelerator, trainer.devices) == ("ddp", "cpu", 2)
    assert trainer.num_nodes == 1
    log = out.read_text(errors="replace")
    assert "GLOBAL_RANK: 0, MEMBER: 1/2" in log
    assert "GLOBAL_RANK: 1, MEMBER: 2/2" in log


def test_submitit_sweep_is_one_job_array(
    slurm_cluster: LocalSlurm, tiny_generate: list[str], tmp_path: Path
) -> None:
    sweep_dir = tmp_path / "sweep"
    prompts = ["a red ball moving left", "a blue cube moving up"]
    command = [
        "t2v",
        "generate",
        "-m",
        "prompt=" + ",".join(f"'{prompt}'" for prompt in prompts),
        *tiny_generate,
        f"run_dir={sweep_dir}",
        "hydra/launcher=submitit_slurm",
        "hydra.launcher.gpus_per_node=null",
        "hydra.launcher.cpus_per_task=1",
        "hydra.launcher.timeout_min=10",
    ]
    done = subprocess.run(
        command,
        env=slurm_cluster.env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=JOB_TIMEOUT_S + 30,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    for number, prompt in enumerate(prompts):
        run_dir = sweep_dir / str(number)
        assert (run_dir / "video.mp4").stat().st_size > 0
        assert read_metrics(run_dir)["prompt"] == prompt
    # Both jobs were tasks of one Slurm array, submitted with Lightning's requeue signal.
    submitted = sorted((sweep_dir / ".submitit").glob("*/*_submission.sh"))
    assert len(submitted) == 1
    script = submitted[0].read_text()
    assert "#SBATCH --array=0-1%" in script
    assert "#SBATCH --signal=USR1@90" in script
    assert "#SBATCH --requeue" in script
    array_id = submitted[0].name.split("_")[0]
    # Results are written just before each task's process exits: wait for Slurm to see it.
    assert slurm_cluster.wait(array_id, timeout_s=30) == "COMPLETED"
    assert sorted(task["ArrayTaskId"] for task in slurm_cluster.jobs(array_id)) == ["0", "1"]


def wait_for_checkpoint(path: Path, job: str, cluster: LocalSlurm, timeout_s: float) -> int:
    """The global step of the first readable checkpoint at `path` while `job` runs."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if path.is_file():
            try:
                return int(torch.load(path, weights_only=True, map_location="cpu")["global_step"])
            except Exception:  # still being written
                pass
        state = cluster.state(job)
        assert state in ("PENDING", "RUNNING", "CONFIGURING"), f"job {job} is {state}"
        time.sleep(0.1)
    raise TimeoutError(f"no checkpoint at {path} after {timeout_s:.0f} s")


@pytest.mark.slow
def test_requeued_job_resumes_from_its_checkpoint(
    slurm_cluster: LocalSlurm, tiny_generate: list[str], tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    out = tmp_path / "job.out"
    job = slurm_cluster.sbatch(
        *CPU_JOB,
        f"--output={out}",
        str(TEMPLATE),
        "prompt=a green ball moving right",
        *tiny_generate,
        f"schedule.static.steps={STATIC_STEPS}",
        *ONE_PROCESS,
        f"run_dir={run_dir}",
        cwd=tmp_path,
    )
    stage_dir = run_dir / "checkpoints" / "static"
    step = wait_for_checkpoint(stage_dir / "last.ckpt", job, slurm_cluster, JOB_TIMEOUT_S)
    slurm_cluster.client("scontrol", "requeue", job)
    assert step >= 2
    assert not (run_dir / "checkpoints" / "static.pt").exists(), "static stage ended too soon"
    slurm_cluster.wait(job, timeout_s=30, until=frozenset({"PENDING"}))
    slurm_cluster.start_now(job)
    assert slurm_cluster.wait(job, timeout_s=JOB_TIMEOUT_S) == "COMPLETED", job_log(out)
    assert slurm_cluster.jobs(job)[0]["Restarts"] == "1"
    metrics = read_metrics(run_dir)
    static = metrics["stages"]["static"]
    assert static["steps"] == STATIC_STEPS
    assert 2 <= static["resumed_from_step"] < STATIC_STEPS
    assert static["resumed_from_step"] % 2 == 0  # a checkpoint_every=2 boundary
    assert (run_dir / "video.mp4").stat().st_size > 0


@pytest.mark.slow
def test_sigusr1_makes_lightning_save_and_requeue(
    slurm_cluster: LocalSlurm, tiny_generate: list[str], tmp_path: Path
) -> None:
    """The time-limit signal of the template: Lightning (the one requeue owner) handles it."""
    run_dir = tmp_path / "run"
    out = tmp_path / "job.out"
    job = slurm_cluster.sbatch(
        *CPU_JOB,
        f"--output={out}",
        str(TEMPLATE),
        "prompt=a yellow ball moving up",
        *tiny_generate,
        f"schedule.static.steps={STATIC_STEPS}",
        *ONE_PROCESS,
        f"run_dir={run_dir}",
        cwd=tmp_path,
    )
    stage_dir = run_dir / "checkpoints" / "static"
    wait_for_checkpoint(stage_dir / "last.ckpt", job, slurm_cluster, JOB_TIMEOUT_S)
    # What Slurm does 90 s before the time limit (--signal=SIGUSR1@90), sent now.
    slurm_cluster.client("scancel", "--signal=USR1", job)
    slurm_cluster.wait(job, timeout_s=60, until=frozenset({"PENDING"}))
    slurm_cluster.start_now(job)
    assert slurm_cluster.wait(job, timeout_s=JOB_TIMEOUT_S) == "COMPLETED", job_log(out)
    assert slurm_cluster.jobs(job)[0]["Restarts"] == "1"
    assert f"Requeued SLURM job: {job}" in out.read_text(errors="replace")
    saved = sorted(run_dir.rglob("hpc_ckpt_*.ckpt"))
    assert len(saved) == 1, saved
    hpc_step = int(torch.load(saved[0], weights_only=True, map_location="cpu")["global_step"])
    assert 2 <= hpc_step < STATIC_STEPS
    static = read_metrics(run_dir)["stages"]["static"]
    # The resume point is the newest readable checkpoint: the HPC one, or a periodic last.ckpt
    # written after it while Slurm was still requeueing the job.
    assert hpc_step <= static["resumed_from_step"] < STATIC_STEPS
    assert (run_dir / "video.mp4").stat().st_size > 0
