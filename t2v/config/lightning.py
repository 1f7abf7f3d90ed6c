"""Lightning settings shared by every training command: `trainer.*` and `logger`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from t2v.errors import ConfigError
from t2v.targets import Target, check_arguments, check_target

# Trainer arguments the stages and pre-training set themselves (steps come from the schedule).
RESERVED_TRAINER_KEYS = (
    "max_steps",
    "max_epochs",
    "callbacks",
    "logger",
    "default_root_dir",
    "limit_val_batches",
    "num_sanity_val_steps",
    "use_distributed_sampler",
)

# Counts Lightning checks only when the Trainer is built (after the run directory exists).
COUNT_KEYS = ("devices", "num_nodes", "log_every_n_steps", "accumulate_grad_batches")


def trainer_arguments(node: Mapping[str, Any] | None) -> dict[str, Any]:
    """`trainer.*` as Lightning `Trainer` keyword arguments: a typo, a wrong type or a key t2v
    sets itself is refused here, not as a TypeError once the run directory exists."""
    import lightning.pytorch as pl

    if node is None:
        return {}
    if not isinstance(node, Mapping):
        raise ConfigError(f"trainer must be a mapping of Trainer arguments, got {node!r}")
    reserved = sorted(set(map(str, node)) & set(RESERVED_TRAINER_KEYS))
    if reserved:
        raise ConfigError(
            f"trainer.{reserved[0]} is set by t2v (steps: schedule.<stage>.steps); remove it"
        )
    check_arguments("trainer", pl.Trainer, node, ())
    for key in COUNT_KEYS:
        value = node.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value < 1 and value != -1:
            raise ConfigError(f"trainer.{key} = {value!r} must be at least 1 (or -1: all)")
    return dict(node)


def logger_target(node: Mapping[str, Any] | None) -> Target | None:
    """`logger`: null (none) or a Lightning logger's `_target_` node."""
    if node is None:
        return None
    return check_target("logger", node)
