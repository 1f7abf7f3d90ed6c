"""`t2v view` in a real browser: Debian's chromium, headless, driven by selenium.

The page opens from disk with no console errors, and a screenshot of its GLB view at the run's
front camera has the silhouette of the field's own front render (IoU >= 0.8).
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

from t2v import cli
from t2v.rundir import RunDir
from t2v.scene import front_camera

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SIDE = 96  # the render's side; the screenshot is averaged down to it
LOAD_SECONDS = 120  # a page with the inlined viewer loads in ~15 s on two busy cores

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
        reason="no /usr/bin/chromium and /usr/bin/chromedriver (.ci/chromium.sh installs them)",
    ),
]

# Resolves once the GLB is loaded, then shows its first frame still, the camera at its goal.
SHOW_FIRST_FRAME = """
const done = arguments[arguments.length - 1];
const viewer = document.querySelector("model-viewer");
const still = () => {
  viewer.pause();
  viewer.currentTime = 0;
  viewer.jumpCameraToGoal();
  requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(() => done("ok"), 300)));
};
if (viewer.loaded) still();
else {
  viewer.addEventListener("load", still);
  viewer.addEventListener("error", (event) => done("error " + JSON.stringify(event.detail)));
}
"""

# Resolves with the video's [readyState, error code, duration] once its metadata is read.
VIDEO_STATE = """
const done = arguments[arguments.length - 1];
const video = document.querySelector("video");
const report = () => done([video.readyState, video.error && video.error.code, video.duration]);
if (video.readyState >= 1 || video.error) report();
else {
  video.addEventListener("loadedmetadata", report);
  video.addEventListener("error", report);
}
"""


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--use-angle=swiftshader",  # WebGL on the CPU
        "--enable-unsafe-swiftshader",
        "--window-size=1000,1400",
        "--force-device-scale-factor=1",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_script_timeout(LOAD_SECONDS)
    yield driver
    driver.quit()


def test_page_shows_the_glb_as_the_field_renders_it(
    finished_run: Path, tmp_path: Path, browser, silhouettes: SimpleNamespace
) -> None:  # type: ignore[no-untyped-def]
    run = tmp_path / "run"
    shutil.copytree(finished_run, run, ignore=shutil.ignore_patterns("exports", "view.html"))
    assert cli.main(["export", f"run_dir={run}", "grid=48", "frames=2"]) == 0
    assert cli.main(["view", f"run_dir={run}"]) == 0
    browser.get((run / "view.html").as_uri())
    assert browser.execute_async_script(SHOW_FIRST_FRAME) == "ok"
    viewer = browser.find_element("css selector", "model-viewer")
    shot = np.asarray(Image.open(io.BytesIO(viewer.screenshot_as_png)).convert("RGB"), float)
    ready, error, duration = browser.execute_async_script(VIDEO_STATE)
    assert ready >= 1 and error is None  # video.mp4 plays from disk beside the page
    assert duration == pytest.approx(RunDir(run).load_config().duration, abs=0.2)
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []
    assert shot.shape[0] == shot.shape[1]  # square, as the render below
    # The page's background is white: the model is what differs from it.
    covered = np.abs(shot - 255.0).max(axis=2) > 12
    factor = shot.shape[0] / SIDE
    small = np.asarray(
        Image.fromarray(covered.astype(np.uint8) * 255).resize((SIDE, SIDE), Image.BOX)
    )
    screenshot_silhouette = small > 127
    scene = RunDir(run).load_scene()
    scene.renderer.eval()
    with torch.no_grad():
        render = scene.renderer.render(
            scene.field, front_camera(scene.config.genre, SIDE, SIDE), torch.zeros(1, 1)
        )
    opaque = render.opacity[0, 0, 0].numpy() > 0.5
    assert factor >= 1 and opaque.sum() > 500
    score = silhouettes.iou(screenshot_silhouette, opaque)
    print(f"browser screenshot vs front render: silhouette IoU {score:.3f}")
    assert score >= 0.8, score


def test_gallery_sorts_by_a_clicked_column(finished_run: Path, tmp_path: Path, browser) -> None:  # type: ignore[no-untyped-def]
    slow = tmp_path / "slow"
    shutil.copytree(finished_run, slow, ignore=shutil.ignore_patterns("exports", "view.html"))
    metrics = json.loads((slow / "metrics.json").read_text())
    metrics["stages"]["static"]["seconds"] = 1000.0
    (slow / "metrics.json").write_text(json.dumps(metrics))
    gallery = tmp_path / "gallery.html"
    assert cli.main(["view", f"run_dirs=[{slow},{finished_run}]", f"output={gallery}"]) == 0
    browser.get(gallery.as_uri())
    header = browser.find_element("xpath", "//th[text()='total (s)']")
    column = [th.text for th in browser.find_elements("css selector", "#gallery th")].index(
        "total (s)"
    )

    def totals() -> list[float]:
        rows = browser.find_elements("css selector", "#gallery tbody tr")
        return [float(row.find_elements("css selector", "td")[column].text) for row in rows]

    assert totals()[0] > 1000  # as given: the slow run first
    header.click()
    assert totals() == sorted(totals()) and totals()[0] < 1000
    header.click()
    assert totals() == sorted(totals(), reverse=True)
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []
