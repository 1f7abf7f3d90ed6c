"""Lightning callbacks of the stages: guards, ramps, field logs, video logs, progress."""

from t2v.callbacks.field_logging import FieldLogger
from t2v.callbacks.guards import NonFiniteLossGuard
from t2v.callbacks.progress import StageProgressBar
from t2v.callbacks.ramps import RegularizerRamps
from t2v.callbacks.video_logging import VideoLogger

__all__ = [
    "FieldLogger",
    "NonFiniteLossGuard",
    "RegularizerRamps",
    "StageProgressBar",
    "VideoLogger",
]
