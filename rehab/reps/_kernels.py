"""Private numba kernels of repetition counting: plain arrays in, plain arrays out.

The state machine (`hysteresis_reps`) runs offline with constant thresholds and live with
per-sample ones; `refine_bounds` moves boundaries to movement onset; `rep_stats` and
`window_extremes` measure each rep's window for scoring. Public wrappers live in
`rehab.reps.segment` and `rehab.scoring`.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

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
