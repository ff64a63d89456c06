"""Score each repetition against the exercise's prescription.

A rep's score (0-100) has three parts, and every point lost comes with a flag:

- **range of motion, 60 points**: the rep's peak angle (its extreme away from rest) should
  lie in the target band. Short of the band, points fall in proportion to the missing
  excursion (``short_of_target``); beyond it, one point per degree, at most 30
  (``beyond_target``).
- **tempo, 20 points**: duration within ``[min_rep_s, max_rep_s]`` (``too_fast`` /
  ``too_slow``, points scaled by the ratio); reaching the peak sooner than ``min_to_peak_s``
  costs 5 (``rushed``).
- **compensations, 20 points** shared between the compensations the exercise names; one
  that exceeds its limit is flagged by its id and costs half its share plus the rest in
  proportion to the excess (all of it at twice the limit). A compensation that cannot be
  measured (landmarks not visible) costs nothing and is reported as null.

A rep whose primary angle was measured in less than 80% of its frames is flagged
``tracking_lost`` and its score scaled by the measured fraction.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from rehab.exercises import Exercise
from rehab.kinematics import _kernels as K
from rehab.reps import Segment

ROM_POINTS = 60.0
TEMPO_POINTS = 20.0
COMPENSATION_POINTS = 20.0
MAX_OVERSHOOT_PENALTY = 30.0
RUSHED_PENALTY = 5.0
MIN_TRACKED_FRACTION = 0.8


@dataclasses.dataclass(frozen=True)
class RepScore:
    """One scored repetition (times in seconds of the recording, angles in degrees)."""

    index: int
    kind: str
    start_frame: int
    peak_frame: int
    end_frame: int
    start_s: float
    peak_s: float
    end_s: float
    min_deg: float
    max_deg: float
    rom_deg: float
    peak_deg: float
    target_met: bool
    duration_s: float
    time_to_peak_s: float
    tracked_fraction: float
    compensations: dict[str, float | None]
    score: int
    flags: tuple[str, ...]

    @property
    def counted(self) -> bool:
        return self.kind == "complete"


def _nan_to_none(x: float) -> float | None:
    return None if not math.isfinite(x) else float(x)


def score_reps(
    exercise: Exercise,
    side: str,
    segments: tuple[Segment, ...],
    primary: np.ndarray,
    primary_valid: np.ndarray,
    timestamps: np.ndarray,
    compensation_signals: dict[str, np.ndarray],
) -> list[RepScore]:
    """Score every segment (counted or not) of ``primary`` (smoothed angle, degrees).

    ``primary_valid`` marks frames where the angle was measured (before gap filling);
    ``compensation_signals`` maps each compensation id to its smoothed angle signal.
    """
    if not segments:
        return []
    starts = np.array([s.rest_start if s.rest_start >= 0 else s.start for s in segments],
                      dtype=np.int64)
    ends = np.array([s.end for s in segments], dtype=np.int64)
    stats = K.rep_stats(np.ascontiguousarray(primary, np.float64),
                        np.ascontiguousarray(timestamps, np.float64), starts, ends,
                        np.ascontiguousarray(primary_valid, np.bool_))
    comp_ext = {cid: K.window_extremes(np.ascontiguousarray(sig, np.float64), starts, ends)
                for cid, sig in compensation_signals.items()}
    target = exercise.target
    tempo = exercise.tempo
    rest_low = exercise.counting.rest == "low"
    n_comp = len(exercise.compensations)
    out: list[RepScore] = []
    index = 0
    for r, seg in enumerate(segments):
        lo, hi, ilo, ihi, tracked = stats[r]
        flags: list[str] = []
        # Peak angle: the extreme away from the exercise's rest position (for the target);
        # peak time: the rep's turning point (the same, unless the recording's own rest
        # position is the exercise's active one, see reps.Segmentation.start_state).
        peak_deg = hi if rest_low else lo
        peak_i = seg.peak
        start_val = primary[starts[r]]
        if not math.isfinite(start_val):
            start_val = lo if rest_low else hi
        # --- range of motion
        if rest_low:
            short = target.min_deg - peak_deg
            over = peak_deg - target.max_deg
            required = target.min_deg - start_val
        else:
            short = peak_deg - target.max_deg
            over = target.min_deg - peak_deg
            required = start_val - target.max_deg
        rom_pts = ROM_POINTS
        if short > 0:
            rom_pts = ROM_POINTS * min(1.0, max(0.0, 1.0 - short / max(required, 1.0)))
            flags.append("short_of_target")
        elif over > 0:
            rom_pts = ROM_POINTS - min(MAX_OVERSHOOT_PENALTY, over)
            flags.append("beyond_target")
        target_met = bool(short <= 0 and over <= 0)
        # --- tempo
        t0 = float(timestamps[seg.start])
        duration = float(timestamps[seg.end] - t0)
        to_peak = float(timestamps[peak_i] - t0)
        tempo_pts = TEMPO_POINTS
        if duration < tempo.min_rep_s:
            tempo_pts = TEMPO_POINTS * duration / tempo.min_rep_s
            flags.append("too_fast")
        elif duration > tempo.max_rep_s:
            tempo_pts = TEMPO_POINTS * tempo.max_rep_s / duration
            flags.append("too_slow")
        if to_peak < tempo.min_to_peak_s and "too_fast" not in flags:
            tempo_pts = max(0.0, tempo_pts - RUSHED_PENALTY)
            flags.append("rushed")
        # --- compensations
        comp_pts = COMPENSATION_POINTS
        comp_values: dict[str, float | None] = {}
        for comp in exercise.compensations:
            hi_c, lo_c, first_c = comp_ext[comp.id][r]
            if comp.measure == "peak":
                value = hi_c
            else:
                value = max(abs(hi_c - first_c), abs(lo_c - first_c))
            comp_values[comp.id] = _nan_to_none(value)
            if math.isfinite(value) and value > comp.max_deg:
                share = COMPENSATION_POINTS / n_comp
                excess = (value - comp.max_deg) / max(comp.max_deg, 1.0)
                comp_pts -= share * min(1.0, 0.5 + 0.5 * excess)
                flags.append(comp.id)
        total = rom_pts + tempo_pts + comp_pts
        if tracked < MIN_TRACKED_FRACTION:
            total *= tracked
            flags.append("tracking_lost")
        if seg.counted:
            index += 1
        out.append(RepScore(
            index=index if seg.counted else 0,
            kind=seg.kind,
            start_frame=seg.start, peak_frame=peak_i, end_frame=seg.end,
            start_s=t0, peak_s=float(timestamps[peak_i]), end_s=float(timestamps[seg.end]),
            min_deg=float(lo), max_deg=float(hi), rom_deg=float(hi - lo), peak_deg=float(peak_deg),
            target_met=target_met, duration_s=duration, time_to_peak_s=to_peak,
            tracked_fraction=float(tracked), compensations=comp_values,
            score=int(round(max(0.0, min(100.0, total)))), flags=tuple(flags),
        ))
    return out


def cue_for(exercise: Exercise, rep: RepScore) -> str:
    """The one most useful plain-language cue after ``rep``."""
    cues = exercise.cues
    if "tracking_lost" in rep.flags:
        return cues.not_visible
    if "short_of_target" in rep.flags:
        return cues.too_shallow
    for comp in exercise.compensations:
        if comp.id in rep.flags and comp.cue:
            return comp.cue
    if "too_fast" in rep.flags or "rushed" in rep.flags:
        return cues.too_fast
    if "beyond_target" in rep.flags:
        return cues.too_far
    if "too_slow" in rep.flags:
        return cues.too_slow
    return cues.good
