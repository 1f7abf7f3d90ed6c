"""Export a field at scene times as files other tools read: meshes (GLB, OBJ) and Gaussian PLYs.

Every exporter takes a field, the scene times of the frames and options, and writes through a
partial path renamed at the end, so a reader never sees half an export::

    from t2v.export import MeshOptions, field_meshes, write_glb
    meshes = field_meshes(field, times, MeshOptions(resolution=96))  # level: as the render
    write_glb(meshes, fps=8.0, path=Path("scene.glb"))
"""

from t2v.export.files import atomic_output
from t2v.export.glb import write_glb
from t2v.export.mesh import MeshOptions, field_mesh, field_meshes, opacity_level
from t2v.export.obj import write_obj_sequence
from t2v.export.ply import splat_attributes, write_ply_sequence
from t2v.export.volume_splats import field_splats, volume_splats

__all__ = [
    "MeshOptions",
    "atomic_output",
    "field_mesh",
    "field_meshes",
    "field_splats",
    "opacity_level",
    "splat_attributes",
    "volume_splats",
    "write_glb",
    "write_obj_sequence",
    "write_ply_sequence",
]
