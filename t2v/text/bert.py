"""A BERT encoder on torch's own layers, loading a `BertModel` safetensors checkpoint as it is.

Written by hand because importing transformers costs about 4 s, more than a third of the
`schedule=instant` budget, for six standard layers. It computes what transformers' `BertModel`
(SDPA attention, eval mode) computes, op for op, so the outputs agree to the bit
(`tests/text/test_bert.py` compares them).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F


@dataclass(frozen=True)
class BertConfig:
    """The fields of a transformers `config.json` that an absolute-position BERT needs."""

    vocab_size: int
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    max_position_embeddings: int
    type_vocab_size: int
    layer_norm_eps: float
    pad_token_id: int = 0

    @classmethod
    def from_file(cls, path: Path) -> BertConfig:
        raw = json.loads(path.read_text())
        if (
            raw.get("hidden_act", "gelu") != "gelu"
            or raw.get("position_embedding_type", "absolute") != "absolute"
        ):
            raise ValueError(f"{path}: only gelu and absolute position embeddings are supported")
        return cls(**{name: raw[name] for name in cls.__dataclass_fields__ if name in raw})


class Embeddings(nn.Module):
    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(input_ids.shape[1], device=input_ids.device).unsqueeze(0)
        # One segment: every token's type is 0. Summed in transformers' order (bit-identical).
        embeddings = self.word_embeddings(input_ids) + self.token_type_embeddings(
            torch.zeros_like(input_ids)
        )
        return self.LayerNorm(embeddings + self.position_embeddings(positions))


class SelfAttention(nn.Module):
    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.heads = config.num_attention_heads
        self.query = nn.Linear(config.hidden_size, config.hidden_size)
        self.key = nn.Linear(config.hidden_size, config.hidden_size)
        self.value = nn.Linear(config.hidden_size, config.hidden_size)

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        shape = (*hidden.shape[:-1], self.heads, -1)
        query, key, value = (
            project(hidden).view(shape).transpose(1, 2)
            for project in (self.query, self.key, self.value)
        )
        scale = query.shape[-1] ** -0.5
        attended = F.scaled_dot_product_attention(query, key, value, attn_mask=mask, scale=scale)
        return attended.transpose(1, 2).reshape(*hidden.shape[:-1], -1).contiguous()


class DenseNorm(nn.Module):
    """Project, add the residual, normalise: BERT's post-norm output of each sublayer."""

    def __init__(self, inputs: int, outputs: int, eps: float) -> None:
        super().__init__()
        self.dense = nn.Linear(inputs, outputs)
        self.LayerNorm = nn.LayerNorm(outputs, eps=eps)

    def forward(self, hidden: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.dense(hidden) + residual)


class Attention(nn.Module):
    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.self = SelfAttention(config)
        self.output = DenseNorm(config.hidden_size, config.hidden_size, config.layer_norm_eps)

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        return self.output(self.self(hidden, mask), hidden)


class Intermediate(nn.Module):
    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.intermediate_size)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return F.gelu(self.dense(hidden))


class Layer(nn.Module):
    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.attention = Attention(config)
        self.intermediate = Intermediate(config)
        self.output = DenseNorm(config.intermediate_size, config.hidden_size, config.layer_norm_eps)

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        attended = self.attention(hidden, mask)
        return self.output(self.intermediate(attended), attended)


class Encoder(nn.Module):
    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.layer = nn.ModuleList(Layer(config) for _ in range(config.num_hidden_layers))


class BertEncoder(nn.Module):
    """Token ids and attention mask `(N, L)` -> last hidden states `(N, L, hidden)`.

    Module names follow the checkpoint's keys, so `model.safetensors` loads without renaming.
    """

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.config = config
        self.embeddings = Embeddings(config)
        self.encoder = Encoder(config)

    @classmethod
    def from_folder(cls, folder: Path) -> BertEncoder:
        """`config.json` and `model.safetensors` of a transformers `BertModel` folder."""
        from safetensors.torch import load_file

        model = cls(BertConfig.from_file(folder / "config.json"))
        weights = load_file(str(folder / "model.safetensors"))
        # The pooler (a CLS head) and position-id buffers are not used by sentence encoders.
        wanted = model.state_dict().keys()
        missing = model.load_state_dict(
            {name: tensor for name, tensor in weights.items() if name in wanted}, strict=False
        ).missing_keys
        if missing:
            raise ValueError(f"{folder}: the checkpoint lacks {', '.join(missing[:3])}")
        return model.eval().requires_grad_(False)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.embeddings(input_ids)
        # Like transformers: no mask when nothing is padded (a different SDPA kernel path),
        # else a boolean (N, 1, L, L) mask of the keys each query may attend to.
        mask = None
        if not bool(attention_mask.all()):
            keys = attention_mask.bool()[:, None, None, :]
            mask = keys.expand(-1, 1, input_ids.shape[1], -1)
        for layer in self.encoder.layer:
            hidden = layer(hidden, mask)
        return hidden
