"""Frozen diffusion priors behind three roles (ImagePrior, VideoPrior, SRPrior), one SDS entry
for all of them (ε-prediction and rectified flow), hybrid guidance, the reference clip, and
the preset that loads them."""

from t2v.priors.base import (
    ClipSampler,
    DiffusionPrior,
    ImagePrior,
    SDSBatch,
    SRPrior,
    VideoPrior,
)
from t2v.priors.flow import FlowPrior, OneFrameImagePrior
from t2v.priors.hybrid import HybridGuidance, HybridSettings
from t2v.priors.image import DiffusionImagePrior, StillClipImagePrior
from t2v.priors.ltx import LTXImagePrior, LTXVideoPrior
from t2v.priors.preset import PriorPreset, PriorRole
from t2v.priors.reference import (
    REFERENCE_FRAMES,
    ReferenceClip,
    ReferenceSettings,
    ReferenceTimes,
    clip_at,
    sample_reference,
)
from t2v.priors.sds import SDSConfig, SDSOutput, TimestepSchedule
from t2v.priors.sr import PixelSRPrior, UpscalerSRPrior
from t2v.priors.video import LatentVideoPrior, PixelVideoPrior
from t2v.priors.wan import WanImagePrior, WanVideoPrior

__all__ = [
    "REFERENCE_FRAMES",
    "ClipSampler",
    "DiffusionImagePrior",
    "DiffusionPrior",
    "FlowPrior",
    "HybridGuidance",
    "HybridSettings",
    "ImagePrior",
    "LTXImagePrior",
    "LTXVideoPrior",
    "LatentVideoPrior",
    "OneFrameImagePrior",
    "PixelSRPrior",
    "PixelVideoPrior",
    "PriorPreset",
    "PriorRole",
    "ReferenceClip",
    "ReferenceSettings",
    "ReferenceTimes",
    "SDSBatch",
    "SDSConfig",
    "SDSOutput",
    "SRPrior",
    "StillClipImagePrior",
    "TimestepSchedule",
    "UpscalerSRPrior",
    "VideoPrior",
    "WanImagePrior",
    "WanVideoPrior",
    "clip_at",
    "sample_reference",
]
