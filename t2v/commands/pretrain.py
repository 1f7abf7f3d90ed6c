"""`t2v pretrain`: train the priors or the scene generator (resumable), export their EMA weights."""

from __future__ import annotations

from omegaconf import DictConfig

from t2v.commands.door import resolved
from t2v.pretrain.config import PretrainConfig, read_config


def settings(cfg: DictConfig) -> PretrainConfig:
    """The composed configuration, typed and checked (run dir included); writes nothing."""
    from t2v.pretrain.job import check_resumable

    config = read_config(resolved(cfg))
    if config.run_dir is not None:
        check_resumable(config.run_dir, config.resolved)
    return config


def run(config: PretrainConfig) -> None:
    from t2v.pretrain.job import run_pretraining

    folder = run_pretraining(config)
    if folder is not None:
        print(f"pretrain: written to {folder}", flush=True)
