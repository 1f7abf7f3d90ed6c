"""`t2v generate`: prompt + genre -> run_dir/video.mp4 (resumes an unfinished run_dir)."""

from __future__ import annotations

import logging

from omegaconf import DictConfig

from t2v.commands.door import resolved
from t2v.config.generate import GenerateConfig, parse_generate
from t2v.rundir import RunDir, RunDirState

log = logging.getLogger(__name__)


def settings(cfg: DictConfig) -> GenerateConfig:
    """The typed configuration, and the run folder checked: fresh, resumable or refused."""
    config = parse_generate(resolved(cfg))
    config.prior.check_weights()  # offline and not cached: refused before anything is written
    if config.run_dir is not None:
        RunDir(config.run_dir).check_new_run(config.resolved)
    return config


def run(config: GenerateConfig) -> None:
    from t2v.generation import run_generate  # heavy imports only once the input is good

    assert config.run_dir is not None, "the door sets run_dir to the job's folder"
    run_dir = RunDir(config.run_dir)
    # Again: a launcher may run jobs the door never saw, and a DDP sibling arrives later.
    if run_dir.check_new_run(config.resolved) is RunDirState.RESUME:
        log.info("resuming the unfinished run in %s", run_dir.root)
    metrics = run_generate(config, run_dir)
    if not metrics:
        return  # a DDP rank other than zero: rank zero writes and reports
    stages = ", ".join(  # the generator's field takes no steps: its seconds
        f"{k} {v['it_per_s']} it/s" if v["steps"] else f"{k} {v['seconds']} s"
        for k, v in metrics["stages"].items()
    )
    print(f"t2v generate: wrote {run_dir.video_file} ({stages or 'all stages resumed'})")
