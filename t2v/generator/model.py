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

With `motion_heads > 0` the trajectory comes from a motion head of its own (`TokenMotion`): it
reads MiniLM's token states through learned attention, names one of `motion_classes` motions,
and the trajectory is that motion's learned path (a softmax mixture of the paths in training,
the most likely one in `field_for`). Why tokens: a motion is a word or two of the caption,
which the sentence vector's mean over every token dilutes. Why classes and paths rather than
regressing the knots: where a new phrasing leaves the head unsure, a regression averages the
motions into almost none, while a class still commits to one. Both measured on held-out
phrasings in experiments/scene_generator.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from t2v.errors import ConfigError
from t2v.field.scene_field import SceneField
from t2v.generator.film import fold_film, with_tensors
from t2v.models.blocks import TokenAttentionPool, sentence_vector

# The field's MLPs whose linear layers are modulated.
MODULATED_HEADS = ("density_head", "color_head", "background_head")


class TokenMotion(nn.Module):
    """Token states `(B, L, D)` and genre ids -> motion logits `(B, classes)`.

    Its own genre embedding, so training it alone leaves the FiLM untouched; the last layer
    starts at zero (every motion equally likely)."""

    def __init__(
        self, text_dim: int, genres: int, genre_dim: int, hidden: int, heads: int, outputs: int
    ) -> None:
        super().__init__()
        self.pool = TokenAttentionPool(text_dim, heads)
        self.genre_embedding = nn.Embedding(genres, genre_dim)
        self.mlp = nn.Sequential(
            nn.Linear(heads * text_dim + genre_dim, hidden), nn.SiLU(), nn.Linear(hidden, outputs)
        )
        nn.init.zeros_(self.mlp[-1].weight)
        nn.init.zeros_(self.mlp[-1].bias)

    def forward(self, tokens: Tensor, genre_ids: Tensor) -> Tensor:
        return self.mlp(torch.cat((self.pool(tokens), self.genre_embedding(genre_ids)), dim=1))


class SceneGenerator(nn.Module):
    """A template field plus the conditioning network (module docstring).

    `text` inputs are sentence vectors `(B, text_dim)` (MiniLM's, `t2v.generator.shipped`), or
    token states `(B, L, text_dim)` for a generator with a motion head (`reads_tokens`; the
    sentence vector is then their pooled mean); genres are indices into `genres`. The last
    layers start at zero, so before training every prompt gets the template itself. Trajectory
    knots are `max_offset * tanh(raw)` (world units): bounded, so no prompt can push its object
    out of the scene box.
    """

    def __init__(
        self,
        field: SceneField,
        genres: Sequence[str],
        text_dim: int = 384,
        genre_dim: int = 16,
        hidden_dim: int = 256,
        max_offset: float = 0.8,
        motion_heads: int = 0,
        motion_classes: int = 0,
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
        self.motion: TokenMotion | None = None
        if motion_heads > 0 and (self.trajectory_shape is None or motion_classes < 2):
            raise ConfigError(
                "a motion head (motion_heads > 0) needs a field with trajectory_knots and at "
                "least two motion classes"
            )
        if motion_heads > 0:
            self.motion = TokenMotion(
                text_dim, len(self.genres), genre_dim, hidden_dim, motion_heads, motion_classes
            )
            # Each motion's path: raw knots, as the trunk would give them (zero: standing still).
            self.motion_paths = nn.Parameter(
                torch.zeros(motion_classes, _numel(self.trajectory_shape))
            )
        total = 2 * sum(widths) + _numel(self.exposure_shape)
        if self.motion is None:
            total += _numel(self.trajectory_shape)
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

    @property
    def reads_tokens(self) -> bool:
        """Whether `text` inputs are token states `(B, L, text_dim)` (a motion head reads them)."""
        return self.motion is not None

    def sentences(self, text: Tensor) -> Tensor:
        """The sentence vectors `(B, text_dim)` of `text` inputs, their shape checked."""
        expected = 3 if self.reads_tokens else 2
        if text.dim() != expected or text.shape[-1] != self.text_dim:
            kind = "token states (B, L, D)" if self.reads_tokens else "sentence vectors (B, D)"
            raise ValueError(f"expected {kind} with D={self.text_dim}, got {tuple(text.shape)}")
        return sentence_vector(text) if self.reads_tokens else text

    @torch.no_grad()
    def set_text_statistics(self, text: Tensor) -> None:
        """Standardise inputs by the mean and spread of `text` inputs' sentence vectors."""
        text = self.sentences(text)
        self.text_mean.copy_(text.mean(dim=0))
        self.text_std.copy_(text.std(dim=0).clamp(min=1e-3))

    def genre_id(self, genre: str) -> int:
        """Index of `genre`; a genre the generator was not trained with is refused."""
        if genre not in self.genres:
            known = ", ".join(name or "''" for name in self.genres)
            raise ConfigError(f"the scene generator does not know genre '{genre}' (knows: {known})")
        return self.genres.index(genre)

    def modulation(self, text: Tensor, genre_ids: Tensor) -> Tensor:
        """Raw conditioning outputs `(B, total)` of `text` inputs (FiLM, knots)."""
        standard = (self.sentences(text) - self.text_mean) / self.text_std
        condition = torch.cat((standard, self.genre_embedding(genre_ids)), dim=1)
        return self.out(self.trunk(condition))

    def motion_logits(self, text: Tensor, genre_ids: Tensor) -> Tensor:
        """`(B, motion_classes)`: which motion the motion head reads in each prompt."""
        if self.motion is None:
            raise ValueError("this generator has no motion head (motion_heads = 0)")
        return self.motion(text, genre_ids)

    def motion_knots(self, text: Tensor, genre_ids: Tensor, hard: bool) -> Tensor:
        """Raw trajectory knots `(B, knots * 3)`: the paths mixed by the motion's softmax, or
        with `hard` the most likely motion's path."""
        logits = self.motion_logits(text, genre_ids)
        if hard:
            weights = nn.functional.one_hot(logits.argmax(dim=1), logits.shape[1])
            return weights.to(self.motion_paths.dtype) @ self.motion_paths
        return logits.softmax(dim=1) @ self.motion_paths

    def folded(
        self, text: Tensor, genre_ids: Tensor, hard: bool = False
    ) -> list[dict[str, Tensor]]:
        """Per prompt, the field's modulated parameters by name (FiLM folded into the linear
        layers, the curves' knots), differentiable in the generator's parameters."""
        raw = self.modulation(text, genre_ids)
        motion = self.motion_knots(text, genre_ids, hard) if self.motion is not None else None
        result = []
        for number, row in enumerate(raw):
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
                if motion is not None:
                    knots = motion[number].view(self.trajectory_shape)
                else:
                    knots = row[at : at + count].view(self.trajectory_shape)
                    at += count
                tensors["trajectory.offsets"] = self.max_offset * torch.tanh(knots)
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
        """The plain SceneField (a copy, detached) of one prompt's `text` input (a sentence
        vector `(text_dim,)`, or token states `(L, text_dim)` where `reads_tokens`) and
        `genre`: what `schedule=instant` renders and `init=amortised` starts from."""
        genre_ids = torch.tensor([self.genre_id(genre)], device=text.device)
        (tensors,) = self.folded(text[None].to(self.out.weight.dtype), genre_ids, hard=True)
        field = copy.deepcopy(self.template)
        for name, value in tensors.items():
            field.get_parameter(name).copy_(value)
        field.static_only = False
        return field


def adopted_state(source: SceneGenerator, target: SceneGenerator) -> dict[str, Tensor]:
    """`source`'s weights for `target`. A target with a motion head where the source has none
    takes the source's FiLM and exposure rows of `out` (not its trajectory rows) and keeps its
    own fresh motion head; otherwise the state is the source's as it is."""
    state = source.state_dict()
    if source.motion is None and target.motion is not None and source.trajectory_shape:
        film = 2 * sum(source.film_widths)
        knots = _numel(source.trajectory_shape)
        rows = source.out.out_features
        keep = torch.cat((torch.arange(film), torch.arange(film + knots, rows)))
        state["out.weight"], state["out.bias"] = state["out.weight"][keep], state["out.bias"][keep]
        state |= {f"motion.{name}": value for name, value in target.motion.state_dict().items()}
        state["motion_paths"] = target.motion_paths.detach().clone()
    return state


def _numel(shape: tuple[int, ...] | None) -> int:
    if shape is None:
        return 0
    count = 1
    for side in shape:
        count *= side
    return count
