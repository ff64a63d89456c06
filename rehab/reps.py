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
import math
from typing import TYPE_CHECKING, Literal

import numpy as np

from rehab.exercises import Exercise
from rehab.kinematics import _kernels as K

if TYPE_CHECKING:
    from rehab.scoring import RepScore

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


def side_score(x: np.ndarray) -> float:
    """How well one side shows the movement: robust range x fraction of frames measured."""
    finite = x[np.isfinite(x)]
    if finite.size < 3:
        return 0.0
    lo, hi = np.percentile(finite, RANGE_PERCENTILES)
    return float(hi - lo) * finite.size / x.size


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
    n = y.shape[0]
    ev = K.hysteresis_reps(np.ascontiguousarray(y, dtype=np.float64),
                           np.ascontiguousarray(timestamps, dtype=np.float64),
                           np.full(n, lo_th), np.full(n, hi_th), c.min_amplitude_deg,
                           c.min_duration_s, c.max_duration_s, initial)
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


class _SideTrack:
    """Buffers of one side's primary angle (and compensations) for the live counter."""

    def __init__(self, n_comp: int) -> None:
        from rehab.kinematics.filters import OneEuroFilter

        self.filter = OneEuroFilter()
        self.comp_filters = [OneEuroFilter() for _ in range(n_comp)]
        self.x: list[float] = []
        self.valid: list[bool] = []
        self.comps: list[list[float]] = [[] for _ in range(n_comp)]

    def score(self) -> float:
        return side_score(np.asarray(self.x))


class LiveRepCounter:
    """The repetition logic of `segment_reps`, run causally one frame at a time.

    Each frame's angles come from the same kernels as offline; the primary angle is smoothed
    with a causal One-Euro filter; the thresholds are the same fractions of the observed
    range, estimated from the frames seen so far (so they converge to the offline ones), and
    the same numba state machine (`hysteresis_reps`, with per-sample thresholds) decides.
    The start state is decided as offline once the range is known. Completed repetitions
    are returned, scored, by `update` at the frame where they complete (they are not refined
    afterwards). With ``side="auto"`` both sides are followed and the one that moves most
    and is best seen is chosen when the first repetition completes.
    """

    def __init__(self, exercise: Exercise, side: str = "auto",
                 space: Literal["image", "world"] | None = None,
                 min_visibility: float | None = None) -> None:
        from rehab.exercises import TRUNK_ANGLES, compensation_column
        from rehab.kinematics.angles import ANGLE_COLUMNS, DEFAULT_MIN_VISIBILITY, _GATE_INDEX

        self.exercise = exercise
        self.space = space or exercise.counting.space
        self._min_vis = DEFAULT_MIN_VISIBILITY if min_visibility is None else min_visibility
        self._gate = _GATE_INDEX
        name = exercise.counting.angle
        if name in TRUNK_ANGLES:
            self._sides: tuple[str, ...] = ("none",)
        elif side in ("left", "right"):
            self._sides = (side,)
        elif side == "auto":
            self._sides = ("left", "right")
        else:
            raise ValueError(f"side must be left, right or auto, not {side!r}")
        self._locked = len(self._sides) == 1
        self._side = self._sides[0]
        col = {s: ANGLE_COLUMNS.index(name if s == "none" else f"{s}_{name}") for s in self._sides}
        self._col = col
        self._comp_cols: dict[str, list[int]] = {}
        for s in self._sides:
            self._comp_cols[s] = [ANGLE_COLUMNS.index(compensation_column(comp, s))
                                  for comp in exercise.compensations]
        self._tracks = {s: _SideTrack(len(exercise.compensations)) for s in self._sides}
        self._t: list[float] = []
        # counting state for the locked side
        self._sign = 1.0 if exercise.counting.rest == "low" else -1.0
        self._sorted: list[float] = []
        self._decided = False
        self._initial = K.STATE_UNKNOWN
        self._lo_th: list[float] = []
        self._hi_th: list[float] = []
        self._checkpoint = 0
        self._checkpoint_state = K.STATE_UNKNOWN
        self._reps: list[RepScore] = []
        self.start_state: str = "none"

    # -- public state ---------------------------------------------------------------------
    @property
    def side(self) -> str:
        """The side being counted (``left``, ``right`` or ``none`` for trunk angles)."""
        return self._side

    @property
    def count(self) -> int:
        """Repetitions counted so far."""
        return len(self._reps)

    @property
    def reps(self) -> tuple["RepScore", ...]:
        return tuple(self._reps)

    @property
    def angle(self) -> float:
        """The current smoothed primary angle (NaN when the limb is not measurable)."""
        x = self._tracks[self._side].x
        return x[-1] if x else float("nan")

    @property
    def visible(self) -> bool:
        """Whether the primary angle could be measured in the last frame."""
        v = self._tracks[self._side].valid
        return bool(v and v[-1])

    @property
    def thresholds(self) -> tuple[float, float] | None:
        """Current (low, high) thresholds in degrees, once the range is known."""
        if not self._lo_th or not self._decided:
            return None
        return self._sign * self._lo_th[-1], self._sign * self._hi_th[-1]

    @property
    def state(self) -> str:
        """``rest``, ``active`` or ``unknown`` at the last frame."""
        if not self._decided:
            return "unknown"
        y = self._sign * self.angle
        if not math.isfinite(y):
            return "unknown"
        return "active" if y >= self._lo_th[-1] and self._active_now() else "rest"

    def _active_now(self) -> bool:
        ev = self._run()
        return bool(ev.shape[0] and ev[-1, 3] == K.KIND_PARTIAL_END)

    # -- feeding ----------------------------------------------------------------------------
    def update(self, t: float, landmarks: np.ndarray, world: np.ndarray, visibility: np.ndarray,
               width: int, height: int) -> list["RepScore"]:
        """Add one frame (landmarks NaN when nobody is seen); return reps completed now."""
        if self.space == "image":
            row = K.joint_angles_image(np.ascontiguousarray(landmarks[None], dtype=np.float32),
                                       float(width), float(height))
        else:
            row = K.joint_angles_world(np.ascontiguousarray(world[None], dtype=np.float32))
        vis = np.ascontiguousarray(visibility[None], dtype=np.float32)
        row = K.gate_columns(row, vis, self._gate, float(self._min_vis))[0]
        self._t.append(float(t))
        for s, track in self._tracks.items():
            raw = float(row[self._col[s]])
            track.valid.append(math.isfinite(raw))
            track.x.append(track.filter(t, raw))
            for k, c in enumerate(self._comp_cols[s]):
                track.comps[k].append(track.comp_filters[k](t, float(row[c])))
        if not self._locked:
            scores = {s: tr.score() for s, tr in self._tracks.items()}
            best = max(scores, key=lambda s: scores[s])
            if scores[self._side] < scores[best]:
                self._switch_side(best)
        y = self._sign * self._tracks[self._side].x[-1]
        return self._advance(y)

    def _switch_side(self, side: str) -> None:
        """Follow another side (before the first rep): rebuild its threshold history."""
        self._side = side
        self._sign = 1.0 if self.exercise.counting.rest == "low" else -1.0
        self._sorted = []
        self._decided = False
        self._lo_th, self._hi_th = [], []
        self._checkpoint = 0
        history = self._tracks[side].x
        for x in history[:-1]:
            self._push_level(self._sign * x)
        self._lo_th = [math.nan] * (len(history) - 1)
        self._hi_th = [math.nan] * (len(history) - 1)

    def _push_level(self, y: float) -> None:
        if math.isfinite(y):
            import bisect

            bisect.insort(self._sorted, y)

    def _levels(self) -> tuple[float, float] | None:
        n = len(self._sorted)
        if n < 3:
            return None

        def pct(q: float) -> float:  # numpy's default (linear) percentile on sorted data
            pos = (n - 1) * q / 100.0
            i = int(math.floor(pos))
            j = min(i + 1, n - 1)
            return self._sorted[i] + (self._sorted[j] - self._sorted[i]) * (pos - i)

        lo, hi = pct(RANGE_PERCENTILES[0]), pct(RANGE_PERCENTILES[1])
        if hi - lo < self.exercise.counting.min_amplitude_deg:
            return None
        return lo, hi

    def _advance(self, y: float) -> list["RepScore"]:
        self._push_level(y)
        levels = self._levels()
        self._lo_th.append(math.nan)
        self._hi_th.append(math.nan)
        if not self._decided:
            if levels is None or not self._decide(levels):
                return []
            levels = self._levels()
        if levels is None:  # cannot happen once decided: the range only grows
            return []
        lo, hi = levels
        amp = hi - lo
        lo_th, hi_th = lo + LOW_FRACTION * amp, lo + HIGH_FRACTION * amp
        self._lo_th[-1], self._hi_th[-1] = lo_th, hi_th
        return self._emit()

    def _decide(self, levels: tuple[float, float]) -> bool:
        """Choose the start state as `segment_reps` does, once the range is known."""
        track = self._tracks[self._side]
        y = self._sign * np.asarray(track.x)
        t = np.asarray(self._t)
        finite = np.flatnonzero(np.isfinite(y))
        lo, hi = levels
        lo_th, hi_th = lo + LOW_FRACTION * (hi - lo), lo + HIGH_FRACTION * (hi - lo)
        first = y[finite[0]]
        if first >= hi_th:
            below = np.flatnonzero(y[finite[0]:] < hi_th)
            dwell = float(t[finite[0] + below[0]] - t[finite[0]]) if below.size else \
                float(t[-1] - t[finite[0]])
            if not below.size and dwell < SETTLED_DWELL_S:
                return False  # still in the opening position: wait
            if dwell >= SETTLED_DWELL_S:
                self._sign = -self._sign
                self._sorted = sorted(-v for v in self._sorted)
                self.start_state, self._initial = "settled", K.STATE_REST
            else:
                self.start_state, self._initial = "active", K.STATE_ACTIVE
        elif first <= lo_th:
            self.start_state, self._initial = "rest", K.STATE_REST
        else:
            self.start_state, self._initial = "between", K.STATE_UNKNOWN
        levels2 = self._levels()
        assert levels2 is not None
        lo, hi = levels2
        lo_th, hi_th = lo + LOW_FRACTION * (hi - lo), lo + HIGH_FRACTION * (hi - lo)
        # frames before the decision are judged with the thresholds known now
        self._lo_th = [lo_th] * len(self._lo_th)
        self._hi_th = [hi_th] * len(self._hi_th)
        self._checkpoint, self._checkpoint_state = 0, self._initial
        self._decided = True
        return True

    def _run(self) -> np.ndarray:
        c = self.exercise.counting
        a = self._checkpoint
        y = self._sign * np.asarray(self._tracks[self._side].x[a:], dtype=np.float64)
        return K.hysteresis_reps(
            y, np.asarray(self._t[a:], dtype=np.float64),
            np.asarray(self._lo_th[a:], dtype=np.float64),
            np.asarray(self._hi_th[a:], dtype=np.float64),
            c.min_amplitude_deg, c.min_duration_s, c.max_duration_s, self._checkpoint_state)

    def _emit(self, final: bool = False) -> list["RepScore"]:
        ev = self._run()
        done = [row for row in ev if row[3] != K.KIND_PARTIAL_END or final]
        if not done:
            return []
        a = self._checkpoint
        segments = tuple(Segment(int(s) + a, int(p) + a, int(e) + a, KIND_NAMES[int(k)],
                                 int(s) + a) for s, p, e, k in done)
        if not final or done[-1][3] != K.KIND_PARTIAL_END:
            self._checkpoint = int(done[-1][2]) + a
            self._checkpoint_state = K.STATE_REST
        if segments and not self._locked and any(sg.counted for sg in segments):
            self._locked = True
        return self._score(segments)

    def _score(self, segments: tuple[Segment, ...]) -> list["RepScore"]:
        from rehab.scoring import score_reps

        track = self._tracks[self._side]
        primary = np.asarray(track.x, dtype=np.float64)
        comp = {c.id: np.asarray(track.comps[k], dtype=np.float64)
                for k, c in enumerate(self.exercise.compensations)}
        scored = score_reps(self.exercise, self._side, segments, primary,
                            np.asarray(track.valid, dtype=np.bool_),
                            np.asarray(self._t, dtype=np.float64), comp)
        out = []
        for r in scored:
            if r.counted:
                r = dataclasses.replace(r, index=len(self._reps) + 1)
                self._reps.append(r)
                out.append(r)
        return out

    def finish(self) -> list["RepScore"]:
        """End of the session: nothing more is counted (a rep in progress is not a rep)."""
        return []
