"""The physiotherapist's progress report, as PDF or self-contained HTML.

>>> from rehab.store import open_store
>>> from rehab.reports import build_report_data, render_report
>>> with open_store() as store:                                  # doctest: +SKIP
...     render_report(build_report_data(store, "p01"), "p01.pdf")

`rehab.reports.data` assembles the numbers (`rehab.reports.adherence` the adherence to the
prescription's sessions per week), `rehab.reports.content` turns them into one
renderer-independent `rehab.reports.document.Document` (sections, paragraphs, tables with
column roles, figures, the sign-off), and `rehab.reports.pdf` and `rehab.reports.html` render
that same document, so both formats say the same things; `rehab.reports.plots` draws the
composable figures (``plot_x(data, ax=None) -> (fig, ax)``) with the styles in the
repository's ``reports/`` folder. Importing this package selects no matplotlib backend.
"""

from __future__ import annotations

import os
from pathlib import Path

from rehab.errors import OutputError
from rehab.reports.data import ReportData, build_report_data
from rehab.reports.norms import NORMATIVE_ROM_DEG, normative_deg

FORMATS = {".pdf": "pdf", ".html": "html", ".htm": "html"}

__all__ = ["FORMATS", "NORMATIVE_ROM_DEG", "ReportData", "build_report_data",
           "check_report_path", "normative_deg", "render_report"]


def check_report_path(out: str | os.PathLike[str]) -> str:
    """The report format from the file suffix; a clear error if unknown or unwritable."""
    from rehab.fileio import check_writable_file

    path = Path(out)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise OutputError(f"{path}: the report file must end in .pdf or .html")
    check_writable_file(path)
    return fmt


def render_report(data: ReportData, out: str | os.PathLike[str], progress: bool = False) -> Path:
    """Render ``data`` to ``out`` (.pdf or .html) and return the path."""
    fmt = check_report_path(out)
    try:
        if fmt == "pdf":
            from rehab.reports.pdf import render_pdf

            return render_pdf(data, out, progress=progress)
        from rehab.reports.html import render_html

        return render_html(data, out)
    except OSError as exc:
        raise OutputError(f"{out}: cannot write the report ({exc.strerror or exc})") from None
