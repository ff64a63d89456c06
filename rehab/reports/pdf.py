"""The progress report as a multi-page A4 PDF (matplotlib `PdfPages`).

Pages: cover (patient, period, prescriptions, headline), recovery trend (three exercise/side
panels a page, the limb symmetry index over sessions under the last ones), adherence, latest
session (its measurement checks with the view warning in red, trace, per-rep table sized to
fit the page width, left/right), quality notes.
"""

from __future__ import annotations

import functools
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
REP_FONTSIZES = (7.5, 7.0, 6.5, 6.0)
"""Font sizes the per-rep table tries, largest first, until its columns fit the page."""
TABLE_WIDTH_PT = 0.86 * A4[0] * 72
"""Width of the report's tables in points (0.86 of the page)."""
CELL_TEXT = 0.85
"""Share of a cell's width its text may take (matplotlib puts it a tenth of the width in)."""
MIN_COLUMN = 0.04
ROW_HEIGHT = 1.2 * 1.25 * 10 / 72 / A4[1]
"""Height of a table row in page fractions: matplotlib sizes rows for 10 pt text whatever
the font, and `_table` scales them by 1.25."""
MIN_FLAGS = 0.12
"""The least width left to the per-rep table's last column (the free-text flags)."""
WARNING_COLOUR = "#d62728"


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
    with line breaks gets a row as many times as high as its lines; ``bold_last``: a totals
    row."""
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
            lines = max(h.count("\n") + 1 for h in header)
            if lines > 1:
                cell.set_height(lines * cell.get_height())
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
    last = (chunk + 1) * TRENDS_PER_PAGE >= len(data.trends)
    symmetry = bool(data.symmetry) and last  # the symmetry panel under the last trends
    heights = [1.0] * TRENDS_PER_PAGE
    if symmetry and len(trends) == TRENDS_PER_PAGE:
        heights.append(0.7)  # a shorter fourth row; else the row after the last trend
    gs = fig.add_gridspec(len(heights), 1, left=0.1, right=0.95, top=0.9, bottom=0.07,
                          hspace=0.55 if len(heights) > TRENDS_PER_PAGE else 0.45,
                          height_ratios=heights)
    for i, trend in enumerate(trends):
        plots.plot_recovery_trend(trend, ax=fig.add_subplot(gs[i]))
    if symmetry:
        plots.plot_symmetry_trend(data.symmetry, ax=fig.add_subplot(gs[len(trends)]))
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


@functools.lru_cache(maxsize=4096)
def _text_width(text: str, fontsize: float, bold: bool) -> float:
    """The width of ``text`` in points, in the report's font (DejaVu Sans)."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextToPath

    prop = FontProperties(family="DejaVu Sans", size=fontsize,
                          weight="bold" if bold else "normal")
    return float(TextToPath().get_text_width_height_descent(text, prop, ismath=False)[0])


def _natural_widths(header: list[str], rows: list[list[str]], fontsize: float) -> list[float]:
    """The widths (table fractions) of every column but the last that hold its longest
    header line (bold) and its longest cell at ``fontsize``."""
    widths = []
    for i, h in enumerate(header[:-1]):
        text = max([_text_width(line, fontsize, True) for line in h.split("\n")]
                   + [_text_width(r[i], fontsize, False) for r in rows])
        widths.append(max(MIN_COLUMN, text / CELL_TEXT / TABLE_WIDTH_PT))
    return widths


def _reps_table(data: ReportData, latest: SessionSummary
                ) -> tuple[list[str], list[list[str]], list[float], float]:
    """The latest session's per-rep table (with the distance columns when it has them), its
    column widths and font size: each column as wide as its text, the flags taking the rest
    (at least `MIN_FLAGS`); when the columns do not fit, the headers are broken at their
    spaces, then the font shrinks (`REP_FONTSIZES`), then the columns are squeezed (their
    cells clipped, see `_chars`)."""
    header, rows = tables.reps_table(latest)
    if data.distances is not None:  # distance headers broken before their unit
        n = len(data.distances.headers)
        header, rows = data.distances.extend((header, rows))
        k = len(header) - 1 - n
        header = header[:k] + [h.replace(" (", "\n(") for h in header[k:-1]] + header[-1:]
    broken = [h.replace("\n", " ").replace(" ", "\n") for h in header[:-1]] + header[-1:]
    candidates = [(header, REP_FONTSIZES[0])] + [(broken, size) for size in REP_FONTSIZES]
    for head, size in candidates:
        widths = _natural_widths(head, rows, size)
        if 1.0 - sum(widths) >= MIN_FLAGS:
            return head, rows, widths + [1.0 - sum(widths)], size
    shrink = (1.0 - MIN_FLAGS) / sum(widths)
    widths = [w * shrink for w in widths]
    return head, rows, widths + [1.0 - sum(widths)], size


def _chars(header: list[str], rows: list[list[str]], widths: list[float],
           fontsize: float) -> list[int]:
    """How many characters each column shows (longer cells are clipped with an ellipsis):
    all of a column as wide as its text, a squeezed column's in proportion, the flags'
    as many as their width holds (an average character being 0.55 em)."""
    natural = _natural_widths(header, rows, fontsize)
    chars = []
    for i, w in enumerate(widths[:-1]):
        longest = max((len(r[i]) for r in rows), default=0)
        chars.append(max(CELL_CHARS, longest) if w >= natural[i] - 1e-9
                     else max(3, int(longest * w / natural[i])))
    flags = int(widths[-1] * TABLE_WIDTH_PT * CELL_TEXT / (0.55 * fontsize))
    return chars + [max(3, flags)]


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
    warning = tables.view_warning(latest)
    for line in tables.check_lines(latest):
        strong = line == warning
        for part in (textwrap.wrap(line, 95, subsequent_indent="    ")[:3] if strong
                     else [_clip(line, 130)]):
            fig.text(0.07, y, part, fontsize=8 if not strong else 8.5, parse_math=False,
                     color=WARNING_COLOUR if strong else "0.2",
                     weight="bold" if strong else "normal")
            y -= 0.016
    shift = max(0.0, 0.846 - y)  # lines beyond the three of the header push the rest down
    ax = fig.add_axes((0.1, 0.56 - 0.4 * shift, 0.85, 0.25 - 0.6 * shift))
    if data.trace is not None:
        plots.plot_angle_trace(data.trace, ax=ax)
    else:
        plots._empty(ax, f"No angle trace: {data.trace_problem}.")
    header, rows, widths, size = _reps_table(data, latest)
    top = 0.49 - 0.4 * shift
    sides_height = min(0.17, 0.05 + 0.04 * len(data.sides))
    bottom = 0.07 + sides_height + 0.06 if data.sides else 0.08  # above its title and legend
    room = (top - 0.01 - bottom - ROW_HEIGHT * max(h.count("\n") + 1 for h in header)
            - (0.02 if data.distances is not None else 0.0))
    rows_first = max(1, min(REP_ROWS_FIRST_PAGE, int(room / ROW_HEIGHT)))
    first, rest = rows[:rows_first], rows[rows_first:]
    _heading(fig.add_axes((0.07, top, 0.86, 0.03)), "Repetitions")
    rep_ax = fig.add_axes((0.07, bottom, 0.86, top - bottom - 0.01))
    below = _table(rep_ax, (header, first), "No counted repetition.", fontsize=size,
                   widths=widths, chars=_chars(header, rows, widths, size))
    if data.distances is not None and first:
        rep_ax.text(0.02, below - 0.01, _clip(data.distances.note + ".", 150), fontsize=7.5,
                    color="0.35", va="top", transform=rep_ax.transAxes, parse_math=False)
    if data.sides:
        plots.plot_side_comparison(data.sides, ax=fig.add_axes((0.3, 0.07, 0.65,
                                                                sides_height)))
    figs = [fig]
    while rest:
        chunk, rest = rest[:REP_ROWS_PER_PAGE], rest[REP_ROWS_PER_PAGE:]
        more = _page(data, "Latest session: repetitions (continued)",
                     first_number + len(figs))
        _table(more.add_axes((0.07, 0.07, 0.86, 0.83)), (header, chunk), "", fontsize=size,
               widths=widths, chars=_chars(header, rows, widths, size))
        figs.append(more)
    return figs


def _quality_pages(data: ReportData, first_number: int) -> list[Figure]:
    wrapped: list[str] = []
    for line in tables.quality_lines(data):
        parts = textwrap.wrap(line, 105, subsequent_indent="    ") or [""]
        wrapped += [f"• {parts[0]}"] + parts[1:]
    if not wrapped:
        wrapped = [tables.QUALITY_EMPTY]
    intro = textwrap.wrap(tables.quality_intro(data), 120)[:3]
    figs: list[Figure] = []
    for k in range(0, len(wrapped), QUALITY_LINES_PER_PAGE):
        fig = _page(data, "Quality notes" + (" (continued)" if k else ""),
                    first_number + len(figs))
        y = 0.87
        if not k:
            for i, line in enumerate(intro):
                fig.text(0.07, 0.9 - 0.014 * i, line, fontsize=8.5, color="0.35",
                         parse_math=False)
            y -= 0.014 * (len(intro) - 1)
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
