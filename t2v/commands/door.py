"""What every command's `settings` does first: the composed job as plain, resolved containers."""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import MissingMandatoryValue, OmegaConfBaseException

from t2v.errors import ConfigError


def resolved(cfg: DictConfig) -> dict[str, Any]:
    """`cfg` (without its `hydra` node) with every interpolation resolved; a value still
    missing (`???`) or an interpolation that cannot resolve is one ConfigError naming it."""
    try:
        plain = OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
    except MissingMandatoryValue as error:
        raise ConfigError(f"{error.full_key} is missing: pass {error.full_key}=...") from None
    except OmegaConfBaseException as error:
        key = getattr(error, "full_key", None) or "config"
        raise ConfigError(f"{key} cannot be resolved ({str(error).splitlines()[0]})") from None
    assert isinstance(plain, dict)
    plain.pop("hydra", None)
    return plain
