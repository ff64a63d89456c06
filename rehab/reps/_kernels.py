"""Private numba kernels of repetition counting: plain arrays in, plain arrays out.

The state machine (`swing_reps`) runs offline with a constant rise and live with a
per-sample one; `refine_bounds` moves boundaries to movement onset; `rep_stats` and
`window_extremes` measure each rep's window for scoring. Public wrappers live in
`rehab.reps.segment` and `rehab.scoring`.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# Repetition state machine ------------------------------------------------------------------
# Events written to the output arrays, one row per rep candidate:
#   start index (low point before the rise), peak index, end index (first sample back),
#   kind: 0 = complete rep, 1 = partial at the start (its peak was not seen), 2 = partial at
#   the end (never came back), 3 = too short, 4 = too long (not counted), 5 = the opening's
#   return (counted).

KIND_COMPLETE = 0
KIND_PARTIAL_START = 1
KIND_PARTIAL_END = 2
KIND_TOO_SHORT = 3
KIND_TOO_LONG = 4


KIND_TOO_SMALL = 6
"""(set after the kernel, `rehab.reps.segment.mark_too_small`) under half the median rep."""
KIND_OPENING = 5
"""(kernel only) the recording opens in the active position and this is its return to rest:
counted, reported as a complete rep with the start state ``active``."""


@njit(cache=True)
def swing_reps(x: np.ndarray, t: np.ndarray, rise: np.ndarray, back: float,
               opening: float, min_amp: float, min_dur: float, max_dur: float,
               resume: bool) -> np.ndarray:
    """Segment repetitions of a signal whose active position is up (the oriented angle).

    One rule, relative to each rep's own start, so that a rest level that shifts (a change
    of camera angle, drift) does not merge or lose reps: a rep **starts** at the lowest
    point since the previous rep once the signal has risen ``rise[i]`` above it, **peaks** at
    its highest point, and **ends** at the first sample that has come back down by ``back``
    (a fraction) of its excursion (peak - start). Candidates whose excursion is under
    ``min_amp`` are ignored; those lasting less than ``min_dur`` or more than ``max_dur``
    seconds (above the level they end at, 1 - ``back`` of their excursion) are reported but
    not counted. A rise that never comes back is a partial at
    the end (not counted). The opening: a recording that opens at least ``opening`` above
    the first low point, and comes down to it, opened in the active position: that return
    counts (kind `KIND_OPENING`); a smaller opening descent is the tail of a rep whose peak
    was not seen (`KIND_PARTIAL_START`). NaN samples hold the state. ``rise`` is per sample
    (constant offline, a causal estimate live, so both run this one machine). ``resume``:
    ``x`` continues a signal from the end of a rep (live), so it has no opening.
    Returns an int64 array (K, 4): start, peak, end, kind.
    """
    n = x.shape[0]
    ev = np.empty((n // 2 + 2, 4), dtype=np.int64)
    k = 0
    first = -1
    active = False
    low_i = -1         # lowest sample since the last rep ended (rest)
    start_i = -1       # the rep in progress: its start (low point), peak
    peak_i = -1
    opened = resume    # the first rise has been seen (the opening is decided)
    for i in range(n):
        xi = x[i]
        if math.isnan(xi):
            continue
        if first < 0:
            first = i
            low_i = i
        if not active:
            if xi < x[low_i]:
                low_i = i
            if xi - x[low_i] >= rise[i]:
                if not opened:
                    opened = True
                    k = _opening(x, first, low_i, opening, min_amp, ev, k)
                active = True
                start_i = low_i
                peak_i = i
        else:
            if xi > x[peak_i]:
                peak_i = i
            if x[peak_i] - xi >= back * (x[peak_i] - x[start_i]):
                amp = x[peak_i] - x[start_i]
                kind = -1
                if amp >= min_amp:
                    # its duration: the time spent above the level it ends at (back
                    # within 1 - back of its excursion), from the last sample under that
                    # level on the way up
                    level = x[start_i] + (1.0 - back) * amp
                    up_i = start_i
                    for j in range(peak_i, start_i - 1, -1):
                        if not math.isnan(x[j]) and x[j] <= level:
                            up_i = j
                            break
                    dur = t[i] - t[up_i]
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
                active = False
                low_i = i
    if first < 0:
        return ev[:0].copy()
    if not opened:
        k = _opening(x, first, low_i, opening, min_amp, ev, k)
    if active:
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
def _opening(x: np.ndarray, first: int, low_i: int, opening: float, min_amp: float,
             ev: np.ndarray, k: int) -> int:
    """The recording's opening descent, from its first sample down to ``low_i``: counted
    (`KIND_OPENING`) when its highest point is ``opening`` above that low point, a partial
    when it is a smaller movement still at least ``min_amp``; nothing otherwise. Returns the
    new k."""
    peak_i = first
    for j in range(first, low_i + 1):
        if not math.isnan(x[j]) and x[j] > x[peak_i]:
            peak_i = j
    drop = x[peak_i] - x[low_i]
    if drop < min_amp or low_i == first:
        return k
    ev[k, 0] = first
    ev[k, 1] = peak_i
    ev[k, 2] = low_i
    ev[k, 3] = KIND_OPENING if drop >= opening else KIND_PARTIAL_START
    return k + 1


@njit(cache=True)
def rep_stats(x: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Per-rep min, max, argmin and argmax of ``x`` over [start, end], NaN-aware, (K, 4)."""
    k = starts.shape[0]
    out = np.full((k, 4), np.nan)
    for r in range(k):
        lo = math.inf
        hi = -math.inf
        ilo = -1
        ihi = -1
        for i in range(starts[r], ends[r] + 1):
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
    return out


@njit(cache=True)
def rep_coverage(t: np.ndarray, valid: np.ndarray, starts: np.ndarray,
                 ends: np.ndarray) -> np.ndarray:
    """Per window (K, 2): frames measured (``valid``) in [start, end] and the longest time
    in it without a measured frame (from the window's start to its end)."""
    k = starts.shape[0]
    out = np.zeros((k, 2))
    for r in range(k):
        last = t[starts[r]]
        gap = 0.0
        n = 0
        for i in range(starts[r], ends[r] + 1):
            if valid[i]:
                n += 1
                gap = max(gap, t[i] - last)
                last = t[i]
        out[r, 0] = n
        out[r, 1] = max(gap, t[ends[r]] - last)
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
def refine_bounds(y: np.ndarray, ev: np.ndarray, frac: float) -> np.ndarray:
    """Move rep boundaries to movement onset and full return (offline refinement).

    For each event row (start, peak, end, kind) of `swing_reps` on oriented signal
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
        lvl = y[s] + frac * (y[p] - y[s])
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


@njit(cache=True)
def window_medians(x: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Per window [start, end] the median of the finite values of ``x`` (NaN if none)."""
    k = starts.shape[0]
    out = np.full(k, np.nan)
    for r in range(k):
        w = x[starts[r]:ends[r] + 1]
        w = w[np.isfinite(w)]
        if w.size:
            out[r] = np.median(w)
    return out
