"""Priors from a `conf/prior/*.yaml` node: one loader per role (image, video, sr) plus hybrid.

A preset names, per role, a `kind` and a `model` (hub id, folder or `pkg://` path) with its SDS
settings; `kind: none` (or a missing role) means the preset has no prior for that role. Stages
load only the role they use, in `setup`/`on_fit_start`, so no frozen weights enter checkpoints.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from t2v.errors import ConfigError
from t2v.priors.base import ImagePrior, SRPrior, VideoPrior
from t2v.priors.hybrid import HybridGuidance
from t2v.priors.image import DiffusionImagePrior, StillClipImagePrior
from t2v.priors.sds import SDSConfig
from t2v.priors.sr import PixelSRPrior, UpscalerSRPrior
from t2v.priors.video import LatentVideoPrior, PixelVideoPrior

KINDS = {
    "image": ("sd", "deepfloyd", "still_clip", "none"),
    "video": ("latent_video", "pixel_video", "none"),
    "sr": ("sd_upscaler", "pixel_sr", "none"),
}
SDS_KEYS = {"guidance_scale", "weighting", "snr_gamma", "timesteps"}
ROLE_KEYS = {
    "sd": {"resolution"},
    "deepfloyd": {"resolution"},
    "still_clip": set(),
    "latent_video": {"resolution", "vae_grad_frames"},
    "pixel_video": set(),
    "sd_upscaler": {"noise_level"},
    "pixel_sr": {"noise_level"},
    "none": set(),
}

Prior = ImagePrior | VideoPrior | SRPrior


def check_prior(prior: Any, role: str) -> tuple[dict[str, Any], str, SDSConfig] | None:
    """The `role` node of a preset, its kind and its SDS settings, checked without loading
    anything (so a bad value is refused before a run writes its folder); None if no prior."""
    if role not in KINDS:
        raise ConfigError(f"prior role '{role}' is unknown; choose one of {', '.join(KINDS)}")
    node = _plain(prior).get(role) or {"kind": "none"}
    kind = str(node.get("kind", "none"))
    where = f"prior.{role}"
    if kind not in KINDS[role]:
        choices = ", ".join(KINDS[role])
        raise ConfigError(f"{where}.kind '{kind}' is unknown; choose one of {choices}")
    unknown = sorted(set(node) - {"kind", "model"} - SDS_KEYS - ROLE_KEYS[kind])
    if unknown:
        raise ConfigError(f"{where} has unknown key(s) {', '.join(unknown)}")
    if kind == "none":
        return None
    if not node.get("model"):
        raise ConfigError(f"{where}.model is missing: a hub id, a folder or a pkg:// path")
    try:
        config = SDSConfig.from_config(node)
    except (TypeError, ValueError, ConfigError) as error:  # e.g. guidance_scale=abc
        raise ConfigError(f"{where}: {error}") from None
    return node, kind, config


def load_prior(
    prior: Any,
    role: str,
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> Prior | None:
    """The `role` ("image", "video" or "sr") prior of a preset node, or None if it has none."""
    checked = check_prior(prior, role)
    if checked is None:
        return None
    node, kind, config = checked
    model = str(node["model"])
    local = _plain(prior).get("local_files_only")
    where_loaded = {"device": device, "dtype": dtype}
    resolution = tuple(node["resolution"]) if node.get("resolution") else None
    if kind in ("sd", "deepfloyd"):
        return DiffusionImagePrior.from_pretrained(
            model,
            kind=kind,
            config=config,
            resolution=resolution,
            local_files_only=local,
            **where_loaded,
        )
    if kind == "still_clip":
        video = PixelVideoPrior.from_folder(model, config=config, **where_loaded)
        return StillClipImagePrior(video, frames=video.frames)
    if kind == "latent_video":
        return LatentVideoPrior.from_pretrained(
            model,
            config=config,
            resolution=resolution,
            vae_grad_frames=node.get("vae_grad_frames"),
            local_files_only=local,
            **where_loaded,
        )
    if kind == "pixel_video":
        return PixelVideoPrior.from_folder(model, config=config, **where_loaded)
    if kind == "sd_upscaler":
        return UpscalerSRPrior.from_pretrained(
            model,
            config=config,
            noise_level=int(node.get("noise_level", 20)),
            local_files_only=local,
            **where_loaded,
        )
    return PixelSRPrior.from_folder(
        model, config=config, noise_level=int(node.get("noise_level", 20)), **where_loaded
    )


def load_hybrid(
    prior: Any, image_prior: ImagePrior | None, video_prior: VideoPrior, seed: int = 0
) -> HybridGuidance | None:
    """Hybrid guidance if the preset asks for it (`hybrid.p_image` > 0), else None."""
    hybrid = _plain(prior).get("hybrid") or {}
    p_image = float(hybrid.get("p_image", 0.0))
    if p_image <= 0.0 or image_prior is None:
        return None
    return HybridGuidance(
        image_prior,
        video_prior,
        p_image,
        image_frames=hybrid.get("image_frames"),
        seed=seed,
    )


def _plain(node: Any) -> dict[str, Any]:
    from omegaconf import DictConfig, OmegaConf

    if isinstance(node, DictConfig):
        return OmegaConf.to_container(node, resolve=True)  # type: ignore[return-value]
    if isinstance(node, Mapping):
        return dict(node)
    raise ConfigError(f"a prior preset must be a mapping, not {type(node).__name__}")
