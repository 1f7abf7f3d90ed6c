"""`t2v export`: meshes that agree with the render, GLB/OBJ/PLY files that read back, bad input."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import trimesh
from plyfile import PlyData
from pygltflib import GLTF2

from t2v import cli
from t2v.export import MeshOptions, field_mesh, field_splats, splat_attributes
from t2v.export.ply import SH_C0
from t2v.field.base import FieldCapabilities
from t2v.field.splats import Splats
from t2v.rundir import RunDir
from t2v.scene import front_camera, scene_times


def tree_digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def export(run_dir: Path, *args: str) -> int:
    return cli.main(["export", f"run_dir={run_dir}", *args])


def test_mesh_silhouette_matches_the_front_render_on_every_frame(
    finished_run: Path, silhouettes: SimpleNamespace
) -> None:
    scene = RunDir(finished_run).load_scene()
    camera = front_camera(scene.config.genre, 48, 48)
    scene.renderer.eval()
    frames = scene.config.video_frames
    scores = []
    for time in scene_times(frames).tolist():
        with torch.no_grad():
            render = scene.renderer.render(scene.field, camera, torch.tensor([[time]]))
        opaque = render.opacity[0, 0, 0].numpy() > 0.5
        mesh = field_mesh(scene.field, time, MeshOptions(resolution=48))
        assert opaque.sum() > 100  # the run shows an object, not an empty frame
        scores.append(silhouettes.iou(silhouettes.mesh(mesh, camera), opaque))
    assert min(scores) >= 0.9, scores


def test_glb_plays_one_node_per_frame(finished_run: Path, tmp_path: Path) -> None:
    path = tmp_path / "scene.glb"
    assert export(finished_run, "format=glb", "frames=3", "grid=32", f"output={path}") == 0
    loaded = trimesh.load(path)
    assert isinstance(loaded, trimesh.Scene)
    names = sorted(loaded.graph.nodes_geometry)
    assert names == ["frame_000000", "frame_000001", "frame_000002"]
    gltf = GLTF2().load(str(path))
    (animation,) = gltf.animations
    assert len(animation.channels) == 3
    assert {s.interpolation for s in animation.samplers} == {"STEP"}
    assert {c.target.path for c in animation.channels} == {"scale"}
    times = gltf.accessors[animation.samplers[0].input]
    fps = 3 / RunDir(finished_run).load_config().duration
    assert times.count == 4 and times.max == [pytest.approx(3 / fps)]
    mesh = loaded.geometry["frame_000001"]
    assert len(mesh.faces) > 100 and mesh.visual.vertex_colors.shape == (len(mesh.vertices), 4)


def test_obj_sequence_has_one_coloured_file_per_frame(finished_run: Path, tmp_path: Path) -> None:
    folder = tmp_path / "objs"
    assert export(finished_run, "format=obj", "frames=2", "grid=24", f"output={folder}") == 0
    files = sorted(p.name for p in folder.iterdir())
    assert files == ["frame_000001.obj", "frame_000002.obj"]
    mesh = trimesh.load(folder / files[0], process=False)
    assert len(mesh.faces) > 50
    colours = mesh.visual.vertex_colors[:, :3].astype(float) / 255
    assert colours.std() > 0 or colours.mean() > 0  # read back from `v x y z r g b` lines


def read_ply(path: Path) -> np.ndarray:
    return PlyData.read(str(path))["vertex"].data


def test_ply_of_a_volume_field_reads_back(finished_run: Path, tmp_path: Path) -> None:
    folder = tmp_path / "plys"
    assert export(finished_run, "format=ply", "frames=2", "grid=24", f"output={folder}") == 0
    manifest = json.loads((folder / "manifest.json").read_text())
    assert [f["file"] for f in manifest["frames"]] == ["frame_000001.ply", "frame_000002.ply"]
    assert [f["time"] for f in manifest["frames"]] == [0.0, 1.0]
    table = read_ply(folder / "frame_000002.ply")
    assert len(table) == manifest["frames"][1]["gaussians"] > 10
    scene = RunDir(finished_run).load_scene()
    expected = splat_attributes(field_splats(scene.field, 1.0, MeshOptions(resolution=24)))
    for name in ("x", "y", "z", "f_dc_0", "opacity", "scale_0", "rot_0"):
        np.testing.assert_allclose(table[name], expected[name], rtol=1e-5, atol=1e-6)
    assert np.allclose(np.exp(table["scale_0"]), 1 / 23)  # half a grid step of 2 / 23


class TwoSplats(torch.nn.Module):
    """A `gaussians` field by hand: two Gaussians drifting along +x over the scene time."""

    static_only = False

    @property
    def capabilities(self) -> FieldCapabilities:
        return FieldCapabilities(kind="gaussians")

    def splats(self, time: float) -> Splats:
        means = torch.tensor([[-0.5, 0.0, 0.0], [0.5, 0.2, 0.0]]) + torch.tensor([time, 0, 0])
        return Splats(
            means=means,
            scales=torch.tensor([[0.1, 0.2, 0.3], [0.05, 0.05, 0.05]]),
            rotations=torch.tensor([[1.0, 0, 0, 0], [0.0, 1, 0, 0]]),
            opacities=torch.tensor([0.9, 0.25]),
            colours=torch.tensor([[1.0, 0.0, 0.0], [0.2, 0.4, 0.6]]),
        )


def test_ply_of_a_gaussian_field_holds_its_own_splats(tmp_path: Path) -> None:
    from t2v.export import write_ply_sequence

    field = TwoSplats()
    frames = [field_splats(field, t, MeshOptions()) for t in (0.0, 0.5)]  # type: ignore[arg-type]
    write_ply_sequence(frames, [0.0, 0.5], 2.0, tmp_path, "g")
    table = read_ply(tmp_path / "g_000002.ply")
    np.testing.assert_allclose(table["x"], [0.0, 1.0])
    np.testing.assert_allclose(np.exp(table["scale_2"]), [0.3, 0.05], rtol=1e-6)
    np.testing.assert_allclose(1 / (1 + np.exp(-table["opacity"])), [0.9, 0.25], rtol=1e-5)
    np.testing.assert_allclose(table["f_dc_2"] * SH_C0 + 0.5, [0.0, 0.6], atol=1e-6)
    np.testing.assert_allclose(table["rot_1"], [0.0, 1.0])


@dataclass
class Bad:
    args: list[str]
    message: str


def unfinished_copy(run: Path, root: Path) -> Path:
    """The run without its video and metrics: stopped after its stages were saved."""
    copy = root / "unfinished"
    copy.mkdir()
    (copy / "config.yaml").write_bytes((run / "config.yaml").read_bytes())
    (copy / "checkpoints").mkdir()
    for stage in ("static", "dynamic"):
        name = f"{stage}.pt"
        (copy / "checkpoints" / name).write_bytes((run / "checkpoints" / name).read_bytes())
    return copy


@pytest.mark.parametrize(
    ("case", "message"),
    [
        (["format=fbx"], "format = 'fbx': Input should be 'glb', 'obj' or 'ply'"),
        (["frames=0"], "frames = 0: Input should be greater than or equal to 1"),
        (["grid=-3"], "grid = -3"),
        (["resolution=64"], "Config group override must be a string or a list. Got int"),
        (["output=EXISTING"], "exists; remove it or pass another output=PATH"),
        (
            ["stage=superres", "UNFINISHED"],
            "has not finished stage superres (finished: static, dynamic)",
        ),
        (["UNFINISHED"], "is not a finished run (no video.mp4 and metrics.json); export a stage"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(
    finished_run: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    case: list[str],
    message: str,
) -> None:
    existing = tmp_path / "taken.glb"
    existing.write_bytes(b"not mine")
    run = finished_run
    if "UNFINISHED" in case:
        run = unfinished_copy(finished_run, tmp_path)
        case = [arg for arg in case if arg != "UNFINISHED"]
    case = [arg.replace("EXISTING", str(existing)) for arg in case]
    before = {**tree_digest(tmp_path), **tree_digest(finished_run)}
    assert export(run, *case) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("t2v export: ") and message in err, err
    assert {**tree_digest(tmp_path), **tree_digest(finished_run)} == before


def test_mesh_follows_the_global_trajectory_in_world_space() -> None:
    from t2v.field import PlaneSpec, SceneField

    torch.manual_seed(0)
    field = SceneField(PlaneSpec(), PlaneSpec(), density_blob_scale=30.0, trajectory_knots=2)
    with torch.no_grad():
        field.trajectory.offsets.copy_(torch.tensor([[0.0, 0.0, 0.0], [0.3, -0.1, 0.0]]))
    options = MeshOptions(resolution=40)
    start, end = (field_mesh(field, t, options) for t in (0.0, 1.0))
    shift = end.vertices.mean(axis=0) - start.vertices.mean(axis=0)
    np.testing.assert_allclose(shift, [0.3, -0.1, 0.0], atol=0.03)


def test_opacity_level_puts_a_sharp_ball_where_the_render_sees_it() -> None:
    from t2v.export.mesh import opacity_level

    axis = np.linspace(-1, 1, 64)
    x, y, z = np.meshgrid(axis, axis, axis, indexing="ij")
    radius = np.sqrt(x**2 + y**2 + z**2)
    ball = np.where(radius < 0.5, 40.0, 0.0) + 1.0 * np.exp(-(radius**2) / 0.1)  # + faint haze
    level = opacity_level(ball, 2 / 63)
    assert level is not None
    # The haze alone is never half opaque along a ray: the surface is the ball's, r = 0.5.
    assert radius[ball >= level].max() == pytest.approx(0.5, abs=2 / 63)
    assert opacity_level(np.full((8, 8, 8), 0.01), 2 / 7) is None  # nothing half opaque
