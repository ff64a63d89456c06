"""The progress report as a multi-page A4 PDF (matplotlib `PdfPages`).

Pages: cover (patient, period, prescriptions, headline), recovery trend (three exercise/side
panels a page), adherence, latest session (trace, per-rep table, left/right), quality notes.
"""

from __future__ import annotations

import logging
import os
import textwrap
from pathlib import Path
from typing import Callable, Iterator

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from rehab.fileio import remove_stale_temps, temp_sibling
from rehab import __version__
from rehab.reports import plots, tables
from rehab.reports.assets import figure_style
from rehab.reports.data import ReportData, SessionSummary

log = logging.getLogger(__name__)

A4 = (8.27, 11.69)
TRENDS_PER_PAGE = 3
REP_ROWS_FIRST_PAGE = 18
REP_ROWS_PER_PAGE = 45
QUALITY_LINES_PER_PAGE = 55
CELL_CHARS = 34
SIDE_WIDTH = 0.05
"""Width of the per-rep table's side column (an alternating session's), in table widths."""


def _clip(text: str, n: int = CELL_CHARS) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _page(data: ReportData, title: str, number: int) -> Figure:
    fig = Figure(figsize=A4)
    fig.text(0.07, 0.955, title, fontsize=15, weight="bold", parse_math=False)
    fig.text(0.07, 0.935, f"{_clip(data.patient.display_name, 60)} ({data.patient.id}) · "
                          f"{tables.period_text(data)}", fontsize=8.5, color="0.35",
             parse_math=False)
    fig.text(0.93, 0.025, f"page {number}", ha="right", fontsize=7.5, color="0.45")
    fig.text(0.07, 0.025, f"rehab {__version__} · generated {data.generated:%Y-%m-%d %H:%M}",
             fontsize=7.5, color="0.45")
    return fig


def _table(ax: Axes, table: tables.Table, empty: str, fontsize: float = 8.0,
           widths: list[float] | None = None, chars: list[int] | None = None,
           bold_last: bool = False) -> float:
    """Draw ``table`` from the top of ``ax``; returns the table's bottom in axes fraction.

    Cells are clipped to ``chars`` characters a column (default `CELL_CHARS`); a header
    with a line break gets a row twice as high; ``bold_last``: a totals row."""
    header, rows = table
    ax.axis("off")
    if not rows:
        ax.text(0, 1, empty, va="top", color="0.4", style="italic", transform=ax.transAxes,
                parse_math=False)
        return 0.9
    limits = chars or [CELL_CHARS] * len(header)
    cells = [[_clip(c, n) for c, n in zip(row, limits)] for row in rows]
    t = ax.table(cellText=cells, colLabels=header, loc="upper left", cellLoc="left",
                 colLoc="left", colWidths=widths)
    t.auto_set_font_size(False)
    t.set_fontsize(fontsize)
    t.scale(1.0, 1.25)
    for (r, _), cell in t.get_celld().items():
        cell.get_text().set_parse_math(False)
        cell.set_edgecolor("0.85")
        if r == 0:
            cell.set_facecolor("#eef2f7")
            cell.get_text().set_fontweight("bold")
            if any("\n" in h for h in header):
                cell.set_height(2 * cell.get_height())
        elif bold_last and r == len(rows):
            cell.get_text().set_fontweight("bold")
    row_heights: dict[int, float] = {}
    for (r, _), cell in t.get_celld().items():
        row_heights[r] = max(row_heights.get(r, 0.0), cell.get_height())
    return 1.0 - t.AXESPAD - sum(row_heights.values())


def _heading(ax: Axes, text: str) -> None:
    ax.axis("off")
    ax.text(0, 0.5, text, fontsize=11, weight="bold", va="center", transform=ax.transAxes,
            parse_math=False)


def _cover(data: ReportData, number: int) -> Figure:
    fig = _page(data, "Rehabilitation progress report", number)
    p = data.patient
    lines = [f"Patient: {p.display_name}  (id {p.id})",
             f"Affected side: {tables.side_label(p.affected_side)}",
             f"Period: {tables.period_text(data)}"
             + (f" · exercise {data.exercise_filter}" if data.exercise_filter else ""),
             f"Sessions: {len(data.sessions)}"
             + (f" ({data.interrupted} interrupted)" if data.interrupted else "")]
    if p.notes:
        wrapped = textwrap.wrap(f"Notes: {p.notes}", 100)
        lines += wrapped[:6] + (["…"] if len(wrapped) > 6 else [])
    y = 0.89
    for line in lines:
        fig.text(0.07, y, line, fontsize=10, parse_math=False)
        y -= 0.022
    top = y - 0.01
    _heading(fig.add_axes((0.07, top - 0.03, 0.86, 0.03)), "Prescriptions")
    n_presc = max(1, len(data.prescriptions))
    h = min(0.25, 0.025 * (n_presc + 1))
    _table(fig.add_axes((0.07, top - 0.04 - h, 0.86, h)), tables.prescriptions_table(data),
           "No prescription on file for this period.")
    top = top - 0.06 - h
    _heading(fig.add_axes((0.07, top - 0.03, 0.86, 0.03)),
             "Range of motion: now vs first session vs target (median rep, peak angle)")
    n_head = max(1, len(data.headlines))
    h = min(top - 0.1, 0.025 * (n_head + 1))
    _table(fig.add_axes((0.07, top - 0.04 - h, 0.86, h)), tables.headline_table(data),
           "No sessions recorded in this period.", fontsize=7.5,
           widths=[0.3, 0.05, 0.16, 0.16, 0.07, 0.1, 0.06, 0.07])
    top = top - 0.06 - h
    if data.headlines and top > 0.2:
        h = min(top - 0.09, 0.07 + 0.04 * len(data.headlines))
        plots.plot_rom_headline(data.headlines,
                                ax=fig.add_axes((0.3, top - 0.04 - h, 0.63, h)))
    return fig


def _trend_page(data: ReportData, number: int, chunk: int) -> Figure:
    fig = _page(data, "Recovery trend", number)
    trends = data.trends[chunk * TRENDS_PER_PAGE:(chunk + 1) * TRENDS_PER_PAGE]
    if not trends:
        plots._empty(fig.add_axes((0.1, 0.5, 0.8, 0.3)), "No sessions recorded in this period.")
        return fig
    gs = fig.add_gridspec(TRENDS_PER_PAGE, 1, left=0.1, right=0.95, top=0.9, bottom=0.07,
                          hspace=0.45)
    for i, trend in enumerate(trends):
        plots.plot_recovery_trend(trend, ax=fig.add_subplot(gs[i]))
    return fig


def _adherence_page(data: ReportData, number: int) -> Figure:
    fig = _page(data, "Adherence", number)
    gs = fig.add_gridspec(3, 1, left=0.1, right=0.95, top=0.9, bottom=0.07, hspace=0.45,
                          height_ratios=[0.8, 1.2, 1.0])
    plots.plot_sessions_per_week(data.weeks, ax=fig.add_subplot(gs[0]))
    plots.plot_reps_vs_prescribed(data.weeks, ax=fig.add_subplot(gs[1]))
    _table(fig.add_subplot(gs[2]), tables.adherence_table(data),
           "No sessions and no prescription in this period.")
    return fig


def _reps_table(data: ReportData, latest: SessionSummary
                ) -> tuple[list[str], list[list[str]], list[float]]:
    """The latest session's per-rep table (with the distance columns when it has them) and
    its column widths."""
    header, rows = tables.reps_table(latest)
    side = latest.session.alternating  # its side column takes room from the flags
    if data.distances is None:
        widths = [0.05, 0.08, 0.1, 0.09, 0.08, 0.09, 0.08, 0.07]
        if side:
            widths.insert(1, SIDE_WIDTH)
        return header, rows, widths + [1.0 - sum(widths)]
    # distance columns (headers broken before their unit) take room from the flags
    n = len(data.distances.headers)
    header, rows = data.distances.extend((header, rows))
    k = len(header) - 1 - n
    header = header[:k] + [h.replace(" (", "\n(") for h in header[k:-1]] + header[-1:]
    widths = [0.04, 0.065, 0.08, 0.07, 0.055, 0.09, 0.08, 0.055]
    if side:
        widths.insert(1, SIDE_WIDTH)
    widths += [max(0.09, 0.005 + 0.0098 * max(map(len, h.split("\n"))))
               for h in header[k:-1]]  # room for the bold header at 7.5 pt
    widths.append(1.0 - sum(widths))
    return header, rows, widths


def _latest_pages(data: ReportData, first_number: int) -> list[Figure]:
    fig = _page(data, "Latest session", first_number)
    latest = data.latest
    if latest is None:
        plots._empty(fig.add_axes((0.1, 0.5, 0.8, 0.3)), "No sessions recorded in this period.")
        return [fig]
    y = 0.9
    for line in tables.latest_lines(latest):
        fig.text(0.07, y, _clip(line, 110), fontsize=9, parse_math=False)
        y -= 0.018
    ax = fig.add_axes((0.1, 0.56, 0.85, 0.25))
    if data.trace is not None:
        plots.plot_angle_trace(data.trace, ax=ax)
    else:
        plots._empty(ax, f"No angle trace: {data.trace_problem}.")
    header, rows, widths = _reps_table(data, latest)
    first, rest = rows[:REP_ROWS_FIRST_PAGE], rows[REP_ROWS_FIRST_PAGE:]
    bottom = 0.3 if data.sides else 0.08
    _heading(fig.add_axes((0.07, 0.49, 0.86, 0.03)), "Repetitions")
    rep_ax = fig.add_axes((0.07, bottom, 0.86, 0.49 - bottom - 0.01))
    below = _table(rep_ax, (header, first), "No counted repetition.", fontsize=7.5,
                   widths=widths)
    if data.distances is not None and first:
        rep_ax.text(0.02, below - 0.01, _clip(data.distances.note + ".", 150), fontsize=7.5,
                    color="0.35", va="top", transform=rep_ax.transAxes, parse_math=False)
    if data.sides:
        n = len(data.sides)
        plots.plot_side_comparison(data.sides, ax=fig.add_axes(
            (0.3, 0.07, 0.65, min(0.17, 0.05 + 0.04 * n))))
    figs = [fig]
    while rest:
        chunk, rest = rest[:REP_ROWS_PER_PAGE], rest[REP_ROWS_PER_PAGE:]
        more = _page(data, "Latest session: repetitions (continued)",
                     first_number + len(figs))
        _table(more.add_axes((0.07, 0.07, 0.86, 0.83)), (header, chunk), "", fontsize=7.5,
               widths=widths)
        figs.append(more)
    return figs


def _quality_pages(data: ReportData, first_number: int) -> list[Figure]:
    wrapped: list[str] = []
    for line in tables.quality_lines(data):
        parts = textwrap.wrap(line, 105, subsequent_indent="    ") or [""]
        wrapped += [f"• {parts[0]}"] + parts[1:]
    if not wrapped:
        wrapped = ["No tracking or camera problems were noted in this period."]
    figs: list[Figure] = []
    for k in range(0, len(wrapped), QUALITY_LINES_PER_PAGE):
        fig = _page(data, "Quality notes" + (" (continued)" if k else ""),
                    first_number + len(figs))
        if not k:
            fig.text(0.07, 0.9, "Repetitions rejected for tracking loss, camera and view "
                                "warnings from the analyses, interrupted sessions.",
                     fontsize=8.5, color="0.35")
        y = 0.87
        for line in wrapped[k:k + QUALITY_LINES_PER_PAGE]:
            fig.text(0.07, y, line, fontsize=8.5, family="DejaVu Sans", parse_math=False)
            y -= 0.0145
        figs.append(fig)
    return figs


def _pages(data: ReportData) -> Iterator[Callable[[int], list[Figure]]]:
    """Page builders in order; each takes its first page number and returns its pages."""
    yield lambda n: [_cover(data, n)]
    n_trend = max(1, -(-len(data.trends) // TRENDS_PER_PAGE))
    for chunk in range(n_trend):
        def trend(n: int, c: int = chunk) -> list[Figure]:
            return [_trend_page(data, n, c)]
        yield trend
    yield lambda n: [_adherence_page(data, n)]
    yield lambda n: _latest_pages(data, n)
    yield lambda n: _quality_pages(data, n)


def render_pdf(data: ReportData, out: str | os.PathLike[str], progress: bool = False) -> Path:
    """Write the report to ``out`` (atomically) and return the path."""
    from matplotlib.backends.backend_pdf import PdfPages
    from tqdm import tqdm

    out = Path(out)
    tmp = temp_sibling(out, keep_suffix=True)
    remove_stale_temps(out)
    builders = list(_pages(data))
    number = 1
    try:
        with figure_style(), PdfPages(tmp, metadata={
                "Title": f"Rehabilitation progress report: {data.patient.display_name}",
                "Creator": f"rehab {__version__}"}) as pdf:
            for build in tqdm(builders, desc="report pages", unit="section",
                              disable=not progress):
                for fig in build(number):
                    pdf.savefig(fig)
                    number += 1
        tmp.replace(out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    log.debug("wrote %s (%d pages)", out, number - 1)
    return out
