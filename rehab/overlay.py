"""Drawing on video frames: skeleton, the tracked angle with its target band, a rep counter.

The ``draw_*`` functions draw into a BGR image in place and are shared by the offline
overlay video (`render_overlay`) and live coaching. Type is large and high-contrast so that
it reads from two metres.
"""

from __future__ import annotations

import logging
import math
import os
import sys
from pathlib import Path

import cv2
import numpy as np

from rehab.fileio import remove_stale_temps, temp_sibling
from rehab.errors import InputError, OutputError
from rehab.exercises import TRUNK_ANGLES

log = logging.getLogger(__name__)

WHITE = (255, 255, 255)
BLACK = (0, 0, 0)
GREEN = (80, 200, 60)
AMBER = (0, 180, 255)
CYAN = (230, 200, 40)
GREY = (160, 160, 160)
FONT = cv2.FONT_HERSHEY_SIMPLEX

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


def _scale(img: np.ndarray) -> float:
    return max(0.6, min(img.shape[0], img.shape[1]) / 720.0)


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


def _pt(p: np.ndarray) -> tuple[int, int]:
    return int(round(float(p[0]))), int(round(float(p[1])))


def draw_angle_arc(img: np.ndarray, vertex: np.ndarray, reference: np.ndarray,
                   limb_point: np.ndarray, value: float,
                   target: tuple[float, float] | None) -> None:
    """An arc at ``vertex`` from the ``reference`` direction (0 deg) towards ``limb_point``,
    as long as the measured angle, with the target band shaded."""
    if not (np.isfinite(vertex).all() and np.isfinite(reference).all()
            and np.isfinite(limb_point).all() and math.isfinite(value)):
        return
    if np.linalg.norm(reference) < 1e-6:
        return
    s = _scale(img)
    radius = int(60 * s)
    ref_deg = math.degrees(math.atan2(reference[1], reference[0]))
    seg = limb_point - vertex
    seg_deg = math.degrees(math.atan2(seg[1], seg[0]))
    direction = 1.0 if ((seg_deg - ref_deg + 540) % 360 - 180) >= 0 else -1.0
    c = _pt(vertex)
    if target is not None:
        lo, hi = sorted(target)
        overlay = img.copy()
        cv2.ellipse(overlay, c, (radius, radius), 0, ref_deg + direction * lo,
                    ref_deg + direction * hi, GREEN, -1, cv2.LINE_AA)
        cv2.addWeighted(overlay, 0.35, img, 0.65, 0, dst=img)
    cv2.ellipse(img, c, (radius, radius), 0, ref_deg, ref_deg + direction * value, AMBER,
                int(4 * s), cv2.LINE_AA)
    draw_label(img, f"{value:.0f}", (c[0] + radius // 2, c[1] - radius // 2), 1.0)


def draw_label(img: np.ndarray, text: str, org: tuple[int, int], size: float = 1.0,
               color: tuple[int, int, int] = WHITE) -> None:
    """Large text with a dark outline (readable on any background)."""
    s = _scale(img) * size
    cv2.putText(img, text, org, FONT, 1.1 * s, BLACK, int(7 * s), cv2.LINE_AA)
    cv2.putText(img, text, org, FONT, 1.1 * s, color, int(2.5 * s), cv2.LINE_AA)


def draw_panel(img: np.ndarray, lines: list[tuple[str, tuple[int, int, int]]]) -> None:
    """A dark box at the top-left holding a few large lines of text."""
    s = _scale(img)
    h = int(48 * s)
    width = int(max(len(t) for t, _ in lines) * 24 * s) + int(30 * s) if lines else 0
    box = img[: h * len(lines) + int(20 * s), :width]
    box[:] = (box * 0.35).astype(img.dtype)
    for k, (text, color) in enumerate(lines):
        draw_label(img, text, (int(15 * s), int((k + 1) * h)), 1.0, color)


def draw_gauge(img: np.ndarray, value: float, target: tuple[float, float],
               span: tuple[float, float] = (0.0, 180.0)) -> None:
    """A vertical gauge on the right edge: the angle against its target band."""
    s = _scale(img)
    h, w = img.shape[:2]
    x0, x1 = w - int(60 * s), w - int(25 * s)
    y_top, y_bot = int(0.15 * h), int(0.85 * h)
    lo, hi = span

    def y_of(v: float) -> int:
        f = (min(max(v, lo), hi) - lo) / (hi - lo)
        return int(y_bot - f * (y_bot - y_top))

    cv2.rectangle(img, (x0, y_top), (x1, y_bot), GREY, int(2 * s))
    cv2.rectangle(img, (x0, y_of(max(target))), (x1, y_of(min(target))), GREEN, -1)
    if math.isfinite(value):
        y = y_of(value)
        cv2.rectangle(img, (x0 - int(8 * s), y - int(4 * s)), (x1 + int(8 * s), y + int(4 * s)),
                      AMBER, -1)


def arc_landmarks(angle: str, side: str) -> tuple[int, int, int] | None:
    """Landmark indices (first, vertex, last) for drawing ``angle`` on ``side``."""
    from rehab.sequence import LANDMARK_INDEX

    if angle in TRUNK_ANGLES or angle not in _ARC_POINTS:
        return None
    a, b, c = _ARC_POINTS[angle]
    return (LANDMARK_INDEX[f"{side}_{a}"], LANDMARK_INDEX[f"{side}_{b}"],
            LANDMARK_INDEX[f"{side}_{c}"])


def annotate_frame(img: np.ndarray, pts: np.ndarray, vis: np.ndarray, angle_name: str, side: str,
                   value: float, target: tuple[float, float], lines: list[tuple[str, tuple[int, int, int]]]
                   ) -> None:
    """Everything for one frame: skeleton, angle arc with target band, gauge and text panel."""
    from rehab.sequence import LANDMARK_INDEX as I

    idx = arc_landmarks(angle_name, side)
    draw_skeleton(img, pts, vis, highlight=idx or ())
    joint = angle_name.split("_")[0]
    if idx is not None and joint in ("hip", "shoulder"):
        # measured from the trunk midline, downwards
        down = 0.5 * (pts[I["left_hip"]] + pts[I["right_hip"]]) - 0.5 * (
            pts[I["left_shoulder"]] + pts[I["right_shoulder"]])
        draw_angle_arc(img, pts[idx[1]], down, pts[idx[2]], value, target)
    elif idx is not None and joint in ("knee", "elbow"):
        # flexion from the straight limb: the extension of the proximal segment
        draw_angle_arc(img, pts[idx[1]], pts[idx[1]] - pts[idx[0]], pts[idx[2]], value, target)
    draw_gauge(img, value, target)
    draw_panel(img, lines)


def panel_lines(analysis: "object", count: int, value: float, last: "object | None"
                ) -> list[tuple[str, tuple[int, int, int]]]:
    """The text panel of one frame: exercise and count, the tracked angle, the last rep's
    range, score and measurement quality grade (grey when poor: the number is not to be
    trusted), and a warning line when the session's camera view was off."""
    from rehab.analysis import Analysis
    from rehab.model import Rep

    assert isinstance(analysis, Analysis)
    ex = analysis.exercise
    lines = [(f"{ex.name}  reps {count}", WHITE),
             (f"{analysis.primary_column.replace('_', ' ')} {value:.0f} deg"
              if math.isfinite(value) else "not visible",
              AMBER if math.isfinite(value) else GREY)]
    if isinstance(last, Rep):
        grade = f"  {last.quality}" if last.quality else ""
        color = GREY if last.quality == "poor" else (GREEN if last.target_met else AMBER)
        lines.append((f"last rep: ROM {last.rom_deg:.0f}  score {last.score}{grade}", color))
    view = analysis.view
    if view is not None and view.warning:
        lines.append((f"view {view.deviation_deg:.0f} deg off {view.expected}", GREY))
    return lines


def render_overlay(video: str | os.PathLike[str], analysis: "object",
                   out_path: str | os.PathLike[str], progress: bool = True,
                   max_width: int = 1280) -> Path:
    """Write an ``.mp4`` of the recording with skeleton, angle, target band and rep counter."""
    from tqdm import tqdm

    from rehab.analysis import Analysis
    from rehab.capture import open_source

    assert isinstance(analysis, Analysis)
    seq = analysis.sequence
    ex = analysis.exercise
    out_path = Path(out_path)
    tmp = temp_sibling(out_path, keep_suffix=True)
    remove_stale_temps(out_path)
    value = analysis.smoothed["primary"]
    target = (ex.target.min_deg, ex.target.max_deg)
    ends = np.array([r.end_frame for r in analysis.reps], dtype=np.int64)
    last_rep = {r.end_frame: r for r in analysis.reps}
    side = analysis.side
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
                pts = seq.landmarks[i, :, :2].astype(np.float64) * np.array(size, np.float64)
                count = int(np.searchsorted(ends, i, side="right"))
                if i in last_rep:
                    shown = last_rep[i]
                lines = panel_lines(analysis, count, float(value[i]), shown)
                annotate_frame(img, pts, seq.visibility[i], ex.counting.angle, side,
                               float(value[i]), target, lines)
                writer.write(img)
                bar.update(1)
            bar.close()
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
