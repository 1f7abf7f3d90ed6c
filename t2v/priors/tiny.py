"""Tiny random diffusers model folders built in code (fixed seed, no network), for tests.

Each `save_tiny_*` writes a folder in the layout of the real model it stands in for, so the
real loaders (`from_pretrained`, `from_folder`, `PriorPreset.load`) read it as they would read
the hub model:

- `save_tiny_stable_diffusion`: unet/ vae/ scheduler/ text_encoder/ tokenizer/ (SD 2.1 base)
- `save_tiny_text_to_video`: the same with a `UNet3DConditionModel` (zeroscope, ModelScope)
- `save_tiny_upscaler`: 7-channel unet with noise-level class embeddings, 4x VAE, v-prediction
  scheduler, low_res_scheduler/ (SD x4 upscaler)
- `save_tiny_deepfloyd`: pixel-space unet with 6 output channels (ε + learned variance)
- `save_tiny_bundled`: unet/ scheduler/ sr_unet/ sr_scheduler/ t2v_prior.json (t2v's own prior)

The CLIP tokenizer is a character-level byte BPE vocabulary written on the spot.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import torch

TEXT_DIM = 32  # hidden size of the tiny CLIP text encoder = cross-attention size of the UNets


def _scheduler(prediction_type: str = "epsilon"):
    from diffusers import DDPMScheduler

    return DDPMScheduler(
        num_train_timesteps=1000,
        beta_schedule="scaled_linear",
        beta_start=0.00085,
        beta_end=0.012,
        prediction_type=prediction_type,
    )


def save_tiny_clip(folder: str | Path, seed: int = 0, hidden_size: int = TEXT_DIM) -> None:
    """A 2-layer `CLIPTextModel` in `text_encoder/` and a character-level `tokenizer/`;
    `hidden_size` is the cross-attention width of the UNets it feeds."""
    from tokenizers.pre_tokenizers import ByteLevel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    folder = Path(folder)
    characters = sorted(ByteLevel.alphabet())
    tokens = [*characters, *(c + "</w>" for c in characters), "<|startoftext|>", "<|endoftext|>"]
    vocab = {token: index for index, token in enumerate(tokens)}
    with tempfile.TemporaryDirectory() as scratch:
        (Path(scratch) / "vocab.json").write_text(json.dumps(vocab))
        (Path(scratch) / "merges.txt").write_text("#version: 0.2\n")
        tokenizer = CLIPTokenizer.from_pretrained(scratch, model_max_length=64)
    tokenizer.save_pretrained(folder / "tokenizer")
    torch.manual_seed(seed)
    config = CLIPTextConfig(
        vocab_size=len(vocab),
        hidden_size=hidden_size,
        intermediate_size=2 * hidden_size,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=64,
        bos_token_id=vocab["<|startoftext|>"],
        eos_token_id=vocab["<|endoftext|>"],
        pad_token_id=vocab["<|endoftext|>"],
    )
    CLIPTextModel(config).eval().save_pretrained(folder / "text_encoder")


def save_tiny_t5(
    folder: str | Path, seed: int = 0, umt5: bool = False, hidden_size: int = TEXT_DIM
) -> None:
    """A 2-layer `T5EncoderModel` (`umt5`: `UMT5EncoderModel`, Wan's) in `text_encoder/` and a
    character-level Unigram `tokenizer/` (saved as tokenizer.json: no sentencepiece needed)."""
    import string

    from transformers import T5Config, T5EncoderModel, T5Tokenizer, UMT5Config, UMT5EncoderModel

    folder = Path(folder)
    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -2.0)]
    pieces += [(c, -3.0) for c in string.ascii_lowercase + string.digits + ",.'-"]
    pieces += [("▁" + c, -3.5) for c in string.ascii_lowercase]
    T5Tokenizer(vocab=pieces, extra_ids=0).save_pretrained(folder / "tokenizer")
    torch.manual_seed(seed)
    config_class, model_class = (
        (UMT5Config, UMT5EncoderModel) if umt5 else (T5Config, T5EncoderModel)
    )
    config = config_class(
        vocab_size=len(pieces), d_model=hidden_size, d_kv=8, d_ff=64, num_layers=2, num_heads=4
    )
    model_class(config).eval().save_pretrained(folder / "text_encoder")


def tiny_unet2d(in_channels: int = 4, out_channels: int = 4, **extra):
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(
        sample_size=8,
        in_channels=in_channels,
        out_channels=out_channels,
        block_out_channels=(16, 32),
        layers_per_block=1,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=TEXT_DIM,
        attention_head_dim=4,
        norm_num_groups=8,
        **extra,
    )


def tiny_vae(blocks: int = 2, scaling_factor: float = 0.18215):
    """`AutoencoderKL` downsampling by 2^(blocks-1), 4 latent channels."""
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * blocks,
        up_block_types=("UpDecoderBlock2D",) * blocks,
        block_out_channels=(8, 16, 16, 16)[:blocks],
        layers_per_block=1,
        latent_channels=4,
        norm_num_groups=4,
        sample_size=16,
        scaling_factor=scaling_factor,
    )


def save_tiny_stable_diffusion(folder: str | Path, seed: int = 0, prediction_type="epsilon"):
    folder = Path(folder)
    torch.manual_seed(seed)
    tiny_unet2d().save_pretrained(folder / "unet")
    tiny_vae().save_pretrained(folder / "vae")
    _scheduler(prediction_type).save_pretrained(folder / "scheduler")
    save_tiny_clip(folder, seed)
    return folder


def save_tiny_deepfloyd(folder: str | Path, seed: int = 0):
    """IF stage I shaped: pixels in, ε and a learned variance out (6 channels), T5 text."""
    folder = Path(folder)
    torch.manual_seed(seed)
    tiny_unet2d(in_channels=3, out_channels=6).save_pretrained(folder / "unet")
    _scheduler().save_pretrained(folder / "scheduler")
    save_tiny_t5(folder, seed)
    return folder


def save_tiny_text_to_video(folder: str | Path, seed: int = 0):
    from diffusers import UNet3DConditionModel

    folder = Path(folder)
    torch.manual_seed(seed)
    UNet3DConditionModel(
        sample_size=8,
        in_channels=4,
        out_channels=4,
        block_out_channels=(16, 32),
        layers_per_block=1,
        down_block_types=("CrossAttnDownBlock3D", "DownBlock3D"),
        up_block_types=("UpBlock3D", "CrossAttnUpBlock3D"),
        cross_attention_dim=TEXT_DIM,
        attention_head_dim=4,
        norm_num_groups=8,
    ).save_pretrained(folder / "unet")
    tiny_vae().save_pretrained(folder / "vae")
    _scheduler().save_pretrained(folder / "scheduler")
    save_tiny_clip(folder, seed)
    return folder


def save_tiny_upscaler(folder: str | Path, seed: int = 0):
    from diffusers import DDPMScheduler

    folder = Path(folder)
    torch.manual_seed(seed)
    tiny_unet2d(in_channels=7, out_channels=4, num_class_embeds=1000).save_pretrained(
        folder / "unet"
    )
    tiny_vae(blocks=3, scaling_factor=0.08333).save_pretrained(folder / "vae")
    _scheduler("v_prediction").save_pretrained(folder / "scheduler")
    DDPMScheduler(num_train_timesteps=1000).save_pretrained(folder / "low_res_scheduler")
    save_tiny_clip(folder, seed)
    return folder


def save_tiny_bundled(
    folder: str | Path,
    seed: int = 0,
    genres: tuple[str, ...] = ("none", "action", "cartoon"),
    frames: int = 4,
    size: int = 8,
    text_dim: int = 384,
):
    """t2v's own prior layout with tiny `PixelVideoUNet` / `PixelSRUNet` (v-prediction)."""
    from t2v.models import PixelSRUNet, PixelVideoUNet

    folder = Path(folder)
    torch.manual_seed(seed)
    common = {"embed_dim": 16, "norm_groups": 4, "text_dim": text_dim, "genres": genres}
    PixelVideoUNet(
        block_channels=(8, 16), sample_size=size, num_frames=frames, **common
    ).save_pretrained(folder / "unet")
    PixelSRUNet(
        block_channels=(8, 16), sample_size=2 * size, num_frames=frames, sr_factor=2, **common
    ).save_pretrained(folder / "sr_unet")
    for name in ("scheduler", "sr_scheduler"):
        _scheduler("v_prediction").save_pretrained(folder / name)
    manifest = {
        "kind": "pixel_video",
        "text_encoder": "minilm",
        "frames": frames,
        "height": size,
        "width": size,
        "sr_factor": 2,
        "genres": list(genres),
    }
    (folder / "t2v_prior.json").write_text(json.dumps(manifest))
    return folder
