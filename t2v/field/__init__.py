"""Scene fields: the `Field` contract, SceneField (hash-grid or HexPlane encodings) and its parts.

Usage::

    import torch
    from t2v.field import Field, HashGridSpec, PlaneSpec, SceneField
    from t2v.render import VolumeRenderer, trajectory_cameras

    # Hash grids (GPU default; backend auto | torch | triton | tcnn) or feature planes (CPU):
    field = SceneField(HashGridSpec(levels=8, log2_table_size=15), HashGridSpec(levels=8),
                       backend="torch")
    field = SceneField(PlaneSpec(), PlaneSpec(), background="solid", solid_color=(1, 1, 1))
    assert isinstance(field, Field) and field.capabilities.kind == "volume"
    field.static_only = True          # static stage: the dynamic encoding is skipped
    groups = field.parameter_groups()  # static, dynamic, heads, background, trajectory, exposure

    cameras = trajectory_cameras("orbit", frames=8, width=64, height=64, speed=24.0, fps=8.0)
    with torch.no_grad():
        frames = VolumeRenderer().eval().render(field, cameras, torch.linspace(0, 1, 8)[None]).rgb

    # 4D Gaussians (kind "gaussians"): the same renderer rasterizes them, tiles on the CPU.
    field = GaussianField(count=2048, backend="torch")
    splats = field.splats(0.5)        # Splats: means, scales, rotations, opacities, colours

From a config: `hydra.utils.instantiate(cfg.field)` with conf/field/{hashgrid, hashgrid_cpu,
hexplane, gaussians}.yaml, checked first by `t2v.targets.check_target("field", cfg.field)`. To
check a new field, fit it to posed images with `t2v.fit.fit_field`.
"""

from t2v.field.base import Field, FieldCapabilities, FieldKind, FieldOutput
from t2v.field.gaussians import (
    DensifySchedule,
    GaussianField,
    GaussianSteps,
    gsplat_available,
    resolve_raster_backend,
)
from t2v.field.hashgrid import (
    HashGridEncoding,
    resolve_backend,
    tcnn_available,
    triton_available,
)
from t2v.field.hexplane import PlaneEncoding
from t2v.field.scene_field import SceneField
from t2v.field.specs import EncodingSpec, HashGridSpec, PlaneSpec
from t2v.field.splats import SplatField, Splats

__all__ = [
    "DensifySchedule",
    "EncodingSpec",
    "Field",
    "FieldCapabilities",
    "FieldKind",
    "FieldOutput",
    "GaussianField",
    "GaussianSteps",
    "HashGridEncoding",
    "HashGridSpec",
    "PlaneEncoding",
    "PlaneSpec",
    "SceneField",
    "SplatField",
    "Splats",
    "gsplat_available",
    "resolve_backend",
    "resolve_raster_backend",
    "tcnn_available",
    "triton_available",
]
