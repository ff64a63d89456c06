"""A multi-camera 3D reference for the Pose2Sim lab recording, and how far the single-camera
joint angles of rehab are from it.

The lab clip (``../shared/data/videos/pose2sim_single_cam01..04.mp4``: 1.7 s, 100 frames
at 60 fps, four synchronised portrait cameras) has no published 3D ground truth, so this
script builds one from the four views' MediaPipe landmarks:

1. **Intrinsics** of each camera from its checkerboard photos
   (`rehab.calibration.calibrate_from_images`, 4x7 inner corners, 60 mm squares). The
   photos are 1088x1920; so are the videos of cam03 and cam04, but those of cam01 and
   cam02 are 1080x1920. For those two the candidate mappings of `MAPPINGS` (4 columns
   cropped on each side, 8 on the left, 8 on the right, or a horizontal scale) are
   compared by the bundle adjustment's error on the same observations. They fit equally
   well (a principal point a few pixels off is absorbed by the camera's rotation), so the
   symmetric crop is kept unless another is clearly better (`MAPPING_TOLERANCE`).
2. **Extrinsics** from the person itself (no board is seen by two cameras): undistorted,
   normalised image points of well-visible body landmarks in synchronised frames are the
   correspondences. Pairwise essential matrices (RANSAC) and `cv2.recoverPose` start the
   camera poses, PnP adds the other cameras, and a bundle adjustment
   (`scipy.optimize.least_squares`, robust loss) refines all poses and 3D points. Gauge:
   cam01 at the origin, unit distance cam01-cam02 (the scale is arbitrary; angles are not).
3. **Triangulation immune to single-view left/right swaps**: in every frame each view is
   read as-is and with every ``left_``/``right_`` pair exchanged, separately for the upper
   body (face, arms) and the lower body (hips, legs: MediaPipe sometimes exchanges only
   one of them); the combination of the views whose multi-view solution reprojects best
   is kept (of a combination and its mirror, which cost the same, the one anatomy calls
   left: left = up x forward), then views that still disagree on a landmark by more than
   `OUTLIER_PX` are dropped for it. The frames each camera needed exchanged are reported.
   The bundle adjustment runs on the repaired labels, and the labels are resolved again.
4. **Reference angles**: the 3D points become the ``world`` of a `PoseSequence` (y down,
   origin between the hips, scaled to MediaPipe's metres) and go through rehab's own
   `rehab.kinematics.compute_angles(seq, space="world")`.
5. **Comparison** (`compare`): angles of one camera's landmarks file in any angle space vs
   the reference (mean absolute error per angle and overall), and the share of frames whose
   left/right labelling disagrees with the reference reprojected into that camera.

Usage::

    .venv/bin/python bench/lab_reference.py [--landmarks cam02=PATH ...] [--space image]
        [--leave-out] [--json OUT]

By default the reference and the comparison use ``/tmp/lab/cam0N/landmarks.npz`` (as
``rehab analyze VIDEO --exercise squat --out /tmp/lab/cam0N`` writes them); ``--landmarks``
compares other files of some cameras instead (the reference is always built from the
default files, or from ``--reference-landmarks``). ``--leave-out`` compares each camera with
a reference built from the other three, so a view is not part of its own reference. About
10 s (30 s with ``--leave-out``); the intrinsics are cached under
``$TMPDIR/rehab-lab-reference`` (nothing is written in the repository).

Limits: the reference is made of the same model's landmarks seen from four sides, not of
markers. Errors the model makes in every view alike (a joint centre placed consistently
too high, a limb hidden from all cameras) are in the reference too; it disagrees with
itself by a median 7 px (the views' landmarks do not meet exactly), and references built
from three of the four cameras differ from it by 2-6 degrees on average (up to 15 for
shoulder flexion, whose body-frame definition is unstable with the arm by the side).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import itertools
import json
import logging
import math
import os
import sys
import tempfile
import time
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from scipy.optimize import least_squares  # type: ignore[import-untyped]
from scipy.sparse import csr_matrix  # type: ignore[import-untyped]
from scipy.spatial.transform import Rotation  # type: ignore[import-untyped]

from rehab.calibration import (
    CameraCalibration,
    calibrate_from_images,
    load_calibration,
    save_calibration,
    undistort_pixels,
)
from rehab.calibration.undistort import distort_pixels
from rehab.kinematics import compute_angles
from rehab.errors import RehabError
from rehab.model import LANDMARK_INDEX, LANDMARK_NAMES, AngleSet, PoseSequence
from rehab.sequence import load_npz

log = logging.getLogger("lab_reference")

REPO = Path(__file__).resolve().parents[1]
CAMERAS: tuple[str, ...] = ("cam01", "cam02", "cam03", "cam04")
BOARD = (4, 7)
SQUARE_MM = 60.0
DEFAULT_LANDMARKS = "/tmp/lab/{cam}/landmarks.npz"
CACHE_DIR = Path(tempfile.gettempdir()) / "rehab-lab-reference"

ANGLES: tuple[str, ...] = tuple(
    f"{side}_{name}" for name in ("knee_flexion", "hip_flexion", "elbow_flexion",
                                  "shoulder_flexion", "shoulder_abduction")
    for side in ("left", "right"))
"""The compared angle columns (`rehab.model.ANGLE_COLUMNS` names)."""

MAPPINGS: tuple[str, ...] = ("crop_centre", "crop_left", "crop_right", "scale")
"""How intrinsics calibrated at the photos' size map to the video's size: the video is the
photo with the extra columns/rows cut evenly on both sides, on the left/top, on the
right/bottom, or the photo resized (focal length and principal point scaled). The first is
the default, kept unless another fits clearly better (`MAPPING_TOLERANCE`)."""
MAPPING_TOLERANCE = 0.01
"""``auto`` replaces the default mapping only by one whose bundle-adjustment RMS error is
more than this fraction smaller (a shift of the principal point by a few pixels is mostly
absorbed by the camera's rotation, so the crops differ by far less than this)."""

CORE: tuple[str, ...] = (
    "nose", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist",
    "right_wrist", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
    "right_ankle", "left_heel", "right_heel", "left_foot_index", "right_foot_index")
"""Landmarks whose image points serve as correspondences for the camera poses."""

BA_MIN_VISIBILITY = 0.8
"""Visibility a landmark needs to be a correspondence for the camera poses."""
MIN_VISIBILITY = 0.5
"""Visibility a landmark needs to enter the triangulation."""
SWAP_TRUNCATE_PX = 30.0
"""Per-view error at which a landmark's cost is capped when the labellings are compared."""
OUTLIER_PX = 20.0
"""A view whose reprojection error on a landmark exceeds this is dropped for that landmark
when the remaining views (at least two) agree within it."""
LOSS_SCALE_PX = 5.0
"""Scale of the robust loss of the bundle adjustment (pixels)."""


def _swap_permutation() -> np.ndarray:
    """Index permutation exchanging every ``left_``/``right_`` landmark pair."""
    perm = np.arange(len(LANDMARK_NAMES))
    for i, name in enumerate(LANDMARK_NAMES):
        for a, b in (("left_", "right_"), ("right_", "left_")):
            if name.startswith(a):
                perm[i] = LANDMARK_INDEX[b + name[len(a):]]
        if name.endswith("_left"):
            perm[i] = LANDMARK_INDEX[name[:-5] + "_right"]
        elif name.endswith("_right"):
            perm[i] = LANDMARK_INDEX[name[:-6] + "_left"]
    return perm


SWAP = _swap_permutation()
SIDED = np.flatnonzero(SWAP != np.arange(len(LANDMARK_NAMES)))
_I = LANDMARK_INDEX


def shared_data_dir() -> Path:
    """``../shared/data`` beside the checkout (``REHAB_SHARED_DATA`` overrides)."""
    env = os.environ.get("REHAB_SHARED_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


# --------------------------------------------------------------------------- intrinsics

def _cache_key(files: Sequence[Path]) -> str:
    """Key of a calibration: the photos (name, size, mtime) and rehab's calibration code."""
    import rehab.calibration.checkerboard as cb

    h = hashlib.sha256(Path(cb.__file__).read_bytes())
    for f in files:
        st = f.stat()
        h.update(f"{f.resolve()}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


def calibrate_lab(calib_dir: Path, cameras: Sequence[str] = CAMERAS,
                  cache: bool = True) -> dict[str, CameraCalibration]:
    """Intrinsics of each camera at the photos' size, from ``calib_dir/camNN/*.jpg``
    (rehab's checkerboard calibration; cached as rehab calibration TOML under `CACHE_DIR`)."""
    out: dict[str, CameraCalibration] = {}
    for cam in cameras:
        files = sorted((calib_dir / cam).glob("*.jpg"))
        if not files:
            raise FileNotFoundError(f"no calibration photos in {calib_dir / cam}")
        cached = CACHE_DIR / f"{cam}-{_cache_key(files)}.toml"
        if cache and cached.is_file():
            out[cam] = load_calibration(cached)
            continue
        report = calibrate_from_images(files, BOARD, SQUARE_MM, name=cam)
        out[cam] = report.calibration
        if cache:
            CACHE_DIR.mkdir(parents=True, exist_ok=True)
            save_calibration(report.calibration, cached, report.provenance())
    return out


def to_video(calib: CameraCalibration, width: int, height: int, mapping: str
             ) -> CameraCalibration:
    """``calib`` (at the photos' size) mapped to a ``width`` x ``height`` video (`MAPPINGS`)."""
    dw, dh = calib.width - width, calib.height - height
    if mapping == "scale":
        sx, sy = width / calib.width, height / calib.height
        return dataclasses.replace(
            calib, width=width, height=height, fx=calib.fx * sx, fy=calib.fy * sy,
            cx=(calib.cx + 0.5) * sx - 0.5, cy=(calib.cy + 0.5) * sy - 0.5)
    share = {"crop_left": 1.0, "crop_centre": 0.5, "crop_right": 0.0}.get(mapping)
    if share is None:
        raise ValueError(f"unknown intrinsics mapping {mapping!r} (one of {MAPPINGS})")
    return dataclasses.replace(calib, width=width, height=height,
                               cx=calib.cx - share * dw, cy=calib.cy - share * dh)


# --------------------------------------------------------------------------- geometry

@dataclasses.dataclass(frozen=True)
class View:
    """One camera: video intrinsics and pose (``x_cam = rotation @ x_world + translation``)."""

    name: str
    calib: CameraCalibration
    rotation: np.ndarray
    translation: np.ndarray

    @property
    def focal(self) -> float:
        """Mean focal length in pixels (normalised -> pixel errors)."""
        return 0.5 * (self.calib.fx + self.calib.fy)

    @property
    def centre(self) -> np.ndarray:
        """Camera centre in world coordinates."""
        return -self.rotation.T @ self.translation

    def project_px(self, points: np.ndarray) -> np.ndarray:
        """Video pixels (through the lens distortion) of world points (..., 3)."""
        xc = points @ self.rotation.T + self.translation
        norm = xc[..., :2] / xc[..., 2:3]
        ideal = norm * [self.calib.fx, self.calib.fy] + [self.calib.cx, self.calib.cy]
        return distort_pixels(ideal, self.calib)


def normalised_points(seq: PoseSequence, calib: CameraCalibration) -> np.ndarray:
    """Undistorted normalised image coordinates (T, 33, 2) of ``seq``'s landmarks."""
    calib.check_size(seq.width, seq.height, what=f"landmarks of {seq.source or 'a video'}")
    und = undistort_pixels(seq.pixels(), calib)
    return (und - [calib.cx, calib.cy]) / [calib.fx, calib.fy]


def _projections(rotations: np.ndarray, translations: np.ndarray) -> np.ndarray:
    return np.concatenate([rotations, translations[:, :, None]], axis=2)


def triangulate(proj: np.ndarray, obs: np.ndarray, use: np.ndarray, focal: np.ndarray,
                iterations: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Points seen by several views: DLT, then Gauss-Newton on the pixel error.

    ``proj`` (V, 3, 4) normalised projection matrices, ``obs`` (V, ..., 2) normalised points,
    ``use`` (V, ...) which views enter each point, ``focal`` (V,) pixels. Returns the
    points (..., 3) (NaN where fewer than two views) and the per-view errors in pixels
    (V, ...) of every view with a finite observation (used or not).
    """
    v = proj.shape[0]
    shape = obs.shape[1:-1]
    x = obs.reshape(v, -1, 2)
    w = use.reshape(v, -1) & np.isfinite(x).all(axis=2)
    n = x.shape[1]
    xs = np.nan_to_num(x)
    # two DLT rows per view, stacked as (N, 2V, 4); unused views have zero rows
    a0 = (xs[:, :, 0:1] * proj[:, None, 2, :] - proj[:, None, 0, :]) * w[:, :, None]
    a1 = (xs[:, :, 1:2] * proj[:, None, 2, :] - proj[:, None, 1, :]) * w[:, :, None]
    a = np.concatenate([a0, a1], axis=0).transpose(1, 0, 2)
    ok = w.sum(axis=0) >= 2
    pts = np.full((n, 3), np.nan)
    if ok.any():
        _, _, vt = np.linalg.svd(a[ok])
        h = vt[:, -1]
        with np.errstate(divide="ignore", invalid="ignore"):
            pts[ok] = h[:, :3] / h[:, 3:4]
    rot, trans = proj[:, :, :3], proj[:, :, 3]
    for _ in range(iterations):
        xc = pts[None] @ rot.transpose(0, 2, 1) + trans[:, None]
        z = xc[:, :, 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            r = (xc[:, :, :2] / z[:, :, None] - xs) * focal[:, None, None]
            dz = np.stack([np.stack([1 / z, np.zeros_like(z), -xc[:, :, 0] / z ** 2], -1),
                           np.stack([np.zeros_like(z), 1 / z, -xc[:, :, 1] / z ** 2], -1)], 2)
        jac = (dz @ rot[:, None]) * focal[:, None, None, None]
        jt = jac.swapaxes(-1, -2)
        wm = (w & (z > 0))[:, :, None, None]
        jtj = np.where(wm, jt @ jac, 0).sum(axis=0)
        jtr = np.where(wm[..., 0], (jt @ r[..., None])[..., 0], 0).sum(axis=0)
        good = ok & np.isfinite(jtj).all(axis=(1, 2)) & (np.abs(np.linalg.det(jtj)) > 1e-12)
        if not good.any():
            break
        pts[good] -= np.linalg.solve(jtj[good], jtr[good][:, :, None])[:, :, 0]
    xc = pts[None] @ rot.transpose(0, 2, 1) + trans[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        err = np.linalg.norm(xc[:, :, :2] / xc[:, :, 2:3] - x, axis=2) * focal[:, None]
    err[~(xc[:, :, 2] > 0)] = np.inf
    err[~np.isfinite(x).all(axis=2)] = np.nan
    err[:, ~ok] = np.nan
    return pts.reshape(*shape, 3), err.reshape(v, *shape)


# --------------------------------------------------------------------------- camera poses

def _pair_points(obs: np.ndarray, ok: np.ndarray, i: int, j: int
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    both = ok[i] & ok[j]
    idx = np.argwhere(both)
    return obs[i][both], obs[j][both], idx


def _essential(p0: np.ndarray, p1: np.ndarray, focal: float
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Relative pose (R, unit t) of view 1 from view 0 and the inlier mask."""
    e, mask = cv2.findEssentialMat(p0, p1, np.eye(3), method=cv2.RANSAC, prob=0.9999,
                                   threshold=3.0 / focal)
    if e is None:
        raise RuntimeError("no essential matrix found")
    e = e[:3]
    _, r, t, mask2 = cv2.recoverPose(e, p0, p1, np.eye(3), mask=mask.copy())
    return r, t.ravel(), mask2.ravel() > 0


def initial_poses(obs: np.ndarray, ok: np.ndarray, focal: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Camera poses from pairwise essential matrices and PnP (view 0 at the origin).

    The base pair is view 0 and the view sharing the most essential-matrix inliers with it;
    its inlier points are triangulated and every other view is placed by RANSAC PnP on
    them. Returns rotations (V, 3, 3), translations (V, 3) and per-pair inlier counts.
    """
    v = obs.shape[0]
    pairs: dict[str, Any] = {}
    rel: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}
    for j in range(1, v):
        p0, p1, idx = _pair_points(obs, ok, 0, j)
        r, t, inl = _essential(p0, p1, float(focal[0]))
        rel[j] = (r, t, inl, idx)
        pairs[f"0-{j}"] = {"points": int(len(p0)), "inliers": int(inl.sum())}
    base = max(rel, key=lambda j: int(rel[j][2].sum()))
    r, t, inl, idx = rel[base]
    rots = np.tile(np.eye(3), (v, 1, 1))
    trans = np.zeros((v, 3))
    rots[base], trans[base] = r, t
    sel = idx[inl]
    proj = _projections(rots[[0, base]], trans[[0, base]])
    o = np.stack([obs[0][sel[:, 0], sel[:, 1]], obs[base][sel[:, 0], sel[:, 1]]])
    pts, err = triangulate(proj, o, np.ones(o.shape[:2], bool), focal[[0, base]])
    good = np.isfinite(pts).all(axis=1) & (np.nanmax(err, axis=0) < 5.0)
    known = {tuple(k): p for k, p in zip(sel[good], pts[good])}
    for j in range(1, v):
        if j == base:
            continue
        keys = [k for k in known if ok[j][k]]
        if len(keys) < 6:
            raise RuntimeError(f"view {j}: too few points to place it")
        obj = np.array([known[k] for k in keys])
        img = np.array([obs[j][k] for k in keys])
        found, rvec, tvec, inliers = cv2.solvePnPRansac(
            obj, img, np.eye(3), np.zeros(4), reprojectionError=4.0 / float(focal[j]),
            iterationsCount=2000, confidence=0.9999, flags=cv2.SOLVEPNP_EPNP)
        if not found:
            raise RuntimeError(f"view {j}: PnP failed")
        rots[j] = cv2.Rodrigues(rvec)[0]
        trans[j] = tvec.ravel()
        pairs[f"pnp-{j}"] = {"points": len(keys),
                             "inliers": 0 if inliers is None else int(len(inliers))}
    pairs["base"] = int(base)
    return rots, trans, pairs


def _skew(a: np.ndarray) -> np.ndarray:
    """(..., 3, 3) cross-product matrices of (..., 3) vectors."""
    out = np.zeros(a.shape[:-1] + (3, 3))
    out[..., 0, 1], out[..., 0, 2] = -a[..., 2], a[..., 1]
    out[..., 1, 0], out[..., 1, 2] = a[..., 2], -a[..., 0]
    out[..., 2, 0], out[..., 2, 1] = -a[..., 1], a[..., 0]
    return out


def _right_jacobian(w: np.ndarray) -> np.ndarray:
    """(N, 3, 3) right Jacobians of SO(3) at rotation vectors ``w`` (N, 3)."""
    theta = np.linalg.norm(w, axis=1)[:, None, None]
    k = _skew(w)
    small = theta < 1e-8
    th = np.where(small, 1.0, theta)
    a = np.where(small, 0.5, (1 - np.cos(th)) / th ** 2)
    b = np.where(small, 1.0 / 6.0, (th - np.sin(th)) / th ** 3)
    return np.eye(3) - a * k + b * (k @ k)


def bundle_adjust(rots: np.ndarray, trans: np.ndarray, obs: np.ndarray, ok: np.ndarray,
                  focal: np.ndarray, loss: str = "soft_l1", gauge_view: int = 1
                  ) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
    """Refine all camera poses and the 3D points of ``obs`` (V, T, L, 2) where ``ok``.

    View 0 stays at the origin; the distance to ``gauge_view`` is held at 1 (a residual).
    Residuals are pixel errors under ``loss`` with scale `LOSS_SCALE_PX`. Returns the poses
    and a summary (median and RMS pixel error of the observations before and after).
    """
    v = obs.shape[0]
    seen = ok.sum(axis=0) >= 2
    point_of = -np.ones(seen.shape, int)
    point_of[seen] = np.arange(int(seen.sum()))
    npts = int(seen.sum())
    cam_idx, pt_idx = [], []
    for c in range(v):
        m = ok[c] & seen
        cam_idx.append(np.full(int(m.sum()), c))
        pt_idx.append(point_of[m])
    cams = np.concatenate(cam_idx)
    pidx = np.concatenate(pt_idx)
    o = np.concatenate([obs[c][ok[c] & seen] for c in range(v)])
    f = focal[cams][:, None]
    pts0, _ = triangulate(_projections(rots, trans), obs[:, seen], ok[:, seen], focal)
    scale = np.linalg.norm(trans[gauge_view])
    pts0 /= scale
    trans = trans / scale
    rv0 = Rotation.from_matrix(rots[1:]).as_rotvec()
    x0 = np.concatenate([np.hstack([rv0, trans[1:]]).ravel(), pts0.ravel()])
    ncam = 6 * (v - 1)

    def unpack(p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        cp = p[:ncam].reshape(v - 1, 6)
        r = np.concatenate([np.eye(3)[None], Rotation.from_rotvec(cp[:, :3]).as_matrix()])
        t = np.concatenate([np.zeros((1, 3)), cp[:, 3:]])
        return r, t, p[ncam:].reshape(npts, 3)

    def residuals(p: np.ndarray) -> np.ndarray:
        r, t, x = unpack(p)
        xc = (r[cams] @ x[pidx][:, :, None])[:, :, 0] + t[cams]
        res = (xc[:, :2] / xc[:, 2:3] - o) * f
        return np.concatenate([res.ravel(), [1e3 * (np.linalg.norm(t[gauge_view]) - 1.0)]])

    m_obs = len(o)
    rows2 = np.repeat(np.arange(2 * m_obs).reshape(m_obs, 2), 3, axis=1)  # (M, 6)
    pcols = np.tile(ncam + 3 * pidx[:, None] + np.arange(3), (1, 2))
    on_cam = cams > 0
    crows = np.repeat(np.arange(2 * m_obs).reshape(m_obs, 2), 6, axis=1)[on_cam]
    ccols = np.tile(6 * (cams[on_cam, None] - 1) + np.arange(6), (1, 2))
    grow = 2 * m_obs
    gcols = 6 * (gauge_view - 1) + 3 + np.arange(3)
    shape = (2 * m_obs + 1, ncam + 3 * npts)

    def jacobian(p: np.ndarray) -> csr_matrix:
        r, t, x = unpack(p)
        xw = x[pidx]
        xc = (r[cams] @ xw[:, :, None])[:, :, 0] + t[cams]
        z = xc[:, 2]
        dpi = np.zeros((m_obs, 2, 3))
        dpi[:, 0, 0] = dpi[:, 1, 1] = 1.0 / z
        dpi[:, 0, 2] = -xc[:, 0] / z ** 2
        dpi[:, 1, 2] = -xc[:, 1] / z ** 2
        dpi *= f[:, :, None]
        rc = r[cams]
        d_point = dpi @ rc  # (M, 2, 3)
        # d(R(w) X)/dw = -R [X]x Jr(w) (Jr: right Jacobian of SO(3))
        jr = _right_jacobian(p[:ncam].reshape(v - 1, 6)[:, :3])
        jr = np.concatenate([np.eye(3)[None], jr])[cams]
        d_rot = -(d_point @ (_skew(xw) @ jr))
        d_cam = np.concatenate([d_rot, dpi], axis=2)[on_cam]  # (Mc, 2, 6)
        tn = t[gauge_view] / np.linalg.norm(t[gauge_view])
        data = np.concatenate([d_point.reshape(-1), d_cam.reshape(-1), 1e3 * tn])
        rr = np.concatenate([rows2.reshape(-1), crows.reshape(-1), np.full(3, grow)])
        cc = np.concatenate([pcols.reshape(-1), ccols.reshape(-1), gcols])
        return csr_matrix((data, (rr, cc)), shape=shape)

    before = np.linalg.norm(residuals(x0)[:-1].reshape(-1, 2), axis=1)
    sol = least_squares(residuals, x0, jac=jacobian, loss=loss, tr_solver="lsmr",
                        f_scale=LOSS_SCALE_PX, x_scale="jac", method="trf", max_nfev=200)
    after = np.linalg.norm(sol.fun[:-1].reshape(-1, 2), axis=1)
    r, t, _ = unpack(sol.x)
    t = t / np.linalg.norm(t[gauge_view])  # the penalty holds it to ~1e-4; make it exact
    return r, t, {"observations": int(len(o)), "points": npts,
                  "median_px_before": float(np.median(before)),
                  "median_px": float(np.median(after)),
                  "rms_px": float(np.sqrt(np.mean(after ** 2))), "nfev": int(sol.nfev)}


# --------------------------------------------------------------------------- labelling

def _groups() -> dict[str, tuple[int, ...]]:
    """Sided landmarks in the two groups whose labels are resolved independently: the upper
    body (face, shoulders, arms, hands) and the lower body (hips, legs, feet). MediaPipe
    sometimes exchanges the arms but not the legs, or the other way round."""
    lower = ("hip", "knee", "ankle", "heel", "foot_index")
    out: dict[str, list[int]] = {"upper": [], "lower": []}
    for i in SIDED:
        name = LANDMARK_NAMES[i]
        part = name.split("_", 1)[1] if name.startswith(("left_", "right_")) else name
        out["lower" if part in lower else "upper"].append(int(i))
    return {k: tuple(v) for k, v in out.items()}


GROUPS = _groups()
GROUP_NAMES: tuple[str, ...] = tuple(GROUPS)


def _group_permutations() -> np.ndarray:
    """(2**G, 33) index permutations: combination ``c`` exchanges the left/right landmarks
    of group ``g`` where bit ``g`` of ``c`` is set."""
    perms = np.tile(np.arange(len(LANDMARK_NAMES)), (2 ** len(GROUPS), 1))
    for c in range(2 ** len(GROUPS)):
        for g, members in enumerate(GROUPS.values()):
            if c >> g & 1:
                idx = np.array(members)
                perms[c, idx] = SWAP[idx]
    return perms


_GROUP_PERMS = _group_permutations()


def apply_swaps(obs: np.ndarray, ok: np.ndarray, swaps: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
    """``obs`` (V, T, 33, 2) and ``ok`` (V, T, 33) with the left/right labels exchanged
    where ``swaps`` (V, T, G) is set (per group of `GROUPS`)."""
    code = np.zeros(swaps.shape[:2], int)
    for g in range(swaps.shape[2]):
        code |= swaps[:, :, g].astype(int) << g
    idx = _GROUP_PERMS[code]  # (V, T, 33)
    return (np.take_along_axis(obs, idx[..., None], axis=2),
            np.take_along_axis(ok, idx, axis=2))


def _unit(a: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return a / np.linalg.norm(a, axis=-1, keepdims=True)


def chirality(points: np.ndarray) -> np.ndarray:
    """(T, G) > 0 where a group's ``left_`` landmarks are on the person's anatomical left.

    Left is up x forward in a right-handed frame (the reconstruction is one: camera frames
    are right-handed and poses are proper rotations). Up: mid-hip -> mid-shoulder; forward:
    mid-ear -> nose plus mid-heel -> mid-toe; the left-right direction of a group: right ->
    left shoulder (upper), right -> left hip (lower). All but the last are symmetric in the
    labels. NaN where undecidable."""
    p = points
    mid = lambda a, b: 0.5 * (p[:, _I[a]] + p[:, _I[b]])  # noqa: E731
    up = mid("left_shoulder", "right_shoulder") - mid("left_hip", "right_hip")
    fwd = _unit(_unit(p[:, _I["nose"]] - mid("left_ear", "right_ear"))
                + _unit(mid("left_foot_index", "right_foot_index")
                        - mid("left_heel", "right_heel")))
    left = _unit(np.cross(up, fwd))
    out = []
    for a in ("shoulder", "hip"):
        lr = _unit(p[:, _I[f"left_{a}"]] - p[:, _I[f"right_{a}"]])
        out.append(np.einsum("ti,ti->t", lr, left))
    return np.stack(out, axis=1)


@dataclasses.dataclass(frozen=True)
class Labelling:
    """Result of `resolve_labels`."""

    points: np.ndarray
    """(T, 33, 3) triangulated points."""
    swapped: np.ndarray
    """(V, T, G) the view's left/right labels of the group were exchanged in the frame."""
    used: np.ndarray
    """(V, T, 33) the view entered the point."""
    available: np.ndarray
    """(V, T, 33) the view had the landmark (visible enough), in the repaired labelling."""
    error_px: np.ndarray
    """(V, T, 33) reprojection error of the used views (NaN elsewhere)."""
    chirality: np.ndarray
    """(T, G) `chirality` of the result (> 0: left is the person's left)."""
    by_majority: np.ndarray
    """(T, G) frames where anatomy could not decide and the majority of views did."""


def _drop_outliers(proj: np.ndarray, obs: np.ndarray, ok: np.ndarray, focal: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per point, the largest subset of views (at least two) that agree within
    `OUTLIER_PX` (smallest worst error among those); where none does, all its views.
    Returns points (T, 33, 3), used views (V, T, 33) and their errors in pixels."""
    v = obs.shape[0]
    _, err = triangulate(proj, obs, ok, focal)
    used = ok & np.isfinite(err)
    done = np.where(used, err, 0).max(axis=0) <= OUTLIER_PX
    for size in range(v - 1, 1, -1):
        scores, uses = [], []
        for subset in itertools.combinations(range(v), size):
            m = np.zeros(v, bool)
            m[list(subset)] = True
            use = ok & m[:, None, None]
            valid = (use.sum(axis=0) == size) & ~done
            if not valid.any():
                continue
            _, e = triangulate(proj, obs, use, focal)
            worst = np.where(use, e, 0).max(axis=0)
            scores.append(np.where(valid & (worst <= OUTLIER_PX), worst, np.inf))
            uses.append(use)
        if not scores:
            continue
        score = np.stack(scores)
        pick = np.argmin(score, axis=0)
        hit = np.isfinite(score.min(axis=0))
        for k, use in enumerate(uses):
            sel = hit & (pick == k)
            used[:, sel] = use[:, sel]
        done |= hit
    points, err = triangulate(proj, obs, used, focal)
    return points, used, np.where(used, err, np.nan)


def resolve_labels(rots: np.ndarray, trans: np.ndarray, obs: np.ndarray, ok: np.ndarray,
                   focal: np.ndarray) -> Labelling:
    """Per frame and group, the left/right labelling of each view that the views agree on
    (smallest truncated reprojection cost of the multi-view solution; of a combination and
    its mirror, the one anatomy calls left, or where it cannot, the one most views already
    have), then robust per-landmark triangulation (`_drop_outliers`)."""
    v, t = obs.shape[:2]
    proj = _projections(rots, trans)
    combos = np.array(list(itertools.product((False, True), repeat=v)))
    combos = combos[~combos[:, 0]]  # a combination and its mirror cost the same
    swaps = np.zeros((v, t, len(GROUPS)), bool)
    for g, members in enumerate(GROUPS.values()):
        idx = np.array(members)
        costs = np.empty((len(combos), t))
        for c, combo in enumerate(combos):
            o = np.where(combo[:, None, None, None], obs[:, :, SWAP[idx]], obs[:, :, idx])
            k = np.where(combo[:, None, None], ok[:, :, SWAP[idx]], ok[:, :, idx])
            _, err = triangulate(proj, o, k, focal, iterations=1)
            capped = np.minimum(np.nan_to_num(err, nan=np.inf), SWAP_TRUNCATE_PX) ** 2
            costs[c] = np.where(k, capped, 0.0).sum(axis=(0, 2))
        swaps[:, :, g] = combos[np.argmin(costs, axis=0)].T
    o, k = apply_swaps(obs, ok, swaps)
    pts, _ = triangulate(proj, o, k, focal)
    chir = chirality(pts)
    majority = swaps.sum(axis=0) * 2 > v
    undecided = ~np.isfinite(chir) | (np.abs(chir) < 0.2)
    flip = np.where(undecided, majority, chir < 0)
    swaps ^= flip[None]
    o, k = apply_swaps(obs, ok, swaps)
    points, used, err = _drop_outliers(proj, o, k, focal)
    return Labelling(points=points, swapped=swaps, used=used, available=k, error_px=err,
                     chirality=chirality(points), by_majority=undecided)


# --------------------------------------------------------------------------- the reference

@dataclasses.dataclass(frozen=True)
class Reference:
    """The multi-camera reference of the lab recording (see the module docstring)."""

    views: tuple[View, ...]
    labelling: Labelling
    sequence: PoseSequence
    """Reference landmarks: ``world`` y down, origin between the hips, scaled to MediaPipe's
    metres; ``landmarks`` the reference reprojected into the first camera."""
    angles: AngleSet
    """rehab's world-space angles of `sequence`."""
    mapping: str
    intrinsics_rms_px: dict[str, float]
    """RMS reprojection error of each camera's checkerboard calibration."""
    photo_size: dict[str, tuple[int, int]]
    """Width and height of each camera's calibration photos."""
    mapping_px: dict[str, dict[str, float]]
    """Per candidate intrinsics mapping, the bundle adjustment's error on the same
    observations (median and RMS px) (empty unless the mapping was chosen automatically)."""
    bundle: dict[str, Any]
    """Summary of the last bundle adjustment and of the initial poses."""

    @property
    def cameras(self) -> tuple[str, ...]:
        """Camera names, in view order."""
        return tuple(v.name for v in self.views)

    def view(self, camera: str | int) -> View:
        """A view by name (``cam02``) or number (2)."""
        return self.views[_camera_index(self.cameras, camera)]

    def swapped_frames(self, camera: str | int) -> list[int]:
        """Frames in which ``camera``'s labels were exchanged (any group) for the reference."""
        return [int(i) for i in np.flatnonzero(
            self.labelling.swapped[_camera_index(self.cameras, camera)].any(axis=1))]

    def reprojection(self) -> dict[str, Any]:
        """Reprojection error statistics of the used views (px, undistorted pixels)."""
        err = self.labelling.error_px
        used = self.labelling.used
        pooled = err[np.isfinite(err)]

        def stats(e: np.ndarray) -> dict[str, float]:
            return {"median_px": float(np.median(e)), "mean_px": float(np.mean(e)),
                    "p90_px": float(np.percentile(e, 90)),
                    "rms_px": float(np.sqrt(np.mean(e ** 2))), "max_px": float(np.max(e))}

        pts = self.labelling.points
        return {
            **stats(pooled),
            "per_camera": {c: stats(err[v][np.isfinite(err[v])])
                           for v, c in enumerate(self.cameras)},
            "points": int(np.isfinite(pts).all(axis=-1).sum()),
            "points_total": int(np.prod(pts.shape[:2])),
            "views_per_point": float(used.sum(axis=0)[used.any(axis=0)].mean()),
            "dropped_views": int((self.labelling.available & ~used).sum()),
            "available_views": int(self.labelling.available.sum()),
        }

    def summary(self) -> dict[str, Any]:
        """Everything worth printing or storing, as plain data."""
        lab = self.labelling
        return {
            "cameras": list(self.cameras),
            "intrinsics_rms_px": self.intrinsics_rms_px,
            "photo_size": self.photo_size,
            "video_size": {v.name: (v.calib.width, v.calib.height) for v in self.views},
            "mapping": self.mapping,
            "mapping_px": self.mapping_px,
            "intrinsics": {v.name: {"fx": v.calib.fx, "fy": v.calib.fy, "cx": v.calib.cx,
                                    "cy": v.calib.cy, "dist": list(v.calib.dist)}
                           for v in self.views},
            "camera_centres": {v.name: [round(float(x), 4) for x in v.centre]
                               for v in self.views},
            "bundle": self.bundle,
            "reprojection": self.reprojection(),
            "swapped_frames": {c: self.swapped_frames(c) for c in self.cameras},
            "swapped_frames_by_group": {
                c: {g: [int(i) for i in np.flatnonzero(lab.swapped[v, :, k])]
                    for k, g in enumerate(GROUP_NAMES)} for v, c in enumerate(self.cameras)},
            "decided_by_majority": int(lab.by_majority.any(axis=1).sum()),
            "angles_finite": {a: float(np.isfinite(self.angles[a]).mean()) for a in ANGLES},
        }


def _camera_index(cameras: Sequence[str], camera: str | int) -> int:
    if isinstance(camera, str) and camera in cameras:
        return list(cameras).index(camera)
    try:
        number = int(str(camera).removeprefix("cam"))
    except ValueError:
        raise KeyError(f"unknown camera {camera!r} (cameras: {', '.join(cameras)})") from None
    name = f"cam{number:02d}"
    if name not in cameras:
        raise KeyError(f"unknown camera {camera!r} (cameras: {', '.join(cameras)})")
    return list(cameras).index(name)


def _observations(sequences: Sequence[PoseSequence], calibs: Sequence[CameraCalibration]
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Normalised points (V, T, 33, 2), triangulation mask, pose mask (core landmarks,
    `BA_MIN_VISIBILITY`) and focal lengths."""
    n = {s.n_frames for s in sequences}
    if len(n) != 1:
        raise ValueError(f"the views have different frame counts {sorted(n)}: the reference "
                         "needs synchronised frames")
    obs = np.stack([normalised_points(s, c) for s, c in zip(sequences, calibs)])
    vis = np.stack([s.visibility for s in sequences])
    finite = np.isfinite(obs).all(axis=-1)
    ok = finite & (vis >= MIN_VISIBILITY)
    core = np.zeros(len(LANDMARK_NAMES), bool)
    core[[_I[name] for name in CORE]] = True
    ok_pose = finite & (vis >= BA_MIN_VISIBILITY) & core
    focal = np.array([0.5 * (c.fx + c.fy) for c in calibs])
    return obs, ok, ok_pose, focal


def _solve(sequences: Sequence[PoseSequence], calibs: Sequence[CameraCalibration],
           rounds: int = 3) -> tuple[np.ndarray, np.ndarray, Labelling, dict[str, Any]]:
    """Camera poses and labelling: initial poses, then label resolution and bundle
    adjustment on the repaired labels (the views that agree) in turn until the labels
    settle."""
    obs, ok, ok_pose, focal = _observations(sequences, calibs)
    # RANSAC treats the swapped views as outliers: the initial poses are good enough to
    # resolve the labels before any adjustment
    rots, trans, init = initial_poses(obs, ok_pose, focal)
    info: dict[str, Any] = {"initial": init}
    lab = resolve_labels(rots, trans, obs, ok, focal)
    ba: dict[str, Any] = {}
    for k in range(rounds):
        o, _ = apply_swaps(obs, ok, lab.swapped)
        rots, trans, ba = bundle_adjust(rots, trans, o, lab.used & ok_pose_of(lab, ok_pose),
                                        focal)
        new = resolve_labels(rots, trans, obs, ok, focal)
        settled = np.array_equal(new.swapped, lab.swapped)
        lab = new
        info["rounds"] = k + 1
        if settled:
            break
    info["final"] = ba
    return rots, trans, lab, info


def ok_pose_of(lab: Labelling, ok_pose: np.ndarray) -> np.ndarray:
    """The pose mask (core landmarks) in the repaired labelling."""
    _, k = apply_swaps(np.zeros(ok_pose.shape + (2,)), ok_pose, lab.swapped)
    return k


def _world_frame(points: np.ndarray, views: Sequence[View],
                 sequences: Sequence[PoseSequence]) -> np.ndarray:
    """The points in a MediaPipe-like world frame: y down (the mean of the cameras' image
    y axes; the portrait videos are upright), z along the first camera's optical axis,
    origin between the hips in each frame, scaled so the median limb lengths match those
    of MediaPipe's world landmarks (mean over the views)."""
    down = _unit(np.mean([v.rotation.T @ [0.0, 1.0, 0.0] for v in views], axis=0))
    z0 = views[0].rotation.T @ [0.0, 0.0, 1.0]
    z = _unit(z0 - down * (z0 @ down))
    x = np.cross(down, z)
    rot = np.stack([x, down, z])
    p = points @ rot.T
    p = p - 0.5 * (p[:, _I["left_hip"]] + p[:, _I["right_hip"]])[:, None]
    segments = [(f"{s}_{a}", f"{s}_{b}") for s in ("left", "right")
                for a, b in (("hip", "knee"), ("knee", "ankle"), ("shoulder", "elbow"),
                             ("elbow", "wrist"), ("shoulder", "hip"))]

    def length(arr: np.ndarray) -> float:
        return float(sum(np.nanmedian(np.linalg.norm(arr[:, _I[a]] - arr[:, _I[b]], axis=1))
                         for a, b in segments))

    mp = np.mean([length(s.world.astype(np.float64)) for s in sequences])
    return p * (mp / length(p))


def reference_sequence(points: np.ndarray, template: PoseSequence, view: View,
                       world: np.ndarray) -> PoseSequence:
    """A `PoseSequence` holding the reference: ``world`` the given world points,
    ``landmarks`` the points reprojected into ``view`` (normalised; z 0), visibility 1
    where the point was triangulated (0 elsewhere)."""
    px = view.project_px(points)
    lm = np.zeros(points.shape, np.float32)
    lm[..., 0] = px[..., 0] / template.width
    lm[..., 1] = px[..., 1] / template.height
    found = np.isfinite(points).all(axis=-1)
    lm[~found] = np.nan
    return PoseSequence(
        landmarks=lm, world=world.astype(np.float32), visibility=found.astype(np.float32),
        timestamps=np.array(template.timestamps, dtype=np.float64), fps=template.fps,
        width=template.width, height=template.height,
        source="multi-camera reference (bench/lab_reference.py)",
        model=template.model, model_sha256=template.model_sha256)


def _mapping_errors(sequences: Sequence[PoseSequence], photo_calibs: Sequence[CameraCalibration],
                    rots: np.ndarray, trans: np.ndarray, lab: Labelling
                    ) -> dict[str, dict[str, float]]:
    """Bundle-adjustment error of each intrinsics mapping on the same labelled observations
    (the reference's inliers of the core landmarks), from the same starting poses."""
    out = {}
    for mapping in MAPPINGS:
        calibs = [to_video(c, s.width, s.height, mapping) for c, s in zip(photo_calibs, sequences)]
        obs, _, ok_pose, focal = _observations(sequences, calibs)
        o, _ = apply_swaps(obs, ok_pose, lab.swapped)
        _, _, ba = bundle_adjust(rots, trans, o, lab.used & ok_pose_of(lab, ok_pose), focal)
        out[mapping] = {"median_px": round(ba["median_px"], 4), "rms_px": round(ba["rms_px"], 4)}
    return out


def build_reference(sequences: Sequence[PoseSequence],
                    photo_calibs: Sequence[CameraCalibration],
                    cameras: Sequence[str] = CAMERAS, mapping: str = "auto") -> Reference:
    """The multi-camera reference from one landmarks sequence per camera (synchronised, in
    the order of ``cameras``) and the cameras' intrinsics at the calibration photos' size.

    ``mapping`` maps the intrinsics to the video size (`MAPPINGS`); ``auto`` builds with
    the first, compares all by the bundle adjustment's RMS error on the same observations
    and rebuilds with the best if it is better by more than `MAPPING_TOLERANCE`.
    """
    if not (len(sequences) == len(photo_calibs) == len(cameras)):
        raise ValueError("one sequence and one calibration per camera")
    first = MAPPINGS[0] if mapping == "auto" else mapping
    calibs = [to_video(c, s.width, s.height, first) for c, s in zip(photo_calibs, sequences)]
    rots, trans, lab, info = _solve(sequences, calibs)
    mapping_px: dict[str, dict[str, float]] = {}
    chosen = first
    if mapping == "auto":
        mapping_px = _mapping_errors(sequences, photo_calibs, rots, trans, lab)
        best = min(mapping_px, key=lambda m: mapping_px[m]["rms_px"])
        if mapping_px[best]["rms_px"] < (1 - MAPPING_TOLERANCE) * mapping_px[first]["rms_px"]:
            chosen = best
            calibs = [to_video(c, s.width, s.height, chosen)
                      for c, s in zip(photo_calibs, sequences)]
            rots, trans, lab, info = _solve(sequences, calibs)
    views = tuple(View(name, c, r, t) for name, c, r, t in zip(cameras, calibs, rots, trans))
    world = _world_frame(lab.points, views, sequences)
    seq = reference_sequence(lab.points, sequences[0], views[0], world)
    angles = compute_angles(seq, space="world")
    return Reference(views=views, labelling=lab, sequence=seq, angles=angles, mapping=chosen,
                     intrinsics_rms_px={n: round(c.rms_px, 4) for n, c in zip(cameras, calibs)},
                     photo_size={n: (c.width, c.height) for n, c in zip(cameras, photo_calibs)},
                     mapping_px=mapping_px, bundle=info)


# --------------------------------------------------------------------------- comparison

def swap_check(ref: Reference, camera: str | int, seq: PoseSequence) -> dict[str, Any]:
    """Which frames of ``seq`` (landmarks of ``camera``) have their left/right labels the
    other way round from the reference reprojected into that camera.

    Per frame and group (`GROUPS`), the median pixel distance of the group's landmarks
    (visibility >= `MIN_VISIBILITY`) to the reprojection, as labelled and exchanged; the
    frame disagrees where exchanged fits better in any group.
    """
    view = ref.view(camera)
    view.calib.check_size(seq.width, seq.height, what=f"landmarks of {seq.source or camera}")
    if seq.n_frames != ref.sequence.n_frames:
        raise ValueError(f"{camera}: {seq.n_frames} frames, the reference has "
                         f"{ref.sequence.n_frames}")
    proj = view.project_px(ref.labelling.points)
    px = seq.pixels()
    px[seq.visibility < MIN_VISIBILITY] = np.nan
    per_group = np.zeros((seq.n_frames, len(GROUPS)), bool)
    decided = np.zeros((seq.n_frames, len(GROUPS)), bool)
    for g, members in enumerate(GROUPS.values()):
        idx = np.array(members)
        with warnings.catch_warnings():  # all-NaN frames (no landmark visible)
            warnings.simplefilter("ignore", RuntimeWarning)
            as_is = np.nanmedian(np.linalg.norm(px[:, idx] - proj[:, idx], axis=2), axis=1)
            exchanged = np.nanmedian(np.linalg.norm(px[:, SWAP[idx]] - proj[:, idx], axis=2),
                                     axis=1)
        decided[:, g] = np.isfinite(as_is) & np.isfinite(exchanged)
        per_group[:, g] = decided[:, g] & (exchanged < as_is)
    frames = per_group.any(axis=1)
    n = int(decided.any(axis=1).sum())
    return {
        "frames": [int(i) for i in np.flatnonzero(frames)],
        "share": float(frames.sum() / n) if n else math.nan,
        "by_group": {g: [int(i) for i in np.flatnonzero(per_group[:, k])]
                     for k, g in enumerate(GROUP_NAMES)},
        "frames_checked": n,
    }


JOINTS: dict[str, tuple[str, ...]] = {
    joint: tuple(a for a in ANGLES if joint in a)
    for joint in ("knee", "hip", "elbow", "shoulder")}


def compare(ref: Reference, camera: str | int, seq: PoseSequence, space: str = "image",
            angles_from: Reference | None = None) -> dict[str, Any]:
    """Angles of one camera's landmarks in ``space`` (any space `compute_angles` accepts)
    vs the reference: mean absolute error per angle over the frames where both exist, the
    mean over the angles (and per joint; and over the frames whose left/right labels agree
    with the reference), and the `swap_check`.

    ``angles_from``: take the reference angles from this reference instead (e.g. one built
    without ``camera``, so the compared view does not take part in its own reference);
    the swap check always uses ``ref``, which must include ``camera``.
    """
    angles = compute_angles(seq, space=space)  # type: ignore[arg-type]
    truth = (angles_from or ref).angles
    swap = swap_check(ref, camera, seq)
    agree = np.ones(seq.n_frames, bool)
    agree[swap["frames"]] = False
    mae: dict[str, float] = {}
    mae_agree: dict[str, float] = {}
    frames: dict[str, int] = {}
    for a in ANGLES:
        x, r = angles[a], truth[a]
        both = np.isfinite(x) & np.isfinite(r)
        frames[a] = int(both.sum())
        mae[a] = float(np.mean(np.abs(x[both] - r[both]))) if both.any() else math.nan
        both &= agree
        mae_agree[a] = float(np.mean(np.abs(x[both] - r[both]))) if both.any() else math.nan

    def mean(cols: Sequence[str], table: Mapping[str, float] = mae) -> float:
        vals = [table[c] for c in cols if math.isfinite(table[c])]
        return float(np.mean(vals)) if vals else math.nan

    return {
        "camera": ref.cameras[_camera_index(ref.cameras, camera)],
        "space": space,
        "source": seq.source,
        "reference_cameras": list((angles_from or ref).cameras),
        "mae_deg": mae,
        "frames": frames,
        "by_joint_deg": {j: mean(cols) for j, cols in JOINTS.items()},
        "overall_mae_deg": mean(ANGLES),
        "overall_mae_deg_labels_agree": mean(ANGLES, mae_agree),
        "mae_deg_labels_agree": mae_agree,
        "swap": swap,
    }


# --------------------------------------------------------------------------- command line

def _pairs(values: Sequence[str], what: str) -> dict[str, Path]:
    out = {}
    for item in values:
        cam, sep, path = item.partition("=")
        if not sep or not path:
            raise SystemExit(f"{what} {item!r}: expected CAM=PATH, e.g. cam02=/tmp/x.npz")
        out[CAMERAS[_camera_index(CAMERAS, cam.strip())]] = Path(path)
    return out


def _fmt(x: float, width: int = 7) -> str:
    return f"{x:{width}.1f}" if math.isfinite(x) else f"{'-':>{width}}"


def _frames_text(frames: Sequence[int]) -> str:
    """``[3, 4, 5, 9]`` -> ``3-5, 9``."""
    parts: list[str] = []
    for _, grp in itertools.groupby(enumerate(frames), key=lambda p: p[1] - p[0]):
        run = [f for _, f in grp]
        parts.append(str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}")
    return ", ".join(parts) or "none"


def report_text(ref: Reference, results: Sequence[Mapping[str, Any]]) -> str:
    """The printed summary: reference, then the per-angle MAE table."""
    s = ref.summary()
    rp = s["reprojection"]
    lines = ["Multi-camera reference of the Pose2Sim lab recording"]
    lines.append("intrinsics (checkerboard, rehab.calibration): " + ", ".join(
        f"{c} RMS {r:.3f} px" for c, r in s["intrinsics_rms_px"].items()))
    resized = [v.name for v in ref.views if v.calib.width != s["photo_size"][v.name][0]]
    lines.append("videos at another size than the photos: " + (", ".join(
        f"{v.name} {v.calib.width}x{v.calib.height}" for v in ref.views if v.name in resized)
        or "none") + f" (photos {'x'.join(map(str, next(iter(s['photo_size'].values()))))})")
    if s["mapping_px"]:
        lines.append("1088 -> 1080 mapping, bundle adjustment RMS / median on the same "
                     "observations: " + ", ".join(
                         f"{m} {v['rms_px']:.3f}/{v['median_px']:.3f} px"
                         for m, v in s["mapping_px"].items())
                     + f"; using {s['mapping']} (tolerance {100 * MAPPING_TOLERANCE:g} %)")
    else:
        lines.append(f"1088 -> 1080 mapping: {s['mapping']}")
    lines.append(f"reprojection error of the reference ({rp['points']}/{rp['points_total']} "
                 f"points, {rp['views_per_point']:.2f} views each, {rp['dropped_views']} "
                 f"outlier views dropped): median {rp['median_px']:.1f} px, p90 "
                 f"{rp['p90_px']:.1f}, RMS {rp['rms_px']:.1f}; per camera median " + ", ".join(
                     f"{c} {v['median_px']:.1f}" for c, v in rp["per_camera"].items()))
    for cam in ref.cameras:
        by = s["swapped_frames_by_group"][cam]
        lines.append(f"  {cam} labels exchanged for the reference in frames: "
                     + "; ".join(f"{g} {_frames_text(f)}" for g, f in by.items()))
    if results:
        cols = [(r["camera"], r["space"]) for r in results]
        title = ("MAE (deg) vs reference" if not any(
            len(r["reference_cameras"]) < len(ref.cameras) for r in results)
            else "MAE vs the other cams")
        head = f"{title:24s}" + "".join(f"{c + ' ' + sp:>14s}"
                                                          for c, sp in cols)
        lines += ["", head]
        for a in ANGLES:
            lines.append(f"{a:24s}" + "".join(f"{_fmt(r['mae_deg'][a], 14)}" for r in results))
        for j in JOINTS:
            lines.append(f"{'  ' + j + ' (mean)':24s}" + "".join(
                f"{_fmt(r['by_joint_deg'][j], 14)}" for r in results))
        lines.append(f"{'overall (mean)':24s}" + "".join(
            f"{_fmt(r['overall_mae_deg'], 14)}" for r in results))
        lines.append(f"{'  frames L/R agree':24s}" + "".join(
            f"{_fmt(r['overall_mae_deg_labels_agree'], 14)}" for r in results))
        lines.append(f"{'L/R disagree (% frames)':24s}" + "".join(
            f"{_fmt(100 * r['swap']['share'], 14)}" for r in results))
        seen = set()
        for r in results:
            if r["camera"] in seen:
                continue
            seen.add(r["camera"])
            lines.append(f"  {r['camera']} ({r['source'] or 'landmarks'}): labels disagree with "
                         f"the reference in frames {_frames_text(r['swap']['frames'])}")
    return "\n".join(lines)


def load_views(paths: Mapping[str, Path]) -> list[PoseSequence]:
    """The landmarks of every camera of `CAMERAS` from ``paths`` (camera -> file)."""
    missing = [c for c in CAMERAS if not Path(paths[c]).is_file()]
    if missing:
        raise SystemExit(
            "landmarks not found: " + ", ".join(str(paths[c]) for c in missing) + "\nmake "
            "them with: .venv/bin/rehab analyze ../shared/data/videos/pose2sim_single_"
            "cam0N.mp4 --exercise squat --out /tmp/lab/cam0N --no-progress")
    return [load_npz(paths[c]) for c in CAMERAS]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--landmarks", action="append", default=[], metavar="CAM=PATH",
                        help="a landmarks file of one camera to compare (repeatable; "
                             "default: the four reference files)")
    parser.add_argument("--reference-landmarks", action="append", default=[],
                        metavar="CAM=PATH", help="landmarks the reference is built from "
                        f"(default {DEFAULT_LANDMARKS.format(cam='camNN')})")
    parser.add_argument("--calibration", type=Path,
                        default=shared_data_dir() / "calibration" / "pose2sim_lab",
                        help="folder with cam01..cam04 checkerboard photos")
    parser.add_argument("--mapping", default="auto", choices=("auto", *MAPPINGS),
                        help="how intrinsics of the 1088-wide photos map to a 1080-wide "
                             "video (default: auto)")
    parser.add_argument("--space", action="append", default=[],
                        help="angle space of the compared files (repeatable; default image "
                             "and world)")
    parser.add_argument("--leave-out", action="store_true",
                        help="compare each camera with a reference built from the other "
                             "cameras only (the swap check still uses all four)")
    parser.add_argument("--json", type=Path, help="write the reference summary and the "
                                                   "comparisons here")
    parser.add_argument("--no-cache", action="store_true",
                        help=f"recalibrate instead of reading {CACHE_DIR}")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("rehab").setLevel(logging.ERROR)  # the calibration's advice on 7 photos
    t0 = time.perf_counter()
    ref_paths = {c: Path(DEFAULT_LANDMARKS.format(cam=c)) for c in CAMERAS}
    ref_paths.update(_pairs(args.reference_landmarks, "--reference-landmarks"))
    compared = _pairs(args.landmarks, "--landmarks") or dict(ref_paths)
    sequences = load_views(ref_paths)
    calibs = calibrate_lab(args.calibration, cache=not args.no_cache)
    ref = build_reference(sequences, [calibs[c] for c in CAMERAS], mapping=args.mapping)
    log.info("reference built in %.1f s", time.perf_counter() - t0)
    results = []
    for cam, path in compared.items():
        seq = load_npz(path)
        others = None
        if args.leave_out:
            keep = [i for i, c in enumerate(CAMERAS) if c != cam]
            others = build_reference([sequences[i] for i in keep],
                                     [calibs[CAMERAS[i]] for i in keep],
                                     cameras=[CAMERAS[i] for i in keep], mapping=ref.mapping)
        for space in args.space or ["image", "world"]:
            try:
                results.append(compare(ref, cam, seq, space, angles_from=others))
            except (ValueError, RehabError) as exc:
                raise SystemExit(f"{cam} ({path}): {exc}") from None
    sys.stdout.write(report_text(ref, results) + "\n")
    if args.json:
        doc = {"reference": ref.summary(), "comparisons": results,
               "reference_angles": {a: [None if not math.isfinite(x) else round(float(x), 3)
                                        for x in ref.angles[a]] for a in ANGLES}}
        args.json.write_text(json.dumps(doc, indent=1, default=float))
        log.info("wrote %s", args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
