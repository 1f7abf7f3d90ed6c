"""`PromptEncoder`: prompt + genre -> view-dependent texts -> cached `TextConditioning`.

Genre enters twice: as text (the preset's template and negative prompt) and as an id (the
genre's index in the prior's `genres` list; unknown genres map to 0, "none"). Embeddings are
cached in memory and, given a folder, on disk under a hash of (model id, text). Under
torch.distributed, rank 0 computes what is missing while the other ranks wait at a barrier, then
everyone reads the files. The text encoder is loaded only on a cache miss and freed right after.
"""

from __future__ import annotations

import gc
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import torch

from t2v.errors import ConfigError
from t2v.genres import GenrePreset
from t2v.text.cache import EmbeddingCache
from t2v.text.conditioning import UNCONDITIONAL_GENRE_ID, TextConditioning
from t2v.text.encoders import TextEncoder, TextEncoderSpec
from t2v.text.views import NO_VIEW, VIEW_BUCKETS, with_view_suffix

NO_GENRE = GenrePreset(name="none", description="the prompt as written", prompt_template="{prompt}")


def compose_text(prompt: str, genre: GenrePreset | None = None, view: str = NO_VIEW) -> str:
    """The text a prior reads: prompt, then the view suffix, then the genre template around both
    ("a cat, back view, film noir ..."). The view goes right after the subject because
    tokenizers truncate from the end (CLIP at 77 tokens) and the view matters more than style.
    Captions for training a prior should be composed the same way."""
    return (genre or NO_GENRE).compose_prompt(with_view_suffix(prompt.strip(), view))


class TextEncoderLoader(Protocol):
    """Names a text encoder (its cache key) and loads it on demand: `TextEncoderSpec` is one."""

    @property
    def model_id(self) -> str: ...

    def load(self, device: str | torch.device = ..., dtype: torch.dtype = ...) -> TextEncoder: ...


class PromptEncoder:
    """Encodes prompts for one prior's text encoder and genre list."""

    def __init__(
        self,
        text_encoder: TextEncoderLoader,
        *,
        genres: Sequence[str] = ("none",),
        cache_dir: str | Path | None = None,
        view_dependent: bool = True,
        negative_prompt: bool = True,
        device: str | torch.device | None = None,
    ) -> None:
        self.loader = text_encoder
        self.genres = tuple(genres) or ("none",)
        self.disk = EmbeddingCache(cache_dir) if cache_dir is not None else None
        self.view_dependent = view_dependent
        self.use_negative_prompt = negative_prompt
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.memory: dict[str, torch.Tensor] = {}
        self.encoder_loads = 0  # how often the text encoder was loaded (once per cache miss)
        self._encoder: TextEncoder | None = None

    @classmethod
    def for_prior(cls, prior: Any, **kwargs: Any) -> PromptEncoder:
        """The encoder a prior reads (`text_encoder_spec`), its genres, and whether it was
        trained with negative prompts and view suffixes."""
        kwargs.setdefault("negative_prompt", getattr(prior, "uses_negative_prompt", True))
        kwargs.setdefault("view_dependent", getattr(prior, "uses_view_suffixes", True))
        return cls(prior.text_encoder_spec, genres=prior.genres, **kwargs)

    @property
    def model_id(self) -> str:
        return self.loader.model_id

    def genre_id(self, genre: str) -> int:
        """Index of `genre` in the prior's genre list; 0 ("none") for genres it never saw."""
        return self.genres.index(genre) if genre in self.genres else UNCONDITIONAL_GENRE_ID

    def view_texts(self, prompt: str, genre: GenrePreset | None = None) -> dict[str, str]:
        """The text encoded for each view bucket ("any" = no suffix): the prompt with the view's
        suffix, then the genre template around it ("{prompt}, front view, film noir ...")."""
        views = (NO_VIEW, *VIEW_BUCKETS)
        if not self.view_dependent:
            return dict.fromkeys(views, compose_text(prompt, genre))
        return {view: compose_text(prompt, genre, view) for view in views}

    def encode(self, prompt: str, genre: GenrePreset | None = None) -> TextConditioning:
        if not prompt or not prompt.strip():
            raise ConfigError("the prompt is empty; say what should happen in the video")
        genre = genre or NO_GENRE
        texts = self.view_texts(prompt, genre)
        # Priors trained with an empty unconditional prompt only (the bundled one) get "".
        negative = genre.negative_prompt if self.use_negative_prompt else ""
        embeddings = self.embed([*texts.values(), negative])
        return TextConditioning(
            model_id=self.model_id,
            prompt=texts[NO_VIEW],
            negative_prompt=negative,
            genre=genre.name,
            genre_id=self.genre_id(genre.name),
            cond={view: embeddings[text] for view, text in texts.items()},
            uncond=dict.fromkeys(texts, embeddings[negative]),
            texts=texts,
        )

    def embed(self, texts: Sequence[str]) -> dict[str, torch.Tensor]:
        """Embeddings of `texts` (each without a batch axis), from the caches where possible."""
        unique = list(dict.fromkeys(texts))
        missing = [text for text in unique if self._lookup(text) is None]
        if _distributed():
            # Every rank reaches the barrier whatever its own cache holds (a rank that skipped
            # it would hang the others), so every rank must call `encode` alike.
            if torch.distributed.get_rank() == 0 and missing:
                self._compute(missing)
            torch.distributed.barrier()
            # Ranks that cannot see rank 0's folder (no cache_dir, or not shared) compute their own.
            missing = [text for text in missing if self._lookup(text) is None]
        if missing:
            self._compute(missing)
        self.release()
        return {text: self._lookup(text) for text in unique}  # type: ignore[misc]

    def release(self) -> None:
        """Free the text encoder (it is reloaded on the next cache miss)."""
        if self._encoder is None:
            return
        self._encoder = None
        gc.collect()
        if self.device.type == "cuda":
            torch.cuda.empty_cache()

    def _lookup(self, text: str) -> torch.Tensor | None:
        if text in self.memory:
            return self.memory[text]
        if self.disk is not None:
            found = self.disk.load(self.model_id, text)
            if found is not None:
                self.memory[text] = found
                return found
        return None

    def _compute(self, texts: list[str]) -> None:
        if self._encoder is None:
            self._encoder = self.loader.load(self.device)
            self.encoder_loads += 1
        embeddings = self._encoder.encode(texts)
        for text, embedding in zip(texts, embeddings, strict=True):
            embedding = embedding.detach().float().cpu().clone()
            self.memory[text] = embedding
            if self.disk is not None:
                self.disk.save(self.model_id, text, embedding)


def _distributed() -> bool:
    return (
        torch.distributed.is_available()
        and torch.distributed.is_initialized()
        and torch.distributed.get_world_size() > 1
    )


__all__ = ["PromptEncoder", "TextEncoderLoader", "TextEncoderSpec", "compose_text"]
