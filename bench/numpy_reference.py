"""A straightforward NumPy implementation of the kinematics + repetition maths.

The same definitions as `rehab.kinematics._kernels`, written the way one would without
numba: vectorised NumPy where NumPy vectorises, plain Python loops where the algorithm is
sequential (recursive filter, state machine). The benchmark times it against the kernels
and the tests check that both give the same numbers.
"""

from __future__ import annotations

import math

import numpy as np

L_SH, R_SH, L_EL, R_EL, L_WR, R_WR = 11, 12, 13, 14, 15, 16
L_HIP, R_HIP, L_KN, R_KN, L_AN, R_AN, L_HE, R_HE, L_FT, R_FT = 23, 24, 25, 26, 27, 28, 29, 30, 31, 32


def _angle(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    nu = np.linalg.norm(u, axis=-1)
    nv = np.linalg.norm(v, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        c = np.sum(u * v, axis=-1) / (nu * nv)
    out = np.degrees(np.arccos(np.clip(c, -1.0, 1.0)))
    out[~((nu > 1e-12) & (nv > 1e-12))] = np.nan
    return out


def joint_angles_image(p: np.ndarray) -> np.ndarray:
    """(T, 33, 2) pixels -> (T, 16) degrees; same columns as the kernel."""
    n = p.shape[0]
    out = np.full((n, 16), np.nan)
    mid = 0.5 * (p[:, L_SH] + p[:, R_SH]) - 0.5 * (p[:, L_HIP] + p[:, R_HIP])
    for s in range(2):
        sh, el, wr, hp, kn, an, he, ft = (L_SH + s, L_EL + s, L_WR + s, L_HIP + s, L_KN + s,
                                          L_AN + s, L_HE + s, L_FT + s)
        c = 7 * s
        out[:, c] = _angle(p[:, kn] - p[:, hp], p[:, an] - p[:, kn])
        hip = _angle(p[:, kn] - p[:, hp], -mid)
        out[:, c + 1] = hip
        out[:, c + 2] = hip
        shd = _angle(p[:, el] - p[:, sh], -mid)
        out[:, c + 3] = shd
        out[:, c + 4] = shd
        out[:, c + 5] = _angle(p[:, el] - p[:, sh], p[:, wr] - p[:, el])
        out[:, c + 6] = _angle(p[:, kn] - p[:, an], p[:, ft] - p[:, he]) - 90.0
    up = np.zeros_like(mid)
    up[:, 1] = -1.0
    out[:, 14] = _angle(mid, up)
    hx = np.abs(p[:, L_HIP, 0] - p[:, R_HIP, 0])
    hy = np.abs(p[:, L_HIP, 1] - p[:, R_HIP, 1])
    ob = np.degrees(np.arctan2(hy, hx))
    ob[~(hx + hy > 1e-12)] = np.nan
    out[:, 15] = ob
    return out


def gate(angles: np.ndarray, vis: np.ndarray, idx: np.ndarray, min_vis: float) -> np.ndarray:
    out = angles.copy()
    for c in range(angles.shape[1]):
        cols = idx[c][idx[c] >= 0]
        bad = ~np.all(vis[:, cols] >= min_vis, axis=1)
        out[bad, c] = np.nan
    return out


def interpolate_gaps(x: np.ndarray, t: np.ndarray, max_gap_s: float) -> np.ndarray:
    out = x.copy()
    nan = np.isnan(x)
    i = 0
    n = len(x)
    while i < n:
        if nan[i]:
            j = i
            while j < n and nan[j]:
                j += 1
            if i > 0 and j < n and t[j] - t[i - 1] <= max_gap_s:
                out[i:j] = np.interp(t[i:j], [t[i - 1], t[j]], [x[i - 1], x[j]])
            i = j
        else:
            i += 1
    return out


def _biquad(x: list[float], b0: float, b1: float, b2: float, a1: float, a2: float) -> list[float]:
    y = [0.0] * len(x)
    x1 = x2 = y1 = y2 = x[0]
    for i, xi in enumerate(x):
        yi = b0 * xi + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2
        x2, x1, y2, y1 = x1, xi, y1, yi
        y[i] = yi
    return y


def filtfilt(x: np.ndarray, coeffs: tuple[float, ...], pad: int) -> np.ndarray:
    out = np.full(len(x), np.nan)
    finite = ~np.isnan(x)
    i = 0
    n = len(x)
    while i < n:
        if not finite[i]:
            i += 1
            continue
        j = i
        while j < n and finite[j]:
            j += 1
        seg = x[i:j]
        p = min(pad, len(seg) - 1)
        head = 2 * seg[0] - seg[p:0:-1] if p > 0 else seg[:0]
        tail = 2 * seg[-1] - seg[-2:-p - 2:-1] if p > 0 else seg[:0]
        buf = list(np.concatenate([head, seg, tail]))
        fwd = _biquad(buf, *coeffs)
        bwd = _biquad(fwd[::-1], *coeffs)[::-1]
        out[i:j] = bwd[p:p + len(seg)]
        i = j
    return out


def swing_reps(x: np.ndarray, t: np.ndarray, rise: np.ndarray, back: float, opening: float,
               min_amp: float, min_dur: float, max_dur: float, resume: bool) -> np.ndarray:
    """Plain-Python `rehab.reps._kernels.swing_reps` (kinds: 0 complete, 1 partial start,
    2 partial end, 3 too short, 4 too long, 5 the opening's counted return)."""
    ev: list[tuple[int, int, int, int]] = []
    first = low = start = peak = -1
    active, opened = False, resume

    def opening_event() -> None:
        seen = [j for j in range(first, low + 1) if not math.isnan(x[j])]
        top = max(seen, key=lambda j: x[j])
        drop = x[top] - x[low]
        if drop >= min_amp and low != first:
            ev.append((first, top, low, 5 if drop >= opening else 1))

    for i in range(len(x)):
        xi = x[i]
        if math.isnan(xi):
            continue
        if first < 0:
            first = low = i
        if not active:
            if xi < x[low]:
                low = i
            if xi - x[low] >= rise[i]:
                if not opened:
                    opened = True
                    opening_event()
                active, start, peak = True, low, i
        else:
            if xi > x[peak]:
                peak = i
            if x[peak] - xi >= back * (x[peak] - x[start]):
                amp = x[peak] - x[start]
                if amp >= min_amp:
                    level = x[start] + (1.0 - back) * amp
                    up = max((j for j in range(start, peak + 1)
                              if not math.isnan(x[j]) and x[j] <= level), default=start)
                    dur = t[i] - t[up]
                    ev.append((start, peak, i, 3 if dur < min_dur else 4 if dur > max_dur else 0))
                active, low = False, i
    if first < 0:
        return np.zeros((0, 4), dtype=np.int64)
    if not opened:
        opening_event()
    if active:
        last = len(x) - 1
        while last > 0 and math.isnan(x[last]):
            last -= 1
        ev.append((start, peak, last, 2))
    return np.array(ev, dtype=np.int64).reshape(-1, 4)


def swap_states(lm: np.ndarray, world: np.ndarray, scale: np.ndarray, left: np.ndarray,
                right: np.ndarray, t: np.ndarray, valid: np.ndarray, max_link_s: float,
                frame_cost: float) -> tuple[np.ndarray, np.ndarray]:
    """The swap repair's labelling of one body group (`rehab.kinematics.swaps.swap_pass`),
    in NumPy: costs of keeping and exchanging the labels between linked frames (vectorised),
    a min-sum forward-backward pass over two states (a loop), and each frame's confidence.
    Returns (exchanged 0/1 per frame, group confidence per frame)."""
    idx = np.flatnonzero(valid)
    img = lm[idx][:, :, :2].astype(np.float64) * scale[:2]
    w3 = world[idx].astype(np.float64) * scale[2]
    L_i, R_i, L_w, R_w = img[:, left], img[:, right], w3[:, left], w3[:, right]

    def d(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.linalg.norm(a - b, axis=-1)

    keep = (d(L_i[1:], L_i[:-1]) + d(R_i[1:], R_i[:-1]) + d(L_w[1:], L_w[:-1])
            + d(R_w[1:], R_w[:-1]))
    swap = (d(L_i[1:], R_i[:-1]) + d(R_i[1:], L_i[:-1]) + d(L_w[1:], R_w[:-1])
            + d(R_w[1:], L_w[:-1]))
    ok = np.isfinite(keep) & np.isfinite(swap)
    cnt = ok.sum(axis=1)
    gk = np.where(cnt > 0, np.where(ok, keep, 0).sum(axis=1) / np.maximum(cnt, 1), 0.0)
    gs = np.where(cnt > 0, np.where(ok, swap, 0).sum(axis=1) / np.maximum(cnt, 1), 0.0)
    linked = np.r_[False, np.diff(t[idx]) <= max_link_s]
    gk, gs = np.r_[0.0, gk], np.r_[0.0, gs]
    sep_p = d(L_i, R_i) + d(L_w, R_w)
    sep = np.nanmean(np.where(np.isfinite(sep_p), sep_p, np.nan), axis=1)
    m = idx.size
    fwd = np.zeros((m, 2))
    bwd = np.zeros((m, 2))
    fwd[0, 1] = frame_cost
    for k in range(1, m):
        for s in (0, 1):
            stay, cross = (gk[k], gs[k]) if linked[k] else (0.0, 0.0)
            fwd[k, s] = min(fwd[k - 1, s] + stay, fwd[k - 1, 1 - s] + cross) + frame_cost * s
    for k in range(m - 2, -1, -1):
        for s in (0, 1):
            stay, cross = (gk[k + 1], gs[k + 1]) if linked[k + 1] else (0.0, 0.0)
            bwd[k, s] = min(bwd[k + 1, s] + stay, bwd[k + 1, 1 - s] + cross + frame_cost
                            ) if s == 0 else min(bwd[k + 1, s] + stay + frame_cost,
                                                 bwd[k + 1, 1 - s] + cross)
    lab = (fwd[:, 1] + bwd[:, 1] < fwd[:, 0] + bwd[:, 0]).astype(np.int8)
    conf = np.full(m, np.nan)
    for k in range(m):
        gain, sides = 0.0, 0
        for j in (k, k + 1):
            if 0 < j < m and linked[j]:
                same = lab[j - 1] == lab[j]
                gain += (gs[j] - gk[j]) if same else (gk[j] - gs[j])
                sides += 1
        if sides and sep[k] > 0:
            conf[k] = gain / (2.0 * sep[k] * sides)
    state = np.zeros(t.size, np.int8)
    state[idx] = lab
    out = np.full(t.size, np.nan)
    out[idx] = conf
    return state, out
