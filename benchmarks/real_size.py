"""The hub priors' architectures, from their published configs, with random weights.

`benchmarks/gpu.py` times the stages with these: speed and memory depend on the architecture
and the input sizes, not on the trained weights, and nothing can be downloaded where it runs.
Each function returns the keyword arguments of the diffusers class, as in the model's
`config.json` on the hub (only the keys that differ from the class defaults that matter):

- zeroscope_v2_576w (ModelScope's text-to-video architecture): `UNet3DConditionModel`, 1.4B
- Stable Diffusion 2.1 base: `UNet2DConditionModel`, 866M, OpenCLIP-H text (1024 wide)
- Stable Diffusion x4 upscaler: 7-channel `UNet2DConditionModel`, 473M, its 3-level VAE
- the SD `AutoencoderKL` (83M) that zeroscope and SD 2.1 share
- Wan 2.1 T2V 1.3B and 14B: `WanTransformer3DModel` (1.42B / 14.3B) and `AutoencoderKLWan`
  (127M; the class defaults are the published VAE), UMT5-XXL text (4096 wide)

`tiny=True` gives the same block structure at toy widths, so the benchmark's whole path runs
in seconds on a CPU (tests/test_benchmarks.py).
"""

from __future__ import annotations

from typing import Any

CROSS_ATTENTION = 1024  # OpenCLIP ViT-H/14 text width: zeroscope, SD 2.1 and the upscaler
SD_SCHEDULER = {
    "num_train_timesteps": 1000,
    "beta_schedule": "scaled_linear",
    "beta_start": 0.00085,
    "beta_end": 0.012,
}


def _shrink(config: dict[str, Any], tiny: bool) -> dict[str, Any]:
    """Toy widths with the same blocks: channels / 16 (attention heads and groups to match)."""
    if not tiny:
        return config
    small = dict(config)
    small["block_out_channels"] = [max(c // 16, 8) for c in config["block_out_channels"]]
    small["norm_num_groups"] = 4
    if "attention_head_dim" in config:
        small["attention_head_dim"] = 4
    if "cross_attention_dim" in config:
        small["cross_attention_dim"] = 32
    small["layers_per_block"] = 1
    return small


def zeroscope_unet(tiny: bool = False) -> dict[str, Any]:
    return _shrink(
        {
            "in_channels": 4,
            "out_channels": 4,
            "down_block_types": ["CrossAttnDownBlock3D"] * 3 + ["DownBlock3D"],
            "up_block_types": ["UpBlock3D"] + ["CrossAttnUpBlock3D"] * 3,
            "block_out_channels": [320, 640, 1280, 1280],
            "layers_per_block": 2,
            "attention_head_dim": 64,
            "cross_attention_dim": CROSS_ATTENTION,
            "norm_num_groups": 32,
        },
        tiny,
    )


def sd21_unet(tiny: bool = False) -> dict[str, Any]:
    config = {
        "in_channels": 4,
        "out_channels": 4,
        "down_block_types": ["CrossAttnDownBlock2D"] * 3 + ["DownBlock2D"],
        "up_block_types": ["UpBlock2D"] + ["CrossAttnUpBlock2D"] * 3,
        "block_out_channels": [320, 640, 1280, 1280],
        "layers_per_block": 2,
        "attention_head_dim": [5, 10, 20, 20],
        "cross_attention_dim": CROSS_ATTENTION,
        "use_linear_projection": True,
        "norm_num_groups": 32,
        "sample_size": 64,
    }
    return _shrink(config, tiny)


def upscaler_unet(tiny: bool = False) -> dict[str, Any]:
    config = {
        "in_channels": 7,  # 4 noisy latents + the 3-channel low-resolution image
        "out_channels": 4,
        "down_block_types": ["DownBlock2D"] + ["CrossAttnDownBlock2D"] * 3,
        "up_block_types": ["CrossAttnUpBlock2D"] * 3 + ["UpBlock2D"],
        "block_out_channels": [256, 512, 512, 1024],
        "layers_per_block": 2,
        "attention_head_dim": 8,
        "cross_attention_dim": CROSS_ATTENTION,
        "only_cross_attention": [True, True, True, False],
        "use_linear_projection": True,
        "num_class_embeds": 1000,  # the noise level of the low-resolution input
        "norm_num_groups": 32,
        "sample_size": 128,
    }
    return _shrink(config, tiny)


def sd_vae(tiny: bool = False) -> dict[str, Any]:
    return _shrink(
        {
            "in_channels": 3,
            "out_channels": 3,
            "down_block_types": ["DownEncoderBlock2D"] * 4,
            "up_block_types": ["UpDecoderBlock2D"] * 4,
            "block_out_channels": [128, 256, 512, 512],
            "layers_per_block": 2,
            "latent_channels": 4,
            "norm_num_groups": 32,
            "scaling_factor": 0.18215,
        },
        tiny,
    )


def upscaler_vae(tiny: bool = False) -> dict[str, Any]:
    return _shrink(
        {
            "in_channels": 3,
            "out_channels": 3,
            "down_block_types": ["DownEncoderBlock2D"] * 3,
            "up_block_types": ["UpDecoderBlock2D"] * 3,
            "block_out_channels": [128, 256, 512],
            "layers_per_block": 2,
            "latent_channels": 4,
            "norm_num_groups": 32,
            "scaling_factor": 0.08333,
        },
        tiny,
    )


def text_width(tiny: bool = False) -> int:
    return 32 if tiny else CROSS_ATTENTION


WAN_TEXT_WIDTH = 4096  # UMT5-XXL
WAN_SIZES = {
    # Wan-AI/Wan2.1-T2V-{1.3B,14B}-Diffusers transformer/config.json: heads x 128 wide
    "1.3b": {"num_attention_heads": 12, "num_layers": 30, "ffn_dim": 8960},
    "14b": {"num_attention_heads": 40, "num_layers": 40, "ffn_dim": 13824},
}


def wan_transformer(size: str = "1.3b", tiny: bool = False) -> dict[str, Any]:
    config: dict[str, Any] = {
        "patch_size": [1, 2, 2],
        "attention_head_dim": 128,
        "in_channels": 16,
        "out_channels": 16,
        "text_dim": WAN_TEXT_WIDTH,
        "freq_dim": 256,
        "cross_attn_norm": True,
        "qk_norm": "rms_norm_across_heads",
        "rope_max_seq_len": 1024,
        **WAN_SIZES[size],
    }
    if tiny:  # the same blocks at toy widths
        config.update(num_attention_heads=2, attention_head_dim=12, num_layers=2, ffn_dim=32)
        config.update(text_dim=32, freq_dim=32)
    return config


def wan_vae(tiny: bool = False) -> dict[str, Any]:
    """The class defaults are the published config (base 96, 4 levels, 16 latent channels,
    time packed by 4 and space by 8); tiny: base 8, one residual block a level."""
    return {"base_dim": 8, "num_res_blocks": 1} if tiny else {}


def wan_text_width(tiny: bool = False) -> int:
    return 32 if tiny else WAN_TEXT_WIDTH
