"""`LiveRepCounter`: the repetition logic of `rehab.reps.segment_reps`, one frame at a time.

A one-sided exercise left to choose its side is counted on both limbs and the two merged
in time, as offline (`rehab.analysis.merge_sides`), causally (see `LiveRepCounter`).

It sits above repetitions and scoring (it scores each rep as it completes) and below the
live session, which feeds it frames.
"""

from __future__ import annotations

import bisect
import dataclasses
import math
from typing import Literal, NamedTuple

import numpy as np

from rehab.exercises import Exercise, compensation_column
from rehab.kinematics import OneEuroFilter, frame_angles
from rehab.model import ANGLE_COLUMNS, TRUNK_ANGLES, Rep, Segment, Side, angle_column
from rehab.reps import KIND_NAMES, hysteresis_levels, rep_rules, side_score, span_overlap
from rehab.reps.segment import COUNTED_KINDS, excursions
from rehab.reps import _kernels as K
from rehab.scoring import score_reps
from rehab.settings import AnalysisSettings


class _Mirror:
    """A float64 array copy of a growing list, extended by what was appended since the last
    call (the state machine reruns every frame: copying the whole list each time would make
    a long session ever slower). `reset` after changing values already copied."""

    def __init__(self) -> None:
        self._buf = np.empty(0, dtype=np.float64)
        self._n = 0

    def of(self, values: list[float]) -> np.ndarray:
        n = len(values)
        if n > self._buf.size:
            grown = np.empty(max(n, 2 * self._buf.size, 256), dtype=np.float64)
            grown[:self._n] = self._buf[:self._n]
            self._buf = grown
        self._buf[self._n:n] = values[self._n:n]
        self._n = n
        return self._buf[:n]

    def reset(self) -> None:
        self._n = 0


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
        self.x_array = _Mirror()
        self.valid: list[bool] = []
        self.own: list[bool] = []
        """Measured on this side itself (``valid`` also counts frames filled from the other
        side of a bilateral exercise)."""
        self.comps: list[list[float]] = [[] for _ in range(n_comp)]

    def score(self) -> float:
        x = np.asarray(self.x)
        return side_score(np.where(self.own, x, np.nan), self.settings)


class _Machine:
    """Where the state machine stands on one side's track: the frame it resumes from and
    the reps it has counted there (before the two sides are merged)."""

    def __init__(self, side: str) -> None:
        self.side = side
        self.checkpoint = 0
        self.amps: list[float] = []
        """Excursions of the reps counted so far (the too-small judgement)."""
        self.counted: list[_Done] = []
        """Reps counted on this side, credited or not (a rep of the other side the same
        movement as one of these is not counted again)."""


class _Done(NamedTuple):
    """A rep counted on its side and the time it moved (``span``): from its onset (offline's
    refined start; a live rep's ``start_s`` is the low point since the previous rep, so it
    takes in the rest before it) to its end."""

    rep: Rep
    span: tuple[float, float]


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

    Alternation: for a one-sided exercise (not bilateral, a per-side angle) with
    ``side="auto"`` and ``counting.alternation`` other than ``none``, the same machine (the
    chosen side's rise and range, its own checkpoints and too-small judgement) keeps
    running on the other side after the choice, and the two are merged by the rules of
    `rehab.analysis.merge_sides`, causally:

    - a rep of the other side overlapping (by more than half of the shorter) a rep the
      chosen side counted is the same movement: not counted again; nor is a rep of the
      chosen side overlapping one of the other side already counted;
    - a rep of the other side that completes while the chosen side is in the middle of an
      overlapping rep waits for that rep, at most as long as it lasted itself: the same
      movement if that rep ends counted and overlapping it meanwhile, else counted, late.
      It does not wait when that rep had risen (by ``1 - low_fraction`` of its excursion)
      before it began: a limb moving with the other rises with it, one held in the active
      position (an idle arm hanging straight in a triceps extension) was up already;
    - otherwise a rep of the other side counts, ``side`` the other one, when its excursion
      is at least ``min_rep_fraction`` of the median of the chosen side's.

    A rep of the chosen side is never held back, so a movement seen on both limbs is
    credited to the limb that completed first, the chosen one when they move together
    (offline: to the one that went further, the front knee of a lunge; live that would
    mean waiting for both limbs, and with two hands on one weight the credit would follow
    differences of a few degrees).
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
        elif side in ("auto", "both"):  # both: followed on both, alternation expected
            self._sides = ("left", "right")
        else:
            raise ValueError(f"side must be left, right, both or auto, not {side!r}")
        self._both = side == "both"
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
        self._rise: list[float] = []
        self._t_array = _Mirror()
        self._rise_array = _Mirror()
        self._main = _Machine(self._side)
        self._other: _Machine | None = None
        """The other side's machine, once the side is chosen (when alternation is counted)."""
        self._alternates = (len(self._sides) == 2 and not exercise.bilateral
                            and exercise.counting.alternation != "none")
        self._reps: list[Rep] = []
        self._spans: list[tuple[float, float]] = []
        """When each of ``_reps`` moved (`_Done.span`)."""
        self._pending: list[_Done] = []
        """Reps of the other side waiting for the chosen side's rep in progress."""
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
    def alternating(self) -> bool:
        """Whether the exercise is being done alternately: the other side has been credited
        with at least two reps (one when the exercise says ``alternation = "expected"`` or
        both sides were asked for)."""
        needed = 1 if (self.exercise.counting.alternation == "expected"
                       or self._both) else 2
        return self._other is not None and sum(r.side != self._side
                                               for r in self._reps) >= needed

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
        levels = self._levels() if self._decided else None
        if levels is None:
            return None
        lo_th, hi_th = hysteresis_levels(*levels, self.settings)
        return self._sign * lo_th, self._sign * hi_th

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
        ev = self._run(self._main)
        return bool(ev.shape[0] and ev[-1, 3] == K.KIND_PARTIAL_END)

    def _in_progress(self, m: _Machine) -> tuple[float, float, float] | None:
        """The rep in progress on ``m``'s side, if any: the times of its onset, of when it
        had risen the ``back`` fraction of its excursion so far, and of its last sample."""
        ev = self._run(m)
        if not ev.shape[0] or ev[-1, 3] != K.KIND_PARTIAL_END:
            return None
        a = m.checkpoint
        s, p, e = (int(i) + a for i in ev[-1, :3])
        y = self._oriented(m.side)[s:p + 1]
        _, back, _ = rep_rules(1.0, self.settings)
        up = int(np.argmax(y >= y[0] + back * (y[-1] - y[0])))
        return self._t[int(self._onsets(m, ev[-1:])[0])], self._t[s + up], self._t[e]

    def _waits(self, done: _Done, now: tuple[float, float, float] | None) -> bool:
        """Whether a rep of the other side waits for the chosen side's rep in progress
        (``now``, see `_in_progress`): it overlaps it, that rep rose after it began, and it
        has not waited as long as it lasted."""
        start, end = done.span
        return (now is not None and span_overlap(done.span, (now[0], now[2])) > 0.5
                and now[1] >= start and self._t[-1] - end <= end - start)

    def _onsets(self, m: _Machine, rows: np.ndarray) -> np.ndarray:
        """The onset frame of each of ``rows`` (events from ``m``'s checkpoint): offline's
        refined start (`refine_bounds`), which needs only the samples up to the peak."""
        a = m.checkpoint
        y = self._oriented(m.side, a)
        rows = np.ascontiguousarray(rows, dtype=np.int64)
        return K.refine_bounds(y, rows, self.settings.onset_fraction)[:, 0] + a

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
        """Follow another side (before the first rep): rebuild its range and rise history."""
        self._side = side
        self._sign = 1.0 if self.exercise.counting.rest == "low" else -1.0
        self._sorted = []
        self._decided = False
        self._main = _Machine(side)
        history = self._tracks[side].x
        for x in history[:-1]:
            self._push_level(self._sign * x)
        self._rise = [math.inf] * (len(history) - 1)
        self._rise_array.reset()

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
        self._rise.append(math.inf)
        if levels is None:
            return []
        self._rise[-1] = rep_rules(levels[1] - levels[0], self.settings)[0]
        if not self._decided:
            # the frames before the range was known are judged with the rise known now
            self._rise = [self._rise[-1]] * len(self._rise)
            self._rise_array.reset()
            self._decided = True
        done = self._emit(self._main)
        if self._locked and self._alternates and self._other is None:
            self._other = _Machine(str(Side(self._side).other))
        if self._other is not None:
            done += self._emit(self._other)
        done.sort(key=lambda d: d.rep.end_frame)  # stable: the chosen side first at a tie
        out = [r for r in map(self._credit, done) if r is not None]
        return out + self._release() if self._pending else out

    def _credit(self, done: _Done) -> Rep | None:
        """The rep (counted on its own side) numbered and kept, unless it is a movement
        already counted on the other side, waits for the chosen side's rep in progress, or
        is (the other side's) too small a one."""
        rep, span = done
        if rep.side == self._side:
            if any(span_overlap(span, s) > 0.5 for r, s in zip(self._reps, self._spans)
                   if r.side != self._side):
                return None
            return self._keep(done)
        if any(span_overlap(span, d.span) > 0.5 for d in self._main.counted):
            return None
        if self._waits(done, self._in_progress(self._main)):
            self._pending.append(done)
            return None
        return self._keep_other(done)

    def _release(self, final: bool = False) -> list[Rep]:
        """The waiting reps of the other side whose chosen-side rep is over or has kept them
        waiting as long as they lasted: dropped when it was counted overlapping them, else
        counted now (``final``: all of them)."""
        now = None if final else self._in_progress(self._main)
        out, waiting = [], []
        for d in self._pending:
            if any(span_overlap(d.span, c.span) > 0.5 for c in self._main.counted):
                continue
            if self._waits(d, now):
                waiting.append(d)
                continue
            r = self._keep_other(d)
            if r is not None:
                out.append(r)
        self._pending = waiting
        return out

    def _keep_other(self, done: _Done) -> Rep | None:
        """A rep of the other side alone in time: kept unless too small beside the chosen
        side's median."""
        mine = [d.rep.rom_deg for d in self._main.counted]
        if mine and done.rep.rom_deg < self.settings.min_rep_fraction * float(np.median(mine)):
            return None
        return self._keep(done)

    def _keep(self, done: _Done) -> Rep:
        rep = dataclasses.replace(done.rep, index=len(self._reps) + 1)
        self._reps.append(rep)
        self._spans.append(done.span)
        return rep

    def _oriented(self, side: str, a: int = 0) -> np.ndarray:
        """``side``'s smoothed primary angle from frame ``a`` on, active position up."""
        track = self._tracks[side]
        return self._sign * track.x_array.of(track.x)[a:]

    def _run(self, m: _Machine) -> np.ndarray:
        """The state machine on ``m``'s side from its checkpoint, with the chosen side's
        rise and range (as offline, where the other side takes the chosen side's scale)."""
        c = self.exercise.counting
        a = m.checkpoint
        y = self._oriented(m.side, a)
        levels = self._levels()
        opening = rep_rules(levels[1] - levels[0], self.settings)[2] if levels else math.inf
        _, back, _ = rep_rules(1.0, self.settings)
        return K.swing_reps(
            y, self._t_array.of(self._t)[a:], self._rise_array.of(self._rise)[a:], back, opening,
            c.min_amplitude_deg, c.min_duration_s, c.max_duration_s, a > 0)

    def _emit(self, m: _Machine, final: bool = False) -> list[_Done]:
        """The reps ``m``'s side completed now, scored (counted on that side; not yet
        credited)."""
        ev = self._run(m)
        done = [row for row in ev if row[3] != K.KIND_PARTIAL_END or final]
        if (m.checkpoint == 0 and not final and len(done) == 1
                and done[0][3] in (K.KIND_OPENING, K.KIND_PARTIAL_START)):
            # the opening is judged against the range of a whole rep, as offline: wait for
            # the first rep after it to end
            return []
        if not done:
            return []
        a = m.checkpoint
        rows = self._judge_size(m, np.array(done, dtype=np.int64), a)
        segments = tuple(Segment(int(s) + a, int(p) + a, int(e) + a, KIND_NAMES[int(k)],
                                 int(s) + a) for s, p, e, k in rows)
        onsets = self._onsets(m, rows)
        main = m is self._main
        if main and a == 0 and rows[0, 3] == K.KIND_OPENING:
            self.start_state = "active"
        elif main and a == 0 and rows[0, 3] == K.KIND_PARTIAL_START:
            self.start_state = "between"
        elif main and a == 0:
            self.start_state = "rest"
        if not final or rows[-1, 3] != K.KIND_PARTIAL_END:
            m.checkpoint = int(rows[-1, 2]) + a
        if main and segments and not self._locked and any(sg.counted for sg in segments):
            self._locked = True
        counted = [_Done(r, (self._t[int(o)], r.end_s))
                   for r, o in zip(self._score(m, segments), onsets) if r.counted]
        m.counted += counted
        return counted

    def _judge_size(self, m: _Machine, done: np.ndarray, a: int) -> np.ndarray:
        """`rehab.reps.segment.mark_too_small` causally: each counted rep against the median
        of those counted so far on its side and itself."""
        y = self._oriented(m.side, a)
        amps = excursions(y, done)
        out = done.copy()
        for i in range(out.shape[0]):
            if out[i, 3] not in COUNTED_KINDS:
                continue
            seen = m.amps + [float(amps[i])]
            if len(seen) >= 2 and amps[i] < self.settings.min_rep_fraction * np.median(seen):
                out[i, 3] = K.KIND_TOO_SMALL
            else:
                m.amps.append(float(amps[i]))
        return out

    def _score(self, m: _Machine, segments: tuple[Segment, ...]) -> list[Rep]:
        """``segments`` scored on ``m``'s side's own signals."""
        track = self._tracks[m.side]
        comp = {c.id: np.asarray(track.comps[k], dtype=np.float64)
                for k, c in enumerate(self.exercise.compensations)}
        return score_reps(self.exercise, m.side, segments, track.x_array.of(track.x),
                          np.asarray(track.valid, dtype=np.bool_), self._t_array.of(self._t),
                          comp, self.settings, fps=self.fps)

    def finish(self) -> list[Rep]:
        """End of the session: a rep in progress is not a rep, so the other side's reps
        still waiting for one are counted now (as offline); nothing else is."""
        return self._release(final=True)
