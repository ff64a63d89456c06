"""Drawing on video frames: skeleton, the tracked angle against its target band, a labelled
gauge, the rep's peak against the target, and an end-of-session summary.

The ``draw_*`` functions draw into a BGR image in place and are shared by the offline
overlay video (`render_overlay`) and live coaching (`rehab.live.ui`); each returns the
rectangles it drew into, so that tests check the layout without reading pixels. Type is
large and high-contrast (sized with the frame, `_scale`) so that it reads from two metres.

Placement rule (`Placer`): every text box and the gauge is placed, frame by frame, in the
one of a few fixed places (the four corners, the middle of the left and right edges, the
middle of the top and bottom edges) that overlaps least with the body: the bounding box of
the visible landmarks (weight 1), the tracked limb's box and the target wedge at its joint
(weight 4) and the other side's same limb (weight 2); boxes placed earlier in the frame
are avoided more strongly still (weight 50), and the text panel is at most a third of the
frame wide.
A box stays where it was as long as no other place is strictly better, so it moves only
when the body comes under it (no jumping back and forth). Backgrounds are semi-transparent.

Colours are colour-blind safe (Okabe-Ito): the target band and "met" in sky blue, "not
met" in orange, the current value in yellow; met or not is also said in words.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from rehab.errors import InputError, OutputError
from rehab.exercises import TRUNK_ANGLES
from rehab.fileio import remove_stale_temps, temp_sibling

if TYPE_CHECKING:
    from rehab.exercises import Exercise
    from rehab.model import Analysis, Rep

log = logging.getLogger(__name__)

Colour = tuple[int, int, int]
Line = tuple[str, Colour]
"""One line of a text box: its text and colour (BGR)."""
Rect = tuple[int, int, int, int]
"""``(x0, y0, x1, y1)`` in pixels, ``x1``/``y1`` exclusive."""

WHITE: Colour = (255, 255, 255)
BLACK: Colour = (0, 0, 0)
GREY: Colour = (170, 170, 170)
SKY_BLUE: Colour = (233, 180, 86)
"""Okabe-Ito sky blue (BGR): the target band, a target met."""
ORANGE: Colour = (0, 159, 230)
"""Okabe-Ito orange (BGR): a target not met."""
YELLOW: Colour = (66, 228, 240)
"""Okabe-Ito yellow (BGR): the current value."""
GREEN: Colour = (80, 200, 60)
AMBER: Colour = (0, 180, 255)
CYAN: Colour = (230, 200, 40)
MET: Colour = SKY_BLUE
NOT_MET: Colour = ORANGE
FONT = cv2.FONT_HERSHEY_SIMPLEX

SUMMARY_S = 3.0
"""Seconds the summary frame is held at the end of an overlay video."""

PLACES = ("top-left", "top-right", "middle-left", "middle-right", "bottom-left",
          "bottom-right", "top-center", "bottom-center")
"""Where a box may go, in order of preference at a tie."""

# Which landmarks form the vertex of each angle (first, vertex, last) for the arc.
_ARC_POINTS = {
    "knee_flexion": ("hip", "knee", "ankle"),
    "hip_flexion": ("shoulder", "hip", "knee"),
    "hip_abduction": ("shoulder", "hip", "knee"),
    "shoulder_flexion": ("hip", "shoulder", "elbow"),
    "shoulder_abduction": ("hip", "shoulder", "elbow"),
    "elbow_flexion": ("shoulder", "elbow", "wrist"),
    "ankle_plantarflexion": ("knee", "ankle", "foot_index"),
}

# The tracked limb's points by the joint of the angle (the limb beyond the joint).
_LIMB_POINTS = {
    "shoulder": ("shoulder", "elbow", "wrist", "pinky", "index", "thumb"),
    "elbow": ("shoulder", "elbow", "wrist", "pinky", "index", "thumb"),
    "hip": ("hip", "knee", "ankle", "heel", "foot_index"),
    "knee": ("hip", "knee", "ankle", "heel", "foot_index"),
    "ankle": ("knee", "ankle", "heel", "foot_index"),
}
_TRUNK_POINTS = ("shoulder", "hip")

BODY_WEIGHT = 1.0
LIMB_WEIGHT = 4.0
OTHER_LIMB_WEIGHT = 2.0
PANEL_WEIGHT = 50.0
PANEL_WIDTH = 0.32
"""The text panel is at most this fraction of the frame's width (its text shrinks)."""


def _scale(img: np.ndarray) -> float:
    """Size unit of the drawing: 1 for a 720-pixel frame (by its smaller side)."""
    return max(0.6, min(img.shape[0], img.shape[1]) / 720.0)


def _pt(p: np.ndarray) -> tuple[int, int]:
    return int(round(float(p[0]))), int(round(float(p[1])))


# --- text ------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=2048)
def _sprite(text: str, scale: float, colour: Colour,
            thickness: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, int]:
    """Outlined text rendered once: (its colours, alpha, 1 - alpha, x pad, ascent).

    ``cv2.putText`` with anti-aliasing at these sizes costs about 0.3 ms a call; the
    overlay's texts repeat from frame to frame, so they are rendered once and blended.
    """
    outline = thickness + max(2, int(round(1.6 * thickness)))
    (tw, th), base = cv2.getTextSize(text, FONT, scale, outline)
    pad = outline
    h, w = th + base + 2 * pad, tw + 2 * pad
    fill = np.zeros((h, w), np.uint8)
    edge = np.zeros((h, w), np.uint8)
    org = (pad, pad + th)
    cv2.putText(edge, text, org, FONT, scale, (255,), outline, cv2.LINE_AA)
    cv2.putText(fill, text, org, FONT, scale, (255,), thickness, cv2.LINE_AA)
    a_fill = fill.astype(np.float32) / 255.0
    alpha = np.maximum(edge.astype(np.float32) / 255.0, a_fill)
    # the colour where the text is, fading to the black outline
    share = np.divide(a_fill, alpha, out=np.zeros_like(alpha), where=alpha > 0)
    fg = np.clip(np.asarray(colour, np.float32) * share[..., None], 0, 255).astype(np.uint8)
    return fg, alpha, (1.0 - alpha).astype(np.float32), pad, pad + th


def text(img: np.ndarray, s: str, org: tuple[int, int], scale: float, colour: Colour,
         thickness: float) -> None:
    """``s`` with a black outline, baseline starting at ``org`` (as ``cv2.putText``)."""
    fg, alpha, inv, pad, ascent = _sprite(s, round(scale, 3), tuple(colour),  # type: ignore[arg-type]
                                          max(1, int(round(thickness))))
    x0, y0 = org[0] - pad, org[1] - ascent
    h, w = alpha.shape[:2]
    ix0, iy0 = max(0, x0), max(0, y0)
    ix1, iy1 = min(img.shape[1], x0 + w), min(img.shape[0], y0 + h)
    if ix1 <= ix0 or iy1 <= iy0:
        return
    sx, sy = ix0 - x0, iy0 - y0
    sl = (slice(sy, sy + iy1 - iy0), slice(sx, sx + ix1 - ix0))
    roi = img[iy0:iy1, ix0:ix1]
    roi[:] = cv2.blendLinear(np.ascontiguousarray(fg[sl]), np.ascontiguousarray(roi),
                             np.ascontiguousarray(alpha[sl]), np.ascontiguousarray(inv[sl]))


def text_size(s: str, scale: float, thickness: float) -> tuple[int, int]:
    """Width and height (ascent) in pixels of ``s`` at ``scale``."""
    (w, h), _ = cv2.getTextSize(s, FONT, scale, max(1, int(round(thickness))))
    return w, h


def fit_scale(s: str, max_width: int, scale: float, thickness: float) -> float:
    """The largest font scale <= ``scale`` whose text fits ``max_width`` pixels."""
    width = text_size(s, scale, thickness)[0]
    return scale if width <= max_width else scale * max_width / max(1, width)


def wrap(s: str, max_width: int, scale: float, thickness: float,
         max_lines: int = 2) -> list[str]:
    """``s`` broken at spaces into at most ``max_lines`` lines, each fitting ``max_width``
    pixels where the words allow (the last line takes what is left)."""
    words = s.split()
    lines: list[str] = []
    while words and len(lines) < max_lines - 1:
        k = 1
        while k < len(words) and \
                text_size(" ".join(words[:k + 1]), scale, thickness)[0] <= max_width:
            k += 1
        lines.append(" ".join(words[:k]))
        words = words[k:]
    if words:
        lines.append(" ".join(words))
    return lines or [s]


def shade(img: np.ndarray, rect: Rect, alpha: float = 0.55) -> None:
    """Darken ``rect`` by ``alpha`` (a semi-transparent text background)."""
    x0, y0, x1, y1 = rect
    roi = img[max(0, y0):max(0, y1), max(0, x0):max(0, x1)]
    if roi.size:
        cv2.convertScaleAbs(roi, dst=roi, alpha=1.0 - alpha)


# --- where boxes go ----------------------------------------------------------------------------

def overlap(a: Rect, b: Rect) -> int:
    """The area two rectangles share (0 when they do not meet)."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return max(0, w) * max(0, h)


def rect_at(place: str, frame: tuple[int, int], box: tuple[int, int], margin: int) -> Rect:
    """The rectangle of a ``box`` (width, height) at ``place`` in a ``frame`` (width,
    height), ``margin`` pixels in from its edges (clipped to the frame)."""
    fw, fh = frame
    bw, bh = min(box[0], fw), min(box[1], fh)
    vert, _, horiz = place.partition("-")
    x = {"left": margin, "right": fw - margin - bw, "center": (fw - bw) // 2}[horiz]
    y = {"top": margin, "bottom": fh - margin - bh, "middle": (fh - bh) // 2}[vert]
    x, y = max(0, min(x, fw - bw)), max(0, min(y, fh - bh))
    return x, y, x + bw, y + bh


def landmark_box(pts: np.ndarray, vis: np.ndarray, indices: Sequence[int] | None = None,
                 min_visibility: float = 0.5, pad: int = 0) -> Rect | None:
    """The bounding box (padded by ``pad`` pixels) of the visible points among ``indices``
    (default all) of ``pts`` (33, 2) in pixels; None when none is visible."""
    idx = np.arange(pts.shape[0]) if indices is None else np.asarray(indices, np.int64)
    if idx.size == 0:
        return None
    p = pts[idx]
    ok = np.isfinite(p).all(axis=1) & (vis[idx] >= min_visibility)
    if not ok.any():
        return None
    p = p[ok]
    x0, y0 = np.floor(p.min(axis=0)).astype(int) - pad
    x1, y1 = np.ceil(p.max(axis=0)).astype(int) + pad + 1
    return int(x0), int(y0), int(x1), int(y1)


def limb_indices(angle_name: str, side: str) -> tuple[int, ...]:
    """Landmark indices of the limb ``angle_name`` moves on ``side`` (the trunk's corners
    for trunk angles)."""
    from rehab.sequence import LANDMARK_INDEX

    sides = ("left", "right") if angle_name in TRUNK_ANGLES or side not in ("left", "right") \
        else (side,)
    names = _TRUNK_POINTS if angle_name in TRUNK_ANGLES else \
        _LIMB_POINTS.get(angle_name.split("_")[0], ())
    return tuple(LANDMARK_INDEX[f"{sd}_{n}"] for sd in sides for n in names)


def body_boxes(pts: np.ndarray, vis: np.ndarray, angle_name: str, side: str, pad: int,
               min_visibility: float = 0.5) -> list[tuple[Rect, float]]:
    """What boxes should keep clear of, with weights: the whole visible body, the tracked
    limb, the other side's same limb (`annotate_frame` adds the target wedge, weighted as
    the limb)."""
    out: list[tuple[Rect, float]] = []
    body = landmark_box(pts, vis, None, min_visibility, pad)
    if body is not None:
        out.append((body, BODY_WEIGHT))
    limb = landmark_box(pts, vis, limb_indices(angle_name, side), min_visibility, pad)
    if limb is not None:
        out.append((limb, LIMB_WEIGHT))
    if side in ("left", "right") and angle_name not in TRUNK_ANGLES:
        other = "right" if side == "left" else "left"
        box = landmark_box(pts, vis, limb_indices(angle_name, other), min_visibility, pad)
        if box is not None:
            out.append((box, OTHER_LIMB_WEIGHT))
    return out


def place_cost(rect: Rect, avoid: Sequence[tuple[Rect, float]]) -> float:
    """Weighted area of ``rect`` over the boxes to ``avoid``."""
    return float(sum(w * overlap(rect, r) for r, w in avoid))


class Placer:
    """Places boxes frame by frame where they cover least of the body (see the module's
    placement rule), remembering each box's place between frames."""

    def __init__(self) -> None:
        self.places: dict[str, str] = {}
        """The place each named box had last."""
        self._frame: tuple[int, int] = (0, 0)
        self._avoid: list[tuple[Rect, float]] = []
        self.margin = 0

    def start(self, frame: tuple[int, int], avoid: Sequence[tuple[Rect, float]],
              margin: int) -> None:
        """A new frame of size ``frame`` (width, height) whose body boxes are ``avoid``
        (empty when nobody is seen: every box stays where it was)."""
        self._frame = frame
        self._avoid = list(avoid)
        self.margin = margin

    def place(self, name: str, box: tuple[int, int],
              places: Sequence[str] = PLACES) -> Rect:
        """The rectangle for box ``name`` of size ``box``: its last place unless another
        is strictly better; then kept clear of by the boxes placed after it."""
        costs = {p: place_cost(rect_at(p, self._frame, box, self.margin), self._avoid)
                 for p in places}
        best = min(places, key=lambda p: costs[p])
        prev = self.places.get(name)
        chosen = prev if prev in costs and costs[prev] <= costs[best] else best
        self.places[name] = chosen
        rect = rect_at(chosen, self._frame, box, self.margin)
        self._avoid.append((rect, PANEL_WEIGHT))
        return rect


# --- text boxes --------------------------------------------------------------------------------

def box_metrics(img: np.ndarray, lines: Sequence[Line], max_width: int,
                sizes: Sequence[float] | None = None) -> tuple[tuple[int, int], list[float]]:
    """The (width, height) of a text box holding ``lines`` and the font scale of each
    line (its ``sizes``, 1 by default, shrunk together to fit ``max_width``)."""
    s = _scale(img)
    sizes = list(sizes) if sizes is not None else [1.0] * len(lines)
    scales = [0.85 * s * k for k in sizes]
    pad = int(14 * s)
    widths = [text_size(t, sc, 2.4 * sc)[0] for (t, _), sc in zip(lines, scales)]
    widest = max(widths, default=0)
    if widest > max_width - 2 * pad:
        f = max(0.5, (max_width - 2 * pad) / widest)
        scales = [sc * f for sc in scales]
        widths = [int(w * f) + 1 for w in widths]
    height = sum(int(40 * sc) for sc in scales) + 2 * pad
    return (max(widths, default=0) + 2 * pad, height), scales


def draw_text_box(img: np.ndarray, rect: Rect, lines: Sequence[Line],
                  scales: Sequence[float], alpha: float = 0.55, center: bool = False) -> Rect:
    """``lines`` in ``rect`` on a semi-transparent dark background; returns ``rect``."""
    s = _scale(img)
    shade(img, rect, alpha)
    pad = int(14 * s)
    y = rect[1] + pad
    for (t, colour), sc in zip(lines, scales):
        step = int(40 * sc)
        x = rect[0] + pad
        if center:
            x = (rect[0] + rect[2] - text_size(t, sc, 2.4 * sc)[0]) // 2
        text(img, t, (x, y + int(0.75 * step)), sc, colour, 2.4 * sc)
        y += step
    return rect


def draw_panel(img: np.ndarray, lines: Sequence[Line], placer: Placer | None = None,
               sizes: Sequence[float] | None = None, name: str = "panel",
               places: Sequence[str] = PLACES) -> Rect | None:
    """A semi-transparent box of a few large lines of text, placed by ``placer`` (at the
    top-left without one); returns its rectangle (None without lines)."""
    if not lines:
        return None
    h, w = img.shape[:2]
    size, scales = box_metrics(img, lines, int(PANEL_WIDTH * w), sizes)
    if placer is None:
        m = int(10 * _scale(img))
        rect = rect_at("top-left", (w, h), size, m)
    else:
        rect = placer.place(name, size, places)
    return draw_text_box(img, rect, lines, scales)


# --- the gauge ---------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class GaugeLayout:
    """Where the gauge's parts are (pixels): see `gauge_layout`."""

    rect: Rect
    """The whole gauge with its labels (its shaded background)."""
    bar: Rect
    band: Rect
    """The target band on the bar."""
    ticks: tuple[tuple[float, int, Rect], ...]
    """Each tick: its value in degrees, its height on the bar, its number's rectangle."""
    labels: tuple[tuple[str, Rect], ...]
    """The header lines (the angle's name, the target band's numbers) and where."""
    marker: tuple[int, Rect] | None
    """The current value: its height on the bar and its number's rectangle."""
    span: tuple[float, float]
    scale: float


def gauge_span(target: tuple[float, float]) -> tuple[float, float, float]:
    """The gauge's (low, high, tick step) in degrees: from 0 (or below the band) to a
    multiple of the step above the band, at most 180 unless the band is beyond."""
    lo_t, hi_t = sorted(target)
    step = 30.0 if hi_t > 60 else 10.0
    lo = min(0.0, math.floor(lo_t / step) * step)
    hi = max(step * math.ceil((hi_t + 0.5 * step) / step), lo + 3 * step)
    hi = min(hi, max(180.0, math.ceil(hi_t / step) * step))
    return lo, hi, step


def _header(label: str, target: tuple[float, float]) -> list[Line]:
    lo, hi = sorted(target)
    words = label.split()
    head = [" ".join(words[:1]), " ".join(words[1:])] if len(label) > 12 and len(words) > 1 \
        else [label]
    return [(t, WHITE) for t in head if t] + [(f"target {lo:g}-{hi:g}", SKY_BLUE)]


def gauge_size(img: np.ndarray, label: str, target: tuple[float, float]) -> tuple[int, int]:
    """The (width, height) `gauge_layout` takes."""
    lay = gauge_layout((img.shape[1], img.shape[0]), (0, 0), label, target, math.nan,
                       _scale(img))
    return lay.rect[2] - lay.rect[0], lay.rect[3] - lay.rect[1]


def gauge_layout(frame: tuple[int, int], origin: tuple[int, int], label: str,
                 target: tuple[float, float], value: float, s: float) -> GaugeLayout:
    """The gauge's geometry with its top-left corner at ``origin``: a header (the angle's
    name and the target band's numbers), then tick numbers, the vertical bar with the
    target band, and the current value's number beside its marker."""
    fw, fh = frame
    lo, hi, step = gauge_span(target)
    pad = int(12 * s)
    tick_sc, head_sc, val_sc = 0.62 * s, 0.72 * s, 0.95 * s
    tick_w = text_size(f"{hi:.0f}" if hi >= 100 else "-90", tick_sc, 2 * s)[0]
    val_w = text_size("180", val_sc, 2.4 * s)[0]
    bar_w = int(30 * s)
    inner_w = tick_w + int(8 * s) + bar_w + int(14 * s) + val_w
    head = _header(label, target)
    head_sc = min(head_sc, *(fit_scale(t, inner_w, head_sc, 2 * s) for t, _ in head))
    line_h = int(34 * head_sc / 0.72)
    x0, y0 = origin
    labels: list[tuple[str, Rect]] = []
    y = y0 + pad
    for t, _ in head:
        tw, th = text_size(t, head_sc, 2 * s)
        labels.append((t, (x0 + pad, y, x0 + pad + tw, y + line_h)))
        y += line_h
    bar_h = max(int(120 * s), min(int(0.42 * fh), int(300 * s)))
    bar_top = y + int(16 * s)
    bx0 = x0 + pad + tick_w + int(8 * s)
    bar = (bx0, bar_top, bx0 + bar_w, bar_top + bar_h)

    def y_of(v: float) -> int:
        f = (min(max(v, lo), hi) - lo) / (hi - lo)
        return int(round(bar[3] - f * bar_h))

    ticks = []
    v = lo
    while v <= hi + 1e-9:
        tw, th = text_size(f"{v:.0f}", tick_sc, 2 * s)
        yy = y_of(v)
        ticks.append((v, yy, (bx0 - int(8 * s) - tw, yy - th // 2, bx0 - int(8 * s),
                              yy + th - th // 2)))
        v += step
    t_lo, t_hi = sorted(target)
    band = (bar[0], y_of(t_hi), bar[2], y_of(t_lo))
    marker = None
    if math.isfinite(value):
        ym = y_of(value)
        vw, vh = text_size(f"{value:.0f}", val_sc, 2.4 * s)
        vx = bar[2] + int(14 * s)
        marker = (ym, (vx, ym - vh // 2, vx + vw, ym + vh - vh // 2))
    width = max(inner_w, *(r[2] - x0 - pad for _, r in labels)) + 2 * pad
    rect = (x0, y0, x0 + width, bar[3] + int(14 * s) + pad)
    return GaugeLayout(rect, bar, band, tuple(ticks), tuple(labels), marker, (lo, hi), s)


def draw_gauge(img: np.ndarray, value: float, target: tuple[float, float], label: str = "",
               placer: Placer | None = None) -> GaugeLayout:
    """A vertical gauge: the angle's name, a scale with ticks and degree numbers, the target
    band with its numbers, the current value's marker and number; placed by ``placer`` (at
    the right edge without one). Returns where its parts went."""
    s = _scale(img)
    h, w = img.shape[:2]
    size = gauge_size(img, label, target)
    if placer is None:
        m = int(10 * s)
        origin = rect_at("middle-right", (w, h), size, m)[:2]
    else:
        origin = placer.place("gauge", size, ("middle-right", "middle-left", "bottom-right",
                                              "bottom-left", "top-right", "top-left"))[:2]
    lay = gauge_layout((w, h), origin, label, target, value, s)
    shade(img, lay.rect, 0.5)
    head = _header(label, target)
    for (t, colour), (_, r) in zip(head, lay.labels):
        sc = fit_scale(t, r[2] - r[0] + 1, 0.72 * s, 2 * s)
        sc = min(sc, 0.72 * s)
        text(img, t, (r[0], r[1] + int(0.8 * (r[3] - r[1]))), sc, colour, 2 * s)
    bx0, by0, bx1, by1 = lay.bar
    cv2.rectangle(img, (bx0, by0), (bx1, by1), (60, 60, 60), -1)
    cv2.rectangle(img, (lay.band[0], lay.band[1]), (lay.band[2], lay.band[3]), SKY_BLUE, -1)
    cv2.rectangle(img, (lay.band[0], lay.band[1]), (lay.band[2], lay.band[3]), WHITE,
                  max(1, int(2 * s)))
    cv2.rectangle(img, (bx0, by0), (bx1, by1), WHITE, max(1, int(2 * s)))
    for v, yy, r in lay.ticks:
        cv2.line(img, (bx0 - int(6 * s), yy), (bx0, yy), WHITE, max(1, int(2 * s)))
        text(img, f"{v:.0f}", (r[0], r[3]), 0.62 * s, WHITE, 2 * s)
    if lay.marker is not None:
        ym, r = lay.marker
        half = max(2, int(4 * s))
        cv2.rectangle(img, (bx0 - int(8 * s), ym - half - 2),
                      (bx1 + int(8 * s), ym + half + 2), BLACK, -1)
        cv2.rectangle(img, (bx0 - int(8 * s), ym - half), (bx1 + int(8 * s), ym + half),
                      YELLOW, -1)
        text(img, f"{value:.0f}", (r[0], r[3]), 0.95 * s, YELLOW, 2.4 * s)
    return lay


# --- the joint ---------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class WedgeLayout:
    """The target wedge at the joint: its centre, radius, the band's start and end angle
    on screen (degrees, OpenCV's convention) and the rectangle of its numbers."""

    center: tuple[int, int]
    radius: int
    band_deg: tuple[float, float]
    label: Rect | None


def draw_angle_arc(img: np.ndarray, vertex: np.ndarray, reference: np.ndarray,
                   limb_point: np.ndarray, value: float,
                   target: tuple[float, float] | None) -> WedgeLayout | None:
    """The target band as a wedge at ``vertex`` (filled, outlined, its numbers beside it),
    measured from the ``reference`` direction (0 deg) towards ``limb_point``, and the
    current angle as an arc with its number."""
    if not (np.isfinite(vertex).all() and np.isfinite(reference).all()
            and np.isfinite(limb_point).all()):
        return None
    if np.linalg.norm(reference) < 1e-6:
        return None
    s = _scale(img)
    seg = limb_point - vertex
    radius = int(max(75 * s, min(150 * s, 0.8 * float(np.linalg.norm(seg)))))
    ref_deg = math.degrees(math.atan2(reference[1], reference[0]))
    seg_deg = math.degrees(math.atan2(seg[1], seg[0]))
    direction = 1.0 if ((seg_deg - ref_deg + 540) % 360 - 180) >= 0 else -1.0
    c = _pt(vertex)
    band = (ref_deg, ref_deg)
    label = None
    if target is not None:
        lo, hi = sorted(target)
        band = (ref_deg + direction * lo, ref_deg + direction * hi)
        r = radius + 2
        x0, y0 = max(0, c[0] - r), max(0, c[1] - r)
        x1, y1 = min(img.shape[1], c[0] + r + 1), min(img.shape[0], c[1] + r + 1)
        if x1 > x0 and y1 > y0:
            roi = img[y0:y1, x0:x1]
            layer = roi.copy()
            cv2.ellipse(layer, (c[0] - x0, c[1] - y0), (radius, radius), 0, band[0], band[1],
                        SKY_BLUE, -1, cv2.LINE_AA)
            cv2.addWeighted(layer, 0.6, roi, 0.4, 0, dst=roi)
        for width, colour in ((max(3, int(5 * s)), BLACK), (max(1, int(2 * s)), WHITE)):
            cv2.ellipse(img, c, (radius, radius), 0, band[0], band[1], colour, width,
                        cv2.LINE_AA)
            for a in band:
                end = (int(round(c[0] + radius * math.cos(math.radians(a)))),
                       int(round(c[1] + radius * math.sin(math.radians(a)))))
                cv2.line(img, c, end, colour, width, cv2.LINE_AA)
        mid = math.radians(0.5 * (band[0] + band[1]))
        words = f"{lo:g}-{hi:g}"
        sc = 0.75 * s
        tw, th = text_size(words, sc, 2 * s)
        cx = c[0] + (radius + 14 * s) * math.cos(mid)
        cy = c[1] + (radius + 14 * s) * math.sin(mid)
        lx = int(cx - tw / 2 + (tw / 2) * math.cos(mid))
        ly = int(cy + th / 2 + (th / 2) * math.sin(mid))
        lx = max(0, min(lx, img.shape[1] - tw))
        ly = max(th, min(ly, img.shape[0] - 2))
        text(img, words, (lx, ly), sc, SKY_BLUE, 2 * s)
        label = (lx, ly - th, lx + tw, ly)
    if math.isfinite(value):
        cv2.ellipse(img, c, (radius - int(10 * s), radius - int(10 * s)), 0, ref_deg,
                    ref_deg + direction * value, BLACK, max(4, int(9 * s)), cv2.LINE_AA)
        cv2.ellipse(img, c, (radius - int(10 * s), radius - int(10 * s)), 0, ref_deg,
                    ref_deg + direction * value, YELLOW, max(2, int(5 * s)), cv2.LINE_AA)
        text(img, f"{value:.0f}", (c[0] + radius // 3, c[1] - radius // 3), 0.9 * s,
             YELLOW, 2.4 * s)
    return WedgeLayout(c, radius, band, label)


def draw_skeleton(img: np.ndarray, pts: np.ndarray, vis: np.ndarray,
                  min_visibility: float = 0.5, highlight: tuple[int, ...] = ()) -> None:
    """Bones and joints from pixel coordinates ``pts`` (33, 2); hidden points are skipped."""
    from rehab.sequence import SKELETON_EDGES

    s = _scale(img)
    ok = np.isfinite(pts).all(axis=1) & (vis >= min_visibility)
    for a, b in SKELETON_EDGES:
        if ok[a] and ok[b]:
            color = CYAN if a in highlight and b in highlight else WHITE
            cv2.line(img, _pt(pts[a]), _pt(pts[b]), BLACK, int(6 * s), cv2.LINE_AA)
            cv2.line(img, _pt(pts[a]), _pt(pts[b]), color, int(3 * s), cv2.LINE_AA)
    for i in range(11, 33):
        if ok[i]:
            cv2.circle(img, _pt(pts[i]), int(5 * s), CYAN if i in highlight else GREEN, -1,
                       cv2.LINE_AA)


def arc_landmarks(angle: str, side: str) -> tuple[int, int, int] | None:
    """Landmark indices (first, vertex, last) for drawing ``angle`` on ``side``."""
    from rehab.sequence import LANDMARK_INDEX

    if angle in TRUNK_ANGLES or angle not in _ARC_POINTS:
        return None
    a, b, c = _ARC_POINTS[angle]
    return (LANDMARK_INDEX[f"{side}_{a}"], LANDMARK_INDEX[f"{side}_{b}"],
            LANDMARK_INDEX[f"{side}_{c}"])


def angle_label(angle_name: str) -> str:
    """The angle's name for the gauge (``knee flexion``)."""
    return angle_name.replace("_", " ")


@dataclasses.dataclass(frozen=True)
class Layout:
    """What `annotate_frame` drew where."""

    panel: Rect | None
    gauge: GaugeLayout
    wedge: WedgeLayout | None
    body: tuple[tuple[Rect, float], ...]
    """The body's boxes the panels kept clear of (empty when nobody was seen)."""


def annotate_frame(img: np.ndarray, pts: np.ndarray | None, vis: np.ndarray | None,
                   angle_name: str, side: str, value: float, target: tuple[float, float],
                   lines: Sequence[Line], placer: Placer | None = None,
                   sizes: Sequence[float] | None = None) -> Layout:
    """Everything for one frame: skeleton, the target wedge at the joint, the gauge and the
    text panel, the last two placed by ``placer`` clear of the body (a fresh one without)."""
    from rehab.sequence import LANDMARK_INDEX as I

    placer = placer or Placer()
    s = _scale(img)
    h, w = img.shape[:2]
    body: list[tuple[Rect, float]] = []
    wedge = None
    if pts is not None and vis is not None:
        body = body_boxes(pts, vis, angle_name, side, int(12 * s))
        idx = arc_landmarks(angle_name, side)
        draw_skeleton(img, pts, vis, highlight=idx or ())
        joint = angle_name.split("_")[0]
        if idx is not None and joint in ("hip", "shoulder"):
            # measured from the trunk midline, downwards
            down = 0.5 * (pts[I["left_hip"]] + pts[I["right_hip"]]) - 0.5 * (
                pts[I["left_shoulder"]] + pts[I["right_shoulder"]])
            wedge = draw_angle_arc(img, pts[idx[1]], down, pts[idx[2]], value, target)
        elif idx is not None and joint in ("knee", "elbow"):
            # flexion from the straight limb: the extension of the proximal segment
            wedge = draw_angle_arc(img, pts[idx[1]], pts[idx[1]] - pts[idx[0]], pts[idx[2]],
                                   value, target)
    if wedge is not None:  # the wedge and its numbers are kept clear as the limb is
        c, r = wedge.center, wedge.radius + int(10 * s)
        body.append(((c[0] - r, c[1] - r, c[0] + r, c[1] + r), LIMB_WEIGHT))
        if wedge.label is not None:
            body.append((wedge.label, LIMB_WEIGHT))
    placer.start((w, h), body, int(10 * s))
    panel = draw_panel(img, lines, placer, sizes)
    gauge = draw_gauge(img, value, target, angle_label(angle_name), placer)
    return Layout(panel, gauge, wedge, tuple(body))


# --- what the panel says -----------------------------------------------------------------------

def verdict(peak: float, target: tuple[float, float], rest: str) -> str:
    """``met`` when ``peak`` is in the band, else ``short`` (not as far from rest as the
    band) or ``beyond``."""
    lo, hi = sorted(target)
    if lo <= peak <= hi:
        return "met"
    below = peak < lo
    return "short" if below == (rest == "low") else "beyond"


def rep_verdict(rep: "Rep", target: tuple[float, float], rest: str) -> str:
    """The rep's `verdict`, ``met`` exactly when the rep's ``target_met`` says so."""
    if rep.target_met:
        return "met"
    word = verdict(rep.peak_deg, target, rest)
    return "short" if word == "met" else word


def status_lines(count: str, target: tuple[float, float], rest: str,
                 peak_now: float | None, last: "Rep | None") -> list[Line]:
    """The rep lines of the panel, offline and live: the count; the headline, which is the
    peak so far of the rep under way against the target band (``peak 84 / target 90-120``),
    else the last rep's peak and whether it met the target, else the band; and the last
    rep's ROM, score and quality grade (grey when poor: not to be trusted)."""
    lo, hi = sorted(target)
    band = f"{lo:g}-{hi:g}"
    lines: list[Line] = [(count, WHITE)]
    if peak_now is not None and math.isfinite(peak_now):
        word = verdict(peak_now, target, rest)
        lines.append({"met": (f"peak {peak_now:.0f} in target {band}", MET),
                      "short": (f"peak {peak_now:.0f} / target {band}", NOT_MET),
                      "beyond": (f"peak {peak_now:.0f} past target {band}", NOT_MET)}[word])
    elif last is not None:
        word = rep_verdict(last, target, rest)
        lines.append((f"last peak {last.peak_deg:.0f}: "
                      f"{'target met' if word == 'met' else word + ' of ' + band}",
                      MET if word == "met" else NOT_MET))
    else:
        lines.append((f"target peak {band} deg", WHITE))
    if last is not None:
        grade = f"  {last.quality}" if last.quality else ""
        colour = GREY if last.quality == "poor" else WHITE
        if peak_now is not None and math.isfinite(peak_now):
            word = rep_verdict(last, target, rest)
            lines.append((f"last {last.peak_deg:.0f} {word}{grade}", colour))
        else:
            lines.append((f"ROM {last.rom_deg:.0f}  score {last.score}{grade}", colour))
    return lines


def panel_lines(analysis: "Analysis", count: int, value: float, last: "Rep | None",
                peak_now: float | None = None, reps_goal: int | None = None) -> list[Line]:
    """The text panel of one frame offline: `status_lines` (``peak_now``: the peak so far
    of the rep under way, see `rep_in_progress`), and a warning line when the session's
    camera view was off. ``value`` (the angle now) is on the gauge."""
    ex = analysis.exercise
    reps = f"reps {count}" + (f" / {reps_goal}" if reps_goal else "")
    lines = status_lines(reps, (ex.target.min_deg, ex.target.max_deg), ex.counting.rest,
                         peak_now, last)
    view = analysis.view
    if view is not None and view.warning:
        lines.append((f"view {view.deviation_deg:.0f} deg off {view.expected}", GREY))
    return lines


def rep_in_progress(reps: Sequence["Rep"], frame: int, value: np.ndarray,
                    rest: str) -> tuple["Rep", float] | None:
    """The rep whose ``[start_frame, end_frame]`` holds ``frame`` and its peak so far: the
    extreme away from rest (max for rest ``low``, min for ``high``) of ``value`` from its
    start to ``frame``, and the rep's own peak from its peak frame on."""
    for rep in reps:
        if rep.start_frame <= frame <= rep.end_frame:
            if frame >= rep.peak_frame:
                return rep, float(rep.peak_deg)
            seg = value[rep.start_frame:frame + 1]
            seg = seg[np.isfinite(seg)]
            if not seg.size:
                return rep, math.nan
            return rep, float(seg.max() if rest == "low" else seg.min())
    return None


# --- the summary -------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Summary:
    """What the end-of-session frame says, from an analysis or a live session's reps."""

    title: str
    target: tuple[float, float]
    rest: str
    reps: tuple["Rep", ...]
    reps_goal: int | None = None

    @classmethod
    def of_analysis(cls, analysis: "Analysis", reps_goal: int | None = None) -> "Summary":
        """The summary of ``analysis`` (a live session's: the prescribed reps x sets)."""
        if reps_goal is None and analysis.live is not None:
            reps_goal = analysis.live.prescribed_reps * analysis.live.prescribed_sets
        return cls.of_reps(analysis.exercise, analysis.side, analysis.reps, reps_goal)

    @classmethod
    def of_reps(cls, exercise: "Exercise", side: str, reps: Sequence["Rep"],
                reps_goal: int | None = None) -> "Summary":
        """The summary of counted ``reps`` of ``exercise`` on ``side``."""
        title = exercise.name + (f", {side}" if side in ("left", "right", "both") else "")
        return cls(title, (exercise.target.min_deg, exercise.target.max_deg),
                   exercise.counting.rest, tuple(reps), reps_goal)

    def head_lines(self) -> list[Line]:
        """The totals: reps against the goal, target met in how many, median peak, grades."""
        lo, hi = sorted(self.target)
        n = len(self.reps)
        count = f"{n} of {self.reps_goal} reps" if self.reps_goal else f"{n} reps"
        lines: list[Line] = [(f"Summary: {self.title}", WHITE),
                             (count, MET if self.reps_goal and n >= self.reps_goal else WHITE)]
        met = sum(1 for r in self.reps if r.target_met)
        lines.append((f"target peak {lo:g}-{hi:g} deg: met in {met} of {n}",
                      MET if n and met == n else (NOT_MET if n else WHITE)))
        if n:
            lines.append((f"median peak {float(np.median([r.peak_deg for r in self.reps])):.0f}"
                          " deg", WHITE))
            grades = [g for g in ("good", "fair", "poor")
                      if any(r.quality == g for r in self.reps)]
            if grades:
                lines.append(("quality " + ", ".join(
                    f"{sum(r.quality == g for r in self.reps)} {g}" for g in grades), WHITE))
        else:
            lines.append(("no complete repetition", GREY))
        return lines

    def rep_lines(self) -> list[Line]:
        """One line per rep: its number, peak, verdict (met, short, beyond) and grade."""
        out: list[Line] = []
        for r in self.reps:
            word = rep_verdict(r, self.target, self.rest)
            grade = f"  {r.quality}" if r.quality else ""
            out.append((f"{r.index:>2d}  peak {r.peak_deg:.0f}  {word}{grade}",
                        MET if word == "met" else NOT_MET))
        return out

    def lines(self) -> list[Line]:
        """All the summary's lines: `head_lines` then `rep_lines`."""
        return self.head_lines() + self.rep_lines()


@dataclasses.dataclass(frozen=True)
class SummaryLayout:
    """Where the summary frame's parts are: the header's box and each rep line's box."""

    header: Rect
    reps: tuple[Rect, ...]
    shown: int
    """How many rep lines fit (the rest is said as ``+N more``)."""


def draw_summary(img: np.ndarray, summary: Summary) -> SummaryLayout:
    """The end-of-session frame: ``img`` darkened, the summary's totals in large type and
    each rep's line in columns below (as many as fit)."""
    s = _scale(img)
    h, w = img.shape[:2]
    shade(img, (0, 0, w, h), 0.72)
    head = summary.head_lines()
    m = int(24 * s)
    (hw, hh), scales = box_metrics(img, head, w - 2 * m, [1.25] + [1.0] * (len(head) - 1))
    header = (m, m, m + hw, m + hh)
    draw_text_box(img, header, head, scales, alpha=0.0)
    reps = summary.rep_lines()
    rects: list[Rect] = []
    shown = 0
    if reps:
        sc = 0.75 * s
        step = int(40 * sc)
        top = header[3] + int(10 * s)
        rows = max(1, (h - m - top) // step)
        col_w = max(text_size(t, sc, 2.4 * sc)[0] for t, _ in reps) + int(30 * s)
        cols = max(1, (w - 2 * m) // col_w)
        shown = min(len(reps), rows * cols)
        if shown < len(reps):
            shown = max(0, rows * cols - 1)
        for k in range(shown):
            t, colour = reps[k]
            x = m + (k // rows) * col_w
            y = top + (k % rows) * step
            text(img, t, (x, y + int(0.75 * step)), sc, colour, 2.4 * sc)
            rects.append((x, y, x + col_w - int(30 * s), y + step))
        if shown < len(reps):
            x = m + (shown // rows) * col_w
            y = top + (shown % rows) * step
            text(img, f"+{len(reps) - shown} more", (x, y + int(0.75 * step)), sc, GREY,
                 2.4 * sc)
    return SummaryLayout(header, tuple(rects), shown)


def summary_frames(fps: float, seconds: float = SUMMARY_S) -> int:
    """How many frames hold the summary for ``seconds`` at ``fps``."""
    return max(1, int(round(seconds * (fps if fps > 0 else 30.0))))


# --- the offline video -------------------------------------------------------------------------

def render_overlay(video: str | os.PathLike[str], analysis: "Analysis",
                   out_path: str | os.PathLike[str], progress: bool = True,
                   max_width: int = 1280, reps_goal: int | None = None,
                   summary_s: float = SUMMARY_S) -> Path:
    """Write an ``.mp4`` of the recording with skeleton, the angle against its target,
    the gauge, the rep count and peak, and at the end the summary frame held ``summary_s``
    seconds (``reps_goal``: the reps prescribed, said in the summary and the count)."""
    from tqdm import tqdm

    from rehab.capture import open_source

    seq = analysis.sequence
    ex = analysis.exercise
    out_path = Path(out_path)
    tmp = temp_sibling(out_path, keep_suffix=True)
    remove_stale_temps(out_path)
    value = analysis.smoothed["primary"]
    target = (ex.target.min_deg, ex.target.max_deg)
    rest = ex.counting.rest
    ends = np.array([r.end_frame for r in analysis.reps], dtype=np.int64)
    last_rep = {r.end_frame: r for r in analysis.reps}
    side = analysis.side if analysis.side in ("left", "right") else "left"
    placer = Placer()
    summary = Summary.of_analysis(analysis, reps_goal)
    writer = None
    try:
        with open_source(video) as source:
            scale = min(1.0, max_width / max(1, source.width))
            size = (int(round(source.width * scale)) // 2 * 2,
                    int(round(source.height * scale)) // 2 * 2)
            fps = seq.fps if seq.fps > 0 else (source.fps or 30.0)
            writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter.fourcc(*"mp4v"), fps, size)
            if not writer.isOpened():
                raise OutputError(f"{out_path}: cannot open a video writer")
            shown = None
            last_raw: np.ndarray | None = None
            bar = tqdm(total=seq.n_frames, unit="frame", desc="overlay",
                       disable=not (progress and sys.stderr.isatty()), leave=False)
            for frame in source:
                i = frame.index
                if i >= seq.n_frames:
                    break
                img = frame.image
                if scale != 1.0 or (img.shape[1], img.shape[0]) != size:
                    img = cv2.resize(img, size, interpolation=cv2.INTER_AREA)
                else:
                    img = img.copy()
                last_raw = img.copy()
                pts = seq.landmarks[i, :, :2].astype(np.float64) * np.array(size, np.float64)
                count = int(np.searchsorted(ends, i, side="right"))
                if i in last_rep:
                    shown = last_rep[i]
                now = rep_in_progress(analysis.reps, i, value, rest)
                peak_now = None if now is None or i >= now[0].end_frame else now[1]
                lines = panel_lines(analysis, count, float(value[i]), shown, peak_now,
                                    reps_goal)
                annotate_frame(img, pts, seq.visibility[i], ex.counting.angle, side,
                               float(value[i]), target, lines, placer,
                               sizes=[1.3] + [1.0] * (len(lines) - 1))
                writer.write(img)
                bar.update(1)
            bar.close()
            if last_raw is not None and summary_s > 0:
                draw_summary(last_raw, summary)
                for _ in range(summary_frames(fps, summary_s)):
                    writer.write(last_raw)
    except (cv2.error, OSError) as exc:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"{out_path}: cannot write overlay video ({exc})") from None
    except InputError:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        if writer is not None:
            writer.release()
    os.replace(tmp, out_path)
    return out_path
