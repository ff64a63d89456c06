"""Repetition segmentation of an exercise's primary angle.

Two thresholds with hysteresis are derived from the observed range of the smoothed signal
(robust percentiles, see `rehab.settings`) and the prescription: a rep leaves the rest zone, crosses the
upper threshold, and counts when it comes back below the lower one. Candidates smaller than
the exercise's minimum amplitude are ignored; too short ones (jitter) are reported but not
counted. The start state is detected from the recording: a clip that opens settled in the
active position (held there at least `AnalysisSettings.settled_dwell_s`, e.g. elbow held flexed) counts
cycles from that position; one that opens mid-rise counts that rep once it has crossed the
upper threshold and come back, as a patient would; one that opens on the way back from a
rep reports that tail as partial. Movement that
begins or ends mid-rep at the edges of the recording is reported as partial, not counted.
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
    K.KIND_PARTIAL_START: RepKind.PARTIAL_START,
    K.KIND_PARTIAL_END: RepKind.PARTIAL_END,
    K.KIND_TOO_SHORT: RepKind.TOO_SHORT,
    K.KIND_TOO_LONG: RepKind.TOO_LONG,
}
"""Kernel kind codes to `RepKind`."""

INITIAL_STATE: dict[str, int] = {
    "settled": K.STATE_REST, "active": K.STATE_ACTIVE, "rest": K.STATE_REST,
    "between": K.STATE_UNKNOWN,
}
"""The state machine's initial state for each start state."""


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


def decide_start(y: np.ndarray, t: np.ndarray, lo_th: float, hi_th: float,
                 settings: AnalysisSettings, complete: bool = True) -> StartState | None:
    """Where an oriented signal (active = up) opens: ``settled`` (in the active position for
    at least ``settled_dwell_s``), ``active`` (the tail of a rep), ``rest`` or ``between``.

    Offline and live both decide with this. With ``complete=False`` (a live signal still
    growing) a signal still in its opening active stay, shorter than the dwell so far,
    returns None: not decidable yet.
    """
    finite = np.flatnonzero(np.isfinite(y))
    if finite.size == 0:
        return None
    first_i = int(finite[0])
    first = y[first_i]
    if first >= hi_th:
        below = np.flatnonzero(y[first_i:] < hi_th)
        end = first_i + int(below[0]) if below.size else len(y) - 1
        dwell = float(t[end] - t[first_i])
        if dwell >= settings.settled_dwell_s:
            return "settled"
        if not below.size and not complete:
            return None
        return "active"
    return "rest" if first <= lo_th else "between"


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


def segment_reps(signal: np.ndarray, timestamps: np.ndarray, exercise: Exercise,
                 settings: AnalysisSettings | None = None) -> Segmentation:
    """Segment repetitions of ``exercise`` in a smoothed primary-angle signal (degrees)."""
    settings = settings or exercise.settings
    rest: RestPosition = exercise.counting.rest
    levels = thresholds(signal, exercise, rest, settings)
    if levels is None:
        return Segmentation((), np.nan, np.nan, np.nan, np.nan, "none", rest)
    lo, hi, lo_th, hi_th = levels
    y = signal if rest == "low" else -signal
    start_state = decide_start(y, timestamps, lo_th, hi_th, settings)
    assert start_state is not None  # a range was found, so there are finite samples
    if start_state == "settled":
        # Opens settled in the active position: that position is where this patient rests.
        rest = "high" if rest == "low" else "low"
        y = -y
        lo, hi, lo_th, hi_th = -hi, -lo, -hi_th, -lo_th
        log.info("recording opens in the active position; counting cycles from there")
    c = exercise.counting
    n = y.shape[0]
    y = np.ascontiguousarray(y, dtype=np.float64)
    ev = K.hysteresis_reps(y, np.ascontiguousarray(timestamps, dtype=np.float64),
                           np.full(n, lo_th), np.full(n, hi_th), c.min_amplitude_deg,
                           c.min_duration_s, c.max_duration_s, INITIAL_STATE[start_state])
    refined = K.refine_bounds(y, ev, settings.onset_fraction, lo)
    segments = tuple(Segment(int(s), int(p), int(e), KIND_NAMES[int(k)], int(s0))
                     for (s, p, e, k), s0 in zip(refined, ev[:, 0]))
    sign = 1.0 if rest == "low" else -1.0
    return Segmentation(
        segments=segments,
        low_threshold=sign * lo_th, high_threshold=sign * hi_th,
        rest_level=sign * lo, active_level=sign * hi,
        start_state=start_state, rest_position=rest,
    )
