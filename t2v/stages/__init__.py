"""The optimisation stages of `t2v generate`, one LightningModule each over one shared field.

`t2v.stages.spec` (what each stage runs: steps, views, rates) imports no Lightning and is
re-exported here; the modules themselves are in `t2v.stages.base` (the shared step) and
`t2v.stages.stages` (one per stage), imported where a run trains.
"""

from t2v.stages.spec import (
    GENERATOR_STAGE,
    HANDOFF_ORDER,
    STAGE_ORDER,
    ScheduleSettings,
    SpecInputs,
    StageSpec,
    build_stage_specs,
)

__all__ = [
    "GENERATOR_STAGE",
    "HANDOFF_ORDER",
    "STAGE_ORDER",
    "ScheduleSettings",
    "SpecInputs",
    "StageSpec",
    "build_stage_specs",
]
