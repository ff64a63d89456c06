"""Checkerboard detection, frame selection and intrinsic calibration (OpenCV).

Boards are named by their **inner corners** (points where four squares meet), columns x
rows: a board of 5 x 8 squares is ``4x7``. ``7x4`` and ``4x7`` name the same board; it is
found in either orientation.

Detection tries progressively harder, stopping at the first success: OpenCV's classic
detector (adaptive threshold + normalisation), the sector-based detector
(``findChessboardCornersSB``, default flags) at half and quarter resolution, then
both again on the image padded by edge replication (this closes the outer squares of a board
that touches the frame edge). Corners are refined to sub-pixel at full resolution.

The distortion model is chosen per calibration by leave-one-out reprojection error (see
`select_model`): with the 5 to 20 views a clinic takes, the full 5-coefficient model often
over-fits, and a simpler one predicts unseen views better.

The fit runs in phases, each its own function: screen every input (`screen_detection`;
from a video, `keep_varied` then picks the most varied views), drop mis-localised corners
(`drop_outlier_corners`), drop outlier views with their reason (`drop_outlier_views`),
choose the distortion model (`choose_model`), then the final fit, the per-input outcomes
(`merge_outcomes`) and the advice (`calibration_warnings`).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np

from rehab.calibration.camera import CameraCalibration, utc_now
from rehab.capture import sample_frames
from rehab.errors import ConfigError, InputError

log = logging.getLogger(__name__)

MIN_VIEWS = 4
"""Fewest usable board views accepted for a calibration (10-20 are recommended)."""

RECOMMENDED_VIEWS = 10

BLUR_EDGE_PX = 4.0
"""A board whose mean edge width (10-90 % rise, `cv2.estimateChessboardSharpness`, the worse
of horizontal and vertical edges) exceeds this many pixels and `BLUR_EDGE_FRACTION` of the
square size is rejected as blurred. Sharp photos measure 1.5-7 px at 70-150 px squares."""

BLUR_EDGE_FRACTION = 0.20

OUTLIER_FACTOR = 3.0
"""A view whose reprojection error exceeds this multiple of the median view error (and
``OUTLIER_MIN_PX``) is dropped and the calibration repeated."""

OUTLIER_MIN_PX = 1.5

CORNER_OUTLIER_FACTOR = 8.0
"""A single corner whose residual exceeds this multiple of the median corner residual (and
``CORNER_OUTLIER_MIN_PX``) is dropped: typically a corner at the frame edge that the
detector could not localise. A view keeps at least half of its corners or is dropped."""

CORNER_OUTLIER_MIN_PX = 2.0

MAX_CORNERS_DROPPED = 20

MODEL_TOLERANCE = 0.05
"""`select_model` keeps the simplest model whose leave-one-out error is within 5 % of the
best model's."""

DISTORTION_MODELS: dict[str, int] = {
    "k1k2": cv2.CALIB_FIX_K3 | cv2.CALIB_ZERO_TANGENT_DIST,
    "k1k2p1p2": cv2.CALIB_FIX_K3,
    "k1k2p1p2k3": 0,
}
"""Distortion models, simplest first: name -> OpenCV ``calibrateCamera`` flags."""

_CRITERIA = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_COUNT, 100, 1e-12)
_SUBPIX_CRITERIA = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_COUNT, 50, 1e-3)
_BOARD_RE = re.compile(r"^\s*(\d+)\s*[xX×*]\s*(\d+)\s*$")
_BOARD_HELP = ("count the inner corners, where four squares meet: a board of 5x8 squares "
               "has 4x7 inner corners")


# --------------------------------------------------------------------------- board geometry

def parse_board(text: str) -> tuple[int, int]:
    """``"7x4"`` -> ``(7, 4)``: inner corners along the columns and rows of the board."""
    m = _BOARD_RE.match(str(text))
    if not m:
        raise ConfigError(f"board '{text}': expected COLSxROWS of inner corners, e.g. 7x4 "
                          f"({_BOARD_HELP})")
    cols, rows = int(m.group(1)), int(m.group(2))
    if cols < 2 or rows < 2:
        raise ConfigError(f"board '{text}': needs at least 2x2 inner corners ({_BOARD_HELP})")
    if cols == rows:
        raise ConfigError(f"board '{text}': a square board ({cols}x{rows}) has an ambiguous "
                          "orientation; use one with different counts, e.g. 7x4")
    return cols, rows


def _check_board(board: tuple[int, int] | str, square_mm: float) -> tuple[int, int]:
    if isinstance(board, str):
        board = parse_board(board)
    cols, rows = (int(board[0]), int(board[1]))
    if cols < 2 or rows < 2:
        raise ConfigError(f"board {cols}x{rows}: needs at least 2x2 inner corners")
    if not (isinstance(square_mm, (int, float)) and math.isfinite(square_mm) and square_mm > 0):
        raise ConfigError(f"square size must be a positive number of millimetres, got "
                          f"{square_mm!r}")
    return cols, rows


def board_object_points(board: tuple[int, int], square_mm: float) -> np.ndarray:
    """Board corners in millimetres on the z=0 plane, (cols*rows, 3) float32, row-major."""
    cols, rows = board
    grid = np.mgrid[0:cols, 0:rows].T.reshape(-1, 2).astype(np.float32)
    return np.hstack([grid * np.float32(square_mm), np.zeros((grid.shape[0], 1), np.float32)])


# --------------------------------------------------------------------------- detection

@dataclasses.dataclass(frozen=True)
class Detection:
    """Board corners found in one image (pixels, (N, 2) float32, OpenCV order)."""

    corners: np.ndarray
    pattern: tuple[int, int]
    method: str
    edge_px: float
    """Mean edge width in pixels (10-90 % rise); larger is blurrier."""
    square_px: float
    """Median distance between neighbouring corners in pixels."""

    @property
    def blurred(self) -> bool:
        """Edges wider than `BLUR_EDGE_PX` and `BLUR_EDGE_FRACTION` of a square."""
        return self.edge_px > max(BLUR_EDGE_PX, BLUR_EDGE_FRACTION * self.square_px)


def _to_gray(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        gray = image
    elif image.ndim == 3 and image.shape[2] == 3:
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    elif image.ndim == 3 and image.shape[2] == 4:
        gray = cv2.cvtColor(image, cv2.COLOR_BGRA2GRAY)
    else:
        raise InputError(f"unsupported image shape {image.shape}")
    if gray.dtype != np.uint8:
        gray = cv2.normalize(gray, np.empty_like(gray), 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    return gray


def _square_px(corners: np.ndarray, pattern: tuple[int, int]) -> float:
    cols, rows = pattern
    g = corners.reshape(rows, cols, 2)
    d = np.concatenate([np.linalg.norm(np.diff(g, axis=1), axis=2).ravel(),
                        np.linalg.norm(np.diff(g, axis=0), axis=2).ravel()])
    return float(np.median(d))


def _refine(gray: np.ndarray, corners: np.ndarray, pattern: tuple[int, int]) -> np.ndarray:
    half = int(np.clip(round(0.3 * _square_px(corners, pattern)), 2, 11))
    pts = corners.reshape(-1, 1, 2).astype(np.float32).copy()
    return cv2.cornerSubPix(gray, pts, (half, half), (-1, -1), _SUBPIX_CRITERIA).reshape(-1, 2)


def _attempts(long_edge: int) -> list[tuple[str, float, int]]:
    """(detector, scale, padding) tried in order; scale relative to the full image."""
    base = min(1.0, 1920.0 / long_edge)
    plan: list[tuple[str, float, int]] = []
    for pad in (0, max(16, int(0.04 * long_edge))):
        plan += [("classic", base, pad), ("sb", 0.5 * base, pad), ("sb", 0.25 * base, pad)]
    return plan


def detect_board(image: np.ndarray, board: tuple[int, int], partial: bool = False
                 ) -> Detection | None:
    """Find all inner corners of ``board`` in ``image`` (BGR or gray), or None.

    With ``partial``, when the whole board is not found, a board one row or one column
    smaller is searched for: a board cut by the frame edge still holds a regular grid of
    known spacing, which is all intrinsic calibration needs (`Detection.pattern` says which
    grid was found). Not for scale measurement from a known board position.
    """
    gray = _to_gray(image)
    det = _detect(gray, board)
    if det is not None or not partial:
        return det
    cols, rows = board
    for sub in ((cols, rows - 1), (cols - 1, rows)):
        if min(sub) >= 3:
            det = _detect(gray, sub)
            if det is not None:
                return dataclasses.replace(det, method=det.method + f" partial {sub[0]}x{sub[1]}")
    return None


def _detect(gray: np.ndarray, board: tuple[int, int]) -> Detection | None:
    h, w = gray.shape
    for method, scale, pad in _attempts(max(h, w)):
        src = cv2.copyMakeBorder(gray, pad, pad, pad, pad, cv2.BORDER_REPLICATE) if pad else gray
        small = src if scale == 1.0 else cv2.resize(src, None, fx=scale, fy=scale,
                                                    interpolation=cv2.INTER_AREA)
        if method == "classic":
            if min(board) < 3:  # the classic detector needs 3x3 or more
                continue
            found, corners = cv2.findChessboardCorners(
                small, board, flags=cv2.CALIB_CB_ADAPTIVE_THRESH | cv2.CALIB_CB_NORMALIZE_IMAGE)
        else:
            # default flags: EXHAUSTIVE | ACCURACY | NORMALIZE_IMAGE gave the same detections
            # and calibrations on the four lab cameras, up to 1.6x slower (corners are refined
            # at full resolution afterwards anyway)
            found, corners = cv2.findChessboardCornersSB(small, board, flags=0)
        if not found or corners is None:
            continue
        pts = (corners.reshape(-1, 2).astype(np.float64) + 0.5) / scale - 0.5 - pad
        inside = ((pts[:, 0] >= 0) & (pts[:, 0] <= w - 1) & (pts[:, 1] >= 0)
                  & (pts[:, 1] <= h - 1))
        if not inside.all():
            continue  # a corner invented in the padding
        pts = _refine(gray, pts.astype(np.float32), board)
        edge = _edge_width(gray, board, pts)
        label = f"{method}@{scale:.2g}" + (" padded" if pad else "")
        return Detection(pts.astype(np.float32), board, label, edge, _square_px(pts, board))
    return None


def _edge_width(gray: np.ndarray, board: tuple[int, int], corners: np.ndarray) -> float:
    """Mean 10-90 % edge width in pixels, the worse of horizontal and vertical edges
    (motion blur widens only the edges across the motion)."""
    widths = []
    for vertical in (False, True):
        try:
            retval, _ = cv2.estimateChessboardSharpness(gray, board, corners.reshape(-1, 1, 2),
                                                        vertical=vertical)
        except cv2.error as exc:
            log.debug("sharpness estimate failed: %s", exc)
            continue
        widths.append(float(retval[0]))
    return max(widths) if widths else math.nan


# --------------------------------------------------------------------------- calibration

class ImageResult(NamedTuple):
    """One input image or video frame: ``status`` is ``used``, ``no_board``, ``blurred``,
    ``unreadable``, ``wrong_size``, ``outlier`` or ``not_selected``; ``detail`` is the
    reprojection error in pixels for used views, else the reason."""

    path: str
    status: str
    detail: str | float

    @property
    def error_px(self) -> float | None:
        """Reprojection RMS of a used view, in pixels."""
        return float(self.detail) if isinstance(self.detail, float) else None

    @property
    def reason(self) -> str:
        """Why a view was not used ('' for used views)."""
        return self.detail if isinstance(self.detail, str) else ""


@dataclasses.dataclass(frozen=True)
class CornerFit:
    """Result of `calibrate_from_corners`."""

    camera_matrix: np.ndarray
    dist_coeffs: np.ndarray
    rms_px: float
    per_view_px: np.ndarray
    rvecs: tuple[np.ndarray, ...]
    tvecs: tuple[np.ndarray, ...]
    model: str
    flags: int
    std_px: np.ndarray
    """Standard deviations of fx, fy, cx, cy (pixels) from the fit's covariance."""


@dataclasses.dataclass(frozen=True)
class CalibrationReport:
    """A calibration with per-image outcomes, warnings and how the model was chosen."""

    calibration: CameraCalibration
    per_image: list[ImageResult]
    warnings: list[str]
    model: str
    loo_px: dict[str, float]
    """Leave-one-out reprojection RMS per candidate distortion model (empty if not run)."""
    board: tuple[int, int]
    square_mm: float
    coverage: float
    """Fraction of the frame covered by the union of the board views."""
    std_px: dict[str, float] = dataclasses.field(default_factory=dict)
    """Standard deviations of fx, fy, cx, cy in pixels (from the final fit)."""

    @property
    def used(self) -> list[ImageResult]:
        """Views that entered the calibration."""
        return [r for r in self.per_image if r.status == "used"]

    def provenance(self) -> dict[str, object]:
        """Facts worth keeping next to the intrinsics in the calibration file."""
        return {
            "board_inner_corners": f"{self.board[0]}x{self.board[1]}",
            "square_mm": float(self.square_mm),
            "distortion_model": self.model,
            "leave_one_out_px": {k: round(v, 4) for k, v in self.loo_px.items()},
            "coverage": round(self.coverage, 3),
            "std_px": {k: round(v, 3) for k, v in self.std_px.items()},
            "views": [Path(r.path).name for r in self.used],
            "view_error_px": [round(float(r.detail), 4) for r in self.used],
            "warnings": list(self.warnings),
        }


def _run_calibrate(obj: Sequence[np.ndarray], img: Sequence[np.ndarray],
                   size: tuple[int, int], flags: int
                   ) -> tuple[float, np.ndarray, np.ndarray, tuple[np.ndarray, ...],
                              tuple[np.ndarray, ...], np.ndarray]:
    rms, k, d, rvecs, tvecs, std, _, _ = cv2.calibrateCameraExtended(
        [o.reshape(-1, 1, 3).astype(np.float32) for o in obj],  # OpenCV wants float32
        [i.reshape(-1, 1, 2).astype(np.float32) for i in img],
        size, np.zeros((3, 3)), np.zeros(5), flags=flags, criteria=_CRITERIA)
    return float(rms), k, d.ravel(), tuple(rvecs), tuple(tvecs), std.ravel()[:4].copy()


def _view_errors(obj: Sequence[np.ndarray], img: Sequence[np.ndarray], k: np.ndarray,
                 d: np.ndarray, rvecs: Sequence[np.ndarray], tvecs: Sequence[np.ndarray]
                 ) -> np.ndarray:
    errs = []
    for o, i, r, t in zip(obj, img, rvecs, tvecs):
        proj, _ = cv2.projectPoints(o.reshape(-1, 1, 3).astype(np.float64), r, t, k, d)
        errs.append(math.sqrt(float(np.mean(np.sum((proj.reshape(-1, 2) - i) ** 2, axis=1)))))
    return np.array(errs)


def _corner_residuals(obj: Sequence[np.ndarray], img: Sequence[np.ndarray], fit: CornerFit
                      ) -> list[np.ndarray]:
    out = []
    for o, i, r, t in zip(obj, img, fit.rvecs, fit.tvecs):
        proj, _ = cv2.projectPoints(o.reshape(-1, 1, 3), r, t, fit.camera_matrix,
                                    fit.dist_coeffs)
        out.append(np.linalg.norm(proj.reshape(-1, 2) - i, axis=1))
    return out


def calibrate_from_corners(object_points: Sequence[np.ndarray],
                           image_points: Sequence[np.ndarray], image_size: tuple[int, int],
                           model: str = "k1k2") -> CornerFit:
    """Intrinsics from matched board points (mm, (N,3)) and pixels ((N,2)) per view.

    ``model`` is a key of `DISTORTION_MODELS`. Skew is zero; no other constraint is imposed.
    """
    if model not in DISTORTION_MODELS:
        raise ConfigError(f"unknown distortion model '{model}' "
                          f"(choose from {', '.join(DISTORTION_MODELS)})")
    if len(object_points) != len(image_points) or len(object_points) < 2:
        raise InputError(f"need matched points for at least 2 views, got "
                         f"{len(object_points)} and {len(image_points)}")
    obj = [np.asarray(o, np.float64).reshape(-1, 3) for o in object_points]
    img = [np.asarray(i, np.float64).reshape(-1, 2) for i in image_points]
    flags = DISTORTION_MODELS[model]
    try:
        rms, k, d, rvecs, tvecs, std = _run_calibrate(obj, img, image_size, flags)
    except cv2.error as exc:
        raise InputError(f"calibration failed ({str(exc).strip().splitlines()[-1]}); "
                         "use more varied views of the board") from None
    d5 = np.zeros(5)
    d5[: min(5, d.size)] = d[:5]
    errs = _view_errors(obj, img, k, d5, rvecs, tvecs)
    return CornerFit(k, d5, rms, errs, rvecs, tvecs, model, flags, std)


def leave_one_out_px(object_points: Sequence[np.ndarray], image_points: Sequence[np.ndarray],
                     image_size: tuple[int, int], model: str) -> np.ndarray:
    """Per-view RMS (px) of each view predicted by a calibration of the other views.

    The held-out view's pose is fitted with `cv2.solvePnP` (6 parameters); its residual
    measures how well the intrinsics generalise.
    """
    errs = []
    n = len(object_points)
    for j in range(n):
        keep = [i for i in range(n) if i != j]
        fit = calibrate_from_corners([object_points[i] for i in keep],
                                     [image_points[i] for i in keep], image_size, model)
        o = np.asarray(object_points[j], np.float64).reshape(-1, 3)
        p = np.asarray(image_points[j], np.float64).reshape(-1, 2)
        ok, r, t = cv2.solvePnP(o, p, fit.camera_matrix, fit.dist_coeffs,
                                flags=cv2.SOLVEPNP_ITERATIVE)
        if not ok:
            errs.append(math.inf)
            continue
        errs.append(float(_view_errors([o], [p], fit.camera_matrix, fit.dist_coeffs,
                                       [r], [t])[0]))
    return np.array(errs)


def select_model(object_points: Sequence[np.ndarray], image_points: Sequence[np.ndarray],
                 image_size: tuple[int, int]) -> tuple[str, dict[str, float]]:
    """Choose the distortion model by leave-one-out error (simplest within 5 % of best).

    Returns the model name and the pooled leave-one-out RMS (px) of every candidate. With
    fewer than ``MIN_VIEWS + 1`` views there is nothing to hold out and ``k1k2`` is used.
    """
    if len(object_points) < MIN_VIEWS + 1:
        return "k1k2", {}
    loo: dict[str, float] = {}
    for name in DISTORTION_MODELS:
        try:
            e = leave_one_out_px(object_points, image_points, image_size, name)
        except InputError as exc:
            log.debug("model %s: leave-one-out failed (%s)", name, exc)
            continue
        loo[name] = float(math.sqrt(np.mean(e ** 2)))
    finite = {k: v for k, v in loo.items() if math.isfinite(v)}
    if not finite:
        return "k1k2", loo
    best = min(finite.values())
    chosen = next(k for k in DISTORTION_MODELS
                  if k in finite and finite[k] <= best * (1.0 + MODEL_TOLERANCE))
    return chosen, loo


_ZONES = (("top-left", "top", "top-right"), ("left", "centre", "right"),
          ("bottom-left", "bottom", "bottom-right"))


def coverage(image_points: Sequence[np.ndarray], image_size: tuple[int, int]
             ) -> tuple[float, list[str]]:
    """Fraction of the frame inside some board view, and the 3x3 zones no corner reached."""
    w, h = image_size
    scale = 400.0 / max(w, h)  # a mask about 400 px on its long side
    mask = np.zeros((max(1, round(h * scale)), max(1, round(w * scale))), np.uint8)
    hit = np.zeros((3, 3), bool)
    for pts in image_points:
        p = np.asarray(pts, np.float64).reshape(-1, 2)
        hull = cv2.convexHull((p * scale).astype(np.int32))
        cv2.fillConvexPoly(mask, hull, (1,))
        col = np.clip((p[:, 0] / w * 3).astype(int), 0, 2)
        row = np.clip((p[:, 1] / h * 3).astype(int), 0, 2)
        hit[row, col] = True
    missed = [_ZONES[r][c] for r in range(3) for c in range(3) if not hit[r, c]]
    return float(mask.mean()), missed


def _tilt_deg(rvec: np.ndarray) -> float:
    rot, _ = cv2.Rodrigues(rvec)
    return float(np.degrees(np.arccos(np.clip(abs(rot[2, 2]), 0.0, 1.0))))


# --------------------------------------------------------------------------- fit phases

def _check_model(model: str) -> None:
    """Raise `ConfigError` unless ``model`` is ``auto`` or a key of `DISTORTION_MODELS`."""
    if model != "auto" and model not in DISTORTION_MODELS:
        raise ConfigError(f"unknown distortion model '{model}' "
                          f"(choose auto or {', '.join(DISTORTION_MODELS)})")


def _require_views(n_views: int, board: tuple[int, int]) -> None:
    """Raise `InputError` when fewer than `MIN_VIEWS` views are usable."""
    if n_views < MIN_VIEWS:
        raise InputError(f"only {n_views} usable view(s) of the {board[0]}x{board[1]} "
                         f"board; need at least {MIN_VIEWS} ({RECOMMENDED_VIEWS}-20 "
                         "recommended, covering the whole frame at different tilts)")


def drop_outlier_corners(obj: Sequence[np.ndarray], img: Sequence[np.ndarray],
                         n_detected: Sequence[int], size: tuple[int, int]
                         ) -> tuple[list[np.ndarray], list[np.ndarray], list[tuple[int, float]]]:
    """Phase 1: drop single mis-localised corners (e.g. at the frame edge), one at a time.

    Refits the ``k1k2`` model after each drop; a corner goes when its residual exceeds
    `CORNER_OUTLIER_FACTOR` x the median residual and `CORNER_OUTLIER_MIN_PX`, unless its
    view would keep fewer than half of its ``n_detected`` corners; at most
    `MAX_CORNERS_DROPPED`. Returns new point lists and ``(view, residual px)`` per drop.
    """
    obj, img = list(obj), list(img)
    dropped: list[tuple[int, float]] = []
    for _ in range(MAX_CORNERS_DROPPED):
        fit = calibrate_from_corners(obj, img, size, "k1k2")
        res = _corner_residuals(obj, img, fit)
        limit = max(CORNER_OUTLIER_FACTOR * float(np.median(np.concatenate(res))),
                    CORNER_OUTLIER_MIN_PX)
        v = int(np.argmax([r.max() for r in res]))
        worst = int(np.argmax(res[v]))
        if res[v][worst] <= limit or res[v].size - 1 < 0.5 * n_detected[v]:
            break
        keep = np.arange(res[v].size) != worst
        obj[v], img[v] = obj[v][keep], img[v][keep]
        dropped.append((v, float(res[v][worst])))
    return obj, img, dropped


def drop_outlier_views(obj: Sequence[np.ndarray], img: Sequence[np.ndarray],
                       size: tuple[int, int]) -> tuple[list[int], dict[int, str]]:
    """Phase 2: drop whole views far worse than the others, the worst first.

    A view goes when its ``k1k2`` reprojection error exceeds `OUTLIER_FACTOR` x the median
    view error and `OUTLIER_MIN_PX`, while more than `MIN_VIEWS` views remain. Returns the
    indices kept (ascending) and the reason for each view dropped (in the order dropped).
    """
    kept = list(range(len(img)))
    dropped: dict[int, str] = {}
    while True:
        fit = calibrate_from_corners([obj[i] for i in kept], [img[i] for i in kept], size,
                                     "k1k2")
        med = float(np.median(fit.per_view_px))
        worst = int(np.argmax(fit.per_view_px))
        limit = max(OUTLIER_FACTOR * med, OUTLIER_MIN_PX)
        if fit.per_view_px[worst] <= limit or len(kept) <= MIN_VIEWS:
            return kept, dropped
        dropped[kept[worst]] = (f"reprojection error {fit.per_view_px[worst]:.2f} px, over "
                                f"{OUTLIER_FACTOR:g}x the median {med:.2f} px (corners "
                                "mis-detected or board not flat)")
        del kept[worst]


def choose_model(obj: Sequence[np.ndarray], img: Sequence[np.ndarray],
                 size: tuple[int, int], model: str) -> tuple[str, dict[str, float]]:
    """Phase 3: ``model``, or with ``auto`` the one `select_model` picks by leave-one-out.

    Returns the model name and the leave-one-out RMS per candidate (empty unless ``auto``).
    """
    if model == "auto":
        return select_model(obj, img, size)
    return model, {}


def merge_outcomes(results: Sequence[ImageResult], view_err: dict[str, float],
                   dropped: dict[str, str]) -> list[ImageResult]:
    """Every input's final outcome: ``used`` with its error, ``outlier`` with the reason,
    or its screening result unchanged (keys are the views' labels)."""
    out = []
    for r in results:
        if r.path in view_err:
            out.append(ImageResult(r.path, "used", float(view_err[r.path])))
        elif r.path in dropped:
            out.append(ImageResult(r.path, "outlier", dropped[r.path]))
        else:
            out.append(r)
    return out


def calibration_warnings(n_views: int, covered: float, missed: Sequence[str],
                         tilts_deg: Sequence[float], rms_px: float) -> list[str]:
    """Advice on a finished calibration: few views, poor coverage (``covered`` is the
    fraction of the frame, ``missed`` the 3x3 zones never reached), no tilt, high RMS."""
    warnings = []
    if n_views < RECOMMENDED_VIEWS:
        warnings.append(f"only {n_views} views used; {RECOMMENDED_VIEWS}-20 give a "
                        "more reliable calibration")
    if missed:
        warnings.append(f"the board never reached the {', '.join(missed)} of the frame "
                        f"(boards cover {covered:.0%} of it): distortion there is "
                        "extrapolated; add views with the board near those edges")
    elif covered < 0.5:
        warnings.append(f"the boards cover only {covered:.0%} of the frame; add views nearer "
                        "the edges and corners")
    if max(tilts_deg) < 15.0:
        warnings.append(f"all views face the camera (max tilt {max(tilts_deg):.0f} deg): tilt "
                        "the board 20-45 deg in some views so the focal length is determined")
    if rms_px > 1.0:
        warnings.append(f"RMS reprojection error {rms_px:.2f} px is high (good: < 0.5 "
                        "px): check the board is flat and the square size is right, and "
                        "remove blurred views")
    return warnings


def _corner_notes(labels: Sequence[str], dropped: Sequence[tuple[int, float]]
                  ) -> dict[str, str]:
    """``label -> "a corner 9.1 px off was dropped; ..."`` from `drop_outlier_corners`."""
    notes: dict[str, str] = {}
    for v, residual in dropped:
        notes[labels[v]] = (notes.get(labels[v], "")
                            + f"; a corner {residual:.1f} px off was dropped")
    return {label: note.lstrip("; ") for label, note in notes.items()}


def _final_report(fit: CornerFit, img: Sequence[np.ndarray], size: tuple[int, int],
                  board: tuple[int, int], square_mm: float, name: str,
                  loo: dict[str, float], per_image: list[ImageResult],
                  extra_warnings: Iterable[str]) -> CalibrationReport:
    """Phase 4: the calibration of the final fit, its warnings (logged) and the report."""
    calib = CameraCalibration.from_opencv(name, size, fit.camera_matrix, fit.dist_coeffs,
                                          rms_px=fit.rms_px, images_used=len(img),
                                          created=utc_now())
    frac, missed = coverage(img, size)
    warnings = [*extra_warnings, *calibration_warnings(
        len(img), frac, missed, [_tilt_deg(r) for r in fit.rvecs], fit.rms_px)]
    for w_ in warnings:
        log.warning("%s", w_)
    std = dict(zip(("fx", "fy", "cx", "cy"), (float(v) for v in fit.std_px)))
    return CalibrationReport(calib, per_image, warnings, fit.model, loo, board,
                             float(square_mm), frac, std)


def _calibrate_views(labels: list[str], detections: list[Detection],
                     size: tuple[int, int], board: tuple[int, int], square_mm: float,
                     name: str, model: str, results: list[ImageResult],
                     extra_warnings: Iterable[str] = ()) -> CalibrationReport:
    """Shared tail of image and video calibration: fit, drop outliers, warn, report.

    ``labels[i]`` names ``detections[i]`` in ``results`` (one entry per input, usable views
    ``pending``).
    """
    _require_views(len(detections), board)
    obj = [board_object_points(d.pattern, square_mm).astype(np.float64) for d in detections]
    img = [d.corners.astype(np.float64) for d in detections]
    obj, img, corner_drops = drop_outlier_corners(obj, img, [len(d.corners) for d in detections],
                                                  size)
    kept, view_drops = drop_outlier_views(obj, img, size)
    for i, reason in view_drops.items():
        log.info("%s: dropped as an outlier (%s)", labels[i], reason)
    obj, img = [obj[i] for i in kept], [img[i] for i in kept]
    chosen, loo = choose_model(obj, img, size, model)
    fit = calibrate_from_corners(obj, img, size, chosen)
    per_image = merge_outcomes(results, dict(zip([labels[i] for i in kept],
                                                 fit.per_view_px.tolist())),
                               {labels[i]: reason for i, reason in view_drops.items()})
    notes = _corner_notes(labels, corner_drops)
    for r in per_image:
        if r.status == "used" and r.path in notes:
            log.info("%s: %s", Path(r.path).name, notes[r.path])
    return _final_report(fit, img, size, board, square_mm, name, loo, per_image,
                         extra_warnings)


# --------------------------------------------------------------------------- screening

@dataclasses.dataclass
class Screened:
    """Every input looked at for the board: one result each (usable views ``pending``),
    the usable views' labels and detections, and the image size (None if none was read)."""

    results: list[ImageResult] = dataclasses.field(default_factory=list)
    labels: list[str] = dataclasses.field(default_factory=list)
    detections: list[Detection] = dataclasses.field(default_factory=list)
    size: tuple[int, int] | None = None

    def add(self, result: ImageResult, det: Detection | None = None) -> None:
        """Record one input's result; a ``pending`` one is a usable view (``det``)."""
        self.results.append(result)
        if result.status == "pending":
            assert det is not None
            self.labels.append(result.path)
            self.detections.append(det)


def screen_detection(label: str, det: Detection | None, board: tuple[int, int],
                     video: bool = False) -> ImageResult:
    """The verdict on one view: ``no_board`` or ``blurred`` with the reason, else
    ``pending`` (usable; the detail names the detector). Video frames get short reasons."""
    if det is None:
        if video:
            return ImageResult(label, "no_board", "no complete board in the frame")
        return ImageResult(label, "no_board",
                           f"no {board[0]}x{board[1]} inner-corner board found (all "
                           f"{board[0] * board[1]} inner corners must be visible: board cut "
                           "by the frame edge, too oblique, too small or blurred?)")
    if det.blurred:
        if video:
            return ImageResult(label, "blurred", f"board edges {det.edge_px:.1f} px wide: "
                               "motion or focus blur")
        limit = max(BLUR_EDGE_PX, BLUR_EDGE_FRACTION * det.square_px)
        return ImageResult(label, "blurred", f"board edges {det.edge_px:.1f} px wide (limit "
                           f"{limit:.1f} px): motion or focus blur")
    return ImageResult(label, "pending", det.method)


def _read_gray(path: Path) -> np.ndarray | ImageResult:
    """The photo in gray, or its ``unreadable`` result."""
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE) if path.is_file() else None
    if image is not None:
        return image
    return ImageResult(str(path), "unreadable",
                       "not found" if not path.is_file() else "not an image OpenCV can read")


def _screen_images(files: Sequence[Path], board: tuple[int, int]) -> Screened:
    """Read every photo and look for the board; all readable photos must share one size."""
    views = Screened()
    size_from = ""
    for p in files:
        image = _read_gray(p)
        if isinstance(image, ImageResult):
            views.add(image)
            log.info("%s: unreadable", p)
            continue
        this = (image.shape[1], image.shape[0])
        if views.size is None:
            views.size, size_from = this, p.name
        elif this != views.size:
            raise InputError(f"{p}: image is {this[0]}x{this[1]} but {size_from} is "
                             f"{views.size[0]}x{views.size[1]}; calibrate one camera at one "
                             "resolution at a time")
        det = detect_board(image, board, partial=True)
        views.add(screen_detection(str(p), det, board), det)
        log.debug("%s: %s (%s)", p.name, views.results[-1].status, views.results[-1].detail)
    return views


def _default_name(paths: Sequence[Path]) -> str:
    parents = {p.resolve().parent.name for p in paths}
    return parents.pop() if len(parents) == 1 else paths[0].stem


def calibrate_from_images(paths: Iterable[str | os.PathLike[str]],
                          board: tuple[int, int] | str, square_mm: float,
                          name: str | None = None, model: str = "auto") -> CalibrationReport:
    """Calibrate one camera from photographs of a checkerboard.

    Unreadable images, images without the whole board, blurred boards and outliers are
    reported in ``per_image`` and skipped. Raises `InputError` when images differ in size
    or fewer than `MIN_VIEWS` are usable.
    """
    board = _check_board(board, square_mm)
    _check_model(model)
    files = [Path(p) for p in paths]
    if not files:
        raise InputError("no calibration images given")
    views = _screen_images(files, board)
    if views.size is None:
        raise InputError(f"none of the {len(files)} calibration images could be read")
    if not views.detections:
        raise InputError(f"no checkerboard with {board[0]}x{board[1]} inner corners found in "
                         f"any of the {len(files)} images ({_BOARD_HELP}; "
                         "see calibration/README.md)")
    return _calibrate_views(views.labels, views.detections, views.size, board, square_mm,
                            name or _default_name(files), model, views.results)


# --------------------------------------------------------------------------- video

def _view_features(det: Detection, size: tuple[int, int]) -> np.ndarray:
    """Where the board is, how big and how tilted: a vector for picking varied views."""
    w, h = size
    c = det.corners.astype(np.float64)
    cols, rows = det.pattern
    g = c.reshape(rows, cols, 2)
    centre = c.mean(axis=0) / np.array([w, h])
    extent = math.sqrt(cv2.contourArea(cv2.convexHull(c.astype(np.float32))) / (w * h))
    # perspective: ratio of opposite edge lengths of the board outline, in log scale
    top = float(np.linalg.norm(g[0, -1] - g[0, 0]))
    bottom = float(np.linalg.norm(g[-1, -1] - g[-1, 0]))
    left = float(np.linalg.norm(g[-1, 0] - g[0, 0]))
    right = float(np.linalg.norm(g[-1, -1] - g[0, -1]))
    persp = np.log([max(top, 1e-6) / max(bottom, 1e-6), max(left, 1e-6) / max(right, 1e-6)])
    return np.concatenate([centre, [extent], 2.0 * np.abs(persp)])


def select_views(features: np.ndarray, sharpness: np.ndarray, k: int) -> list[int]:
    """Greedy farthest-point choice of ``k`` varied views, starting from the sharpest."""
    n = features.shape[0]
    if n <= k:
        return list(range(n))
    chosen = [int(np.argmin(sharpness))]
    dist = np.linalg.norm(features - features[chosen[0]], axis=1)
    while len(chosen) < k:
        nxt = int(np.argmax(dist))
        chosen.append(nxt)
        dist = np.minimum(dist, np.linalg.norm(features - features[nxt], axis=1))
    return sorted(chosen)


def _screen_video(path: Path, board: tuple[int, int], max_candidates: int) -> Screened:
    """Look for the board in about ``max_candidates`` evenly spaced frames of the video."""
    views = Screened()
    for index, frame in sample_frames(path, max_candidates):
        views.size = views.size or (frame.shape[1], frame.shape[0])
        label = f"{path.name}#frame{index}"
        det = detect_board(frame, board, partial=True)
        views.add(screen_detection(label, det, board, video=True), det)
    return views


def keep_varied(views: Screened, max_frames: int) -> Screened:
    """The ``max_frames`` most varied usable views (`select_views`, from the sharpest);
    the other usable views become ``not_selected``."""
    assert views.size is not None
    size = views.size
    feats = np.array([_view_features(d, size) for d in views.detections])
    sharp = np.array([d.edge_px if math.isfinite(d.edge_px) else 99.0
                      for d in views.detections])
    keep = select_views(feats, sharp, max_frames)
    kept = {views.labels[i] for i in keep}
    results = [r if r.status != "pending" or r.path in kept else
               ImageResult(r.path, "not_selected", "similar to a chosen view")
               for r in views.results]
    return Screened(results, [views.labels[i] for i in keep],
                    [views.detections[i] for i in keep], size)


def calibrate_from_video(path: str | os.PathLike[str], board: tuple[int, int] | str,
                         square_mm: float, max_frames: int = 20, name: str | None = None,
                         model: str = "auto", max_candidates: int = 200
                         ) -> CalibrationReport:
    """Calibrate from a video of a checkerboard moved around the frame.

    Up to ``max_candidates`` evenly spaced frames are searched; sharp frames with the whole
    board are kept and ``max_frames`` of them chosen to vary position, size and tilt.
    """
    board = _check_board(board, square_mm)
    _check_model(model)
    if max_frames < MIN_VIEWS:
        raise ConfigError(f"max_frames must be at least {MIN_VIEWS}, got {max_frames}")
    path = Path(path)
    views = _screen_video(path, board, max_candidates)
    assert views.size is not None  # sample_frames raises when no frame decodes
    searched = len(views.results)
    log.info("%s: searched %d frames, board in %d sharp frames, %d blurred", path.name,
             searched, len(views.detections),
             sum(r.status == "blurred" for r in views.results))
    if not views.detections:
        raise InputError(f"{path}: no sharp checkerboard with {board[0]}x{board[1]} inner "
                         f"corners found in {searched} frames ({_BOARD_HELP})")
    chosen = keep_varied(views, max_frames)
    assert chosen.size is not None
    return _calibrate_views(chosen.labels, chosen.detections, chosen.size, board, square_mm,
                            name or path.stem, model, chosen.results)
