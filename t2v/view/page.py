"""Self-contained HTML pages of runs: one run (video, animated GLB, metrics) or a gallery of many.

A page needs no network and no server: the viewer (`<model-viewer>`, vendored in
`t2v/assets/viewer/`) is inlined, and so is the GLB, as a data URI, because a page opened from
disk (file://) may not fetch a neighbouring file while a `<video>` may play one, so the video
stays a relative link beside the page. The GLB view starts at the run's front camera (azimuth 0,
the genre's elevation, distance and field of view), the view the video starts from.
"""

from __future__ import annotations

import base64
import html
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from t2v.rundir import RunDir

GENERATOR = "t2v view"  # the page's <meta name="generator">: a page t2v may overwrite
VIEWER_SCRIPT = "model-viewer-umd.min.js"
SOURCE_MAP = "//# sourceMappingURL="


@dataclass
class RunSummary:
    """What a page shows of one run folder."""

    run: RunDir
    prompt: str
    genre: str
    video: Path | None
    glb: Path | None
    camera: dict[str, float]  # the front view: elevation_deg, distance, fov_deg
    stage_seconds: dict[str, float] = field(default_factory=dict)
    reads: dict[str, Any] = field(default_factory=dict)  # evaluation, flattened to scalars


def summarize(run: RunDir) -> RunSummary:
    """Read a run folder (its config and metrics.json; the newest GLB under exports/)."""
    config = run.load_config()
    metrics = run.read_metrics()
    stages = metrics.get("stages")
    stages = stages if isinstance(stages, dict) else {}
    seconds = {
        name: float(values["seconds"])
        for name, values in stages.items()
        if isinstance(values, dict) and isinstance(values.get("seconds"), int | float)
    }
    evaluation = metrics.get("evaluation", {})
    reads = {
        key: value
        for key, value in flatten(evaluation).items()
        if not key.startswith(("prompt", "genre", "video."))
        and not key.startswith("attributes.expected")
    }
    glbs = (
        sorted(run.exports.glob("*.glb"), key=lambda p: p.stat().st_mtime)
        if run.exports.is_dir()
        else []
    )
    camera = config.genre.camera
    return RunSummary(
        run=run,
        prompt=config.prompt,
        genre=config.genre.name,
        video=run.video_file if run.video_file.is_file() else None,
        glb=glbs[-1] if glbs else None,
        camera={
            "elevation_deg": camera.elevation_deg,
            "distance": camera.distance,
            "fov_deg": camera.fov_deg,
        },
        stage_seconds=seconds,
        reads=reads,
    )


def flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    """Scalar leaves of nested mappings, keyed by dotted paths (lists of scalars kept whole)."""
    if isinstance(node, dict):
        found: dict[str, Any] = {}
        for key, value in node.items():
            found.update(flatten(value, f"{prefix}{key}."))
        return found
    if isinstance(node, str | int | float | bool) or node is None:
        return {prefix.rstrip("."): node}
    return {}


def is_view_page(path: Path) -> bool:
    """Whether `path` is a page this module wrote (one t2v may replace)."""
    try:
        with path.open("r", encoding="utf-8", errors="replace") as handle:
            head = handle.read(2048)
    except OSError:
        return False
    return f'<meta name="generator" content="{GENERATOR}">' in head


def viewer_script() -> str:
    text = resources.files("t2v").joinpath("assets", "viewer", VIEWER_SCRIPT).read_text("utf-8")
    lines = [line for line in text.splitlines() if not line.startswith(SOURCE_MAP)]
    return "\n".join(lines).replace("</script", "<\\/script")


def link(target: Path, page: Path) -> str:
    """A relative URL from the page's folder to `target`."""
    relative = os.path.relpath(target.resolve(), page.resolve().parent)
    return "/".join(html.escape(part, quote=True) for part in Path(relative).parts)


def fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return html.escape(str(value))


def page(title: str, body: str, with_viewer: bool) -> str:
    script = f"<script>{viewer_script()}</script>" if with_viewer else ""
    return f"""<!doctype html>
<html lang="en"><head>
<meta name="generator" content="{GENERATOR}">
<meta charset="utf-8"><title>{html.escape(title)}</title>
<link rel="icon" href="data:,">
<style>{STYLE}</style>
{script}
</head><body>
{body}
<script>{SORT_SCRIPT}</script>
</body></html>
"""


STYLE = """body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.3em .6em;
text-align:left;vertical-align:top}th.sortable{cursor:pointer;background:#f3f3f3}
.media{display:flex;gap:1em;flex-wrap:wrap}video{max-width:480px}
model-viewer{width:480px;height:480px;background-color:#fff}code{background:#f3f3f3}"""

# Click a header to sort its column (numbers as numbers), click again to reverse.
SORT_SCRIPT = """document.querySelectorAll("table.sortable").forEach(function (table) {
  table.querySelectorAll("th").forEach(function (th, column) {
    th.classList.add("sortable");
    th.addEventListener("click", function () {
      var rows = Array.from(table.tBodies[0].rows);
      var up = th.dataset.order !== "up";
      th.dataset.order = up ? "up" : "down";
      var key = function (row) {
        var cell = row.cells[column];
        var text = cell ? (cell.dataset.sort || cell.textContent.trim()) : "";
        var number = parseFloat(text);
        return isNaN(number) ? text.toLowerCase() : number;
      };
      rows.sort(function (a, b) {
        var x = key(a), y = key(b);
        if (typeof x !== typeof y) { x = String(x); y = String(y); }
        return (x < y ? -1 : x > y ? 1 : 0) * (up ? 1 : -1);
      });
      rows.forEach(function (row) { table.tBodies[0].appendChild(row); });
    });
  });
});"""


def glb_viewer(summary: RunSummary) -> str:
    """The animated GLB at the front camera, or how to export one."""
    if summary.glb is None:
        return (
            "<p id='no-glb'>No GLB exported yet: run <code>t2v export "
            f"run_dir={html.escape(str(summary.run.root))} format=glb</code>, then "
            "<code>t2v view</code> again.</p>"
        )
    data = base64.b64encode(summary.glb.read_bytes()).decode("ascii")
    camera = summary.camera
    orbit = f"0deg {90.0 - camera['elevation_deg']:g}deg {camera['distance']:g}m"
    return (
        f'<model-viewer id="glb" src="data:model/gltf-binary;base64,{data}" '
        f'camera-orbit="{orbit}" field-of-view="{camera["fov_deg"]:g}deg" '
        'camera-target="0m 0m 0m" min-camera-orbit="auto auto 0m" '
        'max-camera-orbit="auto auto 1000m" min-field-of-view="1deg" max-field-of-view="170deg" '
        'camera-controls autoplay animation-name="frames" shadow-intensity="0" '
        'interaction-prompt="none" '
        f'data-glb="{html.escape(summary.glb.name)}"></model-viewer>'
    )


def video_tag(summary: RunSummary, output: Path, width: int = 480) -> str:
    if summary.video is None:
        return "<span>no video.mp4 yet</span>"
    source = link(summary.video, output)
    return (
        f'<video src="{source}" width="{width}" controls loop muted autoplay playsinline></video>'
    )


def key_value_table(rows: dict[str, Any], heading: str) -> str:
    if not rows:
        return f"<p>No {html.escape(heading.lower())} in metrics.json yet.</p>"
    body = "".join(f"<tr><td>{html.escape(k)}</td><td>{fmt(v)}</td></tr>" for k, v in rows.items())
    return (
        f"<h2>{html.escape(heading)}</h2><table class='sortable'><thead><tr><th>key</th>"
        f"<th>value</th></tr></thead><tbody>{body}</tbody></table>"
    )


def run_page(summary: RunSummary, output: Path) -> str:
    """The page of one run: its video, its animated GLB and its metrics."""
    seconds = {f"{k} (s)": v for k, v in summary.stage_seconds.items()}
    body = (
        f"<h1>{html.escape(summary.prompt)}</h1><p>genre: <b>{html.escape(summary.genre)}</b>"
        f" · run: <code>{html.escape(str(summary.run.root))}</code></p>"
        f"<div class='media'>{video_tag(summary, output)}{glb_viewer(summary)}</div>"
        f"{key_value_table(seconds, 'Stage times')}{key_value_table(summary.reads, 'Evaluation')}"
    )
    return page(f"t2v: {summary.prompt}", body, with_viewer=summary.glb is not None)


def gallery_page(summaries: list[RunSummary], output: Path) -> str:
    """One sortable row per run: prompt, genre, video, stage times, evaluation reads."""
    stages = sorted({s for summary in summaries for s in summary.stage_seconds})
    reads = sorted({r for summary in summaries for r in summary.reads})
    headers = ["prompt", "genre", "video", "total (s)", *(f"{s} (s)" for s in stages), *reads]
    rows = []
    for summary in summaries:
        total = sum(summary.stage_seconds.values())
        cells = [
            f"<td>{html.escape(summary.prompt)}</td>",
            f"<td>{html.escape(summary.genre)}</td>",
            f"<td data-sort='{html.escape(str(summary.run.root))}'>"
            f"{video_tag(summary, output, 240)}</td>",
            f"<td>{fmt(total)}</td>",
            *(f"<td>{fmt(summary.stage_seconds.get(s, ''))}</td>" for s in stages),
            *(f"<td>{fmt(summary.reads.get(r, ''))}</td>" for r in reads),
        ]
        rows.append(f"<tr>{''.join(cells)}</tr>")
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = (
        f"<h1>t2v: {len(summaries)} runs</h1><p>Click a column to sort by it.</p>"
        f"<table class='sortable' id='gallery'><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )
    return page(f"t2v: {len(summaries)} runs", body, with_viewer=False)
