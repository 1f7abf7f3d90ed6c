"""`t2v view`: one self-contained HTML page of a run, or a sortable gallery of several."""

from __future__ import annotations

from omegaconf import DictConfig

from t2v.commands.door import resolved
from t2v.config.view import ViewConfig
from t2v.errors import RunDirError
from t2v.rundir import RunDir, atomic_write_text
from t2v.schema import parse


def settings(cfg: DictConfig) -> ViewConfig:
    """The typed options, every folder a t2v run, the page new or one t2v wrote before."""
    from t2v.view import is_view_page

    config = parse(ViewConfig, resolved(cfg), "")
    for folder in config.runs():
        RunDir(folder).load_config()
    page = config.page()
    if page.is_dir() or (page.exists() and not is_view_page(page)):
        raise RunDirError(f"output {page} exists and is not a t2v view page; pass another output=")
    return config


def run(config: ViewConfig) -> None:
    from t2v.view import gallery_page, run_page, summarize

    page = config.page()
    summaries = [summarize(RunDir(folder)) for folder in config.runs()]
    text = gallery_page(summaries, page) if config.run_dirs else run_page(summaries[0], page)
    atomic_write_text(page, text)
    print(f"t2v view: wrote {page} ({len(summaries)} run{'s' if len(summaries) > 1 else ''})")
