"""A scene generator on disk: `generator.safetensors` + `generator.json`, and its text encoder.

The json holds what rebuilds the module (the template field's `_target_` node, genres, sizes)
and how it was trained; the weights are the EMA weights `t2v pretrain pretrain=scene_generator`
exports. `GeneratorText` turns a prompt into the sentence vector the generator reads (MiniLM,
the bundled prior's own text encoder), refusing what it cannot encode in one line.
"""

from __future__ import annotations

import importlib.resources
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from t2v.errors import ConfigError
from t2v.generator.model import SceneGenerator
from t2v.targets import check_target

WEIGHTS = "generator.safetensors"
MANIFEST = "generator.json"
PKG_SCHEME = "pkg://"
SHIPPED = "pkg://t2v/assets/generators/bundled"
# The generator trained on captions of under 40 word pieces and its motion head reads the first
# 64 (`t2v.text.minilm.TOKEN_LENGTH`): a longer prompt is not a scene description it can place.
MAX_PROMPT_TOKENS = 64


def resolve_folder(location: str | Path) -> Path:
    """`pkg://PACKAGE/REL` or a path, as a folder holding a generator; ConfigError if none."""
    text = str(location).strip()
    if text.startswith(PKG_SCHEME):
        package, _, relative = text[len(PKG_SCHEME) :].partition("/")
        folder = Path(str(importlib.resources.files(package) / relative))
    else:
        folder = Path(text).expanduser()
    if not (folder / WEIGHTS).is_file() or not (folder / MANIFEST).is_file():
        raise ConfigError(
            f"generator {location}: no {WEIGHTS} and {MANIFEST} there; train one with "
            "`t2v pretrain pretrain=scene_generator`"
        )
    return folder


def generator_arguments(manifest: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("text_dim", "genre_dim", "hidden_dim", "max_offset")
    # A manifest without `motion_heads` predates the motion head: trajectory from the trunk.
    return {key: manifest[key] for key in keys} | {
        "motion_heads": manifest.get("motion_heads", 0),
        "motion_classes": len(manifest.get("motions", ())),
    }


def build_generator(manifest: Mapping[str, Any]) -> SceneGenerator:
    """A freshly initialised generator of the manifest's shape (weights not loaded)."""
    field = check_target("generator.field", manifest["field"]).build()
    return SceneGenerator(field, manifest["genres"], **generator_arguments(manifest))


def save_generator(generator: SceneGenerator, folder: Path, manifest: Mapping[str, Any]) -> Path:
    """Write the weights and the manifest (its field node, genres and sizes, plus `manifest`'s
    other keys, e.g. how it was trained) into `folder`."""
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    state = {name: value.detach().contiguous() for name, value in generator.state_dict().items()}
    save_file(state, str(folder / WEIGHTS))
    text = json.dumps(dict(manifest), indent=2, sort_keys=False)
    (folder / MANIFEST).write_text(text + "\n", encoding="utf-8")
    return folder


def read_manifest(folder: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ConfigError(f"generator {folder}: cannot read {MANIFEST} ({error})") from None
    missing = [key for key in ("field", "genres", "text_dim") if key not in manifest]
    if missing:
        raise ConfigError(f"generator {folder}: {MANIFEST} lacks {', '.join(missing)}")
    return manifest


def load_generator(location: str | Path) -> SceneGenerator:
    """The generator at `location` (a folder or `pkg://`), in eval mode on the CPU."""
    from safetensors.torch import load_file

    folder = resolve_folder(location)
    manifest = read_manifest(folder)
    generator = build_generator(manifest)
    try:
        generator.load_state_dict(load_file(str(folder / WEIGHTS)))
    except Exception as error:  # truncated, foreign or of another shape: one clear line
        problem = " ".join(str(error).split())[:200]
        raise ConfigError(f"generator {folder}: weights do not load ({problem})") from None
    return generator.eval()


@dataclass
class GeneratorText:
    """Prompt -> MiniLM sentence vector `(384,)` or token states `(64, 384)`; refuses an empty
    or over-long prompt."""

    encoder: Any = None

    @staticmethod
    def check(prompt: str) -> str:
        if not prompt or not prompt.strip():
            raise ConfigError("the scene generator cannot encode an empty prompt")
        return prompt.strip()

    @staticmethod
    def check_length(prompt: str) -> None:
        from t2v.text.minilm import token_count  # the tokenizer alone: no weights load

        count = token_count(prompt.strip())
        if count > MAX_PROMPT_TOKENS:
            raise ConfigError(
                f"the scene generator reads prompts of up to {MAX_PROMPT_TOKENS} tokens; "
                f"this one has {count}"
            )

    def encode(self, prompts: list[str], tokens: bool = False) -> torch.Tensor:
        """Sentence vectors `(N, 384)` of `prompts`, or with `tokens` their token states
        `(N, 64, 384)` (what a generator that `reads_tokens` takes), each checked first."""
        texts = [self.check(prompt) for prompt in prompts]
        for text in texts:
            self.check_length(text)
        if self.encoder is None:
            from t2v.text.minilm import MiniLMEncoder

            self.encoder = MiniLMEncoder()
        encode = self.encoder.encode_tokens if tokens else self.encoder.encode
        return encode(texts).float().cpu()
