"""`t2v generate`: prompt + genre -> run_dir/video.mp4 (resumes an unfinished run_dir)."""

from __future__ import annotations

import logging
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from t2v.rundir import RunDirState, check_run_dir
from t2v.validate import validate_generate

log = logging.getLogger(__name__)


def run(cfg: DictConfig) -> None:
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    OmegaConf.set_struct(cfg, False)
    cfg.run_dir = str(run_dir)
    validate_generate(cfg, run_dir=None)  # again: a launcher may run jobs we never saw
    resolved = OmegaConf.to_container(cfg, resolve=True)
    state = check_run_dir(run_dir, resolved)
    if state is RunDirState.RESUME:
        log.info("resuming the unfinished run in %s", run_dir)
    from t2v.generation import run_generate  # heavy imports only once the input is good

    metrics = run_generate(cfg, run_dir)
    if not metrics:
        return  # a DDP rank other than zero: rank zero writes and reports
    stages = ", ".join(f"{k} {v['it_per_s']} it/s" for k, v in metrics["stages"].items())
    print(f"t2v generate: wrote {run_dir / 'video.mp4'} ({stages or 'all stages resumed'})")
