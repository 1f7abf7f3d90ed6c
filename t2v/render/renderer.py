"""The volume renderer: cameras + times + a field -> frames, opacity and depth, chunk by chunk.

It draws fields of kind `volume` (`t2v.field.base.Field`): `field(points (N,3), times (N,1),
directions (N,3))` gives density and colour at the samples along every ray, `field.density`
feeds the occupancy grid, `field.background(directions (R,3))` is the colour where rays leave
the scene, and `field.expose(colour (R,3), times (R,1))` applies the scene's lighting over time
to every composited pixel.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from t2v.errors import ConfigError
from t2v.field.base import Field
from t2v.field.gaussians import GaussianField
from t2v.field.splats import SplatField
from t2v.render.cameras import Cameras
from t2v.render.compositing import composite
from t2v.render.gaussian_renderer import render_gaussians
from t2v.render.occupancy import OccupancyConfig, OccupancyGrid
from t2v.render.rays import num_rays, rays_for_indices
from t2v.render.sampling import intersect_box, stratified_samples
from t2v.schema import (
    Bool,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    parse,
    settings,
)


@settings
class RendererConfig:
    """What a VolumeRenderer is built with (the `renderer` config node, less its cameras)."""

    num_samples: PositiveInt = 64  # samples per ray across the scene box
    chunk_rays: PositiveInt = 4096  # rays rendered at once; bounds peak memory at any resolution
    box_radius: PositiveFloat = 1.0  # the scene box is [-r, r]^3
    min_near: NonNegativeFloat = 0.0  # closest sample distance from the camera
    checkpoint_chunks: Bool = True  # recompute chunks in backward: bounded training memory
    # ...in renders of at least this many rays (0: all): 64^2 x 16-frame clips keep their speed.
    checkpoint_min_rays: NonNegativeInt = 262144
    # Training rays through a random point of their pixel, not its centre: the field is then
    # fitted over each pixel's area, so a render at a higher resolution shows no grid of
    # untrained gaps between the training resolution's pixel centres (eval: centres).
    pixel_jitter: Bool = True
    occupancy: OccupancyConfig = field(default_factory=OccupancyConfig)


@dataclass
class RayBundleOutput:
    """Per-ray results: rgb (R, 3) with background, opacity (R,), depth (R,), weights (R, S)."""

    rgb: Tensor
    opacity: Tensor
    depth: Tensor
    weights: Tensor | None
    evaluated_samples: int


@dataclass
class RenderOutput:
    """Rendered frames: rgb (B,T,3,H,W) in [0,1] with background, opacity and depth (B,T,1,H,W).

    weights (B,T,H,W,S) only when asked for. evaluated_samples counts field evaluations (what
    occupancy skipping saves); total_samples = rays x samples per ray.
    """

    rgb: Tensor
    opacity: Tensor
    depth: Tensor
    weights: Tensor | None
    evaluated_samples: int
    total_samples: int


class VolumeRenderer(nn.Module):
    """Stratified volume rendering with occupancy skipping, background blending and chunking.

    Samples are jittered inside their bins in training mode (`renderer.train()`), and rays
    inside their pixels where `pixel_jitter` is on; in eval mode samples sit at bin midpoints
    and rays pass through pixel centres. The occupancy grid is a submodule, so its state is
    saved with the renderer.
    """

    def __init__(self, config: RendererConfig | None = None, **changes: Any) -> None:
        """`changes`: RendererConfig fields by name, over `config` (what a `_target_` node
        passes; `occupancy` may be a mapping). A bad one is a ConfigError naming the key."""
        super().__init__()
        base = asdict(config or RendererConfig())
        self.config: RendererConfig = parse(RendererConfig, {**base, **changes}, "renderer")
        self.occupancy = OccupancyGrid(self.config.occupancy, self.config.box_radius)

    def update_occupancy(
        self, field: Field, step: int, generator: torch.Generator | None = None
    ) -> bool:
        """Call once per training step; updates the grid on its schedule. True if updated.
        Rasterized (`gaussians`) fields are not ray-marched: their grid is never updated."""
        if field.capabilities.kind != "volume":
            return False
        return self.occupancy.maybe_update(field, step, generator)

    def render(
        self,
        field: Field,
        cameras: Cameras,
        times: Tensor,
        generator: torch.Generator | None = None,
        return_weights: bool = False,
    ) -> RenderOutput:
        """Render every pixel of `cameras` (B, T) at scene times `times` (B, T) in [0, 1].

        A `gaussians` field is rasterized instead (`t2v.render.gaussian_renderer`), with its own
        rasterizer backend, into the same output (no weights; no samples counted)."""
        batch, frames = cameras.batch_shape
        if times.shape != (batch, frames):
            raise ValueError(f"times must be {(batch, frames)}, got {tuple(times.shape)}")
        if field.capabilities.kind == "gaussians":
            return self._rasterize(field, cameras, times)
        height, width = cameras.height, cameras.width
        device = cameras.c2w.device
        total = num_rays(cameras)
        pixels_per_frame = height * width
        flat_times = times.reshape(-1).to(device=device, dtype=cameras.c2w.dtype)
        checkpoint_chunks = (
            self.config.checkpoint_chunks and total >= self.config.checkpoint_min_rays
        )
        outputs = []
        for start in range(0, total, self.config.chunk_rays):
            indices = torch.arange(start, min(start + self.config.chunk_rays, total), device=device)
            offsets = None
            if self.training and self.config.pixel_jitter:
                source = generator.device if generator is not None else device
                offsets = torch.rand((len(indices), 2), generator=generator, device=source)
                offsets = offsets.to(device)
            rays = rays_for_indices(cameras, indices, offsets)
            ray_times = flat_times[indices // pixels_per_frame]
            outputs.append(
                self.render_rays(
                    field,
                    rays.origins,
                    rays.directions,
                    ray_times,
                    generator,
                    return_weights,
                    checkpoint_chunk=checkpoint_chunks,
                )
            )
        shape = (batch, frames, height, width)

        def image(values: list[Tensor], channels: int) -> Tensor:
            stacked = torch.cat(values).reshape(*shape, channels)
            return stacked.permute(0, 1, 4, 2, 3)

        weights = None
        if return_weights:
            weights = torch.cat([o.weights for o in outputs]).reshape(*shape, -1)  # type: ignore[misc]
        return RenderOutput(
            rgb=image([o.rgb for o in outputs], 3),
            opacity=image([o.opacity[:, None] for o in outputs], 1),
            depth=image([o.depth[:, None] for o in outputs], 1),
            weights=weights,
            evaluated_samples=sum(o.evaluated_samples for o in outputs),
            total_samples=total * self.config.num_samples,
        )

    def _rasterize(self, field: Field, cameras: Cameras, times: Tensor) -> RenderOutput:
        if not isinstance(field, SplatField):
            raise ConfigError("a 'gaussians' field must answer splats(time) (SplatField)")
        backend = field.backend if isinstance(field, GaussianField) else "torch"
        rgb, opacity, depth = render_gaussians(field, cameras, times, backend)
        return RenderOutput(rgb, opacity, depth, None, evaluated_samples=0, total_samples=0)

    def render_rays(
        self,
        field: Field,
        origins: Tensor,
        directions: Tensor,
        times: Tensor,
        generator: torch.Generator | None = None,
        return_weights: bool = False,
        checkpoint_chunk: bool | None = None,
    ) -> RayBundleOutput:
        """Render one bundle of rays: origins, unit directions (R, 3), times (R,) or (R, 1).

        No chunking here: callers that pick random pixels (fitting, SDS on ray subsets) pass
        bundles of the size they want; `render` chunks whole images. `checkpoint_chunk`
        (default: the config's `checkpoint_chunks`) recomputes the bundle in backward.
        """
        check_drawable(field)
        times = times.reshape(-1, 1).to(origins.dtype)
        jitter = None
        if self.training:
            shape = (origins.shape[0], self.config.num_samples)
            source = generator.device if generator is not None else origins.device
            jitter = torch.rand(shape, generator=generator, device=source).to(origins)
        if checkpoint_chunk is None:
            checkpoint_chunk = self.config.checkpoint_chunks
        use_checkpoint = checkpoint_chunk and torch.is_grad_enabled()
        if use_checkpoint:
            rgb, opacity, depth, weights, evaluated = checkpoint(
                self._render_bundle, field, origins, directions, times, jitter, use_reentrant=False
            )
        else:
            rgb, opacity, depth, weights, evaluated = self._render_bundle(
                field, origins, directions, times, jitter
            )
        return RayBundleOutput(
            rgb=rgb,
            opacity=opacity,
            depth=depth,
            weights=weights if return_weights else None,
            evaluated_samples=int(evaluated),
        )

    def _render_bundle(
        self,
        field: Field,
        origins: Tensor,
        directions: Tensor,
        times: Tensor,
        jitter: Tensor | None,
    ) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
        num_rays, num_samples = origins.shape[0], self.config.num_samples
        near, far, hit = intersect_box(
            origins, directions, self.config.box_radius, self.config.min_near
        )
        samples = stratified_samples(near, far, num_samples, jitter)
        kept = self._kept_samples(origins, directions, times, samples.distances, hit)
        # Only kept samples reach the field; the others keep zero density. Flat indices are
        # computed once and shared by every gather (a boolean mask would redo the search).
        if kept is None:
            ray = torch.arange(num_rays, device=origins.device).repeat_interleave(num_samples)
            distance = samples.distances.reshape(-1)
        else:
            ray = kept // num_samples
            distance = samples.distances.reshape(-1)[kept]
        ray_directions = directions[ray]
        points = origins[ray] + distance[:, None] * ray_directions
        evaluated = ray.numel()
        if evaluated:
            out = field(points, times[ray], ray_directions)
            density, rgb = out.density.to(origins.dtype), out.rgb.to(origins.dtype)
        else:
            density, rgb = origins.new_zeros(0), origins.new_zeros(0, 3)
        if kept is not None:
            density = origins.new_zeros(num_rays * num_samples).index_copy(0, kept, density)
            rgb = origins.new_zeros(num_rays * num_samples, 3).index_copy(0, kept, rgb)
        result = composite(
            density.reshape(num_rays, num_samples),
            rgb.reshape(num_rays, num_samples, 3),
            samples.distances,
            samples.deltas,
        )
        background = field.background(directions).to(result.rgb.dtype)
        colour = result.rgb + (1.0 - result.opacity[:, None]) * background
        colour = field.expose(colour, times)
        return colour, result.opacity, result.depth, result.weights, torch.tensor(evaluated)

    def _kept_samples(
        self, origins: Tensor, directions: Tensor, times: Tensor, distances: Tensor, hit: Tensor
    ) -> Tensor | None:
        """Flat indices into (R * S) of the samples to evaluate; None means all of them."""
        num_samples = distances.shape[1]
        if self.occupancy.active:
            points = origins[:, None] + distances[..., None] * directions[:, None]
            sample_times = times.expand(-1, num_samples)
            occupied = self.occupancy.lookup(points.reshape(-1, 3), sample_times.reshape(-1))
            keep = occupied.reshape(hit.shape[0], num_samples) & hit[:, None]
            return keep.reshape(-1).nonzero().squeeze(1)
        if bool(hit.all()):
            return None
        hit_rays = hit.nonzero().squeeze(1)
        offsets = torch.arange(num_samples, device=hit.device)
        return (hit_rays[:, None] * num_samples + offsets).reshape(-1)


def check_drawable(field: Field) -> None:
    """Ray bundles are ray-marched: `volume` fields only (`render` rasterizes `gaussians`
    fields whole frames at a time)."""
    kind = field.capabilities.kind
    if kind != "volume":
        raise ConfigError(
            f"the volume renderer cannot ray-march a '{kind}' field; render whole frames "
            "(render) instead of ray bundles"
        )
