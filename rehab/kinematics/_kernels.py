"""Private numba kernels: plain arrays in, plain arrays out (``cache=True``).

Public, documented wrappers live in `rehab.kinematics.angles`, `.filters` and `.reps`.
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


# Repetition state machine ------------------------------------------------------------------
# States: 0 = unknown (between thresholds, never settled), 1 = rest, 2 = active.
# Events written to the output arrays, one row per rep candidate:
#   start index (last sample at rest before leaving), peak index, end index (first sample
#   back at rest), kind: 0 = complete rep, 1 = partial at the start (began away from rest),
#   2 = partial at the end (never returned), 3 = too short (not counted).

STATE_UNKNOWN = 0
STATE_REST = 1
STATE_ACTIVE = 2

KIND_COMPLETE = 0
KIND_PARTIAL_START = 1
KIND_PARTIAL_END = 2
KIND_TOO_SHORT = 3
KIND_TOO_LONG = 4


@njit(cache=True)
def hysteresis_reps(x: np.ndarray, t: np.ndarray, lo_th: np.ndarray, hi_th: np.ndarray,
                    min_amp: float, min_dur: float, max_dur: float,
                    initial_state: int) -> np.ndarray:
    """Segment repetitions of a signal that rises from rest (low) to active (high) and back.

    ``lo_th`` and ``hi_th`` are per-sample thresholds (constant offline; causal estimates in
    live use, so both run this same state machine).
    A rep starts at the rest minimum before the signal crosses ``hi_th``, peaks at the
    maximum while active, and ends at the first sample back below ``lo_th``. Candidates
    whose excursion (peak - start value) is under ``min_amp`` are ignored; those that stay
    above ``lo_th`` for less than ``min_dur`` or more than ``max_dur`` seconds are reported
    but not counted. NaN samples
    hold the current state. ``initial_state``: rest, unknown (the recording opens between
    the thresholds; a first rise through ``hi_th`` counts) or active (it opens mid-rep above
    ``hi_th``; that rep is a partial). Returns an int64 array (K, 4): start, peak, end, kind.
    """
    n = x.shape[0]
    ev = np.empty((n // 2 + 2, 4), dtype=np.int64)
    k = 0
    state = initial_state
    rest_min_i = -1      # index of the lowest sample in the current rest dwell
    up_i = -1            # last sample at or below lo_th before the rep in progress
    start_i = -1         # start of the rep in progress
    peak_i = -1
    partial = False
    for i in range(n):
        xi = x[i]
        if math.isnan(xi):
            continue
        if state == STATE_ACTIVE and start_i < 0:
            # opened mid-rep in the active zone: the rest of this rep is a partial
            start_i = i
            peak_i = i
            partial = True
        if state == STATE_UNKNOWN:
            # opened between the thresholds: a rise through hi_th is a rep whose ascent was
            # seen; a fall through lo_th just settles into rest
            if rest_min_i < 0 or xi < x[rest_min_i]:
                rest_min_i = i
            if up_i < 0:
                up_i = i
            if xi <= lo_th[i]:
                state = STATE_REST
                rest_min_i = i
                up_i = i
            elif xi >= hi_th[i]:
                state = STATE_ACTIVE
                start_i = rest_min_i
                peak_i = i
                partial = False
        elif state == STATE_REST:
            if rest_min_i < 0 or xi < x[rest_min_i]:
                rest_min_i = i
            if xi <= lo_th[i]:
                up_i = i
            if xi >= hi_th[i]:
                state = STATE_ACTIVE
                start_i = rest_min_i
                peak_i = i
                partial = False
        else:  # active
            if peak_i < 0 or xi > x[peak_i]:
                peak_i = i
            if xi <= lo_th[i]:
                if start_i < 0:
                    start_i = i
                amp = x[peak_i] - x[start_i]
                if partial:
                    kind = KIND_PARTIAL_START
                elif amp < min_amp:
                    kind = -1
                else:
                    dur = t[i] - t[up_i if up_i >= 0 else start_i]
                    if dur < min_dur:
                        kind = KIND_TOO_SHORT
                    elif dur > max_dur:
                        kind = KIND_TOO_LONG
                    else:
                        kind = KIND_COMPLETE
                if kind >= 0:
                    ev[k, 0] = start_i
                    ev[k, 1] = peak_i
                    ev[k, 2] = i
                    ev[k, 3] = kind
                    k += 1
                state = STATE_REST
                rest_min_i = i
                up_i = i
                start_i = -1
                peak_i = -1
                partial = False
    if state == STATE_ACTIVE and start_i >= 0:
        last = n - 1
        while last > 0 and math.isnan(x[last]):
            last -= 1
        ev[k, 0] = start_i
        ev[k, 1] = peak_i
        ev[k, 2] = last
        ev[k, 3] = KIND_PARTIAL_END
        k += 1
    return ev[:k].copy()


@njit(cache=True)
def rep_stats(x: np.ndarray, t: np.ndarray, starts: np.ndarray, ends: np.ndarray,
              valid: np.ndarray) -> np.ndarray:
    """Per-rep min, max, argmin, argmax and fraction of valid samples, (K, 5)."""
    k = starts.shape[0]
    out = np.full((k, 5), np.nan)
    for r in range(k):
        lo = math.inf
        hi = -math.inf
        ilo = -1
        ihi = -1
        nv = 0
        for i in range(starts[r], ends[r] + 1):
            if valid[i]:
                nv += 1
            xi = x[i]
            if math.isnan(xi):
                continue
            if xi < lo:
                lo = xi
                ilo = i
            if xi > hi:
                hi = xi
                ihi = i
        if ilo >= 0:
            out[r, 0] = lo
            out[r, 1] = hi
            out[r, 2] = ilo
            out[r, 3] = ihi
        out[r, 4] = nv / (ends[r] - starts[r] + 1)
    return out


@njit(cache=True)
def window_extremes(x: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Per-window (K, 3): max, min and value at window start (first finite), NaN-aware."""
    k = starts.shape[0]
    out = np.full((k, 3), np.nan)
    for r in range(k):
        lo = math.inf
        hi = -math.inf
        first = math.nan
        for i in range(starts[r], ends[r] + 1):
            xi = x[i]
            if math.isnan(xi):
                continue
            if math.isnan(first):
                first = xi
            if xi < lo:
                lo = xi
            if xi > hi:
                hi = xi
        if not math.isnan(first):
            out[r, 0] = hi
            out[r, 1] = lo
            out[r, 2] = first
    return out


@njit(cache=True)
def refine_bounds(y: np.ndarray, ev: np.ndarray, frac: float, rest: float) -> np.ndarray:
    """Move rep boundaries to movement onset and full return (offline refinement).

    For each event row (start, peak, end, kind) of `hysteresis_reps` on oriented signal
    ``y``: the start moves forward to the last sample before the peak still within ``frac``
    of the excursion from the start value (the onset); the end moves forward to the first
    sample back within ``frac`` of it, or else to the lowest sample before the next event
    starts. Counting is unchanged; only the times become anatomical.
    """
    out = ev.copy()
    k = ev.shape[0]
    n = y.shape[0]
    for r in range(k):
        s = ev[r, 0]
        p = ev[r, 1]
        e = ev[r, 2]
        if math.isnan(y[s]) or math.isnan(y[p]):
            continue
        lvl = y[s] + frac * (y[p] - y[s])
        ns = s
        for i in range(s, p + 1):
            if not math.isnan(y[i]) and y[i] <= lvl:
                ns = i
        out[r, 0] = ns
        if ev[r, 3] == KIND_PARTIAL_END:
            continue
        base = min(y[s], rest)
        lvl = base + frac * (y[p] - base)
        limit = ev[r + 1, 0] if r + 1 < k else n - 1
        best = e
        found = False
        for i in range(e, limit + 1):
            yi = y[i]
            if math.isnan(yi):
                continue
            if yi <= lvl:
                best = i
                found = True
                break
            if yi < y[best]:
                best = i
        out[r, 2] = best if found or best > e else e
    return out
