"""The progress report as one self-contained HTML file (figures embedded as base64 PNG).

Every value that comes from a user (names, notes, exercise names, flags, sources) goes
through `html.escape`; the page loads nothing from elsewhere.
"""

from __future__ import annotations

import base64
import functools
import html
import io
import logging
import os
from pathlib import Path
from typing import Callable

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from rehab.fileio import remove_stale_temps, temp_sibling
from rehab import __version__
from rehab.reports import plots, tables
from rehab.reports.assets import css, figure_style, html_template
from rehab.reports.data import ReportData

log = logging.getLogger(__name__)

PNG_DPI = 100


def e(text: object) -> str:
    """Escape any value for HTML text and attribute context."""
    return html.escape(str(text), quote=True)


def figure_png(fig: Figure) -> str:
    """A figure as a base64 PNG data URI."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=PNG_DPI)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _figure(draw: Callable[[Axes], object], caption: str, size: tuple[float, float]) -> str:
    fig = Figure(figsize=size, layout="constrained")
    draw(fig.add_subplot())
    return (f'<figure><img alt="{e(caption)}" src="{figure_png(fig)}">'
            f"<figcaption>{e(caption)}</figcaption></figure>")


def _table(table: tables.Table, empty: str,
           numeric: frozenset[int] | set[int] = frozenset()) -> str:
    header, rows = table
    if not rows:
        return f'<p class="empty">{e(empty)}</p>'
    cls = lambda i: ' class="num"' if i in numeric else ""  # noqa: E731
    head = "".join(f"<th{cls(i)}>{e(h)}</th>" for i, h in enumerate(header))
    body = "".join("<tr>" + "".join(f"<td{cls(i)}>{e(c)}</td>" for i, c in enumerate(r))
                   + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cover(data: ReportData) -> str:
    p = data.patient
    facts = [f"Patient id: {p.id}", f"Affected side: {tables.side_label(p.affected_side)}",
             f"Period: {tables.period_text(data)}"
             + (f" · exercise {data.exercise_filter}" if data.exercise_filter else ""),
             f"Sessions: {len(data.sessions)}"
             + (f" ({data.interrupted} interrupted)" if data.interrupted else "")]
    out = ["<header>", "<h1>Rehabilitation progress report</h1>",
           f'<p class="meta"><strong>{e(p.display_name)}</strong></p>']
    out += [f'<p class="meta">{e(f)}</p>' for f in facts]
    if p.notes:
        out.append(f'<p class="patient-notes">{e(p.notes)}</p>')
    out.append("</header>")
    out.append('<section id="summary"><h2>Summary</h2><h3>Prescriptions</h3>')
    out.append(_table(tables.prescriptions_table(data),
                      "No prescription on file for this period.", {2, 3, 4}))
    out.append("<h3>Range of motion: now vs first session vs target "
               "(median rep, peak angle)</h3>")
    header, rows = tables.headline_table(data)
    out.append(_headline_table(data, header, rows))
    if data.headlines:
        out.append(_figure(lambda ax: plots.plot_rom_headline(data.headlines, ax=ax),
                           "Median peak angle of the first and the latest session, target band "
                           "and normative value",
                           (9.0, 0.9 + 0.45 * len(data.headlines))))
    out.append("</section>")
    return "\n".join(out)


def _headline_table(data: ReportData, header: list[str], rows: list[list[str]]) -> str:
    if not rows:
        return '<p class="empty">No sessions recorded in this period.</p>'
    body = []
    for h, row in zip(data.headlines, rows):
        cells = []
        for i, c in enumerate(row):
            klass = "num" if i else ""
            if i == 4 and h.verdict:
                klass += f" {h.verdict}"
            cells.append(f'<td class="{klass.strip()}">{e(c)}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    head = "".join(f"<th>{e(x)}</th>" for x in header)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _trends(data: ReportData) -> str:
    out = ['<section id="trend"><h2>Recovery trend</h2>']
    if not data.trends:
        out.append('<p class="empty">No sessions recorded in this period.</p>')
    for trend in data.trends:
        out.append(_figure(functools.partial(plots.plot_recovery_trend, trend),
                           f"{trend.label}: peak angle per session (median with interquartile "
                           f"range and min–max; best rep), target band and norm", (9.0, 3.4)))
    if data.symmetry:
        out.append("<h3>Limb symmetry index</h3>")
        out.append(_figure(lambda ax: plots.plot_symmetry_trend(data.symmetry, ax=ax),
                           "Limb symmetry index per session: the involved side's range of "
                           "motion as a percentage of the other side's (100% = equal)",
                           (9.0, 2.8)))
        out.append(_table(tables.symmetry_table(data), "", {1, 2, 3, 4}))
    out.append("</section>")
    return "\n".join(out)


def _adherence(data: ReportData) -> str:
    return "\n".join([
        '<section id="adherence"><h2>Adherence</h2>',
        _figure(lambda ax: plots.plot_sessions_per_week(data.weeks, ax=ax),
                "Sessions per calendar week", (9.0, 2.4)),
        _figure(lambda ax: plots.plot_reps_vs_prescribed(data.weeks, ax=ax),
                "Counted repetitions per week against the prescribed sets × reps", (9.0, 2.8)),
        _table(tables.adherence_table(data), "No sessions and no prescription in this period.",
               {1, 2, 3, 4}),
        "</section>"])


def _latest(data: ReportData) -> str:
    out = ['<section id="latest"><h2>Latest session</h2>']
    latest = data.latest
    if latest is None:
        out.append('<p class="empty">No sessions recorded in this period.</p></section>')
        return "\n".join(out)
    out += [f'<p class="meta">{e(line)}</p>' for line in tables.latest_lines(latest)]
    warning = tables.view_warning(latest)
    out += [f'<p class="warning">{e(line)}</p>' if line == warning else
            f'<p class="meta">{e(line)}</p>' for line in tables.check_lines(latest)]
    if data.trace is not None:
        trace = data.trace
        out.append(_figure(lambda ax: plots.plot_angle_trace(trace, ax=ax),
                           "Smoothed angle with repetition boundaries and the target band",
                           (9.0, 3.0)))
    else:
        out.append(f'<p class="empty">No angle trace: {e(data.trace_problem)}.</p>')
    out.append("<h3>Repetitions</h3>")
    table = tables.reps_table(latest)
    numbers = set(tables.NUMERIC_REP_COLUMNS)
    if data.distances is not None:
        table = data.distances.extend(table)  # inserted before the last column (flags)
        numbers |= set(data.distances.headers)
    numeric = {i for i, h in enumerate(table[0]) if h in numbers}
    out.append(_table(table, "No counted repetition.", numeric))
    if data.distances is not None and latest.reps:
        out.append(f'<p class="meta">{e(data.distances.note)}.</p>')
    if data.sides:
        out.append("<h3>Left / right</h3>")
        out.append(_figure(lambda ax: plots.plot_side_comparison(data.sides, ax=ax),
                           "Latest median peak angle on each side", (9.0, 2.8)))
        out.append(_table(tables.sides_table(data), ""))
    out.append("</section>")
    return "\n".join(out)


def _quality(data: ReportData) -> str:
    lines = tables.quality_lines(data)
    out = ['<section id="quality"><h2>Quality notes</h2>',
           f'<p class="meta">{e(tables.quality_intro(data))}</p>']
    if not lines:
        out.append(f'<p class="empty">{e(tables.QUALITY_EMPTY)}</p>')
    else:
        out.append('<ul class="quality">' + "".join(f"<li>{e(x)}</li>" for x in lines)
                   + "</ul>")
    out.append("</section>")
    return "\n".join(out)


def render_html_text(data: ReportData) -> str:
    """The complete HTML document."""
    with figure_style():
        body = "\n".join([_cover(data), _trends(data), _adherence(data), _latest(data),
                          _quality(data)])
    return html_template().substitute(
        title=e(f"Progress report: {data.patient.display_name}"), css=css(), body=body,
        generated=e(f"{data.generated:%Y-%m-%d %H:%M}"), version=e(__version__))


def render_html(data: ReportData, out: str | os.PathLike[str]) -> Path:
    """Write the report to ``out`` (atomically) and return the path."""
    out = Path(out)
    text = render_html_text(data)
    tmp = temp_sibling(out)
    remove_stale_temps(out)
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    log.debug("wrote %s", out)
    return out
