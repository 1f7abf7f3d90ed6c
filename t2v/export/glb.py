"""One animated glTF binary of a mesh sequence: a node per frame, shown in turn by STEP keyframes.

Meshes of different frames have different topologies, so morph targets cannot hold them; each
frame is its own node, and one animation keys every node's scale to 1 during its frame and to 0
otherwise (STEP interpolation: no blend between frames), which every glTF viewer plays
(three.js, <model-viewer>, Blender, Babylon). Outside the animation the first frame shows. The
scene is built with trimesh and the animation added with pygltflib.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import trimesh
from pygltflib import (
    FLOAT,
    GLTF2,
    SCALAR,
    VEC3,
    Accessor,
    Animation,
    AnimationChannel,
    AnimationChannelTarget,
    AnimationSampler,
    BufferView,
    Node,
)

ANIMATION_NAME = "frames"


def frame_node_name(index: int) -> str:
    return f"frame_{index:06d}"


def write_glb(meshes: Sequence[trimesh.Trimesh], fps: float, path: Path) -> None:
    """`path`: a GLB whose animation shows mesh k from k / fps to (k + 1) / fps."""
    scene = trimesh.Scene()
    for index, mesh in enumerate(meshes):
        if len(mesh.faces):
            name = frame_node_name(index)
            scene.add_geometry(mesh, node_name=name, geom_name=name)
    gltf = GLTF2.load_from_bytes(scene.export(file_type="glb")) if len(scene.geometry) else GLTF2()
    add_frame_animation(gltf, len(meshes), fps)
    gltf.save_binary(str(path))


def add_frame_animation(gltf: GLTF2, frames: int, fps: float) -> None:
    """Give `gltf` one node per frame (empty frames get an empty node) and the STEP animation
    that switches them."""
    if not gltf.scenes:
        from pygltflib import Scene

        gltf.scenes.append(Scene(nodes=[]))
        gltf.scene = 0
    by_name = {node.name: index for index, node in enumerate(gltf.nodes)}
    node_ids = []
    for index in range(frames):
        name = frame_node_name(index)
        if name not in by_name:
            gltf.nodes.append(Node(name=name))
            by_name[name] = len(gltf.nodes) - 1
            gltf.scenes[gltf.scene or 0].nodes.append(by_name[name])
        node_ids.append(by_name[name])
    for index, node_id in enumerate(node_ids):
        gltf.nodes[node_id].scale = [1.0, 1.0, 1.0] if index == 0 else [0.0, 0.0, 0.0]
    times = np.arange(frames + 1, dtype=np.float32) / np.float32(fps)
    input_id = append_accessor(gltf, times, SCALAR, with_bounds=True)
    animation = Animation(name=ANIMATION_NAME, samplers=[], channels=[])
    for index, node_id in enumerate(node_ids):
        shown = np.zeros((frames + 1, 3), dtype=np.float32)
        shown[index] = 1.0
        if index == frames - 1:
            shown[frames] = 1.0  # the last frame holds until the loop ends
        output_id = append_accessor(gltf, shown, VEC3)
        animation.samplers.append(
            AnimationSampler(input=input_id, output=output_id, interpolation="STEP")
        )
        animation.channels.append(
            AnimationChannel(
                sampler=len(animation.samplers) - 1,
                target=AnimationChannelTarget(node=node_id, path="scale"),
            )
        )
    gltf.animations.append(animation)


def append_accessor(gltf: GLTF2, values: np.ndarray, kind: str, with_bounds: bool = False) -> int:
    """Append float32 `values` to the binary buffer as a new accessor; its index."""
    from pygltflib import Buffer

    blob = gltf.binary_blob() or b""
    blob += b"\0" * (-len(blob) % 4)
    data = np.ascontiguousarray(values, dtype=np.float32).tobytes()
    if not gltf.buffers:
        gltf.buffers.append(Buffer(byteLength=0))
    gltf.bufferViews.append(BufferView(buffer=0, byteOffset=len(blob), byteLength=len(data)))
    flat = values.reshape(len(values), -1)
    accessor = Accessor(
        bufferView=len(gltf.bufferViews) - 1,
        componentType=FLOAT,
        count=len(values),
        type=kind,
        min=flat.min(axis=0).tolist() if with_bounds else None,
        max=flat.max(axis=0).tolist() if with_bounds else None,
    )
    gltf.accessors.append(accessor)
    blob += data
    gltf.set_binary_blob(blob)
    gltf.buffers[0].byteLength = len(blob)
    return len(gltf.accessors) - 1
