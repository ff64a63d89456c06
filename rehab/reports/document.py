"""The report as a renderer-independent document: what it says, not how it looks.

`rehab.reports.content.build_document` turns `ReportData` into one `Document`; the PDF
(`rehab.reports.pdf`) and the HTML (`rehab.reports.html`) renderers lay the same document
out, so both say the same things. A document is a title, facts under it and sections; a
section holds blocks in order:

- `Paragraph`: text in a `Tone` (plain, muted, a warning, an empty-section remark);
- `Table`: columns with a role (`Role`: text, number, or a long text that wraps first),
  rows of `Cell` (text and an optional better/worse tone), a note printed under it;
- `Plot`: a figure drawn on one or more stacked axes sharing their x axis (the renderers
  make the axes: the PDF on its page, the HTML in a PNG);
- `SignOff`: the clinician's name, signature and date lines.

All text is plain: renderers escape it (HTML) or draw it without math parsing (PDF).
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Callable, Sequence, Union

from matplotlib.axes import Axes


class Tone(str, enum.Enum):
    """How a paragraph or a cell reads."""

    PLAIN = "plain"
    MUTED = "muted"
    """Secondary facts, captions, rules."""
    WARNING = "warning"
    EMPTY = "empty"
    """Nothing to show in a section or table."""
    BETTER = "better"
    WORSE = "worse"
    STRONG = "strong"


class Role(str, enum.Enum):
    """A table column's role: how renderers align and size it."""

    TEXT = "text"
    """Short text (names, dates): sized to its content, wrapped when it must."""
    NUMBER = "number"
    """Numbers: right-aligned, never wrapped."""
    DATE = "date"
    """Dates and times: never wrapped."""
    WIDE = "wide"
    """Long free text (notes, flags): takes the width left over and wraps."""


@dataclasses.dataclass(frozen=True)
class Paragraph:
    text: str
    tone: Tone = Tone.PLAIN


@dataclasses.dataclass(frozen=True)
class Heading:
    """A sub-heading inside a section."""

    text: str


@dataclasses.dataclass(frozen=True)
class Column:
    header: str
    role: Role = Role.TEXT


@dataclasses.dataclass(frozen=True)
class Cell:
    text: str
    tone: Tone = Tone.PLAIN


@dataclasses.dataclass(frozen=True)
class Table:
    columns: tuple[Column, ...]
    rows: tuple[tuple[Cell, ...], ...]
    empty: str = ""
    """Shown instead of the table when it has no rows."""
    note: str = ""
    """A footnote printed under the table ('' none)."""

    def __post_init__(self) -> None:
        for row in self.rows:
            if len(row) != len(self.columns):
                raise ValueError(f"a row of {len(row)} cells in a table of "
                                 f"{len(self.columns)} columns")

    @property
    def headers(self) -> list[str]:
        return [c.header for c in self.columns]


Draw = Callable[[Sequence[Axes]], None]


@dataclasses.dataclass(frozen=True)
class Plot:
    """A figure: ``draw`` fills ``panels`` stacked axes (sharing x) of the given heights."""

    draw: Draw
    caption: str
    heights: tuple[float, ...] = (2.6,)
    """Each panel's height in inches (their titles, tick labels and legends included)."""

    @property
    def panels(self) -> int:
        return len(self.heights)


@dataclasses.dataclass(frozen=True)
class SignOff:
    """The clinician's sign-off: a sentence and blank lines to fill in."""

    text: str
    fields: tuple[str, ...] = ("Name", "Signature", "Date")


Block = Union[Paragraph, Heading, Table, Plot, SignOff]


@dataclasses.dataclass(frozen=True)
class Section:
    key: str
    """A stable identifier (the HTML ``id``)."""
    title: str
    blocks: tuple[Block, ...]
    new_page: bool = True
    """The PDF starts the section on a new page."""


@dataclasses.dataclass(frozen=True)
class Document:
    title: str
    subtitle: str
    """Patient and period, repeated on every PDF page."""
    facts: tuple[Paragraph, ...]
    sections: tuple[Section, ...]
    footer: str
    """Software and generation time."""

    def texts(self) -> list[str]:
        """Every paragraph, heading, table header and cell text, sign-off and fact: what
        both renderers must show."""
        out = [self.title, *(p.text for p in self.facts)]
        for section in self.sections:
            out.append(section.title)
            for block in section.blocks:
                if isinstance(block, (Paragraph, Heading)):
                    out.append(block.text)
                elif isinstance(block, Table):
                    if block.rows:
                        out += block.headers
                        out += [c.text for row in block.rows for c in row]
                    else:
                        out.append(block.empty)
                    if block.note:
                        out.append(block.note)
                elif isinstance(block, SignOff):
                    out += [block.text, *block.fields]
                elif isinstance(block, Plot):
                    out.append(block.caption)
        return [t for t in out if t]
