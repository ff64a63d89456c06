"""`LiveRepCounter`: the repetition logic of `rehab.reps.segment_reps`, one frame at a time.

It sits above repetitions and scoring (it scores each rep as it completes) and below the
live session, which feeds it frames.
"""

from __future__ import annotations

import bisect
import dataclasses
import math
from typing import Literal

import numpy as np

from rehab.exercises import Exercise, compensation_column
from rehab.kinematics import OneEuroFilter, frame_angles
from rehab.model import ANGLE_COLUMNS, TRUNK_ANGLES, Rep, Segment, angle_column
from rehab.reps import INITIAL_STATE, KIND_NAMES, decide_start, hysteresis_levels, side_score
from rehab.reps import _kernels as K
from rehab.scoring import score_reps
from rehab.settings import AnalysisSettings


class _SideTrack:
    """Buffers of one side's primary angle (and compensations) for the live counter."""

    def __init__(self, n_comp: int, settings: AnalysisSettings) -> None:
        def one_euro() -> OneEuroFilter:
            return OneEuroFilter(settings.live_min_cutoff_hz, settings.live_beta,
                                 settings.live_d_cutoff_hz, settings.max_gap_s)

        self.settings = settings
        self.filter = one_euro()
        self.comp_filters = [one_euro() for _ in range(n_comp)]
        self.x: list[float] = []
        self.valid: list[bool] = []
        self.comps: list[list[float]] = [[] for _ in range(n_comp)]

    def score(self) -> float:
        return side_score(np.asarray(self.x), self.settings)


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
                 settings: AnalysisSettings | None = None) -> None:
        self.exercise = exercise
        self.settings = settings or exercise.settings
        self.space = space or exercise.counting.space
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
        self._col = {s: ANGLE_COLUMNS.index(angle_column(name, s)) for s in self._sides}
        self._comp_cols: dict[str, list[int]] = {}
        for s in self._sides:
            self._comp_cols[s] = [ANGLE_COLUMNS.index(compensation_column(comp, s))
                                  for comp in exercise.compensations]
        self._tracks = {s: _SideTrack(len(exercise.compensations), self.settings)
                        for s in self._sides}
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
        self._reps: list[Rep] = []
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
    def reps(self) -> tuple[Rep, ...]:
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
               width: int, height: int) -> list[Rep]:
        """Add one frame (landmarks NaN when nobody is seen); return reps completed now."""
        row = frame_angles(landmarks, world, visibility, width, height, self.space,
                           self.settings.min_visibility)
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

        lo, hi = (pct(q) for q in self.settings.range_percentiles)
        if hi - lo < self.exercise.counting.min_amplitude_deg:
            return None
        return lo, hi

    def _advance(self, y: float) -> list[Rep]:
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
        lo_th, hi_th = hysteresis_levels(*levels, self.settings)
        self._lo_th[-1], self._hi_th[-1] = lo_th, hi_th
        return self._emit()

    def _decide(self, levels: tuple[float, float]) -> bool:
        """Choose the start state with `rehab.reps.decide_start`, once the range is known."""
        y = self._sign * np.asarray(self._tracks[self._side].x)
        state = decide_start(y, np.asarray(self._t), *hysteresis_levels(*levels, self.settings),
                             self.settings, complete=False)
        if state is None:
            return False  # still in the opening position: wait
        if state == "settled":
            self._sign = -self._sign
            self._sorted = sorted(-v for v in self._sorted)
        self.start_state, self._initial = state, INITIAL_STATE[state]
        levels2 = self._levels()
        assert levels2 is not None
        lo_th, hi_th = hysteresis_levels(*levels2, self.settings)
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

    def _emit(self, final: bool = False) -> list[Rep]:
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

    def _score(self, segments: tuple[Segment, ...]) -> list[Rep]:
        track = self._tracks[self._side]
        primary = np.asarray(track.x, dtype=np.float64)
        comp = {c.id: np.asarray(track.comps[k], dtype=np.float64)
                for k, c in enumerate(self.exercise.compensations)}
        scored = score_reps(self.exercise, self._side, segments, primary,
                            np.asarray(track.valid, dtype=np.bool_),
                            np.asarray(self._t, dtype=np.float64), comp, self.settings)
        out = []
        for r in scored:
            if r.counted:
                r = dataclasses.replace(r, index=len(self._reps) + 1)
                self._reps.append(r)
                out.append(r)
        return out

    def finish(self) -> list[Rep]:
        """End of the session: nothing more is counted (a rep in progress is not a rep)."""
        return []
