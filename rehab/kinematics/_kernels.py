"""Private numba kernels: plain arrays in, plain arrays out (``cache=True``).

Public, documented wrappers live in `rehab.kinematics.angles` and `.filters`; the
repetition kernels are in `rehab.reps._kernels`.
Every kernel tolerates NaN (missing landmarks) and returns NaN where it cannot compute.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# Landmark indices (MediaPipe pose), duplicated here as plain ints for the kernels.
_L_SHOULDER, _R_SHOULDER = 11, 12
_L_ELBOW, _R_ELBOW = 13, 14
_L_WRIST, _R_WRIST = 15, 16
_L_HIP, _R_HIP = 23, 24
_L_KNEE, _R_KNEE = 25, 26
_L_ANKLE, _R_ANKLE = 27, 28
_L_HEEL, _R_HEEL = 29, 30
_L_FOOT, _R_FOOT = 31, 32

# Output columns of `joint_angles` (order matters; mirrored in angles.ANGLE_COLUMNS).
N_ANGLE_COLUMNS = 16

_RAD2DEG = 180.0 / math.pi


@njit(cache=True, inline="always")
def _angle_between(ux: float, uy: float, uz: float, vx: float, vy: float, vz: float) -> float:
    """Unsigned angle between two vectors in degrees (NaN for a zero or NaN vector)."""
    nu = math.sqrt(ux * ux + uy * uy + uz * uz)
    nv = math.sqrt(vx * vx + vy * vy + vz * vz)
    if not (nu > 1e-12 and nv > 1e-12):
        return math.nan
    c = (ux * vx + uy * vy + uz * vz) / (nu * nv)
    if c > 1.0:
        c = 1.0
    elif c < -1.0:
        c = -1.0
    return math.acos(c) * _RAD2DEG


@njit(cache=True, inline="always")
def _seg_angle(p: np.ndarray, t: int, a0: int, a1: int, b0: int, b1: int) -> float:
    """Angle between segments a0->a1 and b0->b1 at frame t of 3D points (T, 33, >=3)."""
    ux = np.float64(p[t, a1, 0]) - p[t, a0, 0]
    uy = np.float64(p[t, a1, 1]) - p[t, a0, 1]
    uz = np.float64(p[t, a1, 2]) - p[t, a0, 2]
    vx = np.float64(p[t, b1, 0]) - p[t, b0, 0]
    vy = np.float64(p[t, b1, 1]) - p[t, b0, 1]
    vz = np.float64(p[t, b1, 2]) - p[t, b0, 2]
    return _angle_between(ux, uy, uz, vx, vy, vz)


@njit(cache=True, inline="always")
def _seg_angle_2d(p: np.ndarray, t: int, sx: float, sy: float, a0: int, a1: int, b0: int,
                  b1: int) -> float:
    """Angle between segments a0->a1 and b0->b1 at frame t, scaling x, y to pixels."""
    ux = (np.float64(p[t, a1, 0]) - p[t, a0, 0]) * sx
    uy = (np.float64(p[t, a1, 1]) - p[t, a0, 1]) * sy
    vx = (np.float64(p[t, b1, 0]) - p[t, b0, 0]) * sx
    vy = (np.float64(p[t, b1, 1]) - p[t, b0, 1]) * sy
    return _angle_between(ux, uy, 0.0, vx, vy, 0.0)


@njit(cache=True)
def joint_angles_image(lm: np.ndarray, width: float, height: float) -> np.ndarray:
    """Clinical neutral-zero angles in the image plane, degrees, (T, 16).

    ``lm`` is (T, 33, >=2) normalised image coordinates (x right, y down), scaled by
    ``width`` and ``height`` to pixels so that angles are aspect-correct. Columns: for side
    in (left, right): knee_flexion, hip_flexion, hip_abduction, shoulder_flexion,
    shoulder_abduction, elbow_flexion, ankle_plantarflexion; then trunk_lean,
    pelvic_obliquity. In the image plane, flexion and abduction of hip and shoulder are the
    same measurement (the view decides which anatomical plane it approximates).
    """
    n = lm.shape[0]
    sx = width
    sy = height
    out = np.full((n, N_ANGLE_COLUMNS), np.nan)
    for t in range(n):
        # trunk midline, downwards (mid-shoulder -> mid-hip): the reference for hip and
        # shoulder angles, so that shoulder width does not bias abduction in a front view
        mx = (0.5 * (np.float64(lm[t, _L_SHOULDER, 0]) + lm[t, _R_SHOULDER, 0])
              - 0.5 * (np.float64(lm[t, _L_HIP, 0]) + lm[t, _R_HIP, 0])) * sx
        my = (0.5 * (np.float64(lm[t, _L_SHOULDER, 1]) + lm[t, _R_SHOULDER, 1])
              - 0.5 * (np.float64(lm[t, _L_HIP, 1]) + lm[t, _R_HIP, 1])) * sy
        for s in range(2):
            sh = _L_SHOULDER + s
            el = _L_ELBOW + s
            wr = _L_WRIST + s
            hp = _L_HIP + s
            kn = _L_KNEE + s
            an = _L_ANKLE + s
            he = _L_HEEL + s
            ft = _L_FOOT + s
            c = 7 * s
            # knee: 180 - angle(hip, knee, ankle) == angle between thigh and shank directions
            out[t, c + 0] = _seg_angle_2d(lm, t, sx, sy, hp, kn, kn, an)
            # hip: thigh direction (hip->knee) vs trunk midline downward
            hip = _angle_between((np.float64(lm[t, kn, 0]) - lm[t, hp, 0]) * sx,
                                 (np.float64(lm[t, kn, 1]) - lm[t, hp, 1]) * sy,
                                 0.0, -mx, -my, 0.0)
            out[t, c + 1] = hip
            out[t, c + 2] = hip
            # shoulder: upper arm (shoulder->elbow) vs trunk midline downward
            shd = _angle_between((np.float64(lm[t, el, 0]) - lm[t, sh, 0]) * sx,
                                 (np.float64(lm[t, el, 1]) - lm[t, sh, 1]) * sy,
                                 0.0, -mx, -my, 0.0)
            out[t, c + 3] = shd
            out[t, c + 4] = shd
            # elbow: upper arm direction vs forearm direction
            out[t, c + 5] = _seg_angle_2d(lm, t, sx, sy, sh, el, el, wr)
            # ankle: angle(shank up, foot forward) - 90
            out[t, c + 6] = _seg_angle_2d(lm, t, sx, sy, an, kn, he, ft) - 90.0
        # trunk lean: mid-hip -> mid-shoulder vs image up (0, -1)
        out[t, 14] = _angle_between(mx, my, 0.0, 0.0, -1.0, 0.0)
        # pelvic obliquity: hip line vs horizontal, 0..90
        hx = abs(np.float64(lm[t, _L_HIP, 0]) - lm[t, _R_HIP, 0]) * sx
        hy = abs(np.float64(lm[t, _L_HIP, 1]) - lm[t, _R_HIP, 1]) * sy
        if hx + hy > 1e-12:
            out[t, 15] = math.atan2(hy, hx) * _RAD2DEG
    return out


@njit(cache=True, inline="always")
def _plane_angle_from_down(vx: float, vy: float, vz: float, nx: float, ny: float, nz: float,
                           ux: float, uy: float, uz: float) -> float:
    """Angle of v, projected on the plane with normal n, from the body's down axis (-u)."""
    d = vx * nx + vy * ny + vz * nz
    px = vx - d * nx
    py = vy - d * ny
    pz = vz - d * nz
    return _angle_between(px, py, pz, -ux, -uy, -uz)


@njit(cache=True)
def joint_angles_world(w: np.ndarray) -> np.ndarray:
    """Clinical neutral-zero angles from 3D world landmarks (metres), degrees, (T, 16).

    Same columns as `joint_angles_image`. A body frame is built per frame: ``u`` up the
    trunk (mid-hip -> mid-shoulder), ``m`` medio-lateral (right hip -> left hip, made
    orthogonal to ``u``), ``a`` = u x m (antero-posterior). Flexion is measured in the
    sagittal plane (normal ``m``), abduction in the frontal plane (normal ``a``), both from
    the trunk's down axis; knee, elbow and ankle are 3D segment angles. Trunk lean is the
    angle of ``u`` from the world vertical (MediaPipe world y points down); pelvic
    obliquity is the angle of the hip line from the horizontal plane.
    """
    n = w.shape[0]
    out = np.full((n, N_ANGLE_COLUMNS), np.nan)
    for t in range(n):
        ux = 0.5 * (np.float64(w[t, _L_SHOULDER, 0]) + w[t, _R_SHOULDER, 0] - w[t, _L_HIP, 0]
                    - w[t, _R_HIP, 0])
        uy = 0.5 * (np.float64(w[t, _L_SHOULDER, 1]) + w[t, _R_SHOULDER, 1] - w[t, _L_HIP, 1]
                    - w[t, _R_HIP, 1])
        uz = 0.5 * (np.float64(w[t, _L_SHOULDER, 2]) + w[t, _R_SHOULDER, 2] - w[t, _L_HIP, 2]
                    - w[t, _R_HIP, 2])
        nu = math.sqrt(ux * ux + uy * uy + uz * uz)
        if not nu > 1e-9:
            continue
        ux /= nu
        uy /= nu
        uz /= nu
        mx0 = np.float64(w[t, _L_HIP, 0]) - w[t, _R_HIP, 0]
        my0 = np.float64(w[t, _L_HIP, 1]) - w[t, _R_HIP, 1]
        mz0 = np.float64(w[t, _L_HIP, 2]) - w[t, _R_HIP, 2]
        d = mx0 * ux + my0 * uy + mz0 * uz
        mx = mx0 - d * ux
        my = my0 - d * uy
        mz = mz0 - d * uz
        nm = math.sqrt(mx * mx + my * my + mz * mz)
        if not nm > 1e-9:
            continue
        mx /= nm
        my /= nm
        mz /= nm
        ax = uy * mz - uz * my
        ay = uz * mx - ux * mz
        az = ux * my - uy * mx
        for s in range(2):
            sh = _L_SHOULDER + s
            el = _L_ELBOW + s
            wr = _L_WRIST + s
            hp = _L_HIP + s
            kn = _L_KNEE + s
            an = _L_ANKLE + s
            he = _L_HEEL + s
            ft = _L_FOOT + s
            c = 7 * s
            out[t, c + 0] = _seg_angle(w, t, hp, kn, kn, an)
            tx = np.float64(w[t, kn, 0]) - w[t, hp, 0]
            ty = np.float64(w[t, kn, 1]) - w[t, hp, 1]
            tz = np.float64(w[t, kn, 2]) - w[t, hp, 2]
            out[t, c + 1] = _plane_angle_from_down(tx, ty, tz, mx, my, mz, ux, uy, uz)
            out[t, c + 2] = _plane_angle_from_down(tx, ty, tz, ax, ay, az, ux, uy, uz)
            ex = np.float64(w[t, el, 0]) - w[t, sh, 0]
            ey = np.float64(w[t, el, 1]) - w[t, sh, 1]
            ez = np.float64(w[t, el, 2]) - w[t, sh, 2]
            out[t, c + 3] = _plane_angle_from_down(ex, ey, ez, mx, my, mz, ux, uy, uz)
            out[t, c + 4] = _plane_angle_from_down(ex, ey, ez, ax, ay, az, ux, uy, uz)
            out[t, c + 5] = _seg_angle(w, t, sh, el, el, wr)
            out[t, c + 6] = _seg_angle(w, t, an, kn, he, ft) - 90.0
        out[t, 14] = _angle_between(ux, uy, uz, 0.0, -1.0, 0.0)
        nh = math.sqrt(mx0 * mx0 + my0 * my0 + mz0 * mz0)
        if nh > 1e-9:
            out[t, 15] = math.asin(min(1.0, abs(my0) / nh)) * _RAD2DEG
    return out


@njit(cache=True)
def gate_columns(angles: np.ndarray, vis: np.ndarray, idx: np.ndarray, min_vis: float) -> np.ndarray:
    """Set angle (T, C) to NaN (in place, returned) where any landmark idx[c, :] (-1 = unused)
    has a visibility below ``min_vis``."""
    n, ncol = angles.shape
    out = angles
    for t in range(n):
        for c in range(ncol):
            for k in range(idx.shape[1]):
                j = idx[c, k]
                if j >= 0 and not vis[t, j] >= min_vis:
                    out[t, c] = math.nan
                    break
    return out


@njit(cache=True)
def interpolate_gaps(x: np.ndarray, t: np.ndarray, max_gap_s: float) -> np.ndarray:
    """Linear interpolation over interior NaN runs no longer than ``max_gap_s`` (1D)."""
    n = x.shape[0]
    out = x.copy()
    last = -1
    i = 0
    while i < n:
        if math.isnan(x[i]):
            j = i
            while j < n and math.isnan(x[j]):
                j += 1
            if last >= 0 and j < n and t[j] - t[last] <= max_gap_s:
                span = t[j] - t[last]
                for k in range(i, j):
                    w = (t[k] - t[last]) / span
                    out[k] = x[last] * (1.0 - w) + x[j] * w
            i = j
        else:
            last = i
            i += 1
    return out


@njit(cache=True)
def _biquad_run(x: np.ndarray, b0: float, b1: float, b2: float, a1: float, a2: float,
                out: np.ndarray, start: int, stop: int, reverse: bool) -> None:
    """Direct-form I biquad over x[start:stop] (in place into out), initialised at steady state."""
    if stop - start <= 0:
        return
    first = x[stop - 1] if reverse else x[start]
    # steady-state initial conditions for a constant input `first` (unit DC gain)
    x1 = first
    x2 = first
    y1 = first
    y2 = first
    for k in range(stop - start):
        i = stop - 1 - k if reverse else start + k
        xi = x[i]
        yi = b0 * xi + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2
        x2 = x1
        x1 = xi
        y2 = y1
        y1 = yi
        out[i] = yi


@njit(cache=True)
def filtfilt_lowpass(x: np.ndarray, b0: float, b1: float, b2: float, a1: float, a2: float,
                     pad: int) -> np.ndarray:
    """Zero-phase low-pass: biquad forward then backward over each finite run of ``x``.

    Runs separated by NaN are filtered independently (NaN stays NaN); each run is padded by
    odd reflection of up to ``pad`` samples at both ends to limit edge transients.
    """
    n = x.shape[0]
    out = np.full(n, np.nan)
    i = 0
    while i < n:
        if math.isnan(x[i]):
            i += 1
            continue
        j = i
        while j < n and not math.isnan(x[j]):
            j += 1
        m = j - i
        p = min(pad, m - 1)
        buf = np.empty(m + 2 * p)
        for k in range(p):
            buf[k] = 2.0 * x[i] - x[i + p - k]
            buf[m + p + k] = 2.0 * x[j - 1] - x[j - 2 - k]
        for k in range(m):
            buf[p + k] = x[i + k]
        tmp = np.empty_like(buf)
        _biquad_run(buf, b0, b1, b2, a1, a2, tmp, 0, buf.shape[0], False)
        res = np.empty_like(buf)
        _biquad_run(tmp, b0, b1, b2, a1, a2, res, 0, buf.shape[0], True)
        for k in range(m):
            out[i + k] = res[p + k]
        i = j
    return out


@njit(cache=True)
def velocity(x: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Time derivative (units/s) by central differences on real timestamps; NaN-aware."""
    n = x.shape[0]
    out = np.full(n, np.nan)
    for i in range(n):
        lo = i - 1 if i > 0 and not math.isnan(x[i - 1]) else i
        hi = i + 1 if i < n - 1 and not math.isnan(x[i + 1]) else i
        if hi == lo or math.isnan(x[i]):
            continue
        out[i] = (x[hi] - x[lo]) / (t[hi] - t[lo])
    return out
