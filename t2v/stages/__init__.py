"""The optimisation stages of `t2v generate`, one LightningModule each over one shared field."""

from t2v.stages.base import Guidance, Preview, StageContext, StageModule
from t2v.stages.spec import (
    GENERATOR_STAGE,
    HANDOFF_ORDER,
    STAGE_ORDER,
    ScheduleSettings,
    SpecInputs,
    StageSpec,
    build_stage_specs,
)
from t2v.stages.stages import STAGE_MODULES, DynamicStage, StaticStage, SuperResStage, TemporalStage

__all__ = [
    "GENERATOR_STAGE",
    "HANDOFF_ORDER",
    "STAGE_MODULES",
    "STAGE_ORDER",
    "DynamicStage",
    "Guidance",
    "Preview",
    "ScheduleSettings",
    "SpecInputs",
    "StageContext",
    "StageModule",
    "StageSpec",
    "StaticStage",
    "SuperResStage",
    "TemporalStage",
    "build_stage_specs",
]
