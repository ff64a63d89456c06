"""The progress report as a multi-page A4 PDF (matplotlib `PdfPages`).

A thin renderer of the report's `Document` (`rehab.reports.content`): blocks flow down
the pages (a section marked ``new_page`` starts a page). Text is measured in the report's
font (DejaVu Sans) and wrapped to the width it has, so nothing is clipped:

- paragraphs wrap at the text width;
- a table's columns are as wide as their text when the table fits the page width, else at
  least as wide as their longest word, the rest of the width shared out in proportion to
  what each column lacks (free-text columns first); the font shrinks (`TABLE_FONTSIZES`)
  before words are split. Cells wrap inside their column; a table split over pages repeats
  its header;
- a plot's axes are fitted inside their slot after drawing (titles, legends and tick labels
  included), the panels of one plot aligned on their shared x axis.

`layout` returns the pages as figures (with each table cell's column) for tests;
`render_pdf` writes them.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
from pathlib import Path
from typing import Sequence

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from matplotlib.text import Text
from matplotlib.transforms import Bbox

from rehab.fileio import remove_stale_temps, temp_sibling
from rehab import __version__
from rehab.reports.assets import figure_style
from rehab.reports.content import build_document
from rehab.reports.data import ReportData
from rehab.reports.document import (Block, Document, Heading, Paragraph, Plot, Role, SignOff,
                                    Table, Tone)

log = logging.getLogger(__name__)

A4 = (8.27, 11.69)
PT = 72.0
PAGE_W, PAGE_H = A4[0] * PT, A4[1] * PT
LEFT = RIGHT = 0.6 * PT
TOP = PAGE_H - 0.8 * PT
"""Where the content starts (below the running header)."""
BOTTOM = 0.65 * PT
"""Where the content ends (above the footer)."""
TEXT_W = PAGE_W - LEFT - RIGHT
BODY_SIZE = 9.0
LEADING = 1.35
TABLE_FONTSIZES = (8.0, 7.5, 7.0, 6.5, 6.0)
CELL_PAD = 3.0
"""Points between a cell's text and its column's edges."""
LINE_FACTOR = 1.3
"""A table line's height in font sizes (matplotlib's line spacing of DejaVu Sans)."""
SAFETY = 0.97
"""Share of a width that measured text may fill (kerning and rounding)."""
WARNING_COLOUR = "#D55E00"
TONE_STYLE: dict[Tone, dict[str, str]] = {
    Tone.PLAIN: {}, Tone.MUTED: {"color": "0.35"},
    Tone.WARNING: {"color": WARNING_COLOUR, "weight": "bold"},
    Tone.EMPTY: {"color": "0.4", "style": "italic"},
    Tone.BETTER: {"color": "#0072B2", "weight": "bold"},
    Tone.WORSE: {"color": "#D55E00", "weight": "bold"},
    Tone.STRONG: {"weight": "bold"}}
PANEL_GAP = 8.0
"""Points between the panels of a plot."""
NEW_PAGE_ROOM = 0.6
"""A section marked ``new_page`` starts a page unless this share of a page is left."""
KEEP_WITH_NEXT = 60.0
"""A heading needs this much room below it, else it starts the next page."""


@functools.lru_cache(maxsize=65536)
def text_width(text: str, size: float, bold: bool = False) -> float:
    """The width of one line of ``text`` in points, in the report's font, as the Agg
    renderer draws it at 72 dpi (hinted glyphs a little wider than the PDF's)."""
    from matplotlib.font_manager import FontProperties

    prop = FontProperties(family="DejaVu Sans", size=size, weight="bold" if bold else "normal")
    return float(_measurer().get_text_width_height_descent(text, prop, ismath=False)[0])


@functools.lru_cache(maxsize=1)
def _measurer():  # type: ignore[no-untyped-def]
    from matplotlib.backends.backend_agg import RendererAgg

    return RendererAgg(16, 16, PT)


def _split_word(word: str, width: float, size: float, bold: bool) -> list[str]:
    """A word too long for ``width`` in pieces that fit."""
    pieces, cur = [], ""
    for ch in word:
        if cur and text_width(cur + ch, size, bold) > width * SAFETY + 1e-6:
            pieces.append(cur)
            cur = ch
        else:
            cur += ch
    return pieces + [cur] if cur else pieces


def wrap(text: str, width: float, size: float, bold: bool = False) -> list[str]:
    """``text`` in lines no wider than ``width`` points (words split only when one alone
    is wider); its own line breaks are kept."""
    lines: list[str] = []
    space = text_width(" ", size, bold) if text else 0.0
    limit = width * SAFETY + 1e-6
    for para in text.split("\n"):
        cur, cur_w = "", 0.0
        for word in para.split():
            w = text_width(word, size, bold)
            if w > limit:
                if cur:
                    lines.append(cur)
                *full, cur = _split_word(word, width, size, bold)
                lines += full
                cur_w = text_width(cur, size, bold)
                continue
            if cur and cur_w + space + w > limit:
                lines.append(cur)
                cur, cur_w = word, w
            else:
                cur_w = cur_w + space + w if cur else w
                cur = f"{cur} {word}" if cur else word
        lines.append(cur)
    return lines


@dataclasses.dataclass
class Page:
    """One page: its figure and, for each table cell drawn, the column's left and right
    edges (points)."""

    figure: Figure
    cells: list[tuple[Text, float, float]] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True)
class TableLayout:
    widths: list[float]
    """Column widths in points."""
    size: float


def _words_max(text: str, size: float, bold: bool) -> float:
    return max((text_width(w, size, bold) for w in text.split()), default=0.0)


def table_layout(table: Table, width: float = TEXT_W) -> TableLayout:
    """Column widths and font size for ``table`` (see the module's docstring)."""
    pad = 2 * CELL_PAD
    n = len(table.columns)
    for size in TABLE_FONTSIZES:
        natural, least = [], []
        for i, col in enumerate(table.columns):
            cells = [row[i] for row in table.rows]
            nat = max([text_width(col.header, size, True)]
                      + [text_width(line, size, c.tone in (Tone.BETTER, Tone.WORSE,
                                                           Tone.STRONG))
                         for c in cells for line in c.text.split("\n")])
            low = max([_words_max(col.header, size, True)]
                      + [_words_max(c.text, size, True) for c in cells])
            if col.role == Role.WIDE:
                low = min(low, 0.25 * width)
            natural.append(nat / SAFETY + pad)
            least.append(min(nat, low) / SAFETY + pad)
        if sum(natural) <= width:
            widths = list(natural)
            extra = width - sum(widths)
            wide = [i for i, c in enumerate(table.columns) if c.role == Role.WIDE]
            for i in wide:
                widths[i] += extra / len(wide)
            return TableLayout(widths, size)
        if sum(least) <= width or size == TABLE_FONTSIZES[-1]:
            break
    if sum(least) > width:  # words will be split: every column gets its share
        least = [width / n] * n if min(natural) * n > width else [
            min(x, width / n) for x in least]
    extra = width - sum(least)
    lack = [max(0.0, a - b) for a, b in zip(natural, least)]
    total = sum(lack) or 1.0
    widths = [b + extra * x / total for b, x in zip(least, lack)]
    return TableLayout(widths, size)


class PdfWriter:
    """Lays a `Document` out on A4 pages."""

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.pages: list[Page] = []
        self.y = 0.0

    # --- pages --------------------------------------------------------------------------

    @property
    def page(self) -> Page:
        return self.pages[-1]

    @property
    def fig(self) -> Figure:
        return self.page.figure

    def new_page(self) -> None:
        fig = Figure(figsize=A4, dpi=PT)
        self.pages.append(Page(fig))
        number = len(self.pages)
        size = 8.0
        head = wrap(self.doc.subtitle, TEXT_W - 60, size)
        subtitle = head[0] + ("…" if len(head) > 1 else "")
        self._text(LEFT, PAGE_H - 0.45 * PT, f"{self.doc.title} · {subtitle}"
                   if number > 1 else subtitle, size, color="0.35")
        self._text(PAGE_W - RIGHT, 0.4 * PT, f"page {number}", 7.5, color="0.45", ha="right")
        self._text(LEFT, 0.4 * PT, self.doc.footer, 7.5, color="0.45")
        self.y = TOP

    def room(self) -> float:
        return self.y - BOTTOM

    def need(self, height: float) -> None:
        """Start a new page unless ``height`` points fit below the cursor."""
        if height > self.room() and self.y < TOP - 1:
            self.new_page()

    def _text(self, x: float, y: float, text: str, size: float, **kw: object) -> Text:
        """Draw ``text`` with its top at (x, y) points."""
        kw.setdefault("va", "top")
        return self.fig.text(x / PAGE_W, y / PAGE_H, text, fontsize=size, parse_math=False,
                             family="DejaVu Sans", **kw)  # type: ignore[arg-type]

    def _hline(self, x0: float, x1: float, y: float, colour: str = "0.8",
               lw: float = 0.6) -> None:
        self.fig.add_artist(Line2D([x0 / PAGE_W, x1 / PAGE_W], [y / PAGE_H, y / PAGE_H],
                                   transform=self.fig.transFigure, color=colour, lw=lw))

    # --- blocks -------------------------------------------------------------------------

    def lines(self, text: str, size: float, tone: Tone = Tone.PLAIN, indent: float = 0.0,
              after: float = 3.0) -> None:
        style = TONE_STYLE[tone]
        bold = style.get("weight") == "bold"
        for line in wrap(text, TEXT_W - indent, size, bold):
            self.need(size * LEADING)
            self._text(LEFT + indent, self.y, line, size, **style)
            self.y -= size * LEADING
        self.y -= after

    def heading(self, text: str, size: float) -> None:
        self.need(KEEP_WITH_NEXT + size * LEADING)
        self.y -= 4
        self.lines(text, size, Tone.STRONG, after=2)

    def table(self, table: Table) -> None:
        if not table.rows:
            self.lines(table.empty, BODY_SIZE - 0.5, Tone.EMPTY)
            return
        lay = table_layout(table)
        size = lay.size
        xs = [LEFT]
        for w in lay.widths:
            xs.append(xs[-1] + w)
        line_h = size * LINE_FACTOR

        def cell_lines(text: str, i: int, bold: bool) -> list[str]:
            return wrap(text, lay.widths[i] - 2 * CELL_PAD, size, bold)

        header = [cell_lines(c.header, i, True) for i, c in enumerate(table.columns)]
        header_h = max(len(h) for h in header) * line_h + 2 * CELL_PAD

        def draw_header() -> None:
            top = self.y
            self.fig.add_artist(Rectangle((LEFT / PAGE_W, (top - header_h) / PAGE_H),
                                          (xs[-1] - LEFT) / PAGE_W, header_h / PAGE_H,
                                          transform=self.fig.transFigure, facecolor="#eef2f7",
                                          edgecolor="none", zorder=0))
            for i, col in enumerate(table.columns):
                self._cell(header[i], i, xs, top, size, col.role == Role.NUMBER,
                           weight="bold")
            self.y -= header_h
            self._hline(LEFT, xs[-1], self.y, "0.55")

        self.need(header_h + 2 * line_h + 2 * CELL_PAD)
        draw_header()
        for row in table.rows:
            texts = [cell_lines(c.text, i, TONE_STYLE[c.tone].get("weight") == "bold")
                     for i, c in enumerate(row)]
            row_h = max(len(t) for t in texts) * line_h + 2 * CELL_PAD
            if row_h > self.room():
                self.new_page()
                draw_header()
            for i, (c, t) in enumerate(zip(row, texts)):
                self._cell(t, i, xs, self.y, size, table.columns[i].role == Role.NUMBER,
                           **TONE_STYLE[c.tone])
            self.y -= row_h
            self._hline(LEFT, xs[-1], self.y)
        self.y -= 4
        if table.note:
            self.lines(table.note, 7.0, Tone.MUTED)
        self.y -= 4

    def _cell(self, lines: list[str], i: int, xs: list[float], top: float, size: float,
              right: bool, **style: str) -> None:
        x = xs[i + 1] - CELL_PAD if right else xs[i] + CELL_PAD
        t = self._text(x, top - CELL_PAD, "\n".join(lines), size, ha="right" if right
                       else "left", linespacing=1.1, **style)
        self.page.cells.append((t, xs[i], xs[i + 1]))

    def plot(self, plot: Plot) -> None:
        height = sum(plot.heights) * PT
        caption = wrap(plot.caption, TEXT_W, 7.5)
        self.need(height + len(caption) * 7.5 * LEADING + 6)
        top = self.y
        axes: list[Axes] = []
        slots = []
        for h in plot.heights:  # a gap between panels
            slot = Bbox.from_extents(LEFT, top - h * PT + PANEL_GAP, PAGE_W - RIGHT, top)
            slots.append(slot)
            rect = (slot.x0 + 50) / PAGE_W, (slot.y0 + 25) / PAGE_H, \
                (slot.width - 60) / PAGE_W, (slot.height - 50) / PAGE_H
            axes.append(self.fig.add_axes(rect, sharex=axes[0] if axes else None))
            top -= h * PT
        plot.draw(axes)
        for ax in axes[:-1]:
            ax.tick_params(labelbottom=False)
        fit_axes(self.fig, axes, slots)
        self.y = top - 2
        self.lines(plot.caption, 7.5, Tone.MUTED, after=6)

    def sign_off(self, block: SignOff) -> None:
        self.need(40 + 30 * len(block.fields))
        self.lines(block.text, BODY_SIZE + 1, Tone.STRONG, after=10)
        for field in block.fields:
            self.y -= 18
            self._text(LEFT, self.y, field, BODY_SIZE, va="baseline")
            self._hline(LEFT + 80, LEFT + 330, self.y - 2, "0.1", 0.8)
            self.y -= 8

    def block(self, block: Block) -> None:
        if isinstance(block, Paragraph):
            self.lines(block.text, BODY_SIZE, block.tone)
        elif isinstance(block, Heading):
            self.heading(block.text, 10.5)
        elif isinstance(block, Table):
            self.table(block)
        elif isinstance(block, Plot):
            self.plot(block)
        else:
            self.sign_off(block)

    def run(self) -> list[Page]:
        self.new_page()
        self.lines(self.doc.title, 16, Tone.STRONG, after=6)
        for fact in self.doc.facts:
            self.lines(fact.text, BODY_SIZE + 1, fact.tone, after=1)
        self.y -= 6
        for section in self.doc.sections:
            if section.new_page and self.room() < NEW_PAGE_ROOM * (TOP - BOTTOM):
                self.new_page()
            self.heading(section.title, 13)
            self.y -= 2
            for block in section.blocks:
                self.block(block)
        return self.pages


def _renderer(fig: Figure):  # type: ignore[no-untyped-def]
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    return canvas.get_renderer()


def fit_axes(fig: Figure, axes: Sequence[Axes], slots: Sequence[Bbox], passes: int = 2) -> None:
    """Move each of ``axes`` so that everything it draws (ticks, labels, title, legend)
    lies inside its slot (points); the axes share one left and right edge."""
    renderer = _renderer(fig)
    to_fig = fig.transFigure.inverted()
    for _ in range(passes):
        # the axes' decorations and legend (its data artists are clipped to it anyway)
        boxes = [ax.get_tightbbox(renderer, bbox_extra_artists=[
            a for a in (ax.get_legend(),) if a is not None]) for ax in axes]
        poss = [ax.get_position().transformed(fig.transFigure) for ax in axes]
        left = max(s.x0 - b.x0 for s, b in zip(slots, boxes) if b is not None)
        right = max(b.x1 - s.x1 for s, b in zip(slots, boxes) if b is not None)
        x0 = max(p.x0 + left for p in poss)
        x1 = min(p.x1 - right for p in poss)
        for ax, slot, box, pos in zip(axes, slots, boxes, poss):
            if box is None:
                continue
            y0 = pos.y0 + (slot.y0 - box.y0)
            y1 = pos.y1 - (box.y1 - slot.y1)
            if y1 - y0 < 10 or x1 - x0 < 40:
                continue  # nothing sensible: leave it
            ax.set_position(Bbox.from_extents(x0, y0, x1, y1).transformed(to_fig))


def layout(data: ReportData | Document) -> list[Page]:
    """The report's pages (figures not yet saved), in the report's figure style."""
    doc = data if isinstance(data, Document) else build_document(data)
    with figure_style():
        return PdfWriter(doc).run()


def render_pdf(data: ReportData, out: str | os.PathLike[str], progress: bool = False) -> Path:
    """Write the report to ``out`` (atomically) and return the path."""
    from matplotlib.backends.backend_pdf import PdfPages
    from tqdm import tqdm

    out = Path(out)
    tmp = temp_sibling(out, keep_suffix=True)
    remove_stale_temps(out)
    try:
        with figure_style():
            pages = PdfWriter(build_document(data)).run()
            with PdfPages(tmp, metadata={
                    "Title": f"Rehabilitation progress report: {data.patient.display_name}",
                    "Creator": f"rehab {__version__}"}) as pdf:
                for page in tqdm(pages, desc="report pages", unit="page",
                                 disable=not progress):
                    pdf.savefig(page.figure)
        tmp.replace(out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    log.debug("wrote %s (%d pages)", out, len(pages))
    return out
