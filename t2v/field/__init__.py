"""The 4D scene field: hash-grid and HexPlane encodings, heads, background."""

from t2v.field.hashgrid import HashGridEncoding, resolve_backend, tcnn_available
from t2v.field.hexplane import PlaneEncoding
from t2v.field.scene_field import FieldOutput, HashGridSpec, PlaneSpec, SceneField

__all__ = [
    "FieldOutput",
    "HashGridEncoding",
    "HashGridSpec",
    "PlaneEncoding",
    "PlaneSpec",
    "SceneField",
    "resolve_backend",
    "tcnn_available",
]
