"""What the patient sees: the live overlay, and the OpenCV window with its keys.

The overlay is drawn by `rehab.overlay`'s functions, as the offline overlay video is:
skeleton, the target wedge at the joint, the labelled gauge and a text panel placed clear
of the body (`rehab.overlay.Placer`). The panel holds the count and set, the peak so far of
the rep under way against the target band (else the last rep's peak and whether it met the
target) and the last rep's ROM, score and grade; one cue at a time in its own box, the rest
timer between sets, and the summary frame once the last set is done. Frames may be mirrored
for display; the landmarks are mirrored with them and the text is drawn afterwards, so it
never reads backwards.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import sys

import cv2
import numpy as np

from rehab.errors import InputError
from rehab.live.cues import Cue
from rehab.model import Rep
from rehab.overlay import (
    GREY,
    MET,
    NOT_MET,
    WHITE,
    Layout,
    Placer,
    Rect,
    Summary,
    SummaryLayout,
    _scale,
    annotate_frame,
    box_metrics,
    draw_summary,
    draw_text_box,
    fit_scale,
    status_lines,
    text,
    text_size,
    wrap,
)

log = logging.getLogger(__name__)

RED = (60, 60, 230)

KEY_ACTIONS = {ord(" "): "pause", ord("q"): "quit", ord("Q"): "quit", 27: "quit",
               ord("r"): "restart", ord("R"): "restart"}
"""Keys: space pause/resume, q (or Esc) end the session, r restart the set."""


_TONE_COLOURS = {"good": MET, "fix": NOT_MET, "warn": RED, "info": WHITE}

CUE_PLACES = ("bottom-center", "top-center", "bottom-left", "bottom-right", "top-left",
              "top-right")
MESSAGE_PLACES = ("top-center", "bottom-center", "top-left", "top-right", "bottom-left",
                  "bottom-right")


@dataclasses.dataclass(frozen=True)
class HudState:
    """Everything drawn besides the skeleton for one frame."""

    angle: float
    target: tuple[float, float]
    reps_done: int
    reps_goal: int
    set_no: int
    sets: int
    cue: Cue | None = None
    rest_left_s: float | None = None
    paused: bool = False
    finished: bool = False
    peak: float | None = None
    """The peak so far of the rep under way (None between reps)."""
    last_rep: Rep | None = None
    """The last counted rep (its peak, verdict, ROM, score and grade are shown)."""
    rest: str = "low"
    """The exercise's rest position (``low``/``high``): which way the peak is."""
    summary: Summary | None = None
    """Drawn over the frame once the session is finished."""


@dataclasses.dataclass(frozen=True)
class LiveLayout:
    """What `draw_live` drew where (for tests)."""

    frame: Layout
    cue: Rect | None
    message: Rect | None
    summary: SummaryLayout | None


def mirror_points(pts: np.ndarray, width: int) -> np.ndarray:
    """Pixel points (33, 2) of an image flipped left-right."""
    out = pts.copy()
    out[:, 0] = (width - 1) - out[:, 0]
    return out


def hud_lines(hud: HudState) -> list[tuple[str, tuple[int, int, int]]]:
    """The live panel's lines: the count and set, then `rehab.overlay.status_lines`."""
    count = f"{hud.reps_done}/{hud.reps_goal}" + (f"  set {hud.set_no}/{hud.sets}"
                                                   if hud.sets > 1 else "")
    lines = status_lines(count, hud.target, hud.rest, hud.peak, hud.last_rep)
    if hud.reps_done >= hud.reps_goal:
        lines[0] = (lines[0][0], MET)
    return lines


def draw_live(img: np.ndarray, pts: np.ndarray | None, vis: np.ndarray | None,
              angle_name: str, side: str, hud: HudState,
              placer: Placer | None = None) -> LiveLayout:
    """Draw the whole live overlay into ``img`` (BGR, in place); ``placer`` keeps the boxes'
    places from frame to frame (see `rehab.overlay.Placer`)."""
    h, w = img.shape[:2]
    s = _scale(img)
    placer = placer or Placer()
    lines = hud_lines(hud)
    frame = annotate_frame(img, pts, vis, angle_name, side, hud.angle, hud.target, lines,
                           placer, sizes=[1.5] + [1.0] * (len(lines) - 1))
    # the rest timer, pause
    big = None
    if hud.finished and hud.summary is None:
        big = "Well done!"
    elif hud.paused:
        big = "PAUSED"
    elif hud.rest_left_s is not None and not hud.finished:
        left = max(0, int(math.ceil(hud.rest_left_s)))
        big = f"Rest {left // 60}:{left % 60:02d}"
    message = None
    if big is not None:
        size, scales = box_metrics(img, [(big, WHITE)], int(0.6 * w), [2.2])
        message = placer.place("message", size, MESSAGE_PLACES)
        draw_text_box(img, message, [(big, WHITE)], scales, alpha=0.6)
    # the cue, in its own box
    cue = None
    if hud.cue is not None:
        colour = _TONE_COLOURS.get(hud.cue.tone, WHITE)
        sc = 0.9 * s * 1.3
        rows = [(t, colour) for t in wrap(hud.cue.text, int(0.5 * w), sc, 2.4 * sc)]
        size, scales = box_metrics(img, rows, int(0.6 * w), [1.3] * len(rows))
        cue = placer.place("cue", size, CUE_PLACES)
        draw_text_box(img, cue, rows, scales, alpha=0.7)
    elif not hud.finished:
        hint = "space pause   r restart set   q end"
        sc = fit_scale(hint, int(0.45 * w), 0.5 * s, 1.2 * s)
        tw, th = text_size(hint, sc, 1.2 * s)
        r = placer.place("hint", (tw + int(12 * s), th + int(14 * s)),
                         ("bottom-left", "bottom-right", "top-left", "top-right"))
        text(img, hint, (r[0] + int(6 * s), r[3] - int(7 * s)), sc, GREY, 1.2 * s)
    summary = None
    if hud.finished and hud.summary is not None:
        summary = draw_summary(img, hud.summary)
    return LiveLayout(frame, cue, message, summary)


def display_available() -> bool:
    """Whether a window can be opened (on Linux: an X11 or Wayland display is set)."""
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


class Window:
    """The OpenCV window: shows frames, turns key presses into actions."""

    def __init__(self, title: str = "rehab live", size: tuple[int, int] = (1280, 960),
                 fullscreen: bool = False) -> None:
        if not display_available():
            raise InputError("no display to open a window on; use --headless "
                             "(with --record DIR to keep the overlay video)")
        self.title = title
        try:
            cv2.namedWindow(title, cv2.WINDOW_NORMAL | cv2.WINDOW_KEEPRATIO)
            if fullscreen:
                cv2.setWindowProperty(title, cv2.WND_PROP_FULLSCREEN, cv2.WINDOW_FULLSCREEN)
            else:
                cv2.resizeWindow(title, *size)
        except cv2.error as exc:
            raise InputError(f"cannot open a window ({exc.err or exc}); use --headless") from None
        self._shown = False

    def show(self, img: np.ndarray) -> str | None:
        """Show ``img``; returns ``pause``, ``quit``, ``restart`` or None."""
        cv2.imshow(self.title, img)
        key = cv2.waitKey(1) & 0xFF
        if self._shown and cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) < 1:
            return "quit"  # closed with the window's close button
        self._shown = True
        return KEY_ACTIONS.get(key)

    def close(self) -> None:
        try:
            cv2.destroyWindow(self.title)
            cv2.waitKey(1)
        except cv2.error:
            pass
