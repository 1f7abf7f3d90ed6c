"""Render one procedural clip: a shaded 3D object, sphere-traced, moving over a background.

A frontal pinhole camera sits on +z looking at the origin (the t2v convention), so screen
"left" is world -x and screen "up" is world +y. Everything is batched over frames with torch.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from t2v.data.looks import GENRE_LOOKS, GenreLook
from t2v.data.shapes import FACING, SHAPE_SDFS, STRIPED

CAMERA_DISTANCE = 3.0
FOV_Y_DEG = 40.0
MARCH_STEPS = 36
BOUNDING_RADIUS = 1.3  # every shape fits in this sphere (object units)

TRAVEL = 1.0  # world units crossed by left/right/up/down clips at speed 1
BOUNCE_HEIGHT = 0.7
SPIN_ANGLE = 1.2 * math.pi
GROWTH = 1.9  # scale factor of grow/shrink clips at speed 1
DEPTH_TRAVEL = 1.5  # world units towards/away from the camera for approach/recede

# Albedo of each canonical colour (sRGB, before shading and grading).
BASE_ALBEDO: dict[str, tuple[float, float, float]] = {
    "red": (0.85, 0.10, 0.08),
    "orange": (0.95, 0.45, 0.05),
    "yellow": (0.95, 0.85, 0.10),
    "green": (0.15, 0.75, 0.15),
    "cyan": (0.05, 0.78, 0.85),
    "blue": (0.12, 0.32, 0.95),
    "purple": (0.62, 0.22, 0.95),
    "pink": (0.95, 0.25, 0.65),
}


@dataclass(frozen=True)
class ClipSpec:
    """Everything that decides one clip's pixels (the caption is drawn alongside)."""

    colour: str
    shape: str
    motion: str
    genre: str
    albedo: tuple[float, float, float]
    light: tuple[float, float, float]  # unit vector towards the light, world space
    radius: float  # object scale in world units at t = 0
    start: tuple[float, float, float]  # object centre at t = 0
    tilt: float  # rotation about x (radians) so the top face shows
    yaw: float  # spin angle at t = 0 (about the up axis; facing shapes: about the view axis)
    background: str  # gradient | floor | texture | solid
    background_colours: tuple[tuple[float, float, float], ...]  # three colours
    horizon: float  # floor backgrounds: horizon height as a fraction of the frame
    noise_seed: int  # textures, jitter, grain, flicker, sparkles


def object_path(
    spec: ClipSpec, look: GenreLook, times: torch.Tensor, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Centres `(S, 3)`, scales `(S,)` and yaw angles `(S,)` at scene times `(S,)` in [0, 1]."""
    u = times
    if look.easing == "ease":
        u = u * u * (3 - 2 * u)
    amount = look.speed
    centres = torch.tensor(spec.start).repeat(len(times), 1)
    scales = torch.full_like(times, spec.radius)
    yaws = torch.full_like(times, spec.yaw)
    motion = spec.motion
    if motion in ("left", "right"):
        centres[:, 0] += (1.0 if motion == "right" else -1.0) * TRAVEL * amount * u
    elif motion in ("up", "down"):
        centres[:, 1] += (1.0 if motion == "up" else -1.0) * TRAVEL * amount * u
    elif motion == "bounce":
        centres[:, 1] += bounce_height(amount) * torch.sin(2 * math.pi * u).abs()
    elif motion == "spin":
        yaws = yaws + SPIN_ANGLE * min(amount, 1.25) * u
    elif motion == "grow":
        scales = scales * GROWTH ** (amount * u)
    elif motion == "shrink":
        scales = scales * GROWTH ** (-amount * u)
    elif motion in ("approach", "recede"):
        centres[:, 2] += (1.0 if motion == "approach" else -1.0) * DEPTH_TRAVEL * amount * u
    if look.jitter > 0:
        shake = torch.randn(len(times), 2, generator=generator) * look.jitter
        centres[:, :2] += shake
    return centres, scales, yaws


def bounce_height(speed: float) -> float:
    return min(BOUNCE_HEIGHT * speed, 1.0)


@contextlib.contextmanager
def single_thread() -> Iterator[None]:
    """Run torch on one thread inside the block: these tensors are tiny, and on a busy
    machine intra-op threads make rendering several times slower, not faster."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def render_clip_and_mask(
    spec: ClipSpec, frames: int, height: int, width: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The clip `(frames, 3, H, W)` and the object's coverage `(frames, 1, H, W)`, in [0, 1]."""
    with single_thread():
        return _render_clip(spec, frames, height, width)


def _render_clip(
    spec: ClipSpec, frames: int, height: int, width: int
) -> tuple[torch.Tensor, torch.Tensor]:
    look = GENRE_LOOKS[spec.genre]
    generator = torch.Generator().manual_seed(spec.noise_seed)
    subframes = look.subframes
    frame_times = torch.linspace(0.0, 1.0, frames)
    if subframes > 1:
        # A shutter open for the whole frame interval: renders spread around each frame time.
        offsets = (torch.arange(subframes) - (subframes - 1) / 2) / (subframes * max(frames - 1, 1))
        times = (frame_times[:, None] + offsets[None, :]).reshape(-1)
    else:
        times = frame_times
    centres, scales, yaws = object_path(spec, look, times, generator)
    rgb, alpha = _render_cropped(spec, look, centres, scales, yaws, height, width)
    # Screen-space effects are sized in pixels of a 32-pixel-high frame, so a clip looks the
    # same at any resolution (the SR prior learns from larger renders of the same scenes).
    pixel = max(1, round(height / 32))
    background = _background(spec, look, height, width, generator, pixel)
    video = background * (1 - alpha) + rgb * alpha
    video = video.view(frames, subframes, 3, height, width).mean(dim=1)
    alpha = alpha.view(frames, subframes, 1, height, width).mean(dim=1)
    if look.outline:
        video = _outline(video, alpha, pixel)
    if look.sparkles:
        video = _sparkles(video, alpha, look.sparkles, generator, pixel)
    if look.bloom > 0:
        glow = _blur((video - 0.5).clamp(min=0.0), passes=2, pixel=pixel)
        video = video + look.bloom * 2.0 * glow
    if look.split_tone > 0:
        video = _split_tone(video, look.split_tone)
    return look.grading.apply(video.clamp(0.0, 1.0), seed=spec.noise_seed), alpha


def _rays(height: int, width: int) -> tuple[torch.Tensor, float]:
    """Unit ray directions `(H, W, 3)` of the frontal camera and the angular size of a pixel."""
    tan_half = math.tan(math.radians(FOV_Y_DEG) / 2)
    ys = (1 - (torch.arange(height) + 0.5) / height * 2) * tan_half
    xs = ((torch.arange(width) + 0.5) / width * 2 - 1) * tan_half * width / height
    directions = torch.stack(
        [
            xs[None, :].expand(height, width),
            ys[:, None].expand(height, width),
            -torch.ones(height, width),
        ],
        dim=-1,
    )
    return F.normalize(directions, dim=-1), 2 * tan_half / height


def _rotations(tilt: float, yaws: torch.Tensor, facing: bool) -> torch.Tensor:
    """World-from-object rotations `(S, 3, 3)`: spin (about y, or z if `facing`), then tilt."""
    cos_y, sin_y = torch.cos(yaws), torch.sin(yaws)
    zeros, ones = torch.zeros_like(yaws), torch.ones_like(yaws)
    if facing:
        entries = [cos_y, -sin_y, zeros, sin_y, cos_y, zeros, zeros, zeros, ones]
    else:
        entries = [cos_y, zeros, sin_y, zeros, ones, zeros, -sin_y, zeros, cos_y]
    spin = torch.stack(entries, dim=-1).view(-1, 3, 3)
    cos_t, sin_t = math.cos(tilt), math.sin(tilt)
    tilt_matrix = torch.tensor([[1.0, 0.0, 0.0], [0.0, cos_t, -sin_t], [0.0, sin_t, cos_t]])
    return tilt_matrix @ spin


def _render_cropped(
    spec: ClipSpec,
    look: GenreLook,
    centres: torch.Tensor,
    scales: torch.Tensor,
    yaws: torch.Tensor,
    height: int,
    width: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Sphere-trace only the pixels the object can cover in some frame: its bounding sphere,
    projected, over the whole clip (a few times fewer rays than the full frame)."""
    tan_half = math.tan(math.radians(FOV_Y_DEG) / 2)
    distance = (CAMERA_DISTANCE - centres[:, 2]).clamp(min=1e-3)
    bound = BOUNDING_RADIUS * scales
    reach = bound / (distance - bound).clamp(min=1e-3) / tan_half  # half-extent, NDC units
    x = centres[:, 0] / distance / tan_half / (width / height)
    y = centres[:, 1] / distance / tan_half
    col_lo = _to_pixel(float((x - reach * height / width).min()), width, False)
    col_hi = _to_pixel(float((x + reach * height / width).max()), width, True)
    row_lo = _to_pixel(float(-(y + reach).max()), height, False)
    row_hi = _to_pixel(float(-(y - reach).min()), height, True)
    samples = len(centres)
    rgb = torch.zeros(samples, 3, height, width)
    alpha = torch.zeros(samples, 1, height, width)
    if row_hi <= row_lo or col_hi <= col_lo:
        return rgb, alpha
    window = (slice(row_lo, row_hi), slice(col_lo, col_hi))
    rgb[..., window[0], window[1]], alpha[..., window[0], window[1]] = _render_object(
        spec, look, centres, scales, yaws, height, width, window
    )
    return rgb, alpha


def _to_pixel(ndc: float, size: int, upper: bool) -> int:
    """Pixel index bounding NDC coordinate `ndc` (-1 = first pixel edge), one pixel of margin."""
    position = (ndc + 1) / 2 * size
    pixel = math.ceil(position) + 1 if upper else math.floor(position) - 1
    return min(max(pixel, 0), size)


def _render_object(
    spec: ClipSpec,
    look: GenreLook,
    centres: torch.Tensor,
    scales: torch.Tensor,
    yaws: torch.Tensor,
    height: int,
    width: int,
    window: tuple[slice, slice],
) -> tuple[torch.Tensor, torch.Tensor]:
    """Object colour `(S, 3, h, w)` and coverage `(S, 1, h, w)` in a pixel window."""
    sdf = SHAPE_SDFS[spec.shape]
    directions, pixel_angle = _rays(height, width)
    directions = directions[window]
    height, width = directions.shape[:2]
    world_from_object = _rotations(spec.tilt, yaws, spec.shape in FACING)  # (S, 3, 3)
    object_from_world = world_from_object.transpose(1, 2)
    offsets = torch.tensor([0.0, 0.0, CAMERA_DISTANCE]) - centres  # camera, from each centre
    # Rays in object space, as separate coordinates (S, H, W): a point at depth t is
    # origin + t / scale * direction there.
    local_origin = (object_from_world @ offsets[:, :, None])[..., 0] / scales[:, None]
    origin = [local_origin[:, i].view(-1, 1, 1) for i in range(3)]
    ray = [_rotate_row(object_from_world, i, directions) for i in range(3)]
    inv_scale = (1.0 / scales).view(-1, 1, 1)
    scale = scales.view(-1, 1, 1)

    def point(depth: torch.Tensor) -> list[torch.Tensor]:
        along = depth * inv_scale
        return [origin[i] + along * ray[i] for i in range(3)]

    samples = len(centres)
    depth = torch.full((samples, height, width), CAMERA_DISTANCE - 2.2)
    best_ratio = torch.full_like(depth, float("inf"))
    best_depth = depth
    far = 2 * CAMERA_DISTANCE
    for iteration in range(MARCH_STEPS):
        step = sdf(*point(depth)) * scale
        ratio = step / (depth * pixel_angle)  # distance to the surface in pixels
        closer = ratio < best_ratio
        best_ratio = torch.where(closer, ratio, best_ratio)
        best_depth = torch.where(closer, depth, best_depth)
        depth = (depth + step).clamp(max=far)
        if iteration % 4 == 3 and bool(((step < 1e-3) | (depth >= far)).all()):
            break  # every ray has hit or left the scene
    alpha = (1.0 - best_ratio).clamp(0.0, 1.0)

    x, y, z = point(best_depth)
    eps = 0.02
    gradient = [
        sdf(x + eps, y, z) - sdf(x - eps, y, z),
        sdf(x, y + eps, z) - sdf(x, y - eps, z),
        sdf(x, y, z + eps) - sdf(x, y, z - eps),
    ]
    normals = F.normalize(torch.stack(gradient, dim=-1), dim=-1)
    world_normals = torch.einsum("sij,shwj->shwi", world_from_object, normals)
    albedo = torch.tensor(spec.albedo).expand(*x.shape, 3)
    if spec.shape in STRIPED:
        around = torch.atan2(y, x) if spec.shape in FACING else torch.atan2(z, x)
        stripes = torch.sin(4 * around) > 0
        albedo = albedo * torch.where(stripes, 1.0, 0.6)[..., None]
    rgb = _shade(look.shading, albedo, world_normals, directions, torch.tensor(spec.light))
    return rgb.permute(0, 3, 1, 2).clamp(0, 1), alpha[:, None]


def _rotate_row(rotations: torch.Tensor, row: int, vectors: torch.Tensor) -> torch.Tensor:
    """Coordinate `row` of `rotations (S, 3, 3)` applied to `vectors (H, W, 3)`: `(S, H, W)`."""
    weights = rotations[:, row, :]
    return sum(weights[:, j].view(-1, 1, 1) * vectors[..., j] for j in range(3))  # type: ignore[return-value]


def _shade(
    shading: str,
    albedo: torch.Tensor,
    normals: torch.Tensor,
    directions: torch.Tensor,
    light: torch.Tensor,
) -> torch.Tensor:
    """Colour `(S, H, W, 3)` from albedo and normals under one directional light."""
    diffuse = (normals @ light).clamp(min=0.0)[..., None]
    half_vector = F.normalize(light - directions, dim=-1)
    specular = ((normals * half_vector).sum(-1).clamp(min=0.0) ** 24)[..., None]
    if shading == "toon":
        return albedo * torch.where(diffuse > 0.45, 1.0, 0.62)
    if shading == "hard":
        return albedo * (0.06 + 0.94 * diffuse) + 0.45 * specular**2
    if shading == "neon":
        rim = (1.0 + (normals * directions).sum(-1)).clamp(0.0, 1.0)[..., None] ** 2
        return albedo * (0.6 + 0.4 * diffuse) + 0.8 * rim * albedo
    return albedo * (0.35 + 0.65 * diffuse) + 0.3 * specular


def _background(
    spec: ClipSpec,
    look: GenreLook,
    height: int,
    width: int,
    generator: torch.Generator,
    pixel: int,
) -> torch.Tensor:
    """A static background `(1, 3, H, W)`."""
    top, bottom, floor = (torch.tensor(c).view(3, 1, 1) for c in spec.background_colours)
    rows = torch.linspace(0.0, 1.0, height).view(1, height, 1)
    cols = torch.linspace(-1.0, 1.0, width).view(1, 1, width)
    if spec.background == "solid":
        image = top.expand(3, height, width)
    elif spec.background == "gradient":
        image = top + (bottom - top) * rows
    elif spec.background == "texture":
        coarse = torch.rand(1, 1, 5, 5, generator=generator)
        blend = F.interpolate(coarse, size=(height, width), mode="bicubic", align_corners=True)
        image = top + (bottom - top) * blend[0].clamp(0.0, 1.0)
    else:  # floor: sky gradient above a perspective checkerboard
        horizon = spec.horizon
        sky = top + (bottom - top) * (rows / horizon).clamp(max=1.0)
        below = (rows - horizon).clamp(min=1e-3)
        floor_depth = 0.25 / below
        checker = (torch.floor(cols * floor_depth * 2.0) + torch.floor(floor_depth * 2.0)) % 2
        ground = floor * (0.85 + 0.15 * checker)
        image = torch.where(rows > horizon, ground, sky)
    if look.grid_lines:
        lines = (torch.arange(height) // pixel % 6 == 3).view(1, -1, 1) | (
            torch.arange(width) // pixel % 6 == 3
        ).view(1, 1, -1)
        image = image + 0.12 * lines * torch.tensor([0.8, 0.9, 1.0]).view(3, 1, 1)
    return image.expand(3, height, width)[None].clamp(0.0, 1.0)


def _blur(video: torch.Tensor, passes: int = 1, pixel: int = 1) -> torch.Tensor:
    size = 2 * pixel + 1
    for _ in range(passes):
        video = F.avg_pool2d(video, size, stride=1, padding=pixel, count_include_pad=False)
    return video


def _outline(video: torch.Tensor, alpha: torch.Tensor, pixel: int) -> torch.Tensor:
    inside = (alpha > 0.5).float()
    ring = F.max_pool2d(inside, 2 * pixel + 1, stride=1, padding=pixel) - inside
    return video * (1 - ring) + 0.05 * ring


def _sparkles(
    video: torch.Tensor,
    alpha: torch.Tensor,
    count: int,
    generator: torch.Generator,
    pixel: int,
) -> torch.Tensor:
    """Twinkling dots in the air around the object (never on it)."""
    frames, _, height, width = video.shape
    rows, cols = -(-height // pixel), -(-width // pixel)
    dots = torch.zeros(frames, 1, rows * cols)
    positions = torch.randint(0, rows * cols, (frames, count), generator=generator)
    dots.scatter_(2, positions[:, None, :], 1.0)
    dots = dots.view(frames, 1, rows, cols)
    glow = dots + 0.5 * (F.max_pool2d(dots, 3, stride=1, padding=1) - dots)
    glow = glow.repeat_interleave(pixel, dim=2).repeat_interleave(pixel, dim=3)
    return video + 0.7 * glow[..., :height, :width] * (1 - alpha)


def _split_tone(video: torch.Tensor, strength: float) -> torch.Tensor:
    luma = (video * torch.tensor([0.299, 0.587, 0.114]).view(3, 1, 1)).sum(1, keepdim=True)
    teal = torch.tensor([-1.0, 0.3, 0.5]).view(3, 1, 1)
    orange = torch.tensor([0.6, 0.1, -0.6]).view(3, 1, 1)
    return video + strength * ((1 - luma) * teal + luma * orange)
