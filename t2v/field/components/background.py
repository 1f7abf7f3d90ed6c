"""Background of a scene field: the colour where rays leave the scene, learned or solid.

`learned` is a small MLP on the view direction (a smooth, sky-like backdrop); `dome` is the
same MLP on the direction's height alone, so the backdrop is one from every azimuth (what the
frontal stages teach it reaches the sides and the back); `solid` is one colour, a buffer of
the field that a caller may overwrite (a random colour per training step keeps SDS from
painting the backdrop into the scene).
"""

from __future__ import annotations

from typing import Literal, get_args

import torch
from torch import Tensor, nn

from t2v.errors import ConfigError
from t2v.field.components.heads import mlp

BackgroundMode = Literal["learned", "dome", "solid"]
BACKGROUND_MODES: tuple[BackgroundMode, ...] = get_args(BackgroundMode)
BACKGROUND_FREQUENCIES = 2


def direction_encoding(directions: Tensor) -> Tensor:
    """Directions plus sin/cos at a few frequencies: enough for a smooth sky-like background."""
    parts = [directions]
    for k in range(BACKGROUND_FREQUENCIES):
        parts += [
            torch.sin((2**k) * torch.pi * directions),
            torch.cos((2**k) * torch.pi * directions),
        ]
    return torch.cat(parts, dim=1)


def dome_encoding(directions: Tensor) -> Tensor:
    """`direction_encoding` of the height (world +y) alone: the same colour all round."""
    return direction_encoding(directions[:, 1:2])


def check_background_mode(mode: str) -> None:
    if mode not in BACKGROUND_MODES:
        raise ConfigError(f"background must be one of {', '.join(BACKGROUND_MODES)}, not {mode}")


def learned_background_head(mode: BackgroundMode = "learned") -> nn.Sequential | None:
    """The MLP of a learned background (encoded direction -> raw rgb); None for `solid`."""
    if mode == "solid":
        return None
    axes = 1 if mode == "dome" else 3
    return mlp(axes * (1 + 2 * BACKGROUND_FREQUENCIES), 32, 1, 3)


def background_colour(
    head: nn.Module | None, solid_color: Tensor, directions: Tensor, mode: BackgroundMode
) -> Tensor:
    """Colour (R, 3) in [0, 1] along unit directions (R, 3): the learned head's, or
    `solid_color` (3,) everywhere when there is no head."""
    if head is None:
        return solid_color.to(directions.dtype).expand(directions.shape[0], 3)
    encoding = dome_encoding if mode == "dome" else direction_encoding
    return torch.sigmoid(head(encoding(directions)))
