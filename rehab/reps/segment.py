"""Repetition segmentation of an exercise's primary angle.

The rules (the README's "How repetitions are counted" states them with a diagram):

- The exercise says where rest is (``counting.rest``); the angle is oriented so that the
  active position is up. Its scale is the robust range R of the whole recording (the 5th
  to 95th percentile of the smoothed angle; for a one-sided exercise, of the side that moves
  most).
- A rep **starts** at the lowest point since the previous rep, once the angle has risen
  (high_fraction - low_fraction) x R above it; it **peaks** at its highest point and
  **ends** once it has come back (1 - low_fraction) of its own excursion. Every level is
  relative to the rep's own start, so a rest level that shifts (a change of camera angle,
  a patient moving closer) neither merges nor loses reps.
- A rep is counted only when its return is seen. At the start of the recording: opening
  at least high_fraction x R above the first low point (at the bottom of a squat) and
  coming back, that return counts; a smaller opening descent is the tail of a rep whose
  peak was not seen (partial). At the end: a rise that does not come back is a partial.
- Excursions under ``min_amplitude_deg`` are ignored; reps shorter than
  ``min_duration_s`` or longer than ``max_duration_s``, or moving less than
  ``min_rep_fraction`` (half) of the recording's median rep, are reported, not counted.

When a recording opens and ends at the same end of the movement, the count does not depend
on which end is called rest (a patient who rests with the elbow flexed is counted the same).
"""

from __future__ import annotations

import logging

import numpy as np

from rehab.exercises import Exercise
from rehab.model import RepKind, RestPosition, Segment, Segmentation, StartState
from rehab.reps import _kernels as K
from rehab.settings import AnalysisSettings

log = logging.getLogger(__name__)

KIND_NAMES: dict[int, RepKind] = {
    K.KIND_COMPLETE: RepKind.COMPLETE,
    K.KIND_OPENING: RepKind.COMPLETE,
    K.KIND_PARTIAL_START: RepKind.PARTIAL_START,
    K.KIND_PARTIAL_END: RepKind.PARTIAL_END,
    K.KIND_TOO_SHORT: RepKind.TOO_SHORT,
    K.KIND_TOO_LONG: RepKind.TOO_LONG,
    K.KIND_TOO_SMALL: RepKind.TOO_SMALL,
}
"""Kernel kind codes to `RepKind` (the opening's counted return is a complete rep)."""


def robust_range(signal: np.ndarray, settings: AnalysisSettings) -> tuple[float, float] | None:
    """(low, high) percentiles of the finite samples; None with fewer than 3."""
    finite = signal[np.isfinite(signal)]
    if finite.size < 3:
        return None
    lo, hi = np.percentile(finite, settings.range_percentiles)
    return float(lo), float(hi)


def hysteresis_levels(lo: float, hi: float, settings: AnalysisSettings) -> tuple[float, float]:
    """The (low, high) thresholds for a robust range [lo, hi] of the oriented signal."""
    amp = hi - lo
    return lo + settings.low_fraction * amp, lo + settings.high_fraction * amp


def thresholds(signal: np.ndarray, exercise: Exercise, rest: RestPosition,
               settings: AnalysisSettings | None = None
               ) -> tuple[float, float, float, float] | None:
    """Rest level, active level and the two thresholds on the *oriented* signal.

    The oriented signal is ``signal`` when rest is low and ``-signal`` when rest is high, so
    the active position is always up. None when the movement is too small to hold a rep.
    """
    settings = settings or exercise.settings
    y = signal if rest == "low" else -signal
    levels = robust_range(y, settings)
    if levels is None or levels[1] - levels[0] < exercise.counting.min_amplitude_deg:
        return None
    lo, hi = levels
    return (lo, hi, *hysteresis_levels(lo, hi, settings))


def side_score(x: np.ndarray, settings: AnalysisSettings) -> float:
    """How well one side shows the movement: robust range x fraction of frames measured."""
    levels = robust_range(x, settings)
    if levels is None:
        return 0.0
    return (levels[1] - levels[0]) * int(np.isfinite(x).sum()) / x.size


def rep_rules(scale: float, settings: AnalysisSettings) -> tuple[float, float, float]:
    """(rise in degrees, back as a fraction of the excursion, opening in degrees) for a
    recording whose robust range is ``scale`` degrees (see the module's rules)."""
    rise = (settings.high_fraction - settings.low_fraction) * scale
    return rise, 1.0 - settings.low_fraction, settings.high_fraction * scale


def oriented(signal: np.ndarray, rest: RestPosition) -> np.ndarray:
    """The signal with the active position up."""
    return signal if rest == "low" else -signal


def segment_reps(signal: np.ndarray, timestamps: np.ndarray, exercise: Exercise,
                 settings: AnalysisSettings | None = None,
                 scale: float | None = None) -> Segmentation:
    """Segment repetitions of ``exercise`` in a smoothed primary-angle signal (degrees).

    ``scale``: the robust range R to use (default: this signal's own; a one-sided exercise
    counted on both sides gives both the range of the side that moves most)."""
    settings = settings or exercise.settings
    rest: RestPosition = exercise.counting.rest
    y = np.ascontiguousarray(oriented(signal, rest), dtype=np.float64)
    levels = robust_range(y, settings)
    c = exercise.counting
    if levels is None:
        return Segmentation((), np.nan, np.nan, np.nan, np.nan, "none", rest)
    lo, hi = levels
    r = hi - lo if scale is None else float(scale)
    if r < c.min_amplitude_deg:
        return Segmentation((), np.nan, np.nan, np.nan, np.nan, "none", rest)
    rise, back, opening = rep_rules(r, settings)
    n = y.shape[0]
    ev = K.swing_reps(y, np.ascontiguousarray(timestamps, dtype=np.float64), np.full(n, rise),
                      back, opening, c.min_amplitude_deg, c.min_duration_s, c.max_duration_s,
                      False)
    ev = mark_too_small(y, ev, settings.min_rep_fraction)
    start_state = _start_state(y, ev, lo, r, settings)
    refined = K.refine_bounds(y, ev, settings.onset_fraction)
    segments = tuple(Segment(int(s), int(p), int(e), KIND_NAMES[int(k)], int(s0))
                     for (s, p, e, k), s0 in zip(refined, ev[:, 0]))
    sign = 1.0 if rest == "low" else -1.0
    lo_th, hi_th = hysteresis_levels(lo, lo + r, settings)
    return Segmentation(
        segments=segments,
        low_threshold=sign * lo_th, high_threshold=sign * hi_th,
        rest_level=sign * lo, active_level=sign * (lo + r),
        start_state=start_state, rest_position=rest, rise_deg=rise,
    )


COUNTED_KINDS = (K.KIND_COMPLETE, K.KIND_OPENING)


def span_overlap(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Time two (start, end) spans share, as a fraction of the shorter one: above a half,
    two limbs' reps are one movement (offline `rehab.analysis.merge_sides` and live)."""
    shared = min(a[1], b[1]) - max(a[0], b[0])
    return max(0.0, shared) / max(1e-9, min(a[1] - a[0], b[1] - b[0]))


def excursions(y: np.ndarray, ev: np.ndarray) -> np.ndarray:
    """Each event's excursion on the oriented signal: peak above its start (the opening:
    above its end, its start being unseen)."""
    if not ev.shape[0]:
        return np.zeros(0)
    low = np.where(ev[:, 3] == K.KIND_OPENING, ev[:, 2], ev[:, 0])
    return y[ev[:, 1]] - y[low]


def mark_too_small(y: np.ndarray, ev: np.ndarray, fraction: float) -> np.ndarray:
    """Counted events moving less than ``fraction`` of the median counted one become
    `KIND_TOO_SMALL` (not counted). A rep cut by the start of the recording (its rise seen
    from the first sample on) is neither judged nor part of the median: its size is not
    known."""
    finite = np.flatnonzero(np.isfinite(y))
    if not ev.shape[0] or not finite.size:
        return ev
    judged = np.isin(ev[:, 3], COUNTED_KINDS) & ~((ev[:, 0] == finite[0])
                                                   & (ev[:, 3] == K.KIND_COMPLETE))
    if judged.sum() < 2:
        return ev
    amp = excursions(y, ev)
    small = judged & (amp < fraction * float(np.median(amp[judged])))
    if not small.any():
        return ev
    out = ev.copy()
    out[small, 3] = K.KIND_TOO_SMALL
    return out


def _start_state(y: np.ndarray, ev: np.ndarray, lo: float, scale: float,
                 settings: AnalysisSettings) -> StartState:
    """How the recording opens: ``active`` (its opening return was counted), ``between``
    (on the way back from a rep whose peak was not seen, or more than ``low_fraction`` of
    the range above rest), or ``rest``."""
    first = int(np.flatnonzero(np.isfinite(y))[0])
    if ev.shape[0] and ev[0, 0] == first and ev[0, 3] == K.KIND_OPENING:
        return "active"
    if ev.shape[0] and ev[0, 0] == first and ev[0, 3] == K.KIND_PARTIAL_START:
        return "between"
    return "between" if y[first] > lo + settings.low_fraction * scale else "rest"
