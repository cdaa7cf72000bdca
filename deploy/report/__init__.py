"""Reports of a deployment run: ``summary.json``, ``report.md`` and a self-contained ``report.html``.

:mod:`deploy.report.summary` holds the data (small frozen dataclasses), :mod:`deploy.report.build` fills it
from the pipeline's results, :mod:`deploy.report.tables` and :mod:`deploy.report.figures` turn it into tables
and PNG figures, and :mod:`deploy.report.html` / :mod:`deploy.report.markdown` write the documents.
"""

from __future__ import annotations

import json
from pathlib import Path

from deploy.report.figures import all_figures
from deploy.report.html import render_html
from deploy.report.markdown import render_markdown
from deploy.report.summary import RunSummary, SpikeData

REPORT_FILES = ("summary.json", "report.md", "report.html")


def summary_json(summary: RunSummary) -> str:
    """``summary.json`` content (pretty-printed, stable key order, trailing newline)."""
    return json.dumps(summary.to_dict(), indent=2, ensure_ascii=False) + "\n"


def write_reports(directory: Path, summary: RunSummary, spikes: SpikeData | None) -> tuple[str, ...]:
    """Write ``summary.json``, ``report.md`` and ``report.html`` into ``directory``.

    Returns:
        The file names written.
    """
    (directory / "summary.json").write_text(summary_json(summary), encoding="utf-8")
    (directory / "report.md").write_text(render_markdown(summary), encoding="utf-8")
    (directory / "report.html").write_text(
        render_html(summary, all_figures(summary, spikes)), encoding="utf-8"
    )
    return REPORT_FILES


__all__ = ["REPORT_FILES", "RunSummary", "SpikeData", "summary_json", "write_reports"]
