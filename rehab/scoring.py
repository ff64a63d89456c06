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

__all__ = ["Measurement", "Part", "Rep", "RepScore", "apply_tracking", "compensation_value",
           "cue_for", "grade", "measure_reps", "score_compensations", "score_reps",
           "score_rom", "score_tempo", "symmetry_index"]


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
    x = np.ascontiguousarray(primary, np.float64)
    own = np.array([s.start for s in segments], dtype=np.int64)
    stats = K.rep_stats(x, starts, ends)
    inside = K.rep_stats(x, own, ends)  # the peak is taken inside the rep itself
    comp_ext = {cid: K.window_extremes(np.ascontiguousarray(sig, np.float64), starts, ends)
                for cid, sig in compensation_signals.items()}
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
        out.append(_score_one(exercise, seg, index if seg.counted else 0, stats[r], inside[r],
                              tracked,
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
               inside: np.ndarray, tracked: float, start_val: float, timestamps: np.ndarray,
               comps: dict[str, float], settings: AnalysisSettings, side: str,
               extra: tuple[str, ...]) -> Rep:
    """One rep's record from its window statistics (min, max, argmin, argmax from the rest
    before it, and inside the rep itself) and tracked fraction.

    The peak (the extreme away from rest, what the target refers to) and the time to peak
    come from the same frame inside the rep; the rest extreme from the rest before it.
    """
    rest_low = exercise.counting.rest == "low"
    if math.isfinite(inside[0]):
        peak_deg = float(inside[1] if rest_low else inside[0])
        peak_frame = int(inside[3] if rest_low else inside[2])
    else:
        peak_deg, peak_frame = math.nan, seg.peak
    rest_deg = float(stats[0] if rest_low else stats[1])
    lo, hi = (rest_deg, peak_deg) if rest_low else (peak_deg, rest_deg)
    if not math.isfinite(start_val):
        start_val = rest_deg
    rom, target_met = score_rom(peak_deg, start_val, exercise.target, rest_low, settings)
    t0 = float(timestamps[seg.start])
    duration = float(timestamps[seg.end] - t0)
    to_peak = float(timestamps[peak_frame] - t0)
    tempo = score_tempo(duration, to_peak, exercise.tempo, settings)
    comp = score_compensations(comps, exercise.compensations, settings)
    score, lost = apply_tracking(rom.points + tempo.points + comp.points, float(tracked),
                                 settings)
    return Rep(
        index=index, kind=seg.kind,
        start_frame=seg.start, peak_frame=peak_frame, end_frame=seg.end,
        start_s=t0, peak_s=float(timestamps[peak_frame]), end_s=float(timestamps[seg.end]),
        min_deg=float(lo), max_deg=float(hi), rom_deg=float(hi - lo), peak_deg=float(peak_deg),
        target_met=target_met, duration_s=duration, time_to_peak_s=to_peak,
        tracked_fraction=float(tracked),
        compensations={k: _nan_to_none(v) for k, v in comps.items()},
        score=score, flags=rom.flags + tempo.flags + comp.flags + lost + extra, side=side,
        rest_frame=seg.rest_start if seg.rest_start >= 0 else seg.start,
    )


@dataclasses.dataclass(frozen=True)
class Measurement:
    """What each frame's numbers rest on, for `measure_reps`: per side the smoothed angle and
    where it was seen, the body's deviation from the exercise's view (NaN where unknown or
    the exercise takes any view), the orientation, the counted limb's landmark visibility
    per side and the frames whose left/right labels were repaired or gated."""

    angle: dict[str, np.ndarray]
    seen: dict[str, np.ndarray]
    deviation: np.ndarray
    orientation: np.ndarray
    visibility: dict[str, np.ndarray]
    swapped: np.ndarray
    involved: str
    """The side taken as involved for the symmetry index (empty: the weaker side of a
    bilateral exercise, see `measure_reps`)."""


def grade(tracked: float, deviation: float | None, swapped_share: float,
          settings: AnalysisSettings) -> str:
    """A rep's measurement quality from what its number rests on.

    Problems: measured in fewer than ``min_tracked_fraction`` of its frames; the body
    turned more than ``view_tolerance_deg`` from the exercise's view; more than a tenth of
    its frames with left/right labels repaired or gated. ``good``: none; ``poor``: two or
    more, or measured in under half its frames, or turned more than 1.5 x the tolerance
    (45 deg by default: one segment's angle then off by up to 10 deg); ``fair``: one.
    """
    tol = settings.view_tolerance_deg
    problems = (int(tracked < settings.min_tracked_fraction)
                + int(deviation is not None and deviation > tol)
                + int(swapped_share > 0.1))
    if problems >= 2 or tracked < 0.5 or (deviation is not None and deviation > 1.5 * tol):
        return "poor"
    return "fair" if problems else "good"


def _with(rep: Rep, **fields: object) -> Rep:
    """``rep`` with some measurement fields set (values already of their field's type: a
    copy without `dataclasses.replace`'s re-validation, which costs most of an hour's
    measurement)."""
    out = object.__new__(Rep)
    out.__dict__.update(rep.__dict__)
    out.__dict__.update(fields)
    return out


def _opt(v: float) -> float | None:
    return float(v) if math.isfinite(v) else None


def symmetry_index(left_rom: float | None, right_rom: float | None,
                   involved: str) -> float | None:
    """Involved over uninvolved range of motion x 100 (None unless both were seen and the
    uninvolved side moved more than a degree)."""
    if left_rom is None or right_rom is None:
        return None
    inv, uninv = (left_rom, right_rom) if involved == "left" else (right_rom, left_rom)
    return 100.0 * inv / uninv if uninv > 1.0 else None


def measure_reps(reps: list[Rep], exercise: Exercise, m: Measurement, bilateral: bool,
                 settings: AnalysisSettings | None = None) -> tuple[list[Rep], str]:
    """Each rep with what its number rests on: both sides' peak and range of motion (the
    counted side's are the rep's own; another side seen in fewer than
    ``min_tracked_fraction`` of the rep's frames gives None), the limb symmetry index of a
    bilateral rep (`symmetry_index`), the median orientation, the counted limb's mean
    visibility, the frames with swaps, the quality grade (`grade`), and the
    `Flag.WRONG_VIEW` flag beyond the view tolerance. Returns them and the side taken as
    involved: ``m.involved`` when it names a side, else (a bilateral exercise with no
    affected side given) the side with less range of motion over the counted reps."""
    if not reps:
        return [], m.involved
    settings = settings or exercise.settings
    rest_low = exercise.counting.rest == "low"
    starts = np.array([r.start_frame for r in reps], np.int64)
    ends = np.array([r.end_frame for r in reps], np.int64)
    rests = np.array([r.rest_frame if 0 <= r.rest_frame <= r.start_frame else r.start_frame
                      for r in reps], np.int64)
    span = (ends - starts + 1).astype(np.float64)

    def in_window(x: np.ndarray) -> np.ndarray:
        c = np.r_[0.0, np.cumsum(x, dtype=np.float64)]
        return c[ends + 1] - c[starts]

    sides: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    for side, x in m.angle.items():
        x = np.ascontiguousarray(x, np.float64)
        own = K.window_extremes(x, starts, ends)
        before = K.window_extremes(x, rests, ends)
        peak = own[:, 0] if rest_low else own[:, 1]
        rest = before[:, 1] if rest_low else before[:, 0]
        sides[side] = (peak, np.abs(peak - rest), in_window(m.seen[side]) / span)
    orient = K.window_medians(np.ascontiguousarray(m.orientation, np.float64), starts, ends)
    dev = K.window_medians(np.ascontiguousarray(m.deviation, np.float64), starts, ends)
    swapped = in_window(m.swapped.astype(np.float64)).astype(np.int64)
    visibility = {side: in_window(np.nan_to_num(v)) / span for side, v in m.visibility.items()}
    both: list[tuple[float | None, float | None, float | None, float | None]] = []
    for k, r in enumerate(reps):
        per: dict[str, tuple[float | None, float | None]] = {}
        for side, (peak, rom, seen) in sides.items():
            if side == r.side:  # the counted side: the rep's own numbers
                per[side] = (r.peak_deg, r.rom_deg)
            elif seen[k] < settings.min_tracked_fraction:
                per[side] = (None, None)
            else:
                per[side] = (_opt(peak[k]), _opt(rom[k]))
        both.append(per.get("left", (None, None)) + per.get("right", (None, None)))
    involved = m.involved
    if bilateral and involved not in ("left", "right"):
        # no affected side: the side with less range of motion over the counted reps
        lroms = [v for (_, v, _, _), r in zip(both, reps) if r.counted and v is not None]
        rroms = [v for (_, _, _, v), r in zip(both, reps) if r.counted and v is not None]
        if lroms and rroms:
            involved = "left" if np.median(lroms) <= np.median(rroms) else "right"
    out = []
    for k, (r, (lp, lrom, rp, rrom)) in enumerate(zip(reps, both)):
        vis = visibility.get(r.side or "", visibility.get("none"))
        d = _opt(dev[k])
        flags = r.flags
        if d is not None and d > settings.view_tolerance_deg and Flag.WRONG_VIEW not in flags:
            flags = flags + (Flag.WRONG_VIEW,)
        out.append(_with(
            r, left_peak_deg=lp, right_peak_deg=rp, left_rom_deg=lrom, right_rom_deg=rrom,
            symmetry_pct=symmetry_index(lrom, rrom, involved) if bilateral else None,
            view_deg=_opt(orient[k]),
            visibility=None if vis is None else _opt(vis[k]),
            swapped_frames=int(swapped[k]), flags=flags,
            quality=grade(r.tracked_fraction, d, swapped[k] / span[k], settings)))
    return out, involved


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
