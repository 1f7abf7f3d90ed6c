"""Parts a scene field is built from: MLP heads, density blob, background, trajectory, exposure,
colour grade."""

from t2v.field.components.background import (
    BACKGROUND_FREQUENCIES,
    BackgroundMode,
    background_colour,
    check_background_mode,
    direction_encoding,
    learned_background_head,
)
from t2v.field.components.exposure import GlobalExposure
from t2v.field.components.grade import ColourGrade
from t2v.field.components.heads import (
    BlobShape,
    DensityActivation,
    DensityBlob,
    activate_density,
    mlp,
    trunc_exp,
)
from t2v.field.components.knots import KnotCount, check_knots, hat_weights
from t2v.field.components.trajectory import GlobalTrajectory

__all__ = [
    "BACKGROUND_FREQUENCIES",
    "BackgroundMode",
    "BlobShape",
    "ColourGrade",
    "DensityActivation",
    "DensityBlob",
    "GlobalExposure",
    "GlobalTrajectory",
    "KnotCount",
    "activate_density",
    "background_colour",
    "check_background_mode",
    "check_knots",
    "direction_encoding",
    "hat_weights",
    "learned_background_head",
    "mlp",
    "trunc_exp",
]
