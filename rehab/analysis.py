"""The offline analysis: pose sequence -> angles -> repetitions -> scores.

`analyze_sequence` is the library entry point that everything else (CLI, validation, live
and batch sessions, reports) reuses; `write_outputs` writes ``result.json``, ``reps.csv``,
``angles.csv`` and ``landmarks.npz`` into a folder, each atomically, through `rehab.codec`.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import math
import os
from pathlib import Path
from typing import Callable, Literal

import numpy as np

from rehab.codec import reps_csv as _reps_csv_text
from rehab.codec import encode, reps_by_side, result_document, swaps_text, symmetry_text
from rehab.errors import InputError, NoPoseError, OutputError
from rehab.exercises import Exercise, compensation_column
from rehab.fileio import StagedFolder, write_json_atomic, write_text_atomic
from rehab.kinematics import AngleSet, compute_angles_and_estimates, smooth_signal
from rehab.kinematics import _kernels as K
from rehab.kinematics.swaps import repair_swaps
from rehab.kinematics.view import body_orientation, view_deviation
from rehab.model import (
    RESULT_SCHEMA_VERSION,
    TRUNK_ANGLES,
    Analysis,
    Note,
    NoteCode,
    Flag,
    Rep,
    RepKind,
    Segmentation,
    Side,
    SwapSummary,
    Symmetry,
    ViewCheck,
    angle_column,
    sides_of,
)
from rehab.reps import segment_reps, side_score, span_overlap
from rehab.scoring import Measurement, measure_reps, score_reps, symmetry_index
from rehab.sequence import PoseSequence, save_npz
from rehab.settings import AnalysisSettings

log = logging.getLogger(__name__)

__all__ = ["Analysis", "RESULT_FILES", "RESULT_SCHEMA_VERSION", "analyze_sequence",
           "angles_csv", "check_out_dir", "choose_side", "prepare_out_dir", "reps_csv",
           "result_folder", "write_outputs"]

RESULT_FILES = frozenset({"result.json", "reps.csv", "angles.csv", "landmarks.npz",
                          "overlay.mp4", "session.json",
                          "markers.trc", "angles.mot", "markers.c3d"})  # rehab.exports
"""The files of a result folder (``rehab analyze --out``, ``rehab live --record``): a
folder holding only these may be replaced by a new run; any other file makes it refuse."""


def choose_side(angles: AngleSet, exercise: Exercise, side: str = "auto",
                smoothed: dict[str, np.ndarray] | None = None,
                settings: AnalysisSettings | None = None) -> tuple[str, dict[str, float]]:
    """The side to count on: as asked, or (``auto``, ``both``) the one that moves most and
    is best seen."""
    settings = settings or exercise.settings
    name = exercise.counting.angle
    if name in TRUNK_ANGLES:
        return (Side.NONE, {})
    scores = {}
    for s in (Side.LEFT, Side.RIGHT):
        x = smoothed[s] if smoothed is not None else angles.column(name, s)
        scores[str(s)] = side_score(x, settings)
    if side in ("left", "right"):
        return Side(side), scores
    _check_side(side)
    return Side(max(scores, key=lambda s: scores[s])), scores


def _check_side(side: str) -> None:
    """Refuse a side other than left, right, both or auto."""
    if side not in ("left", "right", "both", "auto"):
        raise InputError(f"side must be left, right, both or auto, not {side!r}")


def _check_measured(seq: PoseSequence, exercise: Exercise, side: str, raw: np.ndarray,
                    settings: AnalysisSettings) -> list[Note]:
    """Refuse when the primary angle is too rarely measured; a note when only partly."""
    name = exercise.counting.angle
    frac = np.isfinite(raw).sum() / max(1, seq.detected.sum())
    if frac < settings.min_measured_fraction:
        where = f"the {side} " if side != Side.NONE else "the "
        raise NoPoseError(
            f"{seq.source or 'input'}: {where}{name.replace('_', ' ')} could be measured in only "
            f"{100 * frac:.0f}% of the frames with a person; the joints it needs "
            f"are out of view or hidden (film the whole limb, {exercise.view} view)")
    if frac < settings.partly_measured_fraction:
        return [Note(NoteCode.PARTLY_MEASURED,
                     f"{name} measured in {100 * frac:.0f}% of frames with a person "
                     f"(limb partly out of view or hidden)", {"fraction": round(frac, 4)})]
    return []


def analyze_sequence(seq: PoseSequence, exercise: Exercise, side: str = "auto",
                     space: Literal["image", "world"] | None = None,
                     settings: AnalysisSettings | None = None) -> Analysis:
    """Analyse one pose sequence for ``exercise`` (target already applied to the exercise).

    ``settings`` default to the exercise's (the defaults with its TOML's ``[settings]``).
    """
    if seq.n_frames == 0:
        raise InputError(f"{seq.source or 'input'}: no frames")
    if seq.frames_with_pose == 0:
        raise NoPoseError(f"{seq.source or 'input'}: no person detected in any of "
                          f"{seq.n_frames} frames")
    settings = settings or exercise.settings
    space = space or exercise.counting.space
    _check_side(side)  # before any work
    seq, swap_report = repair_swaps(seq, min_confidence=settings.swap_min_confidence)
    measured, glimpses = without_glimpses(seq, settings.min_track_s)
    angles, estimates = compute_angles_and_estimates(measured, space=space,
                                                     min_visibility=settings.min_visibility)
    if swap_report.guess is not None:
        # frames gated as unresolved swaps are not measured; the count follows the model's
        # labels there, as it follows its estimate of a hidden limb (those reps are flagged)
        rows = np.flatnonzero(swap_report.gated & measured.detected)
        _, guessed = compute_angles_and_estimates(swap_report.guess.frames(rows), space=space,
                                                  min_visibility=settings.min_visibility)
        values = estimates.values.copy()
        values[rows] = guessed.values
        estimates = dataclasses.replace(estimates, values=values)
    t = seq.timestamps
    name = exercise.counting.angle

    def smooth(x: np.ndarray) -> np.ndarray:
        return smooth_signal(x, t, settings.cutoff_hz, settings.max_gap_s)

    sides_smoothed = {str(s): smooth(angles.column(name, s)) for s in sides_of(name)}
    chosen, side_scores = choose_side(angles, exercise, side, sides_smoothed, settings)
    raw = angles.column(name, chosen)
    notes = list(seq.notes) + _check_measured(seq, exercise, chosen, raw, settings)
    swaps = SwapSummary(swap_report.n_repaired, swap_report.n_gated,
                        {k: list(v) for k, v in swap_report.by_group.items()})
    if swaps.repaired_frames or swaps.gated_frames:
        notes.append(Note(NoteCode.SWAPS, swaps_text(swaps), encode(swaps)))
    if glimpses:
        notes.append(Note(NoteCode.PARTLY_MEASURED,
                          f"{glimpses} frame(s) where a person was found only for a moment "
                          f"(runs under {settings.min_track_s:g} s between frames without one) "
                          f"not measured", {"glimpse_frames": glimpses}))
    if side in ("auto", "both") and chosen != Side.NONE:
        why = ("no affected side given" if side == "auto" else
               "both sides prescribed; counted on this one, both scored")
        notes.append(Note(NoteCode.SIDE_CHOSEN, f"side {side}: {chosen}, the side that moves "
                          f"most and is best seen ({why}; movement x visibility: "
                          + ", ".join(f"{k} {v:.1f}" for k, v in side_scores.items()) + ")",
                          {"side": str(chosen), "scores": side_scores, "asked": side}))
    elif chosen != Side.NONE:
        notes.append(Note(NoteCode.SIDE_CHOSEN, f"side {chosen}: the affected side, scored "
                          f"and headlined; the {Side(chosen).other} side is measured beside it",
                          {"side": str(chosen), "scores": side_scores, "asked": side}))
    if exercise.bilateral and side in ("auto", "both") and chosen != Side.NONE:
        other_raw = angles.column(name, Side(chosen).other)
        filled = ~np.isfinite(raw) & np.isfinite(other_raw)
        if filled.any():
            # both limbs do the movement: where the chosen one is hidden, the other one shows it
            raw = np.where(filled, other_raw, raw)
            sides_smoothed[str(chosen)] = smooth(raw)
            notes.append(Note(NoteCode.SIDE_CHOSEN, f"{100 * filled.mean():.0f}% of frames "
                              f"measured on the {Side(chosen).other} side where the {chosen} "
                              f"was hidden", {"filled_fraction": round(float(filled.mean()), 4)}))
    if chosen != Side.NONE:
        notes += _count_hidden_on_estimates(estimates, exercise, raw, sides_smoothed, smooth,
                                            str(chosen))
    primary = sides_smoothed[str(chosen)]
    segmentation = segment_reps(primary, t, exercise, settings)
    if segmentation.start_state == "active":
        notes.append(Note(NoteCode.ACTIVE_START,
                          f"recording opens in the {name.replace('_', ' ')} active position; "
                          f"its return to rest is counted as the first repetition"))

    def comp_signals_of(s: str) -> dict[str, np.ndarray]:
        return {comp.id: smooth(angles[compensation_column(comp, s)])
                for comp in exercise.compensations}

    def score(s: str, seg: Segmentation, comps: dict[str, np.ndarray]) -> list[Rep]:
        measured = raw if s == chosen else angles.column(name, s)
        return score_reps(exercise, s, seg.segments, sides_smoothed[s], np.isfinite(measured),
                          t, comps, settings, fps=seq.fps)

    comp_signals = comp_signals_of(chosen)
    scored = score(chosen, segmentation, comp_signals)
    if side == "both" and exercise.bilateral and chosen != Side.NONE:
        other = str(Side(chosen).other)
        scored = score_both(scored, score(other, segmentation, comp_signals_of(other)))
    alternating = False
    if _may_alternate(exercise, side, chosen):
        expected = side == "both" or exercise.counting.alternation == "expected"
        other = str(Side(chosen).other)
        scale = abs(segmentation.active_level - segmentation.rest_level)
        other_seg = segment_reps(sides_smoothed[other], t, exercise, settings,
                                 scale=scale if math.isfinite(scale) else None)
        merged = merge_sides(scored, score(other, other_seg, comp_signals_of(other)),
                             exercise, settings, expected=expected)
        if merged is not None:
            scored, alternating = merged, True
            by_side = reps_by_side([r for r in scored if r.counted], ("left", "right"), chosen)
            notes.append(Note(NoteCode.ALTERNATING,
                              f"done alternately: left {by_side['left']}, right "
                              f"{by_side['right']} repetitions (both sides counted, merged in "
                              f"time)", by_side))
        elif expected:
            notes.append(Note(NoteCode.ALTERNATING, f"alternation expected, but only the "
                                                    f"{chosen} side did repetitions",
                              {"left": 0, "right": 0, str(chosen): len(
                                  [r for r in scored if r.counted])}))
    orientation = body_orientation(seq, settings.min_visibility)
    measurement = Measurement(
        angle=dict(sides_smoothed),
        seen={k: np.isfinite(raw if k == chosen else angles.column(name, k))
              for k in sides_smoothed},
        deviation=view_deviation(orientation, exercise.view), orientation=orientation,
        visibility=limb_visibility(seq.visibility, name),
        swapped=swap_report.repaired | swap_report.gated,
        involved=side if side in ("left", "right") else
        ("" if exercise.bilateral else str(chosen)))
    scored, involved = measure_reps(scored, exercise, measurement, exercise.bilateral,
                                    settings)
    view = view_check(measurement.orientation, measurement.deviation, exercise.view,
                      seq.detected, settings.view_tolerance_deg)
    if view.warning:
        notes.append(view_note(view))
    reps = tuple(r for r in scored if r.counted)
    partial = tuple(r for r in scored if not r.counted)
    symmetry = session_symmetry(reps, exercise.bilateral, alternating, involved)
    if symmetry is not None and symmetry.index_pct is not None:
        notes.append(Note(NoteCode.SYMMETRY, symmetry_text(symmetry),
                          encode(symmetry, rounded=True)))
    for r in partial:
        notes.append(Note(NoteCode.NOT_COUNTED, f"not counted: {r.kind.replace('_', ' ')} "
                          f"movement {r.start_s:.2f}-{r.end_s:.2f} s",
                          {"kind": str(r.kind), "start_s": round(r.start_s, 4),
                           "end_s": round(r.end_s, 4)}))
    for r in reps:
        if Flag.SPARSE in r.flags:
            notes.append(Note(NoteCode.SPARSE, f"rep {r.index} ({r.start_s:.2f}-{r.end_s:.2f} s)"
                              f" was measured in only {100 * r.tracked_fraction:.0f}% of its "
                              f"frames, with gaps long enough to hide a repetition: reps there "
                              f"may be merged or missed",
                              {"rep": r.index, "tracked_fraction": round(r.tracked_fraction, 4)}))
    notes += unmeasured_stretches(primary, t, exercise.counting.min_duration_s)
    if not reps:
        notes.append(Note(NoteCode.NO_REPS, "no complete repetition found"))
    smoothed = {"primary": primary, **comp_signals,
                **{f"primary_{s}": x for s, x in sides_smoothed.items() if s != Side.NONE}}
    return Analysis(exercise=exercise, side=chosen, sequence=seq, angles=angles,
                    smoothed=smoothed, segmentation=segmentation,
                    reps=reps, partial=partial, side_scores=side_scores, notes=tuple(notes),
                    settings=settings, alternating=alternating,
                    involved=side if side != "auto" else "", view=view, symmetry=symmetry,
                    swaps=swaps)


def score_both(chosen: list[Rep], other: list[Rep]) -> list[Rep]:
    """Reps of a bilateral exercise prescribed on both sides: each rep scored on both (the
    same segments): the target is met when both sides met it, the score is the weaker
    side's, and the flags are those of both."""
    out = []
    for a, b in zip(chosen, other):
        flags = a.flags + tuple(f for f in b.flags if f not in a.flags)
        out.append(dataclasses.replace(a, target_met=a.target_met and b.target_met,
                                       score=min(a.score, b.score), flags=flags))
    return out


def limb_visibility(visibility: np.ndarray, name: str,
                    sides: tuple[str, ...] | None = None) -> dict[str, np.ndarray]:
    """Per side (default: every side of ``name``), the mean visibility (T, 33) of the
    landmarks the angle ``name`` needs, per frame."""
    from rehab.kinematics.angles import angle_landmarks
    from rehab.model import LANDMARK_INDEX

    out = {}
    for s in sides or sides_of(name):
        idx = [LANDMARK_INDEX[n] for n in angle_landmarks(angle_column(name, s))]
        out[str(s)] = visibility[:, idx].astype(np.float64).mean(axis=1)
    return out


def view_check(orientation: np.ndarray, deviation: np.ndarray, expected: str,
               detected: np.ndarray, tolerance: float) -> ViewCheck:
    """The session's `ViewCheck` from the per-frame orientation and deviation."""
    o = orientation[detected]
    d = deviation[detected]
    seen = np.isfinite(o)
    dev = d[np.isfinite(d)]
    return ViewCheck(
        expected=expected,
        orientation_deg=float(np.median(o[seen])) if seen.any() else None,
        deviation_deg=float(np.median(dev)) if dev.size else None,
        off_fraction=float((dev > tolerance).mean()) if dev.size else 0.0,
        tolerance_deg=float(tolerance),
        measured_fraction=float(seen.mean()) if o.size else 0.0)


VIEW_ADVICE = {"side": "film from the side, the moving limb towards the camera",
               "front": "film from the front, the chest towards the camera"}


def view_note(view: ViewCheck) -> Note:
    """The note of a view beyond the tolerance."""
    return Note(NoteCode.VIEW, f"camera view: the body is turned {view.deviation_deg:.0f} deg "
                f"away from the {view.expected} view this exercise is measured in (tolerance "
                f"{view.tolerance_deg:g} deg, {100 * view.off_fraction:.0f}% of frames beyond "
                f"it); angles measured in the image plane are foreshortened: "
                f"{VIEW_ADVICE.get(view.expected, '')}", encode(view, rounded=True))


def session_symmetry(reps: tuple[Rep, ...], bilateral: bool, alternating: bool,
                     involved: str) -> Symmetry | None:
    """Left against right over a session's counted reps (`Symmetry`), or None when the
    exercise is one-sided and was not done alternately (the other limb rested)."""
    if involved not in ("left", "right") or not (bilateral or alternating):
        return None
    if bilateral:
        lrom = [r.left_rom_deg for r in reps if r.left_rom_deg is not None]
        rrom = [r.right_rom_deg for r in reps if r.right_rom_deg is not None]
        lsi = [r.symmetry_pct for r in reps if r.symmetry_pct is not None]
        index = float(np.median(lsi)) if lsi else None
        n = len(lsi)
    else:
        lrom = [r.rom_deg for r in reps if r.side == "left"]
        rrom = [r.rom_deg for r in reps if r.side == "right"]
        index = symmetry_index(float(np.median(lrom)), float(np.median(rrom)), involved) \
            if lrom and rrom else None
        n = len(lrom) + len(rrom)
    if not lrom and not rrom:
        return None
    return Symmetry(involved=involved, basis="bilateral" if bilateral else "alternating",
                    left_rom_deg=float(np.median(lrom)) if lrom else None,
                    right_rom_deg=float(np.median(rrom)) if rrom else None,
                    index_pct=index, reps=n if index is not None else 0)


def unmeasured_stretches(x: np.ndarray, t: np.ndarray, longest: float) -> list[Note]:
    """A note for each stretch of the counted angle left unmeasured (no person, limb out of
    view) for longer than ``longest`` seconds, inside the recording: a whole rep could have
    happened there unseen, so the count cannot vouch for it."""
    seen = np.flatnonzero(np.isfinite(x))
    if seen.size < 2:
        return []
    gaps = np.diff(t[seen])
    notes = []
    for k in np.flatnonzero(gaps > longest):
        a, b = float(t[seen[k]]), float(t[seen[k + 1]])
        notes.append(Note(NoteCode.SPARSE, f"not measured from {a:.2f} to {b:.2f} s (nobody in "
                          f"view or the limb hidden): repetitions there could not be counted",
                          {"start_s": round(a, 4), "end_s": round(b, 4)}))
    return notes


def without_glimpses(seq: PoseSequence, min_track_s: float) -> tuple[PoseSequence, int]:
    """The sequence without its glimpses: runs of frames with a person shorter than
    ``min_track_s``, between frames without one (the detector's momentary guesses, often
    a wrong pose), when runs at least that long hold most of the frames with a person.
    Returns the sequence to measure and the number of frames left out."""
    det = seq.detected
    if min_track_s <= 0 or not det.any():
        return seq, 0
    edges = np.flatnonzero(np.diff(np.r_[0, det.astype(np.int8), 0]))
    starts, stops = edges[::2], edges[1::2]
    t = seq.timestamps
    step = float(np.median(np.diff(t))) if t.size > 1 else 0.0
    short = (t[stops - 1] - t[starts] + step) < min_track_s
    if not short.any() or (stops - starts)[~short].sum() < 0.5 * det.sum():
        return seq, 0
    keep = np.ones(seq.n_frames, dtype=bool)
    for a, b in zip(starts[short], stops[short]):
        keep[a:b] = False
    lm, world, vis = seq.landmarks.copy(), seq.world.copy(), seq.visibility.copy()
    lm[~keep], world[~keep], vis[~keep] = np.nan, np.nan, 0.0
    return seq.replace(landmarks=lm, world=world, visibility=vis), int((~keep).sum())


def _count_hidden_on_estimates(estimates: AngleSet, exercise: Exercise,
                               raw_chosen: np.ndarray, sides_smoothed: dict[str, np.ndarray],
                               smooth: Callable[[np.ndarray], np.ndarray],
                               chosen: str) -> list[Note]:
    """Where the counted limb is hidden (visibility under the gate) the pose model still
    estimates it: the count follows that estimate (a person watching sees the rep), while
    the rep's ``tracked_fraction`` still counts only frames where the limb was seen, so such
    reps are flagged. (The other limb, for alternation, counts only where it was seen.)
    Updates ``sides_smoothed`` in place; a note when 5% or more of the frames needed it."""
    name = exercise.counting.angle
    notes: list[Note] = []
    guess = estimates.column(name, chosen)
    hidden = ~np.isfinite(raw_chosen) & np.isfinite(guess)
    if hidden.any():
        sides_smoothed[chosen] = smooth(np.where(hidden, guess, raw_chosen))
        if hidden.mean() >= 0.05:
            notes.append(Note(NoteCode.PARTLY_MEASURED,
                              f"the {chosen} {name.replace('_', ' ')} was hidden in "
                              f"{100 * hidden.mean():.0f}% of frames; repetitions there are "
                              f"counted on the pose model's estimate and flagged",
                              {"estimated_fraction": round(float(hidden.mean()), 4)}))
    return notes


def _may_alternate(exercise: Exercise, side: str, chosen: str) -> bool:
    """Whether both sides are counted: a one-sided exercise on a per-side angle, the side
    left to the program (``auto``), and the exercise file not saying ``alternation = "none"``."""
    return (side in ("auto", "both") and chosen != Side.NONE and not exercise.bilateral
            and exercise.counting.alternation != "none")


def _overlap(a: Rep, b: Rep) -> float:
    """Time two reps share, as a fraction of the shorter one."""
    return span_overlap((a.start_s, a.end_s), (b.start_s, b.end_s))


def _spans(r: Rep, others: list[Rep]) -> int:
    """How many of ``others`` lie mostly (more than half) within ``r``."""
    return sum(_overlap(r, o) > 0.5 and o.duration_s < r.duration_s for o in others)


def _credit(theirs: Rep, mine: Rep, sign: float, min_tracked: float) -> bool:
    """Whether a movement seen on both limbs is credited to ``theirs`` rather than ``mine``."""
    seen_theirs, seen_mine = (r.tracked_fraction >= min_tracked for r in (theirs, mine))
    if seen_theirs != seen_mine:
        return seen_theirs
    return sign * theirs.peak_deg > sign * mine.peak_deg


def merge_sides(chosen: list[Rep], other: list[Rep], exercise: Exercise,
                settings: AnalysisSettings | None = None,
                expected: bool | None = None) -> list[Rep] | None:
    """The reps of both sides merged in time, when the exercise was done alternately; None
    when it was not (the chosen side's reps stand alone).

    Rules: a rep of the other side that overlaps one of the chosen side by more than half
    (of the shorter) is the same movement seen on both limbs (a lunge bends both knees):
    one rep, credited to the limb that was seen (tracked in at least
    ``min_tracked_fraction`` of the rep; a hidden limb's estimate never wins), and when
    both or neither were, to the one that went further (its peak angle further from rest:
    the front knee of a lunge bends more than the back one). A rep of the other side alone
    in time counts when its excursion is at least ``min_rep_fraction`` (half) of the chosen
    side's median. A "rep" of one limb spanning two or more of the other's is that limb
    held still (`RepKind.HELD`, not counted). The exercise was done alternately when the
    other side is credited with at least two reps (one, when the exercise file says
    ``alternation = "expected"`` or both sides were prescribed: ``expected``).
    """
    if expected is None:
        expected = exercise.counting.alternation == "expected"
    settings = settings or exercise.settings
    mine = [r for r in chosen if r.counted]
    theirs = [r for r in other if r.counted]
    # a "rep" spanning two or more of the other limb's reps is that limb's resting posture
    # held (an idle arm hanging straight in a triceps extension), not a movement
    held = [r for r in mine if _spans(r, theirs) >= 2] + [r for r in theirs
                                                         if _spans(r, mine) >= 2]
    mine = [r for r in mine if r not in held]
    theirs = [r for r in theirs if r not in held]
    if not mine or not theirs:
        return None
    typical = float(np.median([r.rom_deg for r in mine]))
    sign = 1.0 if exercise.counting.rest == "low" else -1.0
    kept = list(mine)
    alone: list[Rep] = []
    for r in theirs:
        twins = [i for i, m in enumerate(kept) if _overlap(r, m) > 0.5]
        if twins:
            i = max(twins, key=lambda i: _overlap(r, kept[i]))
            if _credit(r, kept[i], sign, settings.min_tracked_fraction):
                kept[i] = r
        elif r.rom_deg >= settings.min_rep_fraction * typical:
            alone.append(r)
    counted = sorted(kept + alone, key=lambda r: r.start_s)
    needed = 1 if expected else 2
    if sum(r.side != mine[0].side for r in counted) < needed:
        return None
    counted = [dataclasses.replace(r, index=k) for k, r in enumerate(counted, start=1)]
    uncounted = [r for r in chosen if not r.counted]
    uncounted += [dataclasses.replace(r, index=0, kind=RepKind.HELD) for r in held]
    uncounted += [r for r in other if not r.counted
                  and not any(_overlap(r, m) > 0 for m in counted + uncounted)]
    return counted + sorted(uncounted, key=lambda r: r.start_s)


# --- outputs -----------------------------------------------------------------------------

def prepare_out_dir(out_dir: str | os.PathLike[str]) -> Path:
    """Create the output folder and check that it is writable."""
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{out}: cannot create output folder ({exc.strerror or exc})") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise OutputError(f"{out}: output folder is not writable")
    return out


def check_out_dir(out_dir: str | os.PathLike[str]) -> Path:
    """Refuse early (`OutputError`) an output folder that could not take a result set: a
    file, a folder holding files other than `RESULT_FILES`, or a place that cannot be
    written. Creates nothing."""
    from rehab.fileio import check_replaceable

    out = Path(out_dir).expanduser()
    check_replaceable(out, RESULT_FILES)
    parent = Path(os.path.abspath(out)).parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"{out}: cannot create the output folder ({parent} is not a "
                          f"writable folder)")
    return out


def result_folder(out_dir: str | os.PathLike[str], private: bool = False) -> StagedFolder:
    """A `StagedFolder` for the result files of one run at ``out_dir``: written in private
    beside it and swapped in whole (`StagedFolder.publish`); the previous results stay
    untouched until then, and a folder holding files other than `RESULT_FILES` is refused
    now. ``private``: owner-only (results written for a patient)."""
    return StagedFolder(out_dir, RESULT_FILES, private=private)


def reps_csv(analysis: Analysis, include_partial: bool = False) -> str:
    """The per-rep table as CSV text (counted reps; optionally the uncounted ones too)."""
    rows = list(analysis.reps) + (list(analysis.partial) if include_partial else [])
    return _reps_csv_text(rows, [c.id for c in analysis.exercise.compensations],
                          distances=analysis.scale is not None)


def angles_csv(analysis: Analysis) -> str:
    """Time series of the exercise's angles: raw and smoothed primary (both sides), compensations."""
    ex = analysis.exercise
    seq = analysis.sequence
    t = seq.timestamps
    cols: list[tuple[str, np.ndarray]] = []
    name = ex.counting.angle
    for s in sides_of(name):
        cols.append((f"{angle_column(name, s)}_raw", analysis.angles.column(name, s)))
    cols.append((f"{analysis.primary_column}_smoothed", analysis.smoothed["primary"]))
    vel = K.velocity(np.ascontiguousarray(analysis.smoothed["primary"]), t)
    cols.append((f"{analysis.primary_column}_velocity_deg_s", vel))
    for comp in ex.compensations:
        cols.append((f"{comp.id}_{comp.angle}_smoothed", analysis.smoothed[comp.id]))
    # in-rep marker: index of the counted rep each frame belongs to (0 = none)
    rep_id = np.zeros(seq.n_frames, dtype=np.int64)
    for r in analysis.reps:
        rep_id[r.start_frame:r.end_frame + 1] = r.index
    buf = io.StringIO()
    buf.write(",".join(["frame", "time_s", "rep"] + [c for c, _ in cols]) + "\n")
    data = np.column_stack([c for _, c in cols]) if cols else np.empty((seq.n_frames, 0))
    for i in range(seq.n_frames):
        vals = ["" if not math.isfinite(v) else f"{v:.3f}" for v in data[i]]
        buf.write(f"{i},{t[i]:.4f},{rep_id[i]}," + ",".join(vals) + "\n")
    return buf.getvalue()


def write_outputs(analysis: Analysis, out_dir: str | os.PathLike[str],
                  write_landmarks: bool = True) -> dict[str, Path]:
    """Write the result files into the folder ``out_dir``; ``result.json`` last, each
    atomically. (A run's whole set appears at once when ``out_dir`` is the ``path`` of a
    `result_folder`.)"""
    out = prepare_out_dir(out_dir)
    paths = {
        "reps_csv": out / "reps.csv",
        "angles_csv": out / "angles.csv",
        "result_json": out / "result.json",
    }
    write_text_atomic(paths["reps_csv"], reps_csv(analysis, include_partial=False))
    write_text_atomic(paths["angles_csv"], angles_csv(analysis))
    if write_landmarks:
        paths["landmarks_npz"] = out / "landmarks.npz"
        save_npz(analysis.sequence, paths["landmarks_npz"])
    write_json_atomic(paths["result_json"], result_document(analysis))
    return paths
