"""`prior.reference`: the clip a pixel video prior samples for the prompt once per run, and the
weight, per stage, of the term that pulls the front view towards it (experiments/genres)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from t2v.errors import ConfigError

KEYS = ("steps", "guidance", "weight")


@dataclass(frozen=True)
class ReferenceSettings:
    steps: int = 25  # DDIM steps of the sample
    guidance: float = 2.0  # classifier-free guidance of the sample
    # stage -> weight of 0.5 x the summed squared error; a stage not named has none
    weights: Mapping[str, float] = field(default_factory=dict)

    def weight(self, stage: str) -> float:
        return self.weights.get(stage, 0.0)

    @classmethod
    def from_config(cls, node: Any, stages: Sequence[str]) -> ReferenceSettings | None:
        """The settings, or None when no stage pays for a clip (null, or every weight 0).
        `weight` is one number for every stage in `stages`, or a mapping stage -> number."""
        if not node:
            return None
        if not isinstance(node, Mapping):
            message = f"prior.reference = {node!r} must be null or {{steps, guidance, weight}}"
            raise ConfigError(message)
        unknown = sorted(set(node) - set(KEYS))
        if unknown:
            raise ConfigError(f"prior.reference has unknown key(s) {', '.join(unknown)}")
        weight = node.get("weight", 1.0)
        named = weight if isinstance(weight, Mapping) else dict.fromkeys(stages, weight)
        strangers = sorted(set(named) - set(stages))
        if strangers:
            raise ConfigError(
                f"prior.reference.weight has unknown stage(s) {', '.join(map(str, strangers))} "
                f"(stages: {', '.join(stages)})"
            )
        try:
            settings = cls(
                steps=int(node.get("steps", 25)),
                guidance=float(node.get("guidance", 2.0)),
                weights={stage: float(value) for stage, value in named.items()},
            )
        except (TypeError, ValueError):
            message = "prior.reference steps, guidance and weight must be numbers"
            raise ConfigError(message) from None
        weights = settings.weights.values()
        if settings.steps < 1 or settings.guidance < 0 or any(w < 0 for w in weights):
            shown = float(weight) if not isinstance(weight, Mapping) else dict(settings.weights)
            raise ConfigError(
                "prior.reference needs steps >= 1, guidance >= 0 and weight >= 0 (got "
                f"{settings.steps}, {settings.guidance}, {shown})"
            )
        return settings if any(w > 0 for w in weights) else None


def needs_pixel_video(kind: Any) -> ConfigError:
    """The one line for a reference clip asked of a prior that cannot sample one."""
    message = f"prior.reference needs a pixel_video prior, not '{kind}'"
    return ConfigError(f"{message} (prior.reference=null turns it off)")
