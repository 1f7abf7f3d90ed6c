"""Procedural video-text dataset: streamed, seeded clips of shaded objects with captions.

Item `index` depends only on `(seed, split, index)`, never on worker count or order, so a
stream is reproducible and resumable (`start=`). Workers and distributed ranks take
interleaved indices, so a DataLoader with any number of workers yields the same sequence.
"""

from __future__ import annotations

import functools
import math
import random
from collections.abc import Iterator, Sequence
from typing import Any

import torch
from torch.utils.data import IterableDataset, get_worker_info

from t2v.data.clips import BASE_ALBEDO, TRAVEL, ClipSpec, bounce_height, render_clip_and_mask
from t2v.data.looks import GENRE_LOOKS, GENRES, GenreLook
from t2v.data.shapes import FACING
from t2v.data.vocabulary import COLOURS, MOTIONS, SHAPES, check_split, make_caption
from t2v.errors import ConfigError

# Object centres stay inside this box (world units) so objects remain in frame.
FRAME_REACH = 0.75


class ProceduralVideoText(IterableDataset):
    """Endless (or `length`-long) stream of `{"video", "mask", "caption", "genre", "colour",
    "shape", "motion"}` items; `video` is `(frames, 3, height, width)` float in [0, 1], `mask`
    the object's coverage `(frames, 1, height, width)`."""

    def __init__(
        self,
        frames: int = 8,
        height: int = 32,
        width: int = 32,
        seed: int = 0,
        split: str = "train",
        genres: Sequence[str] | None = None,
        colours: Sequence[str] | None = None,
        shapes: Sequence[str] | None = None,
        motions: Sequence[str] | None = None,
        genre_caption_probability: float = 0.5,
        length: int | None = None,
        start: int = 0,
    ) -> None:
        super().__init__()
        if frames < 2 or height < 8 or width < 8:
            raise ConfigError(
                f"procedural clips need >= 2 frames and >= 8x8 pixels; "
                f"got {frames} frames of {height}x{width}"
            )
        self.frames, self.height, self.width = frames, height, width
        self.seed = seed
        self.split = check_split(split)
        self.genres = _choose("genre", genres, GENRES)
        self.colours = _choose("colour", colours, COLOURS)
        self.shapes = _choose("shape", shapes, SHAPES)
        self.motions = _choose("motion", motions, MOTIONS)
        if not 0.0 <= genre_caption_probability <= 1.0:
            raise ConfigError("genre_caption_probability must lie in [0, 1]")
        self.genre_caption_probability = genre_caption_probability
        self.length = length
        self.start = start

    def __len__(self) -> int:
        if self.length is None:
            raise TypeError("an endless ProceduralVideoText has no length; pass length=N")
        return self.length

    def spec(self, index: int) -> tuple[ClipSpec, str]:
        """The scene and caption of item `index` (cheap: nothing is rendered)."""
        rng = random.Random(f"t2v-procedural:{self.seed}:{self.split}:{index}")
        colour = rng.choice(self.colours)
        shape = rng.choice(self.shapes)
        motion = rng.choice(self.motions)
        genre = rng.choice(self.genres)
        caption = make_caption(colour, shape, motion, self.split, rng)
        if genre != "none" and rng.random() < self.genre_caption_probability:
            caption = genre_prompt_templates()[genre].format(prompt=caption)
        return sample_spec(colour, shape, motion, genre, rng), caption

    def item(self, index: int) -> dict[str, Any]:
        spec, caption = self.spec(index)
        video, mask = render_clip_and_mask(spec, self.frames, self.height, self.width)
        return {
            "video": video,
            "mask": mask,
            "caption": caption,
            "genre": spec.genre,
            "colour": spec.colour,
            "shape": spec.shape,
            "motion": spec.motion,
        }

    def __iter__(self) -> Iterator[dict[str, Any]]:
        shard, shards = _shard()
        index = self.start + shard
        while self.length is None or index < self.start + self.length:
            yield self.item(index)
            index += shards


def sample_spec(colour: str, shape: str, motion: str, genre: str, rng: random.Random) -> ClipSpec:
    """Draw everything else about a clip (look, placement, background) from `rng`."""
    look = GENRE_LOOKS[genre]
    radius = rng.uniform(0.33, 0.45)
    if motion in ("grow", "approach"):
        radius *= 0.75
    elif motion in ("shrink", "recede"):
        radius *= 1.3
    light = (rng.uniform(-0.6, 0.6), rng.uniform(0.1, 0.7), rng.uniform(0.7, 1.0))
    norm = math.sqrt(sum(c * c for c in light))
    return ClipSpec(
        colour=colour,
        shape=shape,
        motion=motion,
        genre=genre,
        albedo=_albedo(colour, rng),
        light=tuple(c / norm for c in light),  # type: ignore[arg-type]
        radius=radius,
        start=_start(motion, look, rng),
        tilt=rng.uniform(-0.2, 0.2) if shape in FACING else rng.uniform(0.25, 0.55),
        yaw=rng.uniform(0.0, 2 * math.pi),
        background=rng.choice(look.background_kinds),
        background_colours=tuple(_muted_colour(look, rng) for _ in range(3)),
        horizon=rng.uniform(0.4, 0.65),
        noise_seed=rng.getrandbits(31),
    )


def _start(motion: str, look: GenreLook, rng: random.Random) -> tuple[float, float, float]:
    """Centre at t = 0, placed so that the whole path stays in frame."""
    travel = TRAVEL * look.speed
    slack = max(FRAME_REACH - travel / 2, 0.0)
    along = rng.uniform(-slack, slack)
    across = rng.uniform(-0.4, 0.4)
    if motion in ("left", "right"):
        x = along + (travel / 2 if motion == "left" else -travel / 2)
        return (x, across, 0.0)
    if motion in ("up", "down"):
        y = along + (travel / 2 if motion == "down" else -travel / 2)
        return (across, y, 0.0)
    if motion == "bounce":
        low = -FRAME_REACH
        high = max(FRAME_REACH - bounce_height(look.speed), low)
        return (across, rng.uniform(low, min(high, -0.2)), 0.0)
    if motion in ("approach", "recede"):
        # Near the view axis, so perspective does not also slide the object sideways.
        depth = -0.7 if motion == "approach" else 0.7
        return (rng.uniform(-0.15, 0.15), rng.uniform(-0.15, 0.15), depth)
    return (rng.uniform(-0.4, 0.4), rng.uniform(-0.4, 0.4), 0.0)


def _albedo(colour: str, rng: random.Random) -> tuple[float, float, float]:
    """A shade of the canonical colour: brightness and purity vary, the hue does not."""
    base = BASE_ALBEDO[colour]
    value = rng.uniform(0.8, 1.08)
    fade = rng.uniform(0.0, 0.15)
    grey = sum(base) / 3
    return tuple(min(1.0, value * ((1 - fade) * c + fade * grey)) for c in base)  # type: ignore[return-value]


def _muted_colour(look: GenreLook, rng: random.Random) -> tuple[float, float, float]:
    value = rng.uniform(*look.background_value)
    chroma = rng.uniform(0.0, look.background_chroma)
    hue = rng.uniform(0.0, 2 * math.pi)
    # Offsets along two opponent axes keep the brightness and add a little colour.
    red_green = math.cos(hue) * chroma
    yellow_blue = math.sin(hue) * chroma
    rgb = (
        value + red_green,
        value - 0.5 * red_green + 0.87 * yellow_blue,
        value - 0.5 * red_green - 0.87 * yellow_blue,
    )
    return tuple(min(max(c, 0.0), 1.0) for c in rgb)  # type: ignore[return-value]


@functools.cache
def genre_prompt_templates() -> dict[str, str]:
    """`prompt_template` of each genre in conf/genre, so captions read like composed prompts."""
    import importlib.resources

    import yaml

    folder = importlib.resources.files("t2v.conf") / "genre"
    templates = {}
    for genre in GENRES:
        node = yaml.safe_load((folder / f"{genre}.yaml").read_text(encoding="utf-8"))
        templates[genre] = str(node["prompt_template"])
    return templates


def _choose(kind: str, chosen: Sequence[str] | None, known: tuple[str, ...]) -> tuple[str, ...]:
    """The values to draw from, uniformly; a value listed twice is drawn twice as often."""
    if chosen is None:
        return known
    chosen = tuple(chosen)
    unknown = [name for name in chosen if name not in known]
    if not chosen:
        raise ConfigError(f"no {kind} given; known: {', '.join(known)}")
    if unknown:  # repr: an empty name must show as ''
        names = ", ".join(repr(name) for name in unknown)
        raise ConfigError(f"unknown {kind}(s) {names}; known: {', '.join(known)}")
    return chosen


def _shard() -> tuple[int, int]:
    """This process's share of the index stream: (offset, stride) over ranks x workers."""
    rank, world = 0, 1
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        rank, world = torch.distributed.get_rank(), torch.distributed.get_world_size()
    worker = get_worker_info()
    worker_id, workers = (worker.id, worker.num_workers) if worker is not None else (0, 1)
    return rank * workers + worker_id, world * workers
