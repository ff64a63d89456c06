"""Repetition segmentation of an exercise's primary angle.

Two thresholds with hysteresis are derived from the observed range of the smoothed signal
(robust 5th-95th percentiles) and the prescription: a rep leaves the rest zone, crosses the
upper threshold, and counts when it comes back below the lower one. Candidates smaller than
the exercise's minimum amplitude are ignored; too short ones (jitter) are reported but not
counted. The start state is detected from the recording: a clip that opens settled in the
active position (held there at least `SETTLED_DWELL_S`, e.g. elbow held flexed) counts
cycles from that position; one that opens mid-rise counts that rep once it has crossed the
upper threshold and come back, as a patient would; one that opens on the way back from a
rep reports that tail as partial. Movement that
begins or ends mid-rep at the edges of the recording is reported as partial, not counted.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Literal

import numpy as np

from rehab.exercises import Exercise
from rehab.kinematics import _kernels as K

log = logging.getLogger(__name__)

LOW_FRACTION = 0.35
"""Lower threshold, as a fraction of the observed range above the rest level."""
HIGH_FRACTION = 0.65
"""Upper threshold, as a fraction of the observed range above the rest level."""
RANGE_PERCENTILES = (5.0, 95.0)
ONSET_FRACTION = 0.1
"""Rep boundaries sit where the angle is within this fraction of the rep's excursion from
its start value (movement onset and full return)."""

SETTLED_DWELL_S = 0.4
"""A recording that opens in the active position and stays there at least this long is
taken to start there (the patient's rest); a shorter stay is the tail of a rep in progress."""

KIND_NAMES = {
    K.KIND_COMPLETE: "complete",
    K.KIND_PARTIAL_START: "partial_start",
    K.KIND_PARTIAL_END: "partial_end",
    K.KIND_TOO_SHORT: "too_short",
    K.KIND_TOO_LONG: "too_long",
}


@dataclasses.dataclass(frozen=True)
class Segment:
    """One repetition candidate: frame indices into the sequence and whether it counts."""

    start: int
    peak: int
    end: int
    kind: str
    rest_start: int = -1
    """Lowest point of the rest before the rep (<= start); angles are measured from here."""

    @property
    def counted(self) -> bool:
        """Only complete repetitions count."""
        return self.kind == "complete"


@dataclasses.dataclass(frozen=True)
class Segmentation:
    """Result of segmenting one signal."""

    segments: tuple[Segment, ...]
    low_threshold: float
    high_threshold: float
    rest_level: float
    active_level: float
    start_state: Literal["rest", "active", "settled", "between", "none"]
    """Where the recording opens: at rest, mid-rep in the active zone (that rep is partial),
    settled in the active position (cycles counted from there), or between the thresholds
    (a first rise through the upper threshold counts: its ascent was seen)."""
    rest_position: Literal["low", "high"]
    """Where the counted cycles start and end on the angle axis (may differ from the
    exercise default when the recording opens settled in the other position)."""

    @property
    def reps(self) -> tuple[Segment, ...]:
        """Counted repetitions."""
        return tuple(s for s in self.segments if s.counted)

    @property
    def count(self) -> int:
        return len(self.reps)


def thresholds(signal: np.ndarray, exercise: Exercise,
               rest: Literal["low", "high"]) -> tuple[float, float, float, float] | None:
    """Rest level, active level and the two thresholds on the *oriented* signal.

    The oriented signal is ``signal`` when rest is low and ``-signal`` when rest is high, so
    the active position is always up. None when the movement is too small to hold a rep.
    """
    y = signal if rest == "low" else -signal
    finite = y[np.isfinite(y)]
    if finite.size < 3:
        return None
    lo, hi = np.percentile(finite, RANGE_PERCENTILES)
    amp = float(hi - lo)
    if amp < exercise.counting.min_amplitude_deg:
        return None
    return float(lo), float(hi), float(lo + LOW_FRACTION * amp), float(lo + HIGH_FRACTION * amp)


def _opening_dwell(y: np.ndarray, t: np.ndarray, first: int, hi_th: float) -> float:
    """Seconds the oriented signal stays at or above ``hi_th`` from its first valid sample."""
    below = np.flatnonzero(y[first:] < hi_th)
    end = first + int(below[0]) if below.size else len(y) - 1
    return float(t[end] - t[first])


def segment_reps(signal: np.ndarray, timestamps: np.ndarray, exercise: Exercise) -> Segmentation:
    """Segment repetitions of ``exercise`` in a smoothed primary-angle signal (degrees)."""
    rest: Literal["low", "high"] = exercise.counting.rest
    levels = thresholds(signal, exercise, rest)
    if levels is None:
        return Segmentation((), np.nan, np.nan, np.nan, np.nan, "none", rest)
    lo, hi, lo_th, hi_th = levels
    y = signal if rest == "low" else -signal
    finite = np.flatnonzero(np.isfinite(y))
    first = y[finite[0]]
    if first >= hi_th and _opening_dwell(y, timestamps, finite[0], hi_th) >= SETTLED_DWELL_S:
        # Opens settled in the active position: that position is where this patient rests.
        rest = "high" if rest == "low" else "low"
        y = -y
        lo, hi, lo_th, hi_th = -hi, -lo, -hi_th, -lo_th
        start_state: Literal["rest", "active", "settled", "between", "none"] = "settled"
        initial = K.STATE_REST
        log.info("recording opens in the active position; counting cycles from there")
    elif first >= hi_th:
        start_state = "active"
        initial = K.STATE_ACTIVE  # the tail of a rep in progress: reported as partial
    elif first <= lo_th:
        start_state = "rest"
        initial = K.STATE_REST
    else:
        start_state = "between"
        initial = K.STATE_UNKNOWN
    c = exercise.counting
    ev = K.hysteresis_reps(np.ascontiguousarray(y, dtype=np.float64),
                           np.ascontiguousarray(timestamps, dtype=np.float64),
                           lo_th, hi_th, c.min_amplitude_deg, c.min_duration_s, c.max_duration_s,
                           initial)
    refined = K.refine_bounds(np.ascontiguousarray(y, dtype=np.float64), ev, ONSET_FRACTION,
                              lo)
    segments = tuple(Segment(int(s), int(p), int(e), KIND_NAMES[int(k)], int(s0))
                     for (s, p, e, k), s0 in zip(refined, ev[:, 0]))
    sign = 1.0 if rest == "low" else -1.0
    return Segmentation(
        segments=segments,
        low_threshold=sign * lo_th, high_threshold=sign * hi_th,
        rest_level=sign * lo, active_level=sign * hi,
        start_state=start_state, rest_position=rest,
    )
