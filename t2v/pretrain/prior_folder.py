"""Write and read a prior folder: unet/, scheduler/, sr_unet/, sr_scheduler/, t2v_prior.json."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from diffusers import DDPMScheduler

from t2v.errors import ConfigError
from t2v.models import PixelSRUNet, PixelVideoUNet
from t2v.pretrain.text_cache import Encode

PRIOR_FILE = "t2v_prior.json"
MAX_PRIOR_BYTES = 50 * 1024 * 1024


@dataclass
class PriorModels:
    """The models and schedulers of one prior folder (or of a training run, before export)."""

    unet: PixelVideoUNet
    scheduler: DDPMScheduler
    sr_unet: PixelSRUNet | None = None
    sr_scheduler: DDPMScheduler | None = None

    @property
    def text_encoder(self) -> str:
        """The encoder kind the video model reads (`t2v.text.encoders.ENCODER_KINDS`)."""
        return "minilm_tokens" if self.unet.reads_tokens else "minilm"

    def encoder(self) -> Encode:
        """MiniLM, giving what the video model reads (sentence vectors or token states)."""
        from t2v.text.minilm import MiniLMEncoder

        return MiniLMEncoder(device=self.unet.device).encoder_for(self.unet.reads_tokens)


def prior_metadata(models: PriorModels) -> dict[str, Any]:
    config = models.unet.config
    return {
        "kind": "pixel_video",
        "text_encoder": models.text_encoder,
        "frames": int(config.num_frames),
        "height": int(config.sample_size),
        "width": int(config.sample_size),
        "sr_factor": int(models.sr_unet.config.sr_factor) if models.sr_unet is not None else 1,
        "genres": list(config.genres),
        # Not in the minimal contract, but what a sampler needs to reproduce training.
        "unconditional_prompt": "",
        "prediction_type": config.prediction_type,
    }


def save_prior(models: PriorModels, folder: str | Path) -> Path:
    """Write the folder with safetensors weights; returns it. Refuses more than 50 MB."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    models.unet.save_pretrained(folder / "unet", safe_serialization=True)
    models.scheduler.save_pretrained(folder / "scheduler")
    if models.sr_unet is not None and models.sr_scheduler is not None:
        models.sr_unet.save_pretrained(folder / "sr_unet", safe_serialization=True)
        models.sr_scheduler.save_pretrained(folder / "sr_scheduler")
    (folder / PRIOR_FILE).write_text(json.dumps(prior_metadata(models), indent=2) + "\n")
    size = weights_bytes(folder)
    if size > MAX_PRIOR_BYTES:
        raise ConfigError(f"prior weights in {folder} take {size / 2**20:.1f} MB (limit 50 MB)")
    return folder


def init_arguments(config: Any) -> dict[str, Any]:
    """A diffusers config as constructor arguments: without its bookkeeping keys (`_class_name`,
    `_use_default_values`, ...), which `from_config` would otherwise act on."""
    return {key: value for key, value in dict(config).items() if not key.startswith("_")}


def weights_bytes(folder: str | Path) -> int:
    return sum(path.stat().st_size for path in Path(folder).rglob("*.safetensors"))


def load_prior(folder: str | Path, device: str | torch.device = "cpu") -> PriorModels:
    """Load a prior folder written by `save_prior` (SR parts optional); models in eval mode."""
    folder = Path(folder)
    meta_file = folder / PRIOR_FILE
    if not meta_file.is_file():
        raise ConfigError(f"{folder} is not a t2v prior folder (no {PRIOR_FILE})")
    unet = (
        PixelVideoUNet.from_pretrained(folder / "unet", low_cpu_mem_usage=False).to(device).eval()
    )
    scheduler = DDPMScheduler.from_pretrained(folder / "scheduler")
    sr_unet = sr_scheduler = None
    if (folder / "sr_unet").is_dir():
        sr_unet = (
            PixelSRUNet.from_pretrained(folder / "sr_unet", low_cpu_mem_usage=False)
            .to(device)
            .eval()
        )
        sr_scheduler = DDPMScheduler.from_pretrained(folder / "sr_scheduler")
    return PriorModels(unet, scheduler, sr_unet, sr_scheduler)
