"""Lightning callbacks of the stages: guards, ramps, field logs, video logs, progress,
Gaussian densification."""

from t2v.callbacks.densification import GaussianDensification
from t2v.callbacks.field_logging import FieldLogger
from t2v.callbacks.guards import NonFiniteLossGuard
from t2v.callbacks.progress import StageProgressBar
from t2v.callbacks.ramps import RegularizerRamps
from t2v.callbacks.video_logging import VideoLogger

__all__ = [
    "FieldLogger",
    "GaussianDensification",
    "NonFiniteLossGuard",
    "RegularizerRamps",
    "StageProgressBar",
    "VideoLogger",
]
