"""CLIP metrics of rendered frames: R-precision of the run's prompt in a prompt set, CLIP score.

Definitions (image embeddings u_i of the sampled frames, text embeddings v_j of the prompt set,
all L2-normalised; the run's own prompt is v_p):

- rank_i = 1 + #{j : u_i . v_j > u_i . v_p}  (ties count in the prompt's favour);
- R@k = mean_i [rank_i <= k]  (MAV3D's CLIP R-precision is R@1, averaged over frames);
- CLIP score = 100 * mean_i u_i . v_p.

Any CLIP checkpoint transformers loads with `CLIPModel` works (hub id or local folder); the
image preprocessing (resize, centre crop, normalisation) follows its preprocessor config and
runs in torch on frames already in [0, 1].
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from t2v.errors import ConfigError

# OpenAI CLIP's normalisation, for checkpoints saved without a preprocessor config.
OPENAI_CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
EMBED_BATCH = 32


def hub_offline() -> bool:
    flags = (os.environ.get("HF_HUB_OFFLINE", ""), os.environ.get("TRANSFORMERS_OFFLINE", ""))
    return any(flag.strip().lower() in ("1", "true", "yes", "on") for flag in flags)


@dataclass(frozen=True)
class ImagePreprocessing:
    """Resize the short side to `resize`, centre-crop `crop_height x crop_width`, normalise."""

    resize: int
    crop_height: int
    crop_width: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    @classmethod
    def from_processor_dict(cls, config: dict[str, Any], image_size: int) -> ImagePreprocessing:
        size = config.get("size") or {}
        crop = config.get("crop_size") or {}
        if isinstance(size, int):
            size = {"shortest_edge": size}
        if isinstance(crop, int):
            crop = {"height": crop, "width": crop}
        resize = int(size.get("shortest_edge") or size.get("height") or image_size)
        return cls(
            resize=resize,
            crop_height=int(crop.get("height") or image_size),
            crop_width=int(crop.get("width") or image_size),
            mean=tuple(config.get("image_mean") or OPENAI_CLIP_MEAN),  # type: ignore[arg-type]
            std=tuple(config.get("image_std") or OPENAI_CLIP_STD),  # type: ignore[arg-type]
        )

    def __call__(self, frames: Tensor) -> Tensor:
        """Frames (N, 3, H, W) in [0, 1] -> CLIP pixel values (N, 3, crop_h, crop_w)."""
        height, width = frames.shape[-2:]
        # The long side is truncated, as transformers' CLIPImageProcessor does.
        if height <= width:
            size = (self.resize, int(self.resize * width / height))
        else:
            size = (int(self.resize * height / width), self.resize)
        size = (max(size[0], self.crop_height), max(size[1], self.crop_width))
        resized = F.interpolate(
            frames, size=size, mode="bicubic", antialias=True, align_corners=False
        )
        top = (size[0] - self.crop_height) // 2
        left = (size[1] - self.crop_width) // 2
        cropped = resized[..., top : top + self.crop_height, left : left + self.crop_width]
        mean = cropped.new_tensor(self.mean)[:, None, None]
        std = cropped.new_tensor(self.std)[:, None, None]
        return (cropped.clamp(0, 1) - mean) / std


class ClipEncoder:
    """A frozen CLIP model that embeds frames and texts into one unit-norm space."""

    def __init__(
        self, model: Any, tokenizer: Any, preprocessing: ImagePreprocessing, name: str
    ) -> None:
        self.model = model.eval().requires_grad_(False)
        self.tokenizer = tokenizer
        self.preprocessing = preprocessing
        self.name = name

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @torch.no_grad()
    def embed_images(self, frames: Tensor) -> Tensor:
        """Frames (N, 3, H, W) in [0, 1] -> unit embeddings (N, D)."""
        chunks = []
        for start in range(0, frames.shape[0], EMBED_BATCH):
            pixels = self.preprocessing(frames[start : start + EMBED_BATCH].float().to(self.device))
            chunks.append(_features(self.model.get_image_features(pixel_values=pixels)))
        return F.normalize(torch.cat(chunks).float(), dim=-1)

    @torch.no_grad()
    def embed_texts(self, texts: list[str]) -> Tensor:
        """Texts -> unit embeddings (N, D)."""
        max_length = int(self.model.config.text_config.max_position_embeddings)
        chunks = []
        for start in range(0, len(texts), EMBED_BATCH):
            tokens = self.tokenizer(
                texts[start : start + EMBED_BATCH],
                padding=True,
                truncation=True,
                max_length=max_length,
                return_tensors="pt",
            ).to(self.device)
            chunks.append(
                _features(
                    self.model.get_text_features(
                        input_ids=tokens["input_ids"], attention_mask=tokens["attention_mask"]
                    )
                )
            )
        return F.normalize(torch.cat(chunks).float(), dim=-1)


def _features(output: Any) -> Tensor:
    """transformers 4 returns the projected tensor, 5 an output whose pooler_output is it."""
    return output if isinstance(output, Tensor) else output.pooler_output


def load_clip(name_or_path: str, device: str | torch.device = "cpu") -> ClipEncoder:
    """Load a CLIP model, tokenizer and preprocessing from a hub id or a local folder."""
    from transformers import AutoTokenizer, CLIPModel
    from transformers.image_processing_base import ImageProcessingMixin

    offline = hub_offline()
    try:
        model = CLIPModel.from_pretrained(name_or_path, local_files_only=offline)
        tokenizer = AutoTokenizer.from_pretrained(name_or_path, local_files_only=offline)
    except (OSError, ValueError) as error:
        raise ConfigError(_missing_model_message(name_or_path, offline, error)) from None
    image_size = int(model.config.vision_config.image_size)
    try:
        processor_dict, _ = ImageProcessingMixin.get_image_processor_dict(
            name_or_path, local_files_only=offline
        )
    except (OSError, ValueError):  # no preprocessor config saved: CLIP's defaults
        processor_dict = {}
    preprocessing = ImagePreprocessing.from_processor_dict(processor_dict, image_size)
    return ClipEncoder(model.to(device), tokenizer, preprocessing, str(name_or_path))


def names_a_folder(name: str) -> bool:
    """Whether `name` is a filesystem path rather than a Hugging Face hub id."""
    return Path(name).expanduser().exists() or name.startswith((".", "/", "~", os.sep))


def missing_offline(name: str) -> str | None:
    """Why CLIP `name` cannot load on this machine: a hub id that is not in the local Hugging
    Face cache while downloads are off (HF_HUB_OFFLINE). None when it may load; a folder is never
    missing here, so a wrong path stays `load_clip`'s error."""
    if names_a_folder(name) or not hub_offline():
        return None
    from huggingface_hub import snapshot_download

    try:
        snapshot_download(repo_id=name, local_files_only=True)
    except Exception:  # the hub's "not cached" and "bad id" errors have no common base
        return (
            f"{name} is not in the local Hugging Face cache and HF_HUB_OFFLINE=1; fetch it with "
            f"`hf download {name}`"
        )
    return None


def _missing_model_message(name: str, offline: bool, error: Exception) -> str:
    skip = "clip_model=null skips the CLIP metrics"
    if names_a_folder(name):
        return f"CLIP folder '{name}' holds no loadable CLIPModel and tokenizer; {skip}"
    if offline:
        return (
            f"CLIP model '{name}' is not in the local Hugging Face cache and HF_HUB_OFFLINE=1; "
            f"fetch it once online with `hf download {name}`, pass clip_model=/path/to/folder, "
            f"or {skip}"
        )
    reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return f"CLIP model '{name}' cannot be loaded ({reason}); {skip}"


# --- metrics ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClipMetrics:
    r_precision_at_1: float
    r_precision_at_5: float
    clip_score: float
    mean_rank: float
    frames: int
    prompt_set_size: int

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)


def retrieval_ranks(image_embeds: Tensor, text_embeds: Tensor, target: int) -> Tensor:
    """Rank (1 = best) of prompt `target` for each image: 1 + prompts scoring strictly higher."""
    similarity = image_embeds @ text_embeds.T  # (N, M)
    own = similarity[:, target : target + 1]
    return 1 + (similarity > own).sum(dim=1)


def r_precision(ranks: Tensor, k: int) -> float:
    """Fraction of images whose own prompt ranks in the top k."""
    return float((ranks <= k).float().mean())


def clip_score(image_embeds: Tensor, text_embed: Tensor) -> float:
    """100 x mean cosine similarity between the (unit) image embeddings and one text embedding."""
    return float(100.0 * (image_embeds @ text_embed).mean())


def clip_metrics(image_embeds: Tensor, text_embeds: Tensor, target: int) -> ClipMetrics:
    """R@1, R@5, CLIP score and mean rank of prompt `target` over the frames' embeddings."""
    if not 0 <= target < text_embeds.shape[0]:
        raise ValueError(f"target {target} is not in a prompt set of {text_embeds.shape[0]}")
    ranks = retrieval_ranks(image_embeds, text_embeds, target)
    return ClipMetrics(
        r_precision_at_1=r_precision(ranks, 1),
        r_precision_at_5=r_precision(ranks, 5),
        clip_score=clip_score(image_embeds, text_embeds[target]),
        mean_rank=float(ranks.float().mean()),
        frames=int(image_embeds.shape[0]),
        prompt_set_size=int(text_embeds.shape[0]),
    )


def embedding_spread(embeds: Tensor) -> float:
    """Mean cosine distance of unit embeddings to their normalised mean (0 = all identical)."""
    centre = F.normalize(embeds.mean(dim=0), dim=0)
    return float((1.0 - embeds @ centre).mean())


def sample_frame_indices(count: int, wanted: int) -> list[int]:
    """`wanted` frame indices spread evenly over `count` frames, first and last included."""
    if count <= 0:
        return []
    if wanted <= 0 or wanted >= count:
        return list(range(count))
    if wanted == 1:
        return [count // 2]
    return sorted({round(i * (count - 1) / (wanted - 1)) for i in range(wanted)})


# --- a tiny random CLIP, built in code (tests and smoke runs; no hub) ---------------------------

TINY_CLIP_CHARACTERS = "abcdefghijklmnopqrstuvwxyz0123456789,.-'!?"


def save_tiny_clip(folder: str | Path, seed: int = 0, image_size: int = 32) -> Path:
    """Write a randomly initialised 2-layer CLIP with a character-level tokenizer to `folder`.

    Loadable with `load_clip(folder)` like any checkpoint; its numbers mean nothing, but every
    code path of the metrics runs through a real `CLIPModel`, tokenizer and preprocessing.
    """
    from transformers import CLIPConfig, CLIPModel, CLIPTokenizer

    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    special = ["<|startoftext|>", "<|endoftext|>"]
    tokens = [*special, *TINY_CLIP_CHARACTERS, *(f"{c}</w>" for c in TINY_CLIP_CHARACTERS)]
    vocab = {token: index for index, token in enumerate(tokens)}
    tokenizer = CLIPTokenizer(vocab=vocab, merges=[])
    text = {
        "vocab_size": len(vocab),
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "max_position_embeddings": 77,
        "bos_token_id": vocab["<|startoftext|>"],
        "eos_token_id": vocab["<|endoftext|>"],
        "pad_token_id": vocab["<|endoftext|>"],
    }
    vision = {
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "image_size": image_size,
        "patch_size": max(1, image_size // 4),
    }
    config = CLIPConfig(text_config=text, vision_config=vision, projection_dim=16)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = CLIPModel(config)
    model.save_pretrained(target)
    tokenizer.save_pretrained(target)
    processor = {
        "image_processor_type": "CLIPImageProcessor",
        "size": {"shortest_edge": image_size},
        "crop_size": {"height": image_size, "width": image_size},
        "image_mean": list(OPENAI_CLIP_MEAN),
        "image_std": list(OPENAI_CLIP_STD),
        "do_resize": True,
        "do_center_crop": True,
        "do_normalize": True,
    }
    (target / "preprocessor_config.json").write_text(json.dumps(processor, indent=2))
    return target
