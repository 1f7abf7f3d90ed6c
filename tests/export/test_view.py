"""`t2v view`: a run's page (video, inlined viewer and GLB, metrics), a gallery, bad input."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

from t2v import cli
from t2v.rundir import RunDir


@pytest.fixture(scope="module")
def exported_run(finished_run: Path) -> Path:
    """The finished run with a small GLB under exports/ (shared with the browser test)."""
    if not list((finished_run / "exports").glob("*.glb")):
        assert cli.main(["export", f"run_dir={finished_run}", "grid=32"]) == 0
    return finished_run


def test_run_page_inlines_viewer_and_glb_and_links_the_video(exported_run: Path) -> None:
    assert cli.main(["view", f"run_dir={exported_run}"]) == 0
    page = (exported_run / "view.html").read_text()
    assert '<video src="video.mp4"' in page
    assert 'customElements.define("model-viewer"' in page  # the vendored viewer, inlined
    assert not re.search(r'(src|href)="(https?:)?//', page)  # nothing fetched from the network
    (glb,) = (exported_run / "exports").glob("*.glb")
    data = re.search(r'src="data:model/gltf-binary;base64,([^"]+)"', page)
    assert data is not None and base64.b64decode(data.group(1)) == glb.read_bytes()
    # the genre's front camera: azimuth 0, polar angle 90 deg - elevation, distance, fov
    camera = RunDir(exported_run).load_config().genre.camera
    assert (camera.elevation_deg, camera.distance, camera.fov_deg) == (20.0, 2.5, 40.0)
    assert 'camera-orbit="0deg 70deg 2.5m" field-of-view="40deg"' in page
    assert "<td>static (s)</td>" in page
    # a second view replaces its own page
    assert cli.main(["view", f"run_dir={exported_run}"]) == 0


def test_page_without_glb_says_how_to_export(finished_run: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "run"
    shutil.copytree(finished_run, copy, ignore=shutil.ignore_patterns("exports", "view.html"))
    assert cli.main(["view", f"run_dir={copy}", f"output={tmp_path / 'page.html'}"]) == 0
    page = (tmp_path / "page.html").read_text()
    assert "<model-viewer" not in page and "format=glb</code>" in page
    assert '<video src="run/video.mp4"' in page  # relative to the page, wherever it is


def test_gallery_has_a_sortable_row_per_run(finished_run: Path, tmp_path: Path) -> None:
    import shutil

    other = tmp_path / "other"
    shutil.copytree(finished_run, other, ignore=shutil.ignore_patterns("exports", "view.html"))
    gallery = tmp_path / "gallery.html"
    args = ["view", f"run_dirs=[{finished_run},{other}]", f"output={gallery}"]
    assert cli.main(args) == 0
    page = gallery.read_text()
    body = page.split("<tbody>")[1].split("</tbody>")[0]
    assert body.count("<tr>") == 2 and body.count("a red ball moving to the left") == 2
    header = page.split("<thead>")[1].split("</thead>")[0]
    for column in ("prompt", "genre", "video", "total (s)", "static (s)", "temporal (s)"):
        assert f"<th>{column}</th>" in header
    assert "table class='sortable' id='gallery'" in page and "rows.sort" in page


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "no run to view: pass run_dir=DIR or run_dirs=[DIR,DIR]"),
        (["run_dirs=[RUN,RUN2]"], "a gallery of several runs needs output=PATH"),
        (["run_dir=RUN", "output=FOREIGN"], "exists and is not a t2v view page"),
        (["run_dir=NOWHERE"], "holds no t2v run (no config.yaml)"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(
    finished_run: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    foreign = tmp_path / "notes.html"
    foreign.write_text("<p>my notes</p>")
    second = tmp_path / "second"
    second.mkdir()
    (second / "config.yaml").write_bytes((finished_run / "config.yaml").read_bytes())
    replace = {"RUN2": str(second), "RUN": str(finished_run), "FOREIGN": str(foreign)}
    replace["NOWHERE"] = str(tmp_path / "nowhere")
    for key, value in replace.items():
        args = [arg.replace(key, value) for arg in args]
    before = sorted(p.name for p in tmp_path.iterdir())
    view_before = (
        (finished_run / "view.html").stat().st_mtime_ns
        if (finished_run / "view.html").exists()
        else None
    )
    assert cli.main(["view", *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("t2v view: ") and message in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert foreign.read_text() == "<p>my notes</p>"
    after = (
        (finished_run / "view.html").stat().st_mtime_ns
        if (finished_run / "view.html").exists()
        else None
    )
    assert after == view_before
