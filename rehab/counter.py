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
from rehab.model import ANGLE_COLUMNS, TRUNK_ANGLES, Rep, Segment, Side, angle_column
from rehab.reps import KIND_NAMES, hysteresis_levels, rep_rules, side_score
from rehab.reps.segment import COUNTED_KINDS, excursions
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
        self.own: list[bool] = []
        """Measured on this side itself (``valid`` also counts frames filled from the other
        side of a bilateral exercise)."""
        self.comps: list[list[float]] = [[] for _ in range(n_comp)]

    def score(self) -> float:
        x = np.asarray(self.x)
        return side_score(np.where(self.own, x, np.nan), self.settings)


class LiveRepCounter:
    """The repetition logic of `segment_reps`, run causally one frame at a time.

    Each frame's angles come from the same kernels as offline; the primary angle is smoothed
    with a causal One-Euro filter; the thresholds are the same fractions of the observed
    range, estimated from the frames seen so far (so they converge to the offline ones), and
    the same numba state machine (`swing_reps`, with a per-sample rise) decides, with the
    same rule for a recording that opens in the active position. Completed repetitions
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
        self._fill = exercise.bilateral and len(self._sides) == 2
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
        self._lo_th: list[float] = []
        self._hi_th: list[float] = []
        self._rise: list[float] = []
        self._checkpoint = 0
        self._reps: list[Rep] = []
        self._amps: list[float] = []
        self.fps: float | None = None
        """The source's frame rate, when known (a rep's frames are counted at that rate)."""
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
        return "active" if self._active_now() else "rest"

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
        raws = {s: float(row[self._col[s]]) for s in self._tracks}
        for s, track in self._tracks.items():
            raw = raws[s]
            track.own.append(math.isfinite(raw))
            if not math.isfinite(raw) and self._fill:
                raw = raws[str(Side(s).other)]  # a bilateral exercise: the other limb
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
        self._checkpoint = 0
        history = self._tracks[side].x
        for x in history[:-1]:
            self._push_level(self._sign * x)
        self._lo_th = [math.nan] * (len(history) - 1)
        self._hi_th = [math.nan] * (len(history) - 1)
        self._rise = [math.inf] * (len(history) - 1)

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
        self._rise.append(math.inf)
        if levels is None:
            return []
        lo_th, hi_th = hysteresis_levels(*levels, self.settings)
        self._lo_th[-1], self._hi_th[-1] = lo_th, hi_th
        self._rise[-1] = rep_rules(levels[1] - levels[0], self.settings)[0]
        if not self._decided:
            # the frames before the range was known are judged with the rise known now
            self._rise = [self._rise[-1]] * len(self._rise)
            self._decided = True
        return self._emit()

    def _run(self) -> np.ndarray:
        c = self.exercise.counting
        a = self._checkpoint
        y = self._sign * np.asarray(self._tracks[self._side].x[a:], dtype=np.float64)
        levels = self._levels()
        opening = rep_rules(levels[1] - levels[0], self.settings)[2] if levels else math.inf
        _, back, _ = rep_rules(1.0, self.settings)
        return K.swing_reps(
            y, np.asarray(self._t[a:], dtype=np.float64),
            np.asarray(self._rise[a:], dtype=np.float64), back, opening,
            c.min_amplitude_deg, c.min_duration_s, c.max_duration_s, a > 0)

    def _emit(self, final: bool = False) -> list[Rep]:
        ev = self._run()
        done = [row for row in ev if row[3] != K.KIND_PARTIAL_END or final]
        if (self._checkpoint == 0 and not final and len(done) == 1
                and done[0][3] in (K.KIND_OPENING, K.KIND_PARTIAL_START)):
            # the opening is judged against the range of a whole rep, as offline: wait for
            # the first rep after it to end
            return []
        if not done:
            return []
        a = self._checkpoint
        done = self._judge_size(np.array(done, dtype=np.int64), a)
        segments = tuple(Segment(int(s) + a, int(p) + a, int(e) + a, KIND_NAMES[int(k)],
                                 int(s) + a) for s, p, e, k in done)
        if a == 0 and done[0][3] == K.KIND_OPENING:
            self.start_state = "active"
        elif a == 0 and done[0][3] == K.KIND_PARTIAL_START:
            self.start_state = "between"
        elif a == 0:
            self.start_state = "rest"
        if not final or done[-1][3] != K.KIND_PARTIAL_END:
            self._checkpoint = int(done[-1][2]) + a
        if segments and not self._locked and any(sg.counted for sg in segments):
            self._locked = True
        return self._score(segments)

    def _judge_size(self, done: np.ndarray, a: int) -> np.ndarray:
        """`rehab.reps.segment.mark_too_small` causally: each counted rep against the median
        of those counted so far and itself."""
        y = self._sign * np.asarray(self._tracks[self._side].x[a:], dtype=np.float64)
        amps = excursions(y, done)
        out = done.copy()
        for i in range(out.shape[0]):
            if out[i, 3] not in COUNTED_KINDS:
                continue
            seen = self._amps + [float(amps[i])]
            if len(seen) >= 2 and amps[i] < self.settings.min_rep_fraction * np.median(seen):
                out[i, 3] = K.KIND_TOO_SMALL
            else:
                self._amps.append(float(amps[i]))
        return out

    def _score(self, segments: tuple[Segment, ...]) -> list[Rep]:
        track = self._tracks[self._side]
        primary = np.asarray(track.x, dtype=np.float64)
        comp = {c.id: np.asarray(track.comps[k], dtype=np.float64)
                for k, c in enumerate(self.exercise.compensations)}
        scored = score_reps(self.exercise, self._side, segments, primary,
                            np.asarray(track.valid, dtype=np.bool_),
                            np.asarray(self._t, dtype=np.float64), comp, self.settings,
                            fps=self.fps)
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
