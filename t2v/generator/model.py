"""`SceneGenerator`: prompt + genre -> a plain `SceneField` in one forward pass (a field factory).

Amortised text-to-4D (ATT3D's idea) sized for a CPU. One template `SceneField` (feature planes,
MLP heads, background, global trajectory) is shared by every prompt; a conditioning MLP reads
MiniLM's sentence vector of the prompt and a learned genre embedding and gives (a) a FiLM
(gain, shift) of the pre-activation of every linear layer of the field's MLPs (density head,
colour head, background head) and (b) the knots of the global trajectory (and of the exposure
curve, where the field has one). Why FiLM on the heads and not a hypernetwork for the planes:
what differs between prompts of this domain is colour (colour head), backdrop (genre look:
background head), where the object goes (trajectory) and which of the shared plane features
make its shape (density head); those are a few thousand numbers, the planes half a million.
A FiLM folds exactly into its linear layer (`t2v.generator.film`), so `field_for` returns a
PLAIN SceneField of the template's configuration: renderers, stages, exports and resumes take
it unchanged, and a warm start is a full-resolution field, not a low-rank one.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from t2v.errors import ConfigError
from t2v.field.scene_field import SceneField
from t2v.generator.film import fold_film, with_tensors

# The field's MLPs whose linear layers are modulated.
MODULATED_HEADS = ("density_head", "color_head", "background_head")


class SceneGenerator(nn.Module):
    """A template field plus the conditioning network (module docstring).

    `text` inputs are sentence vectors `(B, text_dim)` (MiniLM's, `t2v.generator.shipped`);
    genres are indices into `genres`. The last layer starts at zero, so before training every
    prompt gets the template itself. Trajectory knots are `max_offset * tanh(raw)` (world units):
    bounded, so no prompt can push its object out of the scene box.
    """

    def __init__(
        self,
        field: SceneField,
        genres: Sequence[str],
        text_dim: int = 384,
        genre_dim: int = 16,
        hidden_dim: int = 256,
        max_offset: float = 0.8,
    ) -> None:
        super().__init__()
        if not isinstance(field, SceneField):
            raise ConfigError(f"the scene generator needs a SceneField, not {type(field).__name__}")
        if not genres or len(set(genres)) != len(genres):
            raise ConfigError("the scene generator needs a list of distinct genres")
        self.template = field
        self.genres = tuple(genres)
        self.text_dim = text_dim
        self.max_offset = max_offset
        self.layers = [
            name
            for name, module in field.named_modules()
            if isinstance(module, nn.Linear) and name.split(".")[0] in MODULATED_HEADS
        ]
        # Each layer takes a gain and a shift per output unit; then the curves' knots.
        widths = [field.get_submodule(name).out_features for name in self.layers]
        self.film_widths = widths
        self.trajectory_shape = (
            tuple(field.trajectory.offsets.shape) if field.trajectory is not None else None
        )
        self.exposure_shape = (
            tuple(field.exposure.gains.shape) if field.exposure is not None else None
        )
        total = 2 * sum(widths)
        total += _numel(self.trajectory_shape) + _numel(self.exposure_shape)
        # Captions of one domain have nearly equal sentence vectors (unit norm, cosine ~0.8):
        # the network reads them standardised per dimension over the training prompts
        # (`set_text_statistics`), so what differs between prompts is what it sees.
        self.register_buffer("text_mean", torch.zeros(text_dim))
        self.register_buffer("text_std", torch.ones(text_dim))
        self.genre_embedding = nn.Embedding(len(self.genres), genre_dim)
        self.trunk = nn.Sequential(
            nn.Linear(text_dim + genre_dim, hidden_dim),
            nn.SiLU(),
            nn.Linear(hidden_dim, hidden_dim),
            nn.SiLU(),
        )
        self.out = nn.Linear(hidden_dim, total)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    @torch.no_grad()
    def set_text_statistics(self, text: Tensor) -> None:
        """Standardise inputs by the mean and spread of sentence vectors `(N, text_dim)`."""
        self.text_mean.copy_(text.mean(dim=0))
        self.text_std.copy_(text.std(dim=0).clamp(min=1e-3))

    def genre_id(self, genre: str) -> int:
        """Index of `genre`; a genre the generator was not trained with is refused."""
        if genre not in self.genres:
            known = ", ".join(name or "''" for name in self.genres)
            raise ConfigError(f"the scene generator does not know genre '{genre}' (knows: {known})")
        return self.genres.index(genre)

    def modulation(self, text: Tensor, genre_ids: Tensor) -> Tensor:
        """Raw conditioning outputs `(B, total)` for sentence vectors `(B, text_dim)`."""
        if text.dim() != 2 or text.shape[1] != self.text_dim:
            raise ValueError(f"expected text vectors (B, {self.text_dim}), got {tuple(text.shape)}")
        standard = (text - self.text_mean) / self.text_std
        condition = torch.cat((standard, self.genre_embedding(genre_ids)), dim=1)
        return self.out(self.trunk(condition))

    def folded(self, text: Tensor, genre_ids: Tensor) -> list[dict[str, Tensor]]:
        """Per prompt, the field's modulated parameters by name (FiLM folded into the linear
        layers, the curves' knots), differentiable in the generator's parameters."""
        raw = self.modulation(text, genre_ids)
        result = []
        for row in raw:
            tensors: dict[str, Tensor] = {}
            at = 0
            for name, width in zip(self.layers, self.film_widths, strict=True):
                gain = 1.0 + row[at : at + width]
                shift = row[at + width : at + 2 * width]
                at += 2 * width
                layer = self.template.get_submodule(name)
                weight, bias = fold_film(layer.weight, layer.bias, gain, shift)
                tensors[f"{name}.weight"], tensors[f"{name}.bias"] = weight, bias
            if self.trajectory_shape is not None:
                count = _numel(self.trajectory_shape)
                knots = row[at : at + count].view(self.trajectory_shape)
                tensors["trajectory.offsets"] = self.max_offset * torch.tanh(knots)
                at += count
            if self.exposure_shape is not None:
                count = _numel(self.exposure_shape)
                tensors["exposure.gains"] = row[at : at + count].view(self.exposure_shape)
            result.append(tensors)
        return result

    def fields(self, text: Tensor, genre_ids: Tensor) -> list[SceneField]:
        """One differentiable field per prompt for training: the template with its modulated
        parameters swapped in (`with_tensors`), everything else shared with it."""
        return [
            with_tensors(self.template, tensors)  # type: ignore[misc]
            for tensors in self.folded(text, genre_ids)
        ]

    @torch.no_grad()
    def field_for(self, text: Tensor, genre: str) -> SceneField:
        """The plain SceneField (a copy, detached) of one prompt's sentence vector `(text_dim,)`
        and `genre`: what `schedule=instant` renders and `init=amortised` starts from."""
        genre_ids = torch.tensor([self.genre_id(genre)], device=text.device)
        (tensors,) = self.folded(text[None].to(self.out.weight.dtype), genre_ids)
        field = copy.deepcopy(self.template)
        for name, value in tensors.items():
            field.get_parameter(name).copy_(value)
        field.static_only = False
        return field


def _numel(shape: tuple[int, ...] | None) -> int:
    if shape is None:
        return 0
    count = 1
    for side in shape:
        count *= side
    return count
