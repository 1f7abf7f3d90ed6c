"""The volume renderer: cameras, rays, sampling, occupancy skipping, compositing, trajectories.

Usage (any `volume` field of the `t2v.field.base.Field` contract, e.g. `t2v.field.SceneField`;
from a config node: `parse(RendererSettings, node, "renderer").build()`)::

    import torch
    from t2v.render import (
        CameraSamplerConfig, VolumeRenderer, sample_clip_times, sample_training_cameras,
        trajectory_cameras,
    )

    renderer = VolumeRenderer(num_samples=64, chunk_rays=4096)
    # Training: random frontal views, sometimes moving within the clip, random frame rate.
    generator = torch.Generator().manual_seed(0)
    views = sample_training_cameras(
        batch=1, frames=8, width=64, height=64,
        config=CameraSamplerConfig(dynamic_probability=0.5), generator=generator,
    )
    times = sample_clip_times(batch=1, frames=8, generator=generator)
    renderer.train()
    out = renderer.render(field, views.cameras, times, generator=generator)
    out.rgb  # (1, 8, 3, 64, 64) in [0, 1]; out.opacity, out.depth: (1, 8, 1, 64, 64)
    renderer.update_occupancy(field, step)  # every step; acts every `update_every` steps

    # Export: a named trajectory at any size and length (or from a genre's CameraStyle).
    renderer.eval()
    cameras = trajectory_cameras("orbit", frames=48, width=256, height=144, speed=24.0, fps=24.0)
    with torch.no_grad():
        video = renderer.render(field, cameras, torch.linspace(0, 1, 48)[None]).rgb

A `gaussians` field (`t2v.field.GaussianField`) goes through the same `render` call: it is
rasterized (`t2v.render.splatting.rasterize_views`, pure PyTorch; or gsplat on CUDA) into the
same output, composited over its background the same way.
"""

from t2v.render.cameras import Cameras, look_at, orbit_cameras, spherical_positions
from t2v.render.compositing import Composited, composite
from t2v.render.occupancy import OccupancyConfig, OccupancyGrid
from t2v.render.rays import Rays, camera_rays, rays_for_indices
from t2v.render.renderer import RayBundleOutput, RendererConfig, RenderOutput, VolumeRenderer
from t2v.render.samplers import (
    FRONTAL_AZIMUTH_DEG,
    FULL_AZIMUTH_DEG,
    CameraSamplerConfig,
    ClipTimeConfig,
    SampledCameras,
    sample_clip_times,
    sample_training_cameras,
)
from t2v.render.sampling import RaySamples, intersect_box, stratified_samples
from t2v.render.settings import RendererSettings, StageCameras
from t2v.render.trajectories import (
    TRAJECTORIES,
    CameraStart,
    genre_trajectory_cameras,
    trajectory_cameras,
)

__all__ = [
    "FRONTAL_AZIMUTH_DEG",
    "FULL_AZIMUTH_DEG",
    "TRAJECTORIES",
    "CameraSamplerConfig",
    "CameraStart",
    "Cameras",
    "ClipTimeConfig",
    "Composited",
    "OccupancyConfig",
    "OccupancyGrid",
    "RayBundleOutput",
    "RaySamples",
    "Rays",
    "RenderOutput",
    "RendererConfig",
    "RendererSettings",
    "SampledCameras",
    "StageCameras",
    "VolumeRenderer",
    "camera_rays",
    "composite",
    "genre_trajectory_cameras",
    "intersect_box",
    "look_at",
    "orbit_cameras",
    "rays_for_indices",
    "sample_clip_times",
    "sample_training_cameras",
    "spherical_positions",
    "stratified_samples",
    "trajectory_cameras",
]
