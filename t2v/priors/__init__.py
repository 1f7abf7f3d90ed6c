"""Frozen diffusion priors behind small interfaces (ImagePrior, VideoPrior, SRPrior) and SDS."""

from t2v.priors.base import ImagePrior, SRPrior, VideoPrior
from t2v.priors.build import load_hybrid, load_prior
from t2v.priors.hybrid import HybridGuidance
from t2v.priors.image import DiffusionImagePrior, StillClipImagePrior
from t2v.priors.sds import SDSConfig, SDSOutput, TimestepSchedule
from t2v.priors.sr import PixelSRPrior, UpscalerSRPrior
from t2v.priors.video import LatentVideoPrior, PixelVideoPrior

__all__ = [
    "DiffusionImagePrior",
    "HybridGuidance",
    "ImagePrior",
    "LatentVideoPrior",
    "PixelSRPrior",
    "PixelVideoPrior",
    "SDSConfig",
    "SDSOutput",
    "SRPrior",
    "StillClipImagePrior",
    "TimestepSchedule",
    "UpscalerSRPrior",
    "VideoPrior",
    "load_hybrid",
    "load_prior",
]
