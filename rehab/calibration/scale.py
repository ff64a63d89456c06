"""Pixels to centimetres for one session, and per-repetition distances in centimetres.

A scale (cm per pixel) holds in **one plane facing the camera** at the person's distance;
movements toward or away from the camera are not measured, and a body part nearer the
camera than the plane looks larger. Undistort the landmarks first (`undistort_sequence`),
otherwise lengths near the frame edges are off by the lens distortion.

Two sources:

- **Patient height** (`scale_from_height`): MediaPipe has no top-of-head landmark, so the
  eye-to-floor length in pixels is measured in frames where the person stands upright and
  fully visible, and divided by the anthropometric eye height, 0.936 of stature (Drillis &
  Contini 1966, as tabulated in Winter, *Biomechanics and Motor Control of Human Movement*).
  The floor is the lower of the heel and toe landmarks of each foot. Expected error: about
  ±3 % (individual eye-height ratio ±1 %, heel/toe landmarks 1-2 cm above the floor,
  landmark jitter, and the person not exactly facing or side-on to the camera).
- **Checkerboard in the scene** (`scale_from_board`): the mean spacing of the board's inner
  corners; exact in the board's plane, so hold the board where the patient moves, facing
  the camera.
"""

from __future__ import annotations

import logging
import math
import os
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path

import cv2
import numpy as np

from rehab.calibration.camera import CameraCalibration
from rehab.calibration.checkerboard import detect_board
from rehab.calibration.undistort import undistort_pixels
from rehab.capture import IMAGE_SUFFIXES, sample_frames
from rehab.errors import ConfigError, InputError
from rehab.model import LANDMARK_INDEX, PoseSequence, Scale

log = logging.getLogger(__name__)

EYE_HEIGHT_RATIO = 0.936
"""Eye height above the floor as a fraction of stature (Drillis & Contini 1966)."""

HEIGHT_SCALE_ERROR = 0.03
"""Typical relative error of a height-derived scale (see module docstring)."""

MIN_STANDING_FRAMES = 3
UPRIGHT_MAX_DEG = 20.0
KNEE_STRAIGHT_MIN_DEG = 160.0

_L = LANDMARK_INDEX


def _masked_pixels(seq: PoseSequence, min_visibility: float) -> np.ndarray:
    px = seq.pixels()
    px[seq.visibility < min_visibility] = np.nan
    return px


def _angle_deg(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Angle ABC in degrees per frame (NaN where a point is missing)."""
    u, v = a - b, c - b
    cos = np.sum(u * v, axis=-1) / (np.linalg.norm(u, axis=-1) * np.linalg.norm(v, axis=-1))
    with np.errstate(invalid="ignore"):
        return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def _floor_px(px: np.ndarray) -> np.ndarray:
    """Per-frame floor point (F, 2): the lower of heel and toe of each foot, averaged over
    the feet whose heel and toe are both visible (NaN when neither is)."""
    floors = []
    for side in ("left", "right"):
        heel, toe = px[:, _L[f"{side}_heel"]], px[:, _L[f"{side}_foot_index"]]
        lower = np.where((heel[:, 1] >= toe[:, 1])[:, None], heel, toe)
        lower[np.isnan(heel).any(axis=1) | np.isnan(toe).any(axis=1)] = np.nan
        floors.append(lower)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN frames stay NaN
        return np.nanmean(np.stack(floors, axis=1), axis=1)


def _min_knee_deg(px: np.ndarray) -> np.ndarray:
    """Per-frame hip-knee-ankle angle of the more bent visible knee (NaN when none)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # missing points stay NaN
        knees = np.stack([_angle_deg(px[:, _L[f"{s}_hip"]], px[:, _L[f"{s}_knee"]],
                                     px[:, _L[f"{s}_ankle"]]) for s in ("left", "right")], 1)
        return np.nanmin(knees, axis=1)


def eye_to_floor_px(seq: PoseSequence, min_visibility: float = 0.5) -> np.ndarray:
    """Per-frame eye-to-floor length in pixels where the person stands upright, else NaN.

    Eyes and feet are averaged over the visible side(s) (one side may be hidden in a side
    view). Upright: the eye-to-floor line within `UPRIGHT_MAX_DEG` of the image vertical and
    every visible knee straighter than `KNEE_STRAIGHT_MIN_DEG` (at least one visible).
    """
    px = _masked_pixels(seq, min_visibility)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN frames stay NaN
        eyes = np.nanmean(px[:, [_L["left_eye"], _L["right_eye"]]], axis=1)
    vec = _floor_px(px) - eyes
    length = np.linalg.norm(vec, axis=1)
    with np.errstate(invalid="ignore"):
        tilt = np.degrees(np.arctan2(np.abs(vec[:, 0]), vec[:, 1]))
        ok = (tilt < UPRIGHT_MAX_DEG) & (_min_knee_deg(px) > KNEE_STRAIGHT_MIN_DEG) \
            & (vec[:, 1] > 0)
    return np.where(ok, length, np.nan)


def scale_from_height(seq: PoseSequence, height_cm: float, min_visibility: float = 0.5
                      ) -> Scale:
    """Scale from the patient's standing height (see the module docstring for the model).

    Uses the median eye-to-floor length over upright, fully visible frames. Raises
    `InputError` when fewer than `MIN_STANDING_FRAMES` such frames exist.
    """
    if not (isinstance(height_cm, (int, float)) and 50.0 <= height_cm <= 250.0):
        raise ConfigError(f"patient height must be between 50 and 250 cm, got {height_cm!r}")
    lengths = eye_to_floor_px(seq, min_visibility)
    good = lengths[np.isfinite(lengths)]
    if good.size < MIN_STANDING_FRAMES:
        raise InputError(
            f"cannot scale from patient height: only {good.size} frame(s) show the person "
            "standing upright with eyes, knees, heels and toes visible (need "
            f"{MIN_STANDING_FRAMES}); film the whole body standing, or use a board in the scene")
    eye_px = float(np.median(good))
    spread = float(np.subtract(*np.percentile(good, [75, 25]))) / eye_px
    if spread > 0.10:
        log.warning("height scale unreliable: eye-to-floor length varies by %.0f%% (IQR) "
                    "between standing frames", 100 * spread)
    return Scale(float(height_cm) / (eye_px / EYE_HEIGHT_RATIO),
                 f"patient height {height_cm:g} cm", _height_detail(eye_px, good.size, spread))


def _height_detail(eye_px: float, n_frames: int, spread: float) -> str:
    """The ``detail`` of a height scale: median eye-to-floor length, its relative IQR
    (``spread``) over ``n_frames`` standing frames, the model and its expected error."""
    detail = (f"median eye-to-floor {eye_px:.1f} px over {n_frames} standing frames "
              f"(IQR {spread:.1%}); eye height = {EYE_HEIGHT_RATIO} x stature; "
              f"expected error about +/-{HEIGHT_SCALE_ERROR:.0%}; valid in the plane of the "
              "person facing the camera")
    if spread > 0.10:
        detail += "; the length varies a lot between frames: scale unreliable"
    return detail


def _frames_from(source: str | os.PathLike[str] | Iterable[np.ndarray], max_frames: int
                 ) -> Iterator[np.ndarray]:
    """BGR frames of ``source``: the frames given, one image file, or about ``max_frames``
    evenly spaced frames of a video (`rehab.capture.sample_frames`)."""
    if not isinstance(source, (str, os.PathLike)):
        yield from source
        return
    path = Path(source)
    if not path.is_file():
        raise InputError(f"{path}: not found")
    if path.suffix.lower() in IMAGE_SUFFIXES:
        image = cv2.imread(str(path))
        if image is None:
            raise InputError(f"{path}: not an image OpenCV can read")
        yield image
        return
    for _, frame in sample_frames(path, max_frames):
        yield frame


def board_spacing(corners: np.ndarray, pattern: tuple[int, int]) -> tuple[float, float]:
    """Mean distance (px) between neighbouring inner corners of one board view, and the
    ratio of the mean spacing along the board's rows to that along its columns (1 when the
    board faces the camera). ``corners`` is (cols*rows, 2), OpenCV order."""
    g = np.asarray(corners, np.float64).reshape(pattern[1], pattern[0], 2)
    along = np.linalg.norm(np.diff(g, axis=1), axis=2)
    across = np.linalg.norm(np.diff(g, axis=0), axis=2)
    return (float(np.mean(np.concatenate([along.ravel(), across.ravel()]))),
            float(np.mean(along) / np.mean(across)))


def _frame_spacing(frame: np.ndarray, board: tuple[int, int],
                   calib: CameraCalibration | None) -> tuple[float, float] | None:
    """`board_spacing` of the whole board in one frame (undistorted with ``calib``), or
    None when the board is not found."""
    if calib is not None:
        calib.check_size(frame.shape[1], frame.shape[0], what="the board footage")
    det = detect_board(frame, board)
    if det is None:
        return None
    pts = det.corners.astype(np.float64)
    if calib is not None:
        pts = undistort_pixels(pts, calib)
    return board_spacing(pts, det.pattern)


def _board_scale(spacings: list[float], ratios: list[float], searched: int,
                 board: tuple[int, int], square_mm: float, undistorted: bool) -> Scale:
    """The scale from the per-frame spacings: median spacing, tilt warning in the detail."""
    spacing = float(np.median(spacings))
    tilt = abs(math.log(float(np.median(ratios))))
    detail = (f"median corner spacing {spacing:.2f} px in {len(spacings)} of {searched} "
              f"frames{'' if undistorted else ' (not undistorted)'}; valid in the board's "
              "plane")
    if tilt > 0.05:
        detail += (f"; board tilted (spacing differs {math.exp(tilt) - 1:.0%} between its "
                   "axes): scale uncertain by about that much")
        log.warning("scale board is tilted relative to the camera: %s", detail)
    return Scale((square_mm / 10.0) / spacing,
                 f"checkerboard {board[0]}x{board[1]}, {square_mm:g} mm squares in scene",
                 detail)


def scale_from_board(video_or_frames: str | os.PathLike[str] | Iterable[np.ndarray],
                     board: tuple[int, int], square_mm: float,
                     calib: CameraCalibration | None = None, max_frames: int = 60) -> Scale:
    """Scale from a checkerboard held in the scene (a video, an image, or BGR frames).

    The spacing of the inner corners (undistorted first when ``calib`` is given) is measured
    in every frame where the whole board is found; the median is used. The detail says how
    much the board was tilted (unequal spacing along its two axes).
    """
    if not square_mm > 0:
        raise ConfigError(f"square size must be positive, got {square_mm!r}")
    cols, rows = board
    spacings, ratios = [], []
    searched = 0
    for frame in _frames_from(video_or_frames, max_frames):
        searched += 1
        found = _frame_spacing(frame, (cols, rows), calib)
        if found is not None:
            spacings.append(found[0])
            ratios.append(found[1])
    if not spacings:
        raise InputError(f"no checkerboard with {cols}x{rows} inner corners found in "
                         f"{searched} frame(s) for the scale")
    return _board_scale(spacings, ratios, searched, (cols, rows), square_mm,
                        undistorted=calib is not None)


# --------------------------------------------------------------------------- distances

def _baseline(values: np.ndarray) -> float:
    """The first finite value: the position at the start of the repetition."""
    finite = values[np.isfinite(values)]
    return float(finite[0]) if finite.size else math.nan


def _nan_extreme(values: np.ndarray, fn: str) -> float:
    if not np.isfinite(values).any():
        return math.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(getattr(np, fn)(values))


def _clip0(value: float) -> float:
    """``max(0, value)`` that keeps NaN (the built-in ``max(0.0, nan)`` returns 0.0)."""
    return value if math.isnan(value) else max(0.0, value)


def _hip_distances(px: np.ndarray, k: float) -> dict[str, float]:
    """``hip_excursion_cm`` and ``hip_drop_cm`` of one rep's pixels (F, 33, 2)."""
    hip_y = 0.5 * (px[:, _L["left_hip"], 1] + px[:, _L["right_hip"], 1])
    return {
        "hip_excursion_cm": (_nan_extreme(hip_y, "nanmax") - _nan_extreme(hip_y, "nanmin")) * k,
        "hip_drop_cm": _clip0(_nan_extreme(hip_y, "nanmax") - _baseline(hip_y)) * k,
    }


def _heel_rises(px: np.ndarray, k: float) -> dict[str, float]:
    """``heel_rise_left_cm``, ``heel_rise_right_cm`` and the larger, ``heel_rise_cm``."""
    out: dict[str, float] = {}
    rises = []
    for side in ("left", "right"):
        heel_y = px[:, _L[f"{side}_heel"], 1]
        rise = _clip0(_baseline(heel_y) - _nan_extreme(heel_y, "nanmin")) * k
        out[f"heel_rise_{side}_cm"] = rise
        rises.append(rise)
    out["heel_rise_cm"] = _nan_extreme(np.array(rises), "nanmax")
    return out


def _ankle_separation(px: np.ndarray, k: float) -> dict[str, float]:
    """Horizontal ankle distance at the start, its maximum and the change (step length)."""
    sep = np.abs(px[:, _L["left_ankle"], 0] - px[:, _L["right_ankle"], 0])
    sep0, sep_max = _baseline(sep), _nan_extreme(sep, "nanmax")
    return {"ankle_separation_start_cm": sep0 * k, "ankle_separation_max_cm": sep_max * k,
            "ankle_separation_change_cm": (sep_max - sep0) * k}


def distances_cm(seq: PoseSequence, scale: Scale, start: int, end: int,
                 min_visibility: float = 0.5) -> dict[str, float]:
    """Distances in cm over frames ``start:end`` (end exclusive, like slicing) of one rep.

    Image y grows downward; landmarks below ``min_visibility`` are ignored. "Start" is the
    first frame of the window where the landmark is valid. Keys (NaN when not measurable):

    - ``hip_excursion_cm``: range of the mid-hip height (squat depth)
    - ``hip_drop_cm``: lowest mid-hip position below its start position
    - ``heel_rise_left_cm``, ``heel_rise_right_cm``, ``heel_rise_cm`` (larger side):
      highest heel position above its start position (>= 0)
    - ``ankle_separation_start_cm``, ``ankle_separation_max_cm``,
      ``ankle_separation_change_cm``: horizontal distance between the ankles (step length)
    """
    if not (0 <= start < end <= seq.n_frames):
        raise InputError(f"repetition frames {start}:{end} outside the sequence "
                         f"(0:{seq.n_frames})")
    px = _masked_pixels(seq, min_visibility)[start:end]
    k = scale.cm_per_px
    return {**_hip_distances(px, k), **_heel_rises(px, k), **_ankle_separation(px, k)}
