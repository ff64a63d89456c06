"""Remove lens distortion from image landmarks, so angles and distances are not bent.

Landmarks are undistorted with ``cv2.undistortPointsIter`` and mapped back to pixels with
the same camera matrix (``P = K``): an undistorted point stays where an ideal pinhole camera
with the same focal length and principal point would have imaged it. Points near the frame
centre barely move; points near the edges of a wide-angle image move by several pixels.
"""

from __future__ import annotations

import logging

import cv2
import numpy as np

from rehab.calibration.camera import CameraCalibration
from rehab.errors import InputError
from rehab.model import Note, NoteCode, PoseSequence

log = logging.getLogger(__name__)

_ITER_CRITERIA = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 100, 1e-12)


def undistort_pixels(points_px: np.ndarray, calib: CameraCalibration) -> np.ndarray:
    """Undistort pixel coordinates (..., 2); NaN points stay NaN. Returns float64."""
    pts = np.asarray(points_px, dtype=np.float64)
    if pts.shape[-1] != 2:
        raise InputError(f"points must have shape (..., 2), got {pts.shape}")
    flat = pts.reshape(-1, 2)
    out = np.full_like(flat, np.nan)
    ok = np.isfinite(flat).all(axis=1)
    if ok.any():
        k = calib.camera_matrix
        und = cv2.undistortPointsIter(flat[ok].reshape(-1, 1, 2), k, calib.dist_coeffs,
                                      np.eye(3), k, _ITER_CRITERIA)  # R = I: no rectification
        out[ok] = und.reshape(-1, 2)
    return out.reshape(pts.shape)


def distort_pixels(points_px: np.ndarray, calib: CameraCalibration) -> np.ndarray:
    """Inverse of `undistort_pixels`: where an ideal pinhole pixel lands through the lens."""
    pts = np.asarray(points_px, dtype=np.float64)
    flat = pts.reshape(-1, 2)
    out = np.full_like(flat, np.nan)
    ok = np.isfinite(flat).all(axis=1)
    if ok.any():
        k = calib.camera_matrix
        norm = (flat[ok] - [calib.cx, calib.cy]) / [calib.fx, calib.fy]
        obj = np.hstack([norm, np.ones((norm.shape[0], 1))])
        proj, _ = cv2.projectPoints(obj.reshape(-1, 1, 3), np.zeros(3), np.zeros(3), k,
                                    calib.dist_coeffs)
        out[ok] = proj.reshape(-1, 2)
    return out.reshape(pts.shape)


def undistort_sequence(seq: PoseSequence, calib: CameraCalibration) -> PoseSequence:
    """A copy of ``seq`` with its image landmarks undistorted (x, y renormalised to [0, 1]).

    Raises `ConfigError` when the sequence's resolution is not the calibrated one (a portrait
    video with a landscape calibration is a mismatch). World landmarks, z, visibility and
    NaNs (frames without a person) are unchanged. A note records the calibration used.
    """
    calib.check_size(seq.width, seq.height, what=f"the video ({seq.source or 'sequence'})")
    px = seq.pixels()
    und = undistort_pixels(px, calib)
    landmarks = np.array(seq.landmarks, dtype=np.float32, copy=True)
    landmarks[:, :, 0] = (und[:, :, 0] / seq.width).astype(np.float32)
    landmarks[:, :, 1] = (und[:, :, 1] / seq.height).astype(np.float32)
    moved = np.linalg.norm(und - px, axis=2)
    max_shift = float(np.nanmax(moved)) if np.isfinite(moved).any() else 0.0
    note = (f"landmarks undistorted with calibration '{calib.name}' "
            f"({calib.width}x{calib.height}, max shift {max_shift:.1f} px)")
    log.info("%s", note)
    return seq.replace(landmarks=landmarks, notes=(*seq.notes, Note(
        NoteCode.UNDISTORTED, note, {"calibration": calib.name, "max_shift_px": max_shift})))
