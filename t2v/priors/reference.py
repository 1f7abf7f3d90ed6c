"""`prior.reference`: the clip a pixel video prior samples for the prompt once per run, and the
weight of the term that pulls every stage's front view towards it (experiments/genres)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from t2v.errors import ConfigError

KEYS = ("steps", "guidance", "weight")


@dataclass(frozen=True)
class ReferenceSettings:
    steps: int = 25  # DDIM steps of the sample
    guidance: float = 2.0  # classifier-free guidance of the sample
    weight: float = 1.0  # of 0.5 x the summed squared error, in every stage

    @classmethod
    def from_config(cls, node: Any) -> ReferenceSettings | None:
        """The settings, or None when there is no term to pay for (null, or weight 0)."""
        if not node:
            return None
        if not isinstance(node, Mapping):
            message = f"prior.reference = {node!r} must be null or {{steps, guidance, weight}}"
            raise ConfigError(message)
        unknown = sorted(set(node) - set(KEYS))
        if unknown:
            raise ConfigError(f"prior.reference has unknown key(s) {', '.join(unknown)}")
        defaults = cls()
        try:
            settings = cls(
                steps=int(node.get("steps", defaults.steps)),
                guidance=float(node.get("guidance", defaults.guidance)),
                weight=float(node.get("weight", defaults.weight)),
            )
        except (TypeError, ValueError):
            message = "prior.reference steps, guidance and weight must be numbers"
            raise ConfigError(message) from None
        if settings.steps < 1 or settings.guidance < 0 or settings.weight < 0:
            raise ConfigError(
                "prior.reference needs steps >= 1, guidance >= 0 and weight >= 0 (got "
                f"{settings.steps}, {settings.guidance}, {settings.weight})"
            )
        return settings if settings.weight > 0 else None


def needs_pixel_video(kind: Any) -> ConfigError:
    """The one line for a reference clip asked of a prior that cannot sample one."""
    message = f"prior.reference needs a pixel_video prior, not '{kind}'"
    return ConfigError(f"{message} (prior.reference=null turns it off)")
