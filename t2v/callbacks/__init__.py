"""Lightning callbacks of the stages: guards, ramps, SR switch, video logs, progress."""

from t2v.callbacks.guards import NonFiniteLossGuard
from t2v.callbacks.progress import StageProgressBar
from t2v.callbacks.ramps import RegularizerRamps
from t2v.callbacks.superres import SuperResolutionSwitch
from t2v.callbacks.video_logging import VideoLogger

__all__ = [
    "NonFiniteLossGuard",
    "RegularizerRamps",
    "StageProgressBar",
    "SuperResolutionSwitch",
    "VideoLogger",
]
