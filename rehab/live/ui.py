"""What the patient sees: the live overlay, and the OpenCV window with its keys.

The overlay reuses `rehab.overlay` (skeleton, angle arc with the target band, gauge) and
adds the live layout, sized from the frame height so that it reads from two metres: a
large rep counter, the set, the angle, the last rep's ROM and score, one cue at a time in
a banner, and the rest timer between sets. Frames may be mirrored for display; the
landmarks are mirrored with them and the text is drawn afterwards, so it never reads
backwards.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import math
import os
import sys

import cv2
import numpy as np

from rehab.errors import InputError
from rehab.live.cues import Cue
from rehab.overlay import AMBER, FONT, GREEN, GREY, WHITE, annotate_frame

log = logging.getLogger(__name__)

RED = (60, 60, 230)

KEY_ACTIONS = {ord(" "): "pause", ord("q"): "quit", ord("Q"): "quit", 27: "quit",
               ord("r"): "restart", ord("R"): "restart"}
"""Keys: space pause/resume, q (or Esc) end the session, r restart the set."""


_TONE_COLOURS = {"good": GREEN, "fix": AMBER, "warn": RED, "info": WHITE}


@dataclasses.dataclass(frozen=True)
class HudState:
    """Everything drawn besides the skeleton for one frame."""

    exercise_name: str
    angle_label: str
    angle: float
    target: tuple[float, float]
    reps_done: int
    reps_goal: int
    set_no: int
    sets: int
    last_rom: float | None = None
    last_score: int | None = None
    last_met: bool = False
    cue: Cue | None = None
    rest_left_s: float | None = None
    paused: bool = False
    finished: bool = False


@functools.lru_cache(maxsize=1024)
def _sprite(text: str, scale: float, colour: tuple[int, int, int],
            thickness: int) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Outlined text rendered once: (colour premultiplied by alpha, alpha, x pad, ascent).

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
    alpha = np.maximum(edge.astype(np.float32) / 255.0, a_fill)[..., None]
    premult = np.asarray(colour, np.float32) * a_fill[..., None]  # the outline is black
    return premult, alpha, pad, pad + th


def _text(img: np.ndarray, text: str, org: tuple[int, int], scale: float,
          colour: tuple[int, int, int], thickness: float) -> None:
    """``text`` with a black outline, baseline starting at ``org`` (as ``cv2.putText``)."""
    premult, alpha, pad, ascent = _sprite(text, round(scale, 3), tuple(colour),
                                          max(1, int(round(thickness))))
    x0, y0 = org[0] - pad, org[1] - ascent
    h, w = alpha.shape[:2]
    ix0, iy0 = max(0, x0), max(0, y0)
    ix1, iy1 = min(img.shape[1], x0 + w), min(img.shape[0], y0 + h)
    if ix1 <= ix0 or iy1 <= iy0:
        return
    sx, sy = ix0 - x0, iy0 - y0
    a = alpha[sy:sy + iy1 - iy0, sx:sx + ix1 - ix0]
    p = premult[sy:sy + iy1 - iy0, sx:sx + ix1 - ix0]
    roi = img[iy0:iy1, ix0:ix1]
    roi[:] = (roi * (1.0 - a) + p).astype(np.uint8)


def _fit(text: str, max_width: int, scale: float, thickness: int) -> float:
    """The largest font scale <= ``scale`` whose text fits ``max_width`` pixels."""
    width = cv2.getTextSize(text, FONT, scale, thickness)[0][0]
    return scale if width <= max_width else scale * max_width / max(1, width)


def _shade(img: np.ndarray, x0: int, y0: int, x1: int, y1: int, alpha: float = 0.6) -> None:
    """Darken a box (text backgrounds)."""
    roi = img[max(0, y0):y1, max(0, x0):x1]
    if roi.size:
        cv2.convertScaleAbs(roi, dst=roi, alpha=1.0 - alpha)


def mirror_points(pts: np.ndarray, width: int) -> np.ndarray:
    """Pixel points (33, 2) of an image flipped left-right."""
    out = pts.copy()
    out[:, 0] = (width - 1) - out[:, 0]
    return out


def draw_live(img: np.ndarray, pts: np.ndarray | None, vis: np.ndarray | None,
              angle_name: str, side: str, hud: HudState) -> None:
    """Draw the whole live overlay into ``img`` (BGR, in place)."""
    h, w = img.shape[:2]
    s = h / 480.0
    if pts is not None and vis is not None:
        annotate_frame(img, pts, vis, angle_name, side, hud.angle, hud.target, [])
    # top-left: counter, set, angle
    _shade(img, 0, 0, int(250 * s), int(150 * s))
    _text(img, f"{hud.reps_done}/{hud.reps_goal}", (int(12 * s), int(70 * s)), 2.4 * s,
          GREEN if hud.reps_done >= hud.reps_goal else WHITE, 5 * s)
    _text(img, f"set {hud.set_no}/{hud.sets}", (int(14 * s), int(108 * s)), 1.0 * s, WHITE, 2 * s)
    angle = f"{hud.angle_label} {hud.angle:.0f} deg" if math.isfinite(hud.angle) else \
        f"{hud.angle_label} --"
    _text(img, angle, (int(14 * s), int(140 * s)), _fit(angle, int(236 * s), 0.8 * s, 2), AMBER,
          2 * s)
    # top-right (left of the gauge): the last rep
    if hud.last_rom is not None and hud.last_score is not None:
        line1, line2 = f"ROM {hud.last_rom:.0f}", f"score {hud.last_score}"
        x = w - int(250 * s)
        _shade(img, x - int(8 * s), 0, w - int(70 * s), int(95 * s))
        colour = GREEN if hud.last_met else AMBER
        _text(img, line1, (x, int(40 * s)), 1.1 * s, colour, 2.5 * s)
        _text(img, line2, (x, int(82 * s)), 1.1 * s, colour, 2.5 * s)
    # centre: rest timer, pause, end
    big = None
    if hud.finished:
        big = "Well done!"
    elif hud.paused:
        big = "PAUSED"
    elif hud.rest_left_s is not None:
        left = max(0, int(math.ceil(hud.rest_left_s)))
        big = f"Rest {left // 60}:{left % 60:02d}"
    if big is not None:
        scale = _fit(big, int(0.8 * w), 2.6 * s, int(6 * s))
        (tw, th), _ = cv2.getTextSize(big, FONT, scale, int(6 * s))
        _shade(img, (w - tw) // 2 - int(20 * s), h // 2 - th - int(25 * s),
               (w + tw) // 2 + int(20 * s), h // 2 + int(25 * s))
        _text(img, big, ((w - tw) // 2, h // 2), scale, WHITE, 6 * s)
    # bottom: the cue banner
    if hud.cue is not None:
        colour = _TONE_COLOURS.get(hud.cue.tone, WHITE)
        scale = _fit(hud.cue.text, w - int(30 * s), 1.2 * s, int(3 * s))
        (tw, th), _ = cv2.getTextSize(hud.cue.text, FONT, scale, int(3 * s))
        _shade(img, 0, h - th - int(36 * s), w, h, 0.7)
        _text(img, hud.cue.text, ((w - tw) // 2, h - int(18 * s)), scale, colour, 3 * s)
    else:
        _text(img, "space pause   r restart set   q end", (int(12 * s), h - int(12 * s)),
              0.5 * s, GREY, 1 * s)


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
