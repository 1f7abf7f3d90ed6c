"""How each genre looks and moves in the procedural clips (exaggerated so it reads at 32x32).

Genre names match `conf/genre/*.yaml`. The look is stronger than the export grading of the
same genre: a small prior has to pick it up from tiny clips, and the attribute evaluator has
to recognise it from global colour statistics.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from t2v.genres import Grading


@dataclass(frozen=True)
class GenreLook:
    """Look and motion style of one genre in the procedural data."""

    name: str
    speed: float = 1.0  # multiplier on travel distance, spin angle, growth
    jitter: float = 0.0  # per-frame random position offset (world units)
    easing: str = "linear"  # linear | ease (slow in, slow out)
    subframes: int = 1  # renders averaged per frame: > 1 gives motion blur
    shading: str = "smooth"  # smooth | toon | hard | neon
    outline: bool = False  # dark contour around the object
    background_value: tuple[float, float] = (0.35, 0.85)  # brightness range of backgrounds
    background_chroma: float = 0.10  # backgrounds stay muted: the object carries the colour
    background_kinds: tuple[str, ...] = ("gradient", "floor", "texture", "solid")
    grid_lines: bool = False  # faint grid drawn over the background
    bloom: float = 0.0  # glow: blend with a blurred copy of the bright parts
    sparkles: int = 0  # twinkling dots per frame
    split_tone: float = 0.0  # teal shadows / orange highlights
    grading: Grading = field(default_factory=Grading)


GENRE_LOOKS: dict[str, GenreLook] = {
    look.name: look
    for look in (
        GenreLook("none"),
        GenreLook(
            "noir",
            speed=0.8,
            shading="hard",
            background_value=(0.12, 0.8),
            background_chroma=0.0,
            grading=Grading(
                saturation=0.25, contrast=1.9, brightness=0.08, vignette=0.45, grain=0.015
            ),
        ),
        GenreLook(
            "cartoon",
            speed=1.2,
            easing="ease",
            shading="toon",
            outline=True,
            background_value=(0.7, 0.95),
            background_chroma=0.06,
            background_kinds=("gradient", "solid", "floor"),
            grading=Grading(saturation=1.5, contrast=1.1, brightness=0.04),
        ),
        GenreLook(
            "horror",
            speed=0.9,
            background_value=(0.08, 0.3),
            background_chroma=0.03,
            grading=Grading(
                saturation=0.75,
                contrast=1.2,
                brightness=-0.05,
                tint=(1.25, 0.85, 0.85),
                vignette=0.6,
                grain=0.02,
                flicker=0.07,
            ),
        ),
        GenreLook(
            "documentary",
            speed=0.55,
            background_value=(0.35, 0.75),
            background_kinds=("floor", "gradient", "texture"),
            grading=Grading(
                saturation=0.55, contrast=0.85, brightness=0.03, tint=(1.02, 1.0, 0.95), grain=0.008
            ),
        ),
        GenreLook(
            "action",
            speed=1.5,
            subframes=3,
            split_tone=0.05,
            grading=Grading(
                saturation=1.25, contrast=1.35, tint=(1.08, 1.0, 0.9), vignette=0.25, grain=0.01
            ),
        ),
        GenreLook(
            "scifi",
            shading="neon",
            background_value=(0.02, 0.1),
            background_chroma=0.03,
            background_kinds=("gradient", "solid"),
            grid_lines=True,
            bloom=0.6,
            grading=Grading(saturation=1.3, contrast=1.2, tint=(0.85, 1.0, 1.2)),
        ),
        GenreLook(
            "fantasy",
            speed=0.8,
            background_value=(0.6, 0.9),
            background_chroma=0.08,
            bloom=0.4,
            sparkles=6,
            grading=Grading(
                saturation=1.15, contrast=0.85, brightness=0.06, gamma=1.15, tint=(1.1, 1.03, 0.85)
            ),
        ),
        GenreLook(
            "western",
            speed=0.9,
            background_value=(0.45, 0.8),
            background_chroma=0.06,
            background_kinds=("floor", "gradient", "texture"),
            grading=Grading(
                saturation=0.6, contrast=1.15, tint=(1.12, 1.0, 0.8), vignette=0.35, grain=0.025
            ),
        ),
    )
}
GENRES: tuple[str, ...] = tuple(GENRE_LOOKS)
