"""The progress report as one self-contained HTML file (figures embedded as base64 PNG).

A thin renderer of the report's `Document` (`rehab.reports.content`): sections become
``<section id=...>`` with ``<h2>``, paragraphs ``<p class=tone>``, tables ``<table>`` with
numeric columns right-aligned and better/worse cells classed, plots PNG ``<figure>``s, the
sign-off a block of lines to fill in. Every text goes through `html.escape`; the page loads
nothing from elsewhere.
"""

from __future__ import annotations

import base64
import html
import io
import logging
import os
from pathlib import Path

from matplotlib.figure import Figure

from rehab.fileio import remove_stale_temps, temp_sibling
from rehab import __version__
from rehab.reports.assets import css, figure_style, html_template
from rehab.reports.content import build_document
from rehab.reports.data import ReportData
from rehab.reports.document import (Block, Document, Heading, Paragraph, Plot, Role, SignOff,
                                    Table, Tone)

log = logging.getLogger(__name__)

PNG_DPI = 100
FIGURE_WIDTH_IN = 9.0
TONE_CLASS = {Tone.PLAIN: "", Tone.MUTED: "meta", Tone.WARNING: "warning", Tone.EMPTY: "empty",
              Tone.BETTER: "better", Tone.WORSE: "worse", Tone.STRONG: "strong"}


def e(text: object) -> str:
    """Escape any value for HTML text and attribute context."""
    return html.escape(str(text), quote=True)


def figure_png(fig: Figure) -> str:
    """A figure as a base64 PNG data URI."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=PNG_DPI)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _class(tone: Tone, *extra: str) -> str:
    names = " ".join(n for n in (*extra, TONE_CLASS[tone]) if n)
    return f' class="{names}"' if names else ""


def plot_html(plot: Plot) -> str:
    fig = Figure(figsize=(FIGURE_WIDTH_IN, sum(plot.heights)), layout="constrained")
    axes = fig.subplots(plot.panels, 1, sharex=True, squeeze=False,
                        gridspec_kw={"height_ratios": list(plot.heights)})[:, 0]
    plot.draw(list(axes))
    return (f'<figure><img alt="{e(plot.caption)}" src="{figure_png(fig)}">'
            f"<figcaption>{e(plot.caption)}</figcaption></figure>")


def table_html(table: Table) -> str:
    if not table.rows:
        return f'<p class="empty">{e(table.empty)}</p>'
    role_class = {Role.NUMBER: "num", Role.WIDE: "wide", Role.DATE: "date", Role.TEXT: ""}
    roles = [role_class[c.role] for c in table.columns]

    def cls(i: int, tone: Tone = Tone.PLAIN) -> str:
        return _class(tone, roles[i])

    head = "".join(f"<th{cls(i)}>{e(c.header)}</th>" for i, c in enumerate(table.columns))
    body = "".join("<tr>" + "".join(f"<td{cls(i, c.tone)}>{e(c.text)}</td>"
                                    for i, c in enumerate(row)) + "</tr>"
                   for row in table.rows)
    out = f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    if table.note:
        out += f'<p class="table-note">{e(table.note)}</p>'
    return out


def block_html(block: Block) -> str:
    if isinstance(block, Paragraph):
        return f"<p{_class(block.tone)}>{e(block.text)}</p>"
    if isinstance(block, Heading):
        return f"<h3>{e(block.text)}</h3>"
    if isinstance(block, Table):
        return table_html(block)
    if isinstance(block, Plot):
        return plot_html(block)
    assert isinstance(block, SignOff)
    fields = "".join(f'<div class="field"><span>{e(f)}</span><span class="blank"></span></div>'
                     for f in block.fields)
    return f'<div class="signoff"><p>{e(block.text)}</p>{fields}</div>'


def document_html(doc: Document) -> str:
    """The body of the page."""
    out = ["<header>", f"<h1>{e(doc.title)}</h1>"]
    out += [f"<p{_class(p.tone, 'fact')}>{e(p.text)}</p>" for p in doc.facts]
    out.append("</header>")
    for section in doc.sections:
        out.append(f'<section id="{e(section.key)}"><h2>{e(section.title)}</h2>')
        out += [block_html(b) for b in section.blocks]
        out.append("</section>")
    return "\n".join(out)


def render_html_text(data: ReportData) -> str:
    """The complete HTML document."""
    doc = build_document(data)
    with figure_style():
        body = document_html(doc)
    return html_template().substitute(
        title=e(f"Progress report: {data.patient.display_name}"), css=css(), body=body,
        generated=e(f"{data.generated:%Y-%m-%d %H:%M}"), version=e(__version__),
        footnote="")  # the disclaimer is the document's own closing section


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
