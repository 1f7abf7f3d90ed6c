"""Text encoders of the priors: CLIP / T5 / UMT5 through transformers, MiniLM for the bundled prior.

Every encoder answers `model_id` (the cache key) and `encode(texts) -> Tensor`: token states
`(N, L, D)` for CLIP and T5 (what a diffusers UNet takes as `encoder_hidden_states`); for
"umt5" (Wan) and "t5_masked" (LTX-Video) the states past each text's last token are zeros, as
the Wan pipeline feeds them and from which LTX's attention mask is recovered; a pooled
sentence vector `(N, D)` for MiniLM ("minilm"), or MiniLM's zero-padded token states
`(N, 64, D)` for a bundled prior whose text pathway attends over tokens ("minilm_tokens").
A `TextEncoderSpec` names an encoder without loading it, so a prior can say which encoder it
needs and `PromptEncoder` loads it only on a cache miss.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch

from t2v.errors import ConfigError

ENCODER_KINDS = ("clip", "t5", "umt5", "t5_masked", "minilm", "minilm_tokens")
TRANSFORMERS_KINDS = ("clip", "t5", "umt5", "t5_masked")
ZERO_PADDED_KINDS = ("umt5", "t5_masked")
# Tokens read by default: the CLIP models and IF read 77; Wan 512; LTX-Video 128.
MAX_LENGTHS = {"clip": 77, "t5": 77, "umt5": 512, "t5_masked": 128}


class TextEncoder(Protocol):
    """What `PromptEncoder` needs from a text encoder."""

    @property
    def model_id(self) -> str: ...

    def encode(self, texts: list[str]) -> torch.Tensor: ...


class TransformersTextEncoder:
    """A frozen CLIP, T5 or UMT5 text encoder from a diffusers-style folder or hub id."""

    def __init__(
        self,
        model: str,
        kind: str = "clip",
        *,
        subfolder: str | None = "text_encoder",
        tokenizer_subfolder: str | None = "tokenizer",
        max_length: int | None = None,
        local_files_only: bool = False,
        device: str | torch.device = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> None:
        from transformers import AutoTokenizer, CLIPTextModel, T5EncoderModel, UMT5EncoderModel

        if kind not in TRANSFORMERS_KINDS:
            raise ConfigError(f"text encoder kind '{kind}' is not a transformers encoder")
        model_class = {"clip": CLIPTextModel, "umt5": UMT5EncoderModel}.get(kind, T5EncoderModel)
        self.kind = kind
        self.source = model
        self.subfolder = subfolder
        self.device = torch.device(device)
        loading = {"local_files_only": local_files_only}
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(
                model, subfolder=tokenizer_subfolder or "", **loading
            )
            self.model = model_class.from_pretrained(
                model, subfolder=subfolder or "", torch_dtype=dtype, **loading
            )
        except (OSError, ValueError, ImportError) as error:
            raise ConfigError(_missing_message(model, error, local_files_only)) from None
        self.model.to(self.device).eval().requires_grad_(False)
        # T5 tokenizers report a huge model_max_length: the prior's own length caps it.
        self.max_length = max_length or min(int(self.tokenizer.model_max_length), MAX_LENGTHS[kind])

    @property
    def model_id(self) -> str:
        return f"{self.kind}:{self.source}/{self.subfolder or ''}"

    @torch.no_grad()
    def encode(self, texts: list[str]) -> torch.Tensor:
        """Token states `(N, max_length, D)` in float32 on the CPU, padded to `max_length`."""
        tokens = self.tokenizer(
            list(texts),
            padding="max_length",
            max_length=self.max_length,
            truncation=True,
            return_tensors="pt",
        )
        inputs = {"input_ids": tokens["input_ids"].to(self.device)}
        mask = tokens["attention_mask"].to(self.device)
        if self.kind != "clip":  # IF, Wan, LTX pass the mask; the SD-family CLIP ones do not
            inputs["attention_mask"] = mask
        states = self.model(**inputs).last_hidden_state
        if self.kind in ZERO_PADDED_KINDS:
            states = states * mask.unsqueeze(-1).to(states.dtype)
        return states.float().cpu()


class MiniLMTextEncoder:
    """The bundled prior's encoder (`t2v.text.minilm.MiniLMEncoder`): sentence vectors
    `(N, 384)`, or token states `(N, 64, 384)` with `tokens=True`."""

    def __init__(self, device: str | torch.device = "cpu", tokens: bool = False) -> None:
        from t2v.text.minilm import MiniLMEncoder

        self.encoder = MiniLMEncoder(device=device)
        self.model = self.encoder.model
        self.tokens = tokens
        self._encode = self.encoder.encoder_for(tokens)

    @property
    def model_id(self) -> str:
        return f"{'minilm_tokens' if self.tokens else 'minilm'}:{self.encoder.model_id}"

    def encode(self, texts: list[str]) -> torch.Tensor:
        return self._encode(list(texts)).float().cpu()


@dataclass(frozen=True)
class TextEncoderSpec:
    """Which text encoder a prior reads: kind (`ENCODER_KINDS`) and where it lives."""

    kind: str
    model: str = ""
    subfolder: str | None = "text_encoder"
    tokenizer_subfolder: str | None = "tokenizer"
    local_files_only: bool = False
    max_length: int | None = None  # tokens read; None: the kind's default (MAX_LENGTHS)

    @property
    def model_id(self) -> str:
        """The cache key; equal to the loaded encoder's `model_id`."""
        if self.kind in ("minilm", "minilm_tokens"):
            from t2v.text.minilm import MINILM_MODEL_ID

            return f"{self.kind}:{MINILM_MODEL_ID}"
        return f"{self.kind}:{self.model}/{self.subfolder or ''}"

    def load(
        self, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32
    ) -> TextEncoder:
        if self.kind in ("minilm", "minilm_tokens"):
            return MiniLMTextEncoder(device=device, tokens=self.kind == "minilm_tokens")
        if self.kind in TRANSFORMERS_KINDS:
            return TransformersTextEncoder(
                self.model,
                self.kind,
                subfolder=self.subfolder,
                tokenizer_subfolder=self.tokenizer_subfolder,
                max_length=self.max_length,
                local_files_only=self.local_files_only,
                device=device,
                dtype=dtype,
            )
        raise ConfigError(
            f"text encoder kind '{self.kind}' is unknown; choose one of {', '.join(ENCODER_KINDS)}"
        )


def _missing_message(model: str, error: Exception, local_files_only: bool) -> str:
    if isinstance(error, ImportError):
        return f"the text encoder of '{model}' needs a missing package: {error}"
    offline = " while offline (local_files_only / HF_HUB_OFFLINE=1)" if local_files_only else ""
    return (
        f"cannot load the text encoder of '{model}'{offline}; "
        f"fetch it with `huggingface-cli download {model}` or point to a local folder"
    )
