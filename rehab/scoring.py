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
``tracking_lost`` and its score scaled by the measured fraction. Its frames are those the
rep spanned at the source's frame rate (``fps``), so frames the camera delivered but the
program dropped count as unmeasured. A rep with a stretch unmeasured for longer than the
exercise's ``min_duration_s`` (a whole repetition could hide there) is flagged ``sparse``.

Each part is a pure function (`score_rom`, `score_tempo`, `score_compensations`,
`apply_tracking`); every number above is a field of `rehab.settings.AnalysisSettings`.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from rehab.exercises import Compensation, Exercise, Target, Tempo
from rehab.model import Flag, Rep, RepScore, Segment
from rehab.reps import _kernels as K
from rehab.settings import AnalysisSettings

__all__ = ["Part", "Rep", "RepScore", "apply_tracking", "compensation_value", "cue_for",
           "score_compensations", "score_reps", "score_rom", "score_tempo"]


@dataclasses.dataclass(frozen=True)
class Part:
    """Points of one part of a rep's score and the flags that explain the points lost."""

    points: float
    flags: tuple[str, ...] = ()


def score_rom(peak_deg: float, start_deg: float, target: Target, rest_low: bool,
              settings: AnalysisSettings) -> tuple[Part, bool]:
    """Range-of-motion points and whether the peak lies in the target band.

    Short of the band, points fall in proportion to the missing share of the excursion
    needed from the rep's start (``short_of_target``); beyond it, one point per degree up
    to ``max_overshoot_penalty`` (``beyond_target``).
    """
    full = settings.rom_points
    if rest_low:
        short, over = target.min_deg - peak_deg, peak_deg - target.max_deg
        required = target.min_deg - start_deg
    else:
        short, over = peak_deg - target.max_deg, target.min_deg - peak_deg
        required = start_deg - target.max_deg
    met = bool(short <= 0 and over <= 0)
    if short > 0:
        return Part(full * min(1.0, max(0.0, 1.0 - short / max(required, 1.0))),
                    (Flag.SHORT_OF_TARGET,)), met
    if over > 0:
        return Part(full - min(settings.max_overshoot_penalty, over),
                    (Flag.BEYOND_TARGET,)), met
    return Part(full), met


def score_tempo(duration_s: float, to_peak_s: float, tempo: Tempo,
                settings: AnalysisSettings) -> Part:
    """Tempo points: duration within the band (``too_fast``/``too_slow``, points scaled by
    the ratio); reaching the peak too soon costs ``rushed_penalty`` (``rushed``)."""
    full = settings.tempo_points
    points, flags = full, []
    if duration_s < tempo.min_rep_s:
        points = full * duration_s / tempo.min_rep_s
        flags.append(Flag.TOO_FAST)
    elif duration_s > tempo.max_rep_s:
        points = full * tempo.max_rep_s / duration_s
        flags.append(Flag.TOO_SLOW)
    if to_peak_s < tempo.min_to_peak_s and Flag.TOO_FAST not in flags:
        points = max(0.0, points - settings.rushed_penalty)
        flags.append(Flag.RUSHED)
    return Part(points, tuple(flags))


def compensation_value(comp: Compensation, high: float, low: float, first: float) -> float:
    """A compensation's value in one rep: its peak, or its largest change from the first
    sample (``measure = "change"``); NaN when not measurable."""
    if comp.measure == "peak":
        return high
    return max(abs(high - first), abs(low - first))


def score_compensations(values: dict[str, float], compensations: tuple[Compensation, ...],
                        settings: AnalysisSettings) -> Part:
    """Compensation points: each compensation over its limit is flagged by its id and costs
    half its share plus the rest in proportion to the excess (all of it at twice the limit).
    A value that could not be measured (NaN) costs nothing."""
    points, flags = settings.compensation_points, []
    share = settings.compensation_points / max(1, len(compensations))
    for comp in compensations:
        value = values[comp.id]
        if math.isfinite(value) and value > comp.max_deg:
            excess = (value - comp.max_deg) / max(comp.max_deg, 1.0)
            points -= share * min(1.0, 0.5 + 0.5 * excess)
            flags.append(comp.id)
    return Part(points, tuple(flags))


def apply_tracking(total: float, tracked_fraction: float,
                   settings: AnalysisSettings) -> tuple[int, tuple[str, ...]]:
    """The final 0-100 score: scaled by the measured fraction below
    ``min_tracked_fraction`` (``tracking_lost``)."""
    flags: tuple[str, ...] = ()
    if tracked_fraction < settings.min_tracked_fraction:
        total *= tracked_fraction
        flags = (Flag.TRACKING_LOST,)
    return int(round(max(0.0, min(100.0, total)))), flags


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
    settings: AnalysisSettings | None = None,
    fps: float | None = None,
) -> list[Rep]:
    """Score every segment (counted or not) of ``primary`` (smoothed angle, degrees).

    ``primary_valid`` marks frames where the angle was measured (before gap filling);
    ``compensation_signals`` maps each compensation id to its smoothed angle signal;
    ``settings`` defaults to the exercise's; ``fps`` is the source's frame rate (the
    frames a rep spanned are counted at that rate; default: the frames present).
    """
    if not segments:
        return []
    settings = settings or exercise.settings
    starts = np.array([s.rest_start if s.rest_start >= 0 else s.start for s in segments],
                      dtype=np.int64)
    ends = np.array([s.end for s in segments], dtype=np.int64)
    stats = K.rep_stats(np.ascontiguousarray(primary, np.float64), starts, ends)
    comp_ext = {cid: K.window_extremes(np.ascontiguousarray(sig, np.float64), starts, ends)
                for cid, sig in compensation_signals.items()}
    own = np.array([s.start for s in segments], dtype=np.int64)
    coverage = K.rep_coverage(np.ascontiguousarray(timestamps, np.float64),
                              np.ascontiguousarray(primary_valid, np.bool_), own, ends)
    out: list[Rep] = []
    index = 0
    for r, seg in enumerate(segments):
        index += seg.counted
        comps = {c.id: compensation_value(c, *comp_ext[c.id][r]) for c in exercise.compensations}
        # tracking is judged on the rep itself (onset to end), not the rest before it
        tracked = tracked_fraction(int(coverage[r, 0]), seg.end - seg.start + 1,
                                   float(timestamps[seg.end] - timestamps[seg.start]), fps)
        sparse = coverage[r, 1] > exercise.counting.min_duration_s
        out.append(_score_one(exercise, seg, index if seg.counted else 0, stats[r], tracked,
                              float(primary[starts[r]]), timestamps, comps, settings,
                              str(side), (Flag.SPARSE,) if sparse else ()))
    return out


def tracked_fraction(measured: int, present: int, duration_s: float,
                     fps: float | None) -> float:
    """``measured`` frames over the frames the rep spanned: at ``fps`` when known, and at
    least the ``present`` ones."""
    expected = present
    if fps is not None and math.isfinite(fps) and fps > 0 and math.isfinite(duration_s):
        expected = max(present, int(round(duration_s * fps)) + 1)
    return measured / expected


def _score_one(exercise: Exercise, seg: Segment, index: int, stats: np.ndarray,
               tracked: float, start_val: float, timestamps: np.ndarray,
               comps: dict[str, float], settings: AnalysisSettings, side: str,
               extra: tuple[str, ...]) -> Rep:
    """One rep's record from its window statistics (min, max) and tracked fraction."""
    lo, hi, _, _ = stats
    rest_low = exercise.counting.rest == "low"
    # Peak angle: the extreme away from the exercise's rest position (for the target).
    peak_deg = hi if rest_low else lo
    if not math.isfinite(start_val):
        start_val = lo if rest_low else hi
    rom, target_met = score_rom(peak_deg, start_val, exercise.target, rest_low, settings)
    t0 = float(timestamps[seg.start])
    duration = float(timestamps[seg.end] - t0)
    to_peak = float(timestamps[seg.peak] - t0)
    tempo = score_tempo(duration, to_peak, exercise.tempo, settings)
    comp = score_compensations(comps, exercise.compensations, settings)
    score, lost = apply_tracking(rom.points + tempo.points + comp.points, float(tracked),
                                 settings)
    return Rep(
        index=index, kind=seg.kind,
        start_frame=seg.start, peak_frame=seg.peak, end_frame=seg.end,
        start_s=t0, peak_s=float(timestamps[seg.peak]), end_s=float(timestamps[seg.end]),
        min_deg=float(lo), max_deg=float(hi), rom_deg=float(hi - lo), peak_deg=float(peak_deg),
        target_met=target_met, duration_s=duration, time_to_peak_s=to_peak,
        tracked_fraction=float(tracked),
        compensations={k: _nan_to_none(v) for k, v in comps.items()},
        score=score, flags=rom.flags + tempo.flags + comp.flags + lost + extra, side=side,
    )


def cue_for(exercise: Exercise, rep: Rep) -> str:
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
