"""A real single-node Slurm (munged, slurmctld, slurmd as foreground daemons) for the cluster tests.

Everything lives in a temporary directory: munge key and socket, slurm.conf, state and spool
dirs, logs. Clients find it through `SLURM_CONF`, which jobs inherit from `sbatch`. Where the
machine cannot run Slurm (binaries missing, not root) the tests skip with the reason.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

DAEMONS = ("munged", "slurmctld", "slurmd")
CLIENTS = ("sbatch", "srun", "scontrol", "sinfo", "squeue", "scancel")
IDLE_TIMEOUT_S = 30.0
FINAL_STATES = frozenset(
    {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "BOOT_FAIL"}
)


@dataclass
class LocalSlurm:
    """Handle on the running test cluster: its config, client environment and logs."""

    root: Path
    node: str
    env: dict[str, str]
    processes: list[subprocess.Popen] = field(default_factory=list)

    def client(self, *args: str, check: bool = True) -> str:
        """Run a Slurm client command (sbatch, scontrol, ...) against this cluster; its stdout."""
        done = subprocess.run(args, env=self.env, capture_output=True, text=True, timeout=60)
        if check and done.returncode != 0:
            command = " ".join(args)
            raise RuntimeError(f"{command} failed ({done.returncode}): {done.stderr.strip()}")
        return done.stdout

    def sbatch(self, *args: str, cwd: Path | None = None) -> str:
        """Submit a batch job; returns its job id."""
        done = subprocess.run(
            ["sbatch", "--parsable", *args],
            env=self.env,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if done.returncode != 0:
            raise RuntimeError(f"sbatch {' '.join(args)} failed: {done.stderr.strip()}")
        return done.stdout.strip().split(";")[0]

    def jobs(self, job_id: str) -> list[dict[str, str]]:
        """`scontrol show job` of a job (one entry per array task), as key -> value."""
        text = self.client("scontrol", "show", "job", "-o", job_id, check=False)
        return [
            dict(re.findall(r"(\w+)=(\S*)", line)) for line in text.splitlines() if "JobId=" in line
        ]

    def state(self, job_id: str) -> str:
        jobs = self.jobs(job_id)
        return jobs[0]["JobState"] if jobs else "UNKNOWN"

    def wait(self, job_id: str, timeout_s: float, until: frozenset[str] = FINAL_STATES) -> str:
        """Poll until the job (every task of an array) reaches one of `until`; its last state."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            states = {job["JobState"] for job in self.jobs(job_id)}
            if states and states <= until:
                return states.pop() if len(states) == 1 else ",".join(sorted(states))
            time.sleep(0.25)
        raise TimeoutError(f"job {job_id} still {self.jobs(job_id)} after {timeout_s:.0f} s")

    def start_now(self, job_id: str) -> None:
        """Slurm holds a requeued job back for about two minutes (BeginTime); lift that."""
        self.client("scontrol", "update", f"JobId={job_id}", "StartTime=now")

    def logs(self) -> str:
        parts = []
        for path in sorted((self.root / "log").glob("*")):
            lines = path.read_text(errors="replace").splitlines()[-15:]
            parts.append(f"--- {path.name}\n" + "\n".join(lines))
        return "\n".join(parts)


def cannot_run_slurm() -> str | None:
    """Why this machine cannot host the test cluster, or None when it can."""
    if sys.platform != "linux":
        return "Slurm test cluster needs Linux"
    if os.geteuid() != 0:
        return "Slurm test cluster needs root (slurmd runs jobs as SlurmUser=root)"
    missing = [name for name in (*DAEMONS, *CLIENTS) if shutil.which(name) is None]
    if missing:
        return (
            f"Slurm/munge binaries missing ({', '.join(missing)}); "
            "install them with .ci/slurm.sh (Debian: slurmctld slurmd munge slurm-client)"
        )
    return None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def node_resources() -> tuple[int, int]:
    """CPUs and memory (MB, with headroom so the node is never drained as 'low memory')."""
    described = subprocess.run(["slurmd", "-C"], capture_output=True, text=True).stdout
    cpus = re.search(r"CPUs=(\d+)", described)
    memory = re.search(r"RealMemory=(\d+)", described)
    return (
        int(cpus.group(1)) if cpus else os.cpu_count() or 1,
        int(int(memory.group(1)) * 0.9) if memory else 1000,
    )


def write_slurm_conf(root: Path, node: str, munge_socket: Path) -> Path:
    cpus, memory_mb = node_resources()
    lines = {
        "ClusterName": "t2vtest",
        "SlurmctldHost": node,
        "SlurmUser": "root",
        "SlurmdUser": "root",
        "AuthType": "auth/munge",
        "CredType": "cred/munge",
        "AuthInfo": f"socket={munge_socket}",
        "SlurmctldPort": str(free_port()),
        "SlurmdPort": str(free_port()),
        "StateSaveLocation": str(root / "state"),
        "SlurmdSpoolDir": str(root / "spool"),
        "SlurmctldPidFile": str(root / "slurmctld.pid"),
        "SlurmdPidFile": str(root / "slurmd.pid"),
        "SlurmctldLogFile": str(root / "log" / "slurmctld.log"),
        "SlurmdLogFile": str(root / "log" / "slurmd.log"),
        # No cgroups in containers: plain process tracking, no task binding.
        "ProctrackType": "proctrack/linuxproc",
        "TaskPlugin": "task/none",
        "SelectType": "select/cons_tres",
        "SelectTypeParameters": "CR_Core",
        "SchedulerType": "sched/backfill",
        "JobAcctGatherType": "jobacct_gather/none",
        "AccountingStorageType": "accounting_storage/none",
        "MpiDefault": "none",
        "ReturnToService": "2",
        "MinJobAge": "600",  # keep finished jobs visible to `scontrol show job`
        "KillWait": "2",
        "InactiveLimit": "0",
    }
    text = "\n".join(f"{key}={value}" for key, value in lines.items())
    text += (
        f"\nNodeName={node} CPUs={cpus} RealMemory={memory_mb} State=UNKNOWN"
        f"\nPartitionName=debug Nodes={node} Default=YES MaxTime=INFINITE State=UP\n"
    )
    conf = root / "slurm.conf"
    conf.write_text(text)
    return conf


def start_munge(root: Path) -> tuple[subprocess.Popen, Path]:
    munge_dir = root / "munge"
    munge_dir.mkdir(mode=0o700)
    key = munge_dir / "munge.key"
    key.touch(mode=0o600)  # munged refuses a key that others can read
    key.write_bytes(os.urandom(1024))
    sock = munge_dir / "munge.socket.2"
    process = subprocess.Popen(
        [
            "munged",
            "--foreground",
            "--force",  # the temp dir sits under world-writable /tmp
            f"--key-file={key}",
            f"--socket={sock}",
            f"--pid-file={munge_dir / 'munged.pid'}",
            f"--log-file={root / 'log' / 'munged.log'}",
            f"--seed-file={munge_dir / 'munged.seed'}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(root / "log" / "munged.out").open("w"),
    )
    deadline = time.monotonic() + 10
    while not sock.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"munged did not start: {(root / 'log' / 'munged.out').read_text()}")
        time.sleep(0.05)
    return process, sock


def wait_until_idle(cluster: LocalSlurm) -> None:
    deadline = time.monotonic() + IDLE_TIMEOUT_S
    while time.monotonic() < deadline:
        done = subprocess.run(
            ["sinfo", "--noheader", "--format=%t"], env=cluster.env, capture_output=True, text=True
        )
        if done.stdout.strip() == "idle":
            return
        if any(process.poll() is not None for process in cluster.processes):
            break
        time.sleep(0.1)
    raise RuntimeError(f"the test Slurm node did not become idle:\n{cluster.logs()}")


def stop(cluster: LocalSlurm) -> None:
    """Cancel this cluster's jobs, then stop its daemons (slurmd, slurmctld, munged)."""
    subprocess.run(["scancel", "--full", "--user=root"], env=cluster.env, capture_output=True)
    time.sleep(0.5)
    for process in reversed(cluster.processes):
        if process.poll() is None:
            process.terminate()
    for process in reversed(cluster.processes):
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def slurm_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSlurm]:
    reason = cannot_run_slurm()
    if reason:
        pytest.skip(reason)
    root = tmp_path_factory.mktemp("slurm")
    for sub in ("state", "spool", "log", "jobs"):
        (root / sub).mkdir()
    node = socket.gethostname().split(".")[0]
    env = dict(os.environ)
    # Jobs inherit this environment: the venv's `t2v` must be on PATH, nothing may go online.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", WANDB_MODE="offline")
    for name in [key for key in env if key.startswith(("SLURM_", "SBATCH_", "SRUN_"))]:
        del env[name]  # a test run inside a real Slurm job must not leak its job into ours
    cluster = LocalSlurm(root=root, node=node, env=env)
    try:
        munged, munge_socket = start_munge(root)
        cluster.processes.append(munged)
        env["SLURM_CONF"] = str(write_slurm_conf(root, node, munge_socket))
        for daemon in (["slurmctld", "-D", "-i"], ["slurmd", "-D"]):
            log = (root / "log" / f"{daemon[0]}.out").open("w")
            cluster.processes.append(
                subprocess.Popen(daemon, env=env, stdout=log, stderr=subprocess.STDOUT)
            )
        wait_until_idle(cluster)
        yield cluster
    finally:
        stop(cluster)


@pytest.fixture(scope="session")
def tiny_generate(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """`t2v generate` overrides for a run of seconds: debug sizes and a tiny prior built in code."""
    from t2v.priors.tiny import save_tiny_bundled

    folder = tmp_path_factory.mktemp("tiny_prior")
    save_tiny_bundled(folder, genres=("none", "cartoon"))
    priors = [f"prior.{role}.model={folder}" for role in ("image", "video", "sr")]
    # Two stages are enough to test the plumbing (a stage after the one interrupted included);
    # the whole pipeline is tested without Slurm in tests/.
    # field=hexplane: the Gaussian field densifies in one process only, and these jobs run DDP.
    return [
        "debug=default",
        "field=hexplane",
        *priors,
        "schedule.superres.steps=0",
        "schedule.temporal.steps=0",
    ]
