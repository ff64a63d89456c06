"""The validation report: ``validation.html`` and ``validation.pdf`` beside the JSON and CSV.

For a physiotherapist checking the repetition counter on labelled clips: the date, the
rehab version and the manifests used; the exact and within-one rates; a row per exercise;
the confusion of over- and under-counts (count error = counted - true, and which clips);
the per-clip results; and one plot per clip of the smoothed counted angle with each counted
repetition shaded and the uncounted candidates hatched (an alternating analysis shows both
sides, each repetition in its side's colour). A failed clip is a row with its error and no
plot.

The HTML is one self-contained file (inline CSS, figures as base64 PNG, nothing loaded from
elsewhere; user text escaped); the PDF is A4 pages from matplotlib's `PdfPages`. Matplotlib
is imported only while rendering and never through pyplot: no backend is chosen globally,
the figures are drawn on Agg canvases.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import os
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Sequence

from rehab import __version__
from rehab.validate import (FAILED_BIN, ClipResult, ExerciseStats, ValidationSummary,
                            verdict, write_summary)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

log = logging.getLogger(__name__)

TITLE = "Repetition counting validation"
HTML_FILE = "validation.html"
PDF_FILE = "validation.pdf"

# the palette of the progress report (rehab.reports.plots)
TRACE_COLOUR = "#1f77b4"
REP_COLOUR = "#2ca02c"
SIDE_COLOURS = {"left": "#1f77b4", "right": "#ff7f0e"}
UNCOUNTED_COLOUR = "0.45"
LEGEND_PAD = 20.0

A4 = (8.27, 11.69)
CLIP_ROWS_PER_PAGE = 40
TEXT_LINES_PER_PAGE = 55
PLOT_REP_LINES = 30

Table = tuple[list[str], list[list[str]]]

HTML_CSS = """
td.failed { color: var(--warn); }
tr.total td { font-weight: bold; border-top: 2px solid var(--line); }
ul.manifests { margin: .1rem 0; color: var(--muted); }
"""


# --- shared text ---------------------------------------------------------------------------

def bin_label(label: str) -> str:
    """A confusion bin as printed: ``<=-3`` reads ``≤ -3``."""
    return label.replace("<=", "≤ ").replace(">=", "≥ ")


def clip_title(clip: ClipResult) -> str:
    """``file — exercise — true N, counted M`` (``failed`` for a clip without a count)."""
    counted = "failed" if clip.reps_pred is None else f"counted {clip.reps_pred}"
    return f"{clip.row.label} — {clip.row.exercise} — true {clip.row.reps_true}, {counted}"


def _rate(k: int, n: int) -> str:
    return f"{k} of {n} ({100 * k / n:.0f}%)" if n else f"{k} of {n}"


def totals_lines(summary: ValidationSummary) -> list[str]:
    """The totals in words."""
    n = summary.n
    lines = [f"Exact count: {_rate(summary.exact, n)} clips",
             f"Within one repetition: {_rate(summary.within_one, n)} clips",
             f"Normalised mean absolute error: {summary.normalised_mae:.3f} "
             "(|counted − true| / true, averaged over the clips; a failed clip counts as 1)"]
    if summary.failed:
        lines.append(f"Failed: {summary.failed} clip(s) gave no count (see the clip table)")
    return lines


def exercise_table(summary: ValidationSummary) -> tuple[Table, list[str]]:
    """The per-exercise rows and the totals row."""
    header = ["exercise", "clips", "exact", "within one", "over-counts", "under-counts",
              "failed", "nMAE"]

    def row(s: ExerciseStats) -> list[str]:
        return [s.exercise, str(s.clips), _rate(s.exact, s.clips).replace(" of ", "/"),
                _rate(s.within_one, s.clips).replace(" of ", "/"), str(s.over), str(s.under),
                str(s.failed), f"{s.normalised_mae:.3f}"]

    return (header, [row(s) for s in summary.by_exercise()]), row(summary.totals())


def confusion_table(summary: ValidationSummary) -> Table:
    """Count error bins (every one, the failed bin when it has clips) and their clips."""
    rows = [[bin_label(b.label), str(len(b.clips)), ", ".join(c.row.label for c in b.clips)]
            for b in summary.confusion() if b.label != FAILED_BIN or b.clips]
    return ["count error", "clips", "which clips"], rows


def clips_table(summary: ValidationSummary) -> Table:
    header = ["file", "exercise", "side", "true", "counted", "result"]
    rows = [[c.row.label, c.row.exercise, c.side or c.row.side, str(c.row.reps_true),
             "-" if c.reps_pred is None else str(c.reps_pred), verdict(c)]
            for c in summary.clips]
    return header, rows


def _rep_lines(clip: ClipResult) -> list[str]:
    """Each counted repetition's span (and side) and each uncounted candidate."""
    assert clip.trace is not None
    lines, k = [], 0
    for span in clip.trace.reps:
        side = f" ({span.side})" if clip.trace.alternating and span.side else ""
        if span.counted:
            k += 1
            lines.append(f"rep {k}{side}: {span.start_s:.2f}–{span.end_s:.2f} s")
        else:
            lines.append(f"not counted{side}: {span.start_s:.2f}–{span.end_s:.2f} s")
    return lines or ["no repetition candidate"]


# --- the plot ------------------------------------------------------------------------------

def plot_clip(clip: ClipResult, ax: Axes | None = None) -> tuple[Figure, Axes]:
    """One clip's smoothed counted angle against time, counted reps shaded (by side when
    the analysis alternated sides), uncounted candidates hatched."""
    from matplotlib.figure import Figure

    trace = clip.trace
    if trace is None:
        raise ValueError(f"{clip.row.label}: no trace to plot (failed clip, or validated "
                         "without keep_traces)")
    if ax is None:
        fig = Figure(figsize=(9.0, 3.0), layout="constrained")
        ax = fig.add_subplot()
    else:
        parent = ax.figure
        assert isinstance(parent, Figure)
        fig = parent
    from rehab.reports.plots import legend_once

    once = legend_once()

    ax.set_title(clip_title(clip), loc="left", parse_math=False, pad=LEGEND_PAD)
    k = 0
    for span in trace.reps:
        side = span.side if trace.alternating and span.side in SIDE_COLOURS else ""
        colour = SIDE_COLOURS[side] if side else REP_COLOUR
        if span.counted:
            k += 1
            ax.axvspan(span.start_s, span.end_s, color=colour, alpha=0.22, lw=0,
                       label=once(f"counted rep ({side})" if side else "counted rep"))
            if len(trace.reps) <= 40:
                ax.annotate(str(k), (0.5 * (span.start_s + span.end_s), 0.99),
                            xycoords=("data", "axes fraction"), ha="center", va="top",
                            fontsize="x-small", color="0.3")
        else:
            ax.axvspan(span.start_s, span.end_s, facecolor="none",
                       edgecolor=colour if side else UNCOUNTED_COLOUR, hatch="///", lw=0,
                       alpha=0.4, label=once("not counted"))
    angle = trace.angle.replace("_", " ")
    for name, x in trace.traces:
        side = name if name in SIDE_COLOURS else trace.side
        ax.plot(trace.time_s, x, color=SIDE_COLOURS.get(name, TRACE_COLOUR), lw=1.2,
                label=f"{side} {angle}" if side in SIDE_COLOURS else angle)
    ax.set_xlabel("time (s)")
    ax.set_ylabel(f"{angle} (°)", parse_math=False)
    if trace.time_s.size > 1:
        ax.set_xlim(float(trace.time_s[0]), float(trace.time_s[-1]))
    ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncols=4, fontsize="small")
    return fig, ax


def _agg(fig: Figure) -> Figure:
    """Attach an Agg canvas (explicitly, whatever backend the caller chose)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    return fig


# --- HTML ----------------------------------------------------------------------------------

def _html_table(table: Table, numeric: set[int], table_id: str,
                total: list[str] | None = None) -> str:
    from rehab.reports.html import e

    header, rows = table

    def cells(row: list[str], tag: str = "td") -> str:
        out = []
        for i, c in enumerate(row):
            classes = (["num"] if i in numeric else []) + (
                ["failed"] if tag == "td" and c.startswith("error: ") else [])
            attr = f' class="{" ".join(classes)}"' if classes else ""
            out.append(f"<{tag}{attr}>{e(c)}</{tag}>")
        return "".join(out)

    foot = f'<tfoot><tr class="total">{cells(total)}</tr></tfoot>' if total else ""
    body = "".join(f"<tr>{cells(r)}</tr>" for r in rows)
    return (f'<table id="{table_id}"><thead><tr>{cells(header, "th")}</tr></thead>'
            f"<tbody>{body}</tbody>{foot}</table>")


def render_html_text(summary: ValidationSummary, generated: dt.datetime) -> str:
    """The complete, self-contained HTML document."""
    from rehab.reports.assets import css, figure_style, html_template
    from rehab.reports.html import e, figure_png

    (ex_table, total) = exercise_table(summary)
    out = ["<header>", f"<h1>{e(TITLE)}</h1>",
           f'<p class="meta">Generated {e(f"{generated:%Y-%m-%d %H:%M}")} by rehab '
           f"{e(__version__)}; {summary.n} clip(s).</p>",
           '<p class="meta">Manifests:</p><ul class="manifests">'
           + "".join(f"<li>{e(m)}</li>" for m in summary.manifests) + "</ul>",
           "</header>",
           '<section id="totals"><h2>Totals</h2>']
    out += [f"<p>{e(line)}</p>" for line in totals_lines(summary)]
    out += ["</section>", '<section id="by-exercise"><h2>By exercise</h2>',
            _html_table(ex_table, set(range(1, 8)), "by-exercise-table", total),
            "</section>",
            '<section id="confusion"><h2>Over- and under-counts</h2>',
            '<p class="meta">Count error = counted − true repetitions: negative is an '
            "under-count (repetitions missed), positive an over-count.</p>",
            _html_table(confusion_table(summary), {0, 1}, "confusion-table"),
            "</section>",
            '<section id="clips"><h2>Clips</h2>',
            _html_table(clips_table(summary), {3, 4}, "clips-table"),
            "</section>",
            '<section id="plots"><h2>Angle traces</h2>',
            '<p class="meta">The smoothed angle that is counted; shaded spans are counted '
            "repetitions (numbered), hatched spans movements seen but not counted (partial "
            "at the start or end, too short or too long). Failed clips have no plot.</p>"]
    with figure_style():
        for clip in summary.clips:
            if clip.trace is None:
                continue
            fig, _ = plot_clip(clip)
            caption = clip_title(clip)
            out.append(f'<figure><img alt="{e(caption)}" src="{figure_png(_agg(fig))}">'
                       f"<figcaption>{e(caption)}</figcaption></figure>")
    out.append("</section>")
    return html_template().substitute(title=e(TITLE), css=css() + HTML_CSS,
                                      body="\n".join(out),
                                      generated=e(f"{generated:%Y-%m-%d %H:%M}"),
                                      version=e(__version__), footnote=FOOTNOTE)


FOOTNOTE = (" Angles are measured from video by pose estimation\n(clinical neutral-zero "
            "convention); they support, and do not replace, goniometric measurement.")
"""The HTML footer's statement after the generation line (the progress report states it
in its own closing section instead)."""


# --- PDF -----------------------------------------------------------------------------------

def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: max(1, n - 1)] + "…"


class _Pages:
    """Numbered A4 pages with the report's header and footer."""

    def __init__(self, generated: dt.datetime) -> None:
        self.generated = generated
        self.number = 0

    def new(self, title: str) -> Figure:
        from matplotlib.figure import Figure

        self.number += 1
        fig = _agg(Figure(figsize=A4))
        fig.text(0.07, 0.955, title, fontsize=15, weight="bold", parse_math=False)
        fig.text(0.93, 0.025, f"page {self.number}", ha="right", fontsize=7.5, color="0.45")
        fig.text(0.07, 0.025, f"rehab {__version__} · {TITLE.lower()} · generated "
                              f"{self.generated:%Y-%m-%d %H:%M}", fontsize=7.5, color="0.45")
        return fig


CELL_CHARS = 34


def _table(ax: Axes, table: tuple[list[str], list[list[str]]], empty: str,
           fontsize: float = 8.0, widths: list[float] | None = None,
           chars: list[int] | None = None, bold_last: bool = False) -> float:
    """Draw ``table`` (header, rows) as a matplotlib table from the top of ``ax``, cells
    clipped to ``chars`` characters a column; returns its bottom in axes fraction.

    The validation report's tables; the progress report's are laid out by
    `rehab.reports.pdf.PdfWriter.table` (wrapped, never clipped)."""
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
        elif bold_last and r == len(rows):
            cell.get_text().set_fontweight("bold")
    row_heights: dict[int, float] = {}
    for (r, _), cell in t.get_celld().items():
        row_heights[r] = max(row_heights.get(r, 0.0), cell.get_height())
    return 1.0 - t.AXESPAD - sum(row_heights.values())


def _pdf_table(ax: Axes, table: Table, widths: Sequence[float], fontsize: float = 8.0,
               bold_last: bool = False) -> None:
    """Draw ``table`` from the top of ``ax``, each cell clipped to its column's width."""
    chars = [max(4, int(w * 98 * 8.0 / fontsize)) for w in widths]  # ~7 in wide axes
    _table(ax, table, "", fontsize, list(widths), chars, bold_last)


def _text(fig: Figure, lines: Sequence[str], top: float, size: float = 9.0,
          step: float = 0.018) -> float:
    """Write ``lines`` from ``top`` down; returns the y below them."""
    for line in lines:
        fig.text(0.07, top, line, fontsize=size, parse_math=False)
        top -= step
    return top


def _wrapped(lines: Sequence[str], width: int = 110) -> list[str]:
    out: list[str] = []
    for line in lines:
        out += textwrap.wrap(line, width, subsequent_indent="    ") or [""]
    return out


def _pdf_figures(summary: ValidationSummary, generated: dt.datetime) -> Iterator[Figure]:
    """The report's pages in order, one at a time (a clip's page is built when needed)."""
    pages = _Pages(generated)
    fig = pages.new(TITLE)
    manifests = [str(m) for m in summary.manifests]
    if len(manifests) > 8:
        manifests = manifests[:7] + [f"… and {len(manifests) - 7} more"]
    y = _text(fig, [f"Generated {generated:%Y-%m-%d %H:%M} by rehab {__version__}; "
                    f"{summary.n} clip(s)", "Manifests:"], 0.9)
    y = _text(fig, [_clip(f"    {m}", 110) for m in manifests], y, size=8.5)
    y = _text(fig, [""] + _wrapped(totals_lines(summary)), y)
    (header, rows), total = exercise_table(summary)
    widths = [0.22, 0.06, 0.13, 0.13, 0.13, 0.14, 0.08, 0.08]
    first = max(1, int((y - 0.12) / 0.02) - 2)
    chunk, rest = rows[:first], rows[first:]
    fig.text(0.07, y - 0.01, "By exercise", fontsize=11, weight="bold")
    while True:
        last = not rest
        body = chunk + ([total] if last else [])
        h = 0.0165 * (len(body) + 1)
        _pdf_table(fig.add_axes((0.07, y - 0.03 - h, 0.86, h)), (header, body), widths,
                   bold_last=last)
        yield fig
        if last:
            break
        chunk, rest = rest[:CLIP_ROWS_PER_PAGE], rest[CLIP_ROWS_PER_PAGE:]
        fig, y = pages.new("By exercise (continued)"), 0.92

    # the confusion: the bin table, then the clips of each bin in words
    fig = pages.new("Over- and under-counts")
    y = _text(fig, ["Count error = counted − true repetitions: negative is an under-count "
                    "(repetitions missed), positive an over-count."], 0.91, size=8.5)
    conf_header, conf_rows = confusion_table(summary)
    h = 0.0165 * (len(conf_rows) + 1)
    _pdf_table(fig.add_axes((0.07, y - 0.01 - h, 0.5, h)),
               (conf_header[:2], [r[:2] for r in conf_rows]), [0.5, 0.5])
    y -= h + 0.05
    lines = _wrapped([f"{r[0]} ({r[1]} clip{'s' if r[1] != '1' else ''}): {r[2]}"
                      for r in conf_rows if r[2]])
    while lines:
        room = max(1, int((y - 0.06) / 0.0145))
        chunk_lines, lines = lines[:room], lines[room:]
        _text(fig, chunk_lines, y, size=8.5, step=0.0145)
        if lines:
            yield fig
            fig, y = pages.new("Over- and under-counts (continued)"), 0.91
    yield fig

    clip_header, clip_rows = clips_table(summary)
    widths = [0.27, 0.21, 0.07, 0.06, 0.09, 0.3]
    for k in range(0, len(clip_rows), CLIP_ROWS_PER_PAGE):
        fig = pages.new("Clips" + (" (continued)" if k else ""))
        body = clip_rows[k:k + CLIP_ROWS_PER_PAGE]
        h = 0.0165 * (len(body) + 1)
        _pdf_table(fig.add_axes((0.07, 0.92 - h, 0.86, h)), (clip_header, body), widths)
        yield fig

    plotted = [c for c in summary.clips if c.trace is not None]
    for i, clip in enumerate(plotted, start=1):
        fig = pages.new(f"Clip {i} of {len(plotted)}")
        y = _text(fig, [_clip(f"File: {clip.row.path}", 115),
                        _clip(f"Manifest: {clip.row.manifest or '-'}", 115),
                        f"Exercise: {clip.row.exercise} · side {clip.side or clip.row.side} · "
                        f"true {clip.row.reps_true} · counted {clip.reps_pred} · "
                        f"{verdict(clip)}"], 0.91, size=8.5)
        plot_clip(clip, ax=fig.add_axes((0.1, y - 0.34, 0.85, 0.3)))
        reps = _rep_lines(clip)
        if len(reps) > PLOT_REP_LINES:
            reps = reps[:PLOT_REP_LINES - 1] + [f"… and {len(reps) - PLOT_REP_LINES + 1} more"]
        _text(fig, reps, y - 0.4, size=8.5, step=0.0145)
        yield fig


def render_pdf_bytes(summary: ValidationSummary, generated: dt.datetime) -> bytes:
    """The report as PDF bytes."""
    from matplotlib.backends.backend_pdf import PdfPages

    from rehab.reports.assets import figure_style

    buf = io.BytesIO()
    with figure_style(), PdfPages(buf, metadata={"Title": TITLE,
                                                  "Creator": f"rehab {__version__}"}) as pdf:
        for fig in _pdf_figures(summary, generated):
            pdf.savefig(fig)
    return buf.getvalue()


# --- all files -----------------------------------------------------------------------------

def write_report(summary: ValidationSummary, out_dir: str | os.PathLike[str],
                 generated: dt.datetime | None = None) -> list[Path]:
    """Write ``validation.json``, ``.csv``, ``.html`` and ``.pdf`` into ``out_dir`` (each
    atomically); returns their paths. Plots need the clips' traces (``validate(...,
    keep_traces=True)``); clips without one are listed but not plotted."""
    from rehab.fileio import write_bytes_atomic, write_text_atomic

    generated = generated or dt.datetime.now().astimezone()
    json_path = write_summary(summary, out_dir)
    out = json_path.parent
    html_path = write_text_atomic(out / HTML_FILE, render_html_text(summary, generated))
    pdf_path = write_bytes_atomic(out / PDF_FILE, render_pdf_bytes(summary, generated))
    log.debug("wrote %s and %s", html_path, pdf_path)
    return [json_path, out / "validation.csv", html_path, pdf_path]
