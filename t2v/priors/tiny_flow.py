"""Tiny random Wan 2.1 and LTX-Video folders built in code (fixed seed, no network), for tests.

Each writes the diffusers layout of the real model (model_index.json, transformer/, vae/,
scheduler/, text_encoder/, tokenizer/) with the same classes, so `WanVideoPrior.from_pretrained`
and `LTXVideoPrior.from_pretrained` read it as they read the hub folders. The VAEs keep the real
temporal packing (Wan 4, LTX 8 frames per latent frame) at small spatial factors; the text
encoders are 2-layer `UMT5EncoderModel` / `T5EncoderModel`s with the character-level Unigram
tokenizer of `t2v.priors.tiny`.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from t2v.priors.tiny import TEXT_DIM, save_tiny_t5

LATENT_CHANNELS = 4


def _model_index(folder: Path, pipeline: str, parts: dict[str, tuple[str, str]]) -> None:
    index = {"_class_name": pipeline, "_diffusers_version": "0.42.0"}
    index |= {name: list(library_class) for name, library_class in parts.items()}
    (folder / "model_index.json").write_text(json.dumps(index, indent=1))


def save_tiny_wan(folder: str | Path, seed: int = 0) -> Path:
    """Wan 2.1 shaped: 4× spatial, 4× temporal VAE (latents of 4 channels), a 2-block
    transformer with 2×2 patches, UMT5 text, a UniPC scheduler with `flow_shift` 3."""
    from diffusers import AutoencoderKLWan, UniPCMultistepScheduler, WanTransformer3DModel

    folder = Path(folder)
    torch.manual_seed(seed)
    WanTransformer3DModel(
        patch_size=(1, 2, 2),
        num_attention_heads=2,
        attention_head_dim=12,
        in_channels=LATENT_CHANNELS,
        out_channels=LATENT_CHANNELS,
        text_dim=TEXT_DIM,
        freq_dim=32,
        ffn_dim=32,
        num_layers=2,
        rope_max_seq_len=32,
    ).save_pretrained(folder / "transformer")
    AutoencoderKLWan(
        base_dim=8,
        z_dim=LATENT_CHANNELS,
        dim_mult=[1, 2, 2],
        num_res_blocks=1,
        temperal_downsample=[True, True],
        latents_mean=[0.1, -0.2, 0.3, 0.0],
        latents_std=[1.5, 2.0, 0.8, 1.2],
        scale_factor_temporal=4,
        scale_factor_spatial=4,
    ).save_pretrained(folder / "vae")
    UniPCMultistepScheduler(
        prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=3.0
    ).save_pretrained(folder / "scheduler")
    save_tiny_t5(folder, seed, umt5=True)
    _model_index(
        folder,
        "WanPipeline",
        {
            "transformer": ("diffusers", "WanTransformer3DModel"),
            "vae": ("diffusers", "AutoencoderKLWan"),
            "scheduler": ("diffusers", "UniPCMultistepScheduler"),
            "text_encoder": ("transformers", "UMT5EncoderModel"),
            "tokenizer": ("transformers", "T5TokenizerFast"),
        },
    )
    return folder


def save_tiny_ltx(folder: str | Path, seed: int = 0) -> Path:
    """LTX-Video shaped: 8× temporal, 16× spatial VAE (patch 2, three scaling blocks), a
    1-block transformer, T5 text, a dynamically shifted flow-matching Euler scheduler with
    LTX's shift settings."""
    from diffusers import (
        AutoencoderKLLTXVideo,
        FlowMatchEulerDiscreteScheduler,
        LTXVideoTransformer3DModel,
    )

    folder = Path(folder)
    torch.manual_seed(seed)
    LTXVideoTransformer3DModel(
        in_channels=LATENT_CHANNELS,
        out_channels=LATENT_CHANNELS,
        num_attention_heads=2,
        attention_head_dim=8,
        cross_attention_dim=16,
        num_layers=1,
        caption_channels=TEXT_DIM,
    ).save_pretrained(folder / "transformer")
    blocks = 3
    AutoencoderKLLTXVideo(
        latent_channels=LATENT_CHANNELS,
        block_out_channels=(8, 8, 16),
        decoder_block_out_channels=(8, 8, 16),
        down_block_types=("LTXVideoDownBlock3D",) * blocks,
        layers_per_block=(1,) * (blocks + 1),
        decoder_layers_per_block=(1,) * (blocks + 1),
        spatio_temporal_scaling=(True,) * blocks,
        decoder_spatio_temporal_scaling=(True,) * blocks,
        decoder_inject_noise=(False,) * (blocks + 1),
        downsample_type=("conv",) * blocks,
        upsample_residual=(False,) * blocks,
        upsample_factor=(1,) * blocks,
        patch_size=2,
        patch_size_t=1,
    ).save_pretrained(folder / "vae")
    FlowMatchEulerDiscreteScheduler(
        use_dynamic_shifting=True,
        base_shift=0.95,
        max_shift=2.05,
        base_image_seq_len=1024,
        max_image_seq_len=4096,
        shift_terminal=0.1,
    ).save_pretrained(folder / "scheduler")
    save_tiny_t5(folder, seed)
    _model_index(
        folder,
        "LTXPipeline",
        {
            "transformer": ("diffusers", "LTXVideoTransformer3DModel"),
            "vae": ("diffusers", "AutoencoderKLLTXVideo"),
            "scheduler": ("diffusers", "FlowMatchEulerDiscreteScheduler"),
            "text_encoder": ("transformers", "T5EncoderModel"),
            "tokenizer": ("transformers", "T5TokenizerFast"),
        },
    )
    return folder
