"""`TextConditioning`: a prompt's embeddings per view bucket, its negative prompt, its genre id."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from t2v.text.views import NO_VIEW, check_views

UNCONDITIONAL_GENRE_ID = 0  # genres[0]: the genre a prior's condition dropout drops to


@dataclass
class ConditioningBatch:
    """Conditioning stacked for a batch of B clips, ready for a prior's classifier-free guidance."""

    cond: torch.Tensor  # (B, L, D) token states or (B, D) sentence vectors
    uncond: torch.Tensor  # same shape: the negative prompt
    genre_ids: torch.Tensor  # (B,) long, the genre's index in the prior's genre list
    uncond_genre_ids: torch.Tensor  # (B,) long, all UNCONDITIONAL_GENRE_ID


@dataclass
class TextConditioning:
    """What `PromptEncoder.encode` returns for one prompt + genre and one prior's text encoder.

    `cond` and `uncond` map each view bucket ("any", "front", "side", "back", "overhead") to one
    embedding without a batch axis: `(L, D)` or `(D,)`. `cond[view]` embeds the composed prompt
    with the view's suffix ("any": no suffix); `uncond[view]` embeds the negative prompt, the same
    tensor for every view (a negative prompt describes what to avoid from any side).
    """

    model_id: str
    prompt: str  # composed with the genre template, without a view suffix
    negative_prompt: str
    genre: str
    genre_id: int
    cond: dict[str, torch.Tensor]
    uncond: dict[str, torch.Tensor]
    texts: dict[str, str] = field(default_factory=dict)  # view -> the exact text encoded

    @property
    def views(self) -> tuple[str, ...]:
        return tuple(self.cond)

    def batch(
        self,
        views: Sequence[str] | None,
        batch_size: int | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> ConditioningBatch:
        """Stack per-clip embeddings: one view per clip, or `batch_size` clips of view "any"."""
        if views is None:
            if batch_size is None:
                raise ValueError("give views or batch_size")
            views = [NO_VIEW] * batch_size
        elif batch_size is not None and len(views) != batch_size:
            raise ValueError(f"{len(views)} views for a batch of {batch_size}")
        check_views(views)
        cond = torch.stack([self.cond[view] for view in views])
        uncond = torch.stack([self.uncond[view] for view in views])
        count = len(views)
        genre_ids = torch.full((count,), self.genre_id, dtype=torch.long, device=device)
        uncond_ids = torch.full((count,), UNCONDITIONAL_GENRE_ID, dtype=torch.long, device=device)
        return ConditioningBatch(
            cond=cond.to(device=device, dtype=dtype),
            uncond=uncond.to(device=device, dtype=dtype),
            genre_ids=genre_ids,
            uncond_genre_ids=uncond_ids,
        )
