"""A printable checkerboard (PDF or SVG, vector, exact millimetres) for calibration.

The page holds the board with a white border (the detectors need it), a line of text naming
the board and a 100 mm scale bar to check the print was not scaled ("print at 100 %").
No dependency beyond the standard library: the PDF is written directly (one page,
rectangles and Helvetica text).
"""

from __future__ import annotations

import os
from pathlib import Path

from rehab.fileio import write_bytes_atomic, write_text_atomic
from rehab.errors import ConfigError

PAGES_MM: dict[str, tuple[float, float]] = {
    "a4": (210.0, 297.0),
    "a3": (297.0, 420.0),
    "letter": (215.9, 279.4),
}
"""Portrait page sizes in millimetres; the board is laid out landscape when wider."""

LABEL_MM = 22.0
"""Space below the board for the label and the scale bar."""

_PT_PER_MM = 72.0 / 25.4


def _border_mm(square_mm: float) -> float:
    return max(8.0, 0.5 * square_mm)


def board_label(board: tuple[int, int], square_mm: float) -> tuple[str, str]:
    """The two lines of text printed under the board."""
    return (f"rehab checkerboard: {board[0]}x{board[1]} inner corners "
            f"({board[0] + 1}x{board[1] + 1} squares of {square_mm:g} mm)",
            "Print at 100% (no fit-to-page). The bar below must measure 100 mm.")


def page_layout(board: tuple[int, int], square_mm: float, page: str = "a4"
                ) -> tuple[float, float, float, float]:
    """``(page_w, page_h, board_x, board_y)`` in mm, origin top-left.

    ``page`` is a key of `PAGES_MM` or ``"fit"`` (page just large enough).
    """
    cols, rows = board
    if cols < 2 or rows < 2 or not square_mm > 0:
        raise ConfigError(f"board {cols}x{rows} with {square_mm} mm squares is not printable")
    bw, bh = (cols + 1) * square_mm, (rows + 1) * square_mm
    border = _border_mm(square_mm)
    need_w, need_h = bw + 2 * border, bh + 2 * border + LABEL_MM
    if page == "fit":
        pw, ph = max(need_w, 120.0), need_h
    elif page in PAGES_MM:
        pw, ph = PAGES_MM[page]
        if need_w > need_h:
            pw, ph = ph, pw
        if need_w > pw or need_h > ph:
            raise ConfigError(
                f"a {cols}x{rows} board of {square_mm:g} mm squares needs "
                f"{need_w:.0f}x{need_h:.0f} mm with its border; it does not fit {page.upper()} "
                f"({pw:.0f}x{ph:.0f} mm): use smaller squares, a larger page or page 'fit'")
    else:
        raise ConfigError(f"unknown page '{page}' (choose {', '.join(PAGES_MM)} or fit)")
    x = (pw - bw) / 2.0
    y = (ph - LABEL_MM - bh) / 2.0
    return pw, ph, x, y


def _squares(board: tuple[int, int], square_mm: float, x0: float, y0: float
             ) -> list[tuple[float, float, float, float]]:
    cols, rows = board
    return [(x0 + i * square_mm, y0 + j * square_mm, square_mm, square_mm)
            for j in range(rows + 1) for i in range(cols + 1) if (i + j) % 2 == 0]


def board_svg(board: tuple[int, int], square_mm: float, page: str = "a4") -> str:
    """SVG text of the printable page (user units are millimetres)."""
    pw, ph, x0, y0 = page_layout(board, square_mm, page)
    by = y0 + (board[1] + 1) * square_mm
    rects = "\n".join(f'  <rect x="{x:.3f}" y="{y:.3f}" width="{w:.3f}" height="{h:.3f}"/>'
                      for x, y, w, h in _squares(board, square_mm, x0, y0))
    bar_x = (pw - 100.0) / 2.0
    lines = [t.replace("&", "&amp;").replace("<", "&lt;") for t in board_label(board, square_mm)]
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="{pw:.3f}mm" height="{ph:.3f}mm" \
viewBox="0 0 {pw:.3f} {ph:.3f}">
 <rect x="0" y="0" width="{pw:.3f}" height="{ph:.3f}" fill="#ffffff"/>
 <g fill="#000000">
{rects}
 </g>
 <g font-family="Helvetica, Arial, sans-serif" font-size="3" text-anchor="middle">
  <text x="{pw / 2:.3f}" y="{by + 5:.3f}">{lines[0]}</text>
  <text x="{pw / 2:.3f}" y="{by + 9:.3f}">{lines[1]}</text>
 </g>
 <g stroke="#000000" stroke-width="0.4">
  <line x1="{bar_x:.3f}" y1="{by + 14:.3f}" x2="{bar_x + 100:.3f}" y2="{by + 14:.3f}"/>
  <line x1="{bar_x:.3f}" y1="{by + 11:.3f}" x2="{bar_x:.3f}" y2="{by + 17:.3f}"/>
  <line x1="{bar_x + 100:.3f}" y1="{by + 11:.3f}" x2="{bar_x + 100:.3f}" y2="{by + 17:.3f}"/>
 </g>
</svg>
"""


def _pdf_text(s: str) -> str:
    return s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def board_pdf(board: tuple[int, int], square_mm: float, page: str = "a4") -> bytes:
    """A one-page vector PDF of the printable board (exact size when printed at 100 %)."""
    pw, ph, x0, y0 = page_layout(board, square_mm, page)
    k = _PT_PER_MM

    def y_pdf(y_mm: float) -> float:  # PDF origin is bottom-left
        return (ph - y_mm) * k

    ops = ["0 g"]
    for x, y, w, h in _squares(board, square_mm, x0, y0):
        ops.append(f"{x * k:.3f} {y_pdf(y + h):.3f} {w * k:.3f} {h * k:.3f} re f")
    by = y0 + (board[1] + 1) * square_mm
    font_pt = 8.5
    for line, dy in zip(board_label(board, square_mm), (5.0, 9.0)):
        # Helvetica averages ~0.5 em per character: centre the line approximately
        text_w = 0.5 * font_pt * len(line)
        ops.append(f"BT /F1 {font_pt} Tf {(pw * k - text_w) / 2:.3f} {y_pdf(by + dy):.3f} Td "
                   f"({_pdf_text(line)}) Tj ET")
    bar_x = (pw - 100.0) / 2.0
    ops.append("0 G 1.1 w")
    ops.append(f"{bar_x * k:.3f} {y_pdf(by + 14):.3f} m {(bar_x + 100) * k:.3f} "
               f"{y_pdf(by + 14):.3f} l S")
    for xb in (bar_x, bar_x + 100.0):
        ops.append(f"{xb * k:.3f} {y_pdf(by + 11):.3f} m {xb * k:.3f} {y_pdf(by + 17):.3f} l S")
    return _pdf_file("\n".join(ops).encode("ascii"), pw * k, ph * k)


def _pdf_file(content: bytes, width_pt: float, height_pt: float) -> bytes:
    """A one-page PDF around a content stream (Helvetica as /F1), with its xref table."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        (f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {width_pt:.3f} {height_pt:.3f}] "
         "/Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>").encode("ascii"),
        b"<< /Length " + str(len(content)).encode("ascii") + b" >>\nstream\n" + content
        + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n".encode("ascii") + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode("ascii")
    out += b"".join(f"{o:010d} 00000 n \n".encode("ascii") for o in offsets)
    out += (f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n"
            "%%EOF\n").encode("ascii")
    return bytes(out)


def write_board(path: str | os.PathLike[str], board: tuple[int, int], square_mm: float,
                page: str = "a4") -> Path:
    """Write the printable board as ``.pdf`` or ``.svg`` (chosen by the suffix)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        return write_bytes_atomic(path, board_pdf(board, square_mm, page))
    if suffix == ".svg":
        return write_text_atomic(path, board_svg(board, square_mm, page))
    raise ConfigError(f"{path}: the board is written as .pdf or .svg, not '{suffix or path.name}'")
