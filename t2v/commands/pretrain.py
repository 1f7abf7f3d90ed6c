"""`t2v pretrain`: train the video prior and the SR prior (resumable), export their EMA weights."""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import MissingMandatoryValue, OmegaConfBaseException

from t2v.errors import ConfigError
from t2v.pretrain.config import PretrainConfig, read_config

# What a missing mandatory key needs, said where it is missing.
MISSING_HINTS = {"output_dir": "pass where the prior goes, e.g. output_dir=priors/mine"}


def settings(cfg: DictConfig) -> PretrainConfig:
    """The composed configuration, typed and checked (run dir included); writes nothing."""
    from t2v.pretrain.job import check_resumable

    config = read_config(plain_config(cfg), job_dir=hydra_job_dir())
    if config.run_dir is not None:
        check_resumable(config.run_dir, config.resolved)
    return config


def run(config: PretrainConfig) -> None:
    from t2v.pretrain.job import run_pretraining

    folder = run_pretraining(config)
    if folder is not None:
        print(f"pretrain: prior written to {folder}", flush=True)


def plain_config(cfg: DictConfig) -> dict[str, Any]:
    """`cfg` without its `hydra` node, interpolations resolved, as plain containers."""
    job = cfg.copy()
    OmegaConf.set_struct(job, False)
    job.pop("hydra", None)
    try:
        return OmegaConf.to_container(job, resolve=True, throw_on_missing=True)  # type: ignore[return-value]
    except MissingMandatoryValue as error:
        key = str(error.full_key)
        hint = MISSING_HINTS.get(key)
        raise ConfigError(f"{key} is missing" + (f": {hint}" if hint else "")) from None
    except OmegaConfBaseException as error:
        key = getattr(error, "full_key", None) or "config"
        problem = " ".join(str(error).splitlines()[0].split())
        raise ConfigError(f"{key}: {problem}") from None


def hydra_job_dir() -> str | None:
    """Hydra's folder for this job (the default run dir), or None outside a Hydra job."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return None
    try:
        return str(HydraConfig.get().runtime.output_dir)
    except OmegaConfBaseException:  # composed, not launched: the job has no folder yet
        return None
