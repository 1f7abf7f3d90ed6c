"""Pages to look at runs: one run's video, animated GLB and metrics, or a sortable gallery."""

from t2v.view.page import GENERATOR, RunSummary, gallery_page, is_view_page, run_page, summarize

__all__ = ["GENERATOR", "RunSummary", "gallery_page", "is_view_page", "run_page", "summarize"]
