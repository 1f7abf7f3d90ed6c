"""Network architectures of t2v's own diffusion priors (diffusers ModelMixin + ConfigMixin)."""

from t2v.models.sr_unet import PixelSRUNet
from t2v.models.video_unet import DEFAULT_GENRES, UNCONDITIONAL_GENRE, PixelVideoUNet

__all__ = ["DEFAULT_GENRES", "UNCONDITIONAL_GENRE", "PixelSRUNet", "PixelVideoUNet"]
