"""The offline analysis pipeline: pose sequence -> angles -> repetitions -> scores.

`analyze_sequence` is the library entry point that everything else (CLI, validation, live
and batch sessions, reports) reuses; `write_outputs` writes ``result.json``, ``reps.csv``,
``angles.csv`` and ``landmarks.npz`` into a folder, each atomically.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import logging
import math
import os
from pathlib import Path
from typing import Any, Literal

import numpy as np

from rehab import __version__
from rehab.errors import InputError, NoPoseError, OutputError
from rehab.fileio import write_text_atomic
from rehab.exercises import TRUNK_ANGLES, Exercise, compensation_column
from rehab.kinematics import AngleSet, compute_angles, smooth_signal
from rehab.kinematics import _kernels as K
from rehab.reps import Segmentation, segment_reps, side_score
from rehab.scoring import RepScore, score_reps
from rehab.sequence import PoseSequence, save_npz

log = logging.getLogger(__name__)

RESULT_SCHEMA_VERSION = 1
MIN_MEASURED_FRACTION = 0.2
"""Below this fraction of frames with the primary angle measured, the analysis refuses."""


@dataclasses.dataclass(frozen=True)
class Analysis:
    """Everything the analysis of one recording produced."""

    exercise: Exercise
    side: str
    sequence: PoseSequence
    angles: AngleSet
    smoothed: dict[str, np.ndarray]
    """Smoothed signals by name: ``primary`` and each compensation id."""
    segmentation: Segmentation
    reps: tuple[RepScore, ...]
    """Counted repetitions, in order."""
    partial: tuple[RepScore, ...]
    """Candidates that were not counted (partial at the edges, too short, too long)."""
    side_scores: dict[str, float]
    notes: tuple[str, ...]
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)
    """Additional result fields added by optional stages (calibration, scale)."""
    rep_extra: dict[int, dict[str, Any]] = dataclasses.field(default_factory=dict)
    """Additional per-rep fields by start frame (e.g. ``distances_cm``)."""

    @property
    def rep_count(self) -> int:
        return len(self.reps)

    @property
    def primary_column(self) -> str:
        name = self.exercise.counting.angle
        return name if name in TRUNK_ANGLES else f"{self.side}_{name}"

    def to_dict(self) -> dict[str, Any]:
        """The ``result.json`` document (schema in the README)."""
        seq = self.sequence
        ex = self.exercise
        scores = [r.score for r in self.reps]
        return {
            "schema_version": RESULT_SCHEMA_VERSION,
            "rehab_version": __version__,
            "exercise": ex.id,
            "exercise_name": ex.name,
            "side": self.side,
            "angle": self.primary_column,
            "angle_space": self.angles.space,
            "target": {"min_deg": ex.target.min_deg, "max_deg": ex.target.max_deg},
            "rep_count": self.rep_count,
            "reps_target_met": sum(r.target_met for r in self.reps),
            "mean_score": _finite_or_none(float(np.mean(scores)) if scores else math.nan),
            "source": seq.source,
            "fps": round(float(seq.fps), 4),
            "frames": seq.n_frames,
            "frames_with_pose": seq.frames_with_pose,
            "duration_s": round(seq.duration, 4),
            "width": seq.width,
            "height": seq.height,
            "model": seq.model,
            "model_sha256": seq.model_sha256,
            "segmentation": {
                "rest_position": self.segmentation.rest_position,
                "start_state": self.segmentation.start_state,
                "low_threshold_deg": _finite_or_none(self.segmentation.low_threshold),
                "high_threshold_deg": _finite_or_none(self.segmentation.high_threshold),
                "side_scores": {k: round(v, 3) for k, v in self.side_scores.items()},
            },
            "reps": [{**_rep_dict(r), **self.rep_extra.get(r.start_frame, {})}
                     for r in self.reps],
            "partial_reps": [_rep_dict(r) for r in self.partial],
            "notes": list(self.notes),
            **self.extra,
        }


def _finite_or_none(x: float) -> float | None:
    return round(float(x), 3) if math.isfinite(x) else None


def _rep_dict(r: RepScore) -> dict[str, Any]:
    return {
        "index": r.index,
        "kind": r.kind,
        "start_s": round(r.start_s, 4),
        "end_s": round(r.end_s, 4),
        "peak_s": round(r.peak_s, 4),
        "start_frame": r.start_frame,
        "peak_frame": r.peak_frame,
        "end_frame": r.end_frame,
        "min_deg": _finite_or_none(r.min_deg),
        "max_deg": _finite_or_none(r.max_deg),
        "rom_deg": _finite_or_none(r.rom_deg),
        "peak_deg": _finite_or_none(r.peak_deg),
        "target_met": r.target_met,
        "duration_s": round(r.duration_s, 4),
        "time_to_peak_s": round(r.time_to_peak_s, 4),
        "tracked_fraction": round(r.tracked_fraction, 4),
        "compensations": {k: _finite_or_none(v) if v is not None else None
                          for k, v in r.compensations.items()},
        "score": r.score,
        "flags": list(r.flags),
    }


def choose_side(angles: AngleSet, exercise: Exercise, side: str = "auto",
                smoothed: dict[str, np.ndarray] | None = None) -> tuple[str, dict[str, float]]:
    """The side to analyse: as asked, or (``auto``) the one that moves most and is best seen."""
    name = exercise.counting.angle
    if name in TRUNK_ANGLES:
        return ("none", {})
    scores = {}
    for s in ("left", "right"):
        x = smoothed[s] if smoothed is not None else angles.column(name, s)
        scores[s] = side_score(x)
    if side in ("left", "right"):
        return side, scores
    if side != "auto":
        raise InputError(f"side must be left, right or auto, not {side!r}")
    return max(scores, key=lambda s: scores[s]), scores


def analyze_sequence(seq: PoseSequence, exercise: Exercise, side: str = "auto",
                     space: Literal["image", "world"] | None = None) -> Analysis:
    """Analyse one pose sequence for ``exercise`` (target already applied to the exercise)."""
    if seq.n_frames == 0:
        raise InputError(f"{seq.source or 'input'}: no frames")
    if seq.frames_with_pose == 0:
        raise NoPoseError(f"{seq.source or 'input'}: no person detected in any of "
                          f"{seq.n_frames} frames")
    space = space or exercise.counting.space
    angles = compute_angles(seq, space=space)
    t = seq.timestamps
    name = exercise.counting.angle
    notes = list(seq.notes)
    if name in TRUNK_ANGLES:
        sides_smoothed = {"none": smooth_signal(angles.column(name), t)}
    else:
        sides_smoothed = {s: smooth_signal(angles.column(name, s), t) for s in ("left", "right")}
    chosen, side_scores = choose_side(angles, exercise, side, sides_smoothed)
    raw = angles.column(name, None if chosen == "none" else chosen)
    measured = np.isfinite(raw)
    with_pose = seq.detected
    frac = measured.sum() / max(1, with_pose.sum())
    if frac < MIN_MEASURED_FRACTION:
        where = f"the {chosen} " if chosen != "none" else "the "
        raise NoPoseError(
            f"{seq.source or 'input'}: {where}{name.replace('_', ' ')} could be measured in only "
            f"{100 * frac:.0f}% of the frames with a person; the joints it needs "
            f"are out of view or hidden (film the whole limb, {exercise.view} view)")
    if frac < 0.8:
        notes.append(f"{name} measured in {100 * frac:.0f}% of frames with a person "
                     f"(limb partly out of view or hidden)")
    if side == "auto" and chosen != "none":
        notes.append(f"side auto: {chosen} (movement x visibility: "
                     + ", ".join(f"{k} {v:.1f}" for k, v in side_scores.items()) + ")")
    primary = sides_smoothed[chosen]
    segmentation = segment_reps(primary, t, exercise)
    if segmentation.start_state == "settled":
        notes.append(f"recording opens in the {exercise.counting.angle.replace('_', ' ')} "
                     f"active position; repetitions counted from there and back")
    comp_signals: dict[str, np.ndarray] = {}
    for comp in exercise.compensations:
        comp_signals[comp.id] = smooth_signal(angles[compensation_column(comp, chosen)], t)
    scored = score_reps(exercise, chosen, segmentation.segments, primary, measured, t,
                        comp_signals)
    reps = tuple(r for r in scored if r.counted)
    partial = tuple(r for r in scored if not r.counted)
    for r in partial:
        notes.append(f"not counted: {r.kind.replace('_', ' ')} movement "
                     f"{r.start_s:.2f}-{r.end_s:.2f} s")
    if not reps:
        notes.append("no complete repetition found")
    smoothed = {"primary": primary, **comp_signals}
    return Analysis(exercise=exercise, side=chosen, sequence=seq, angles=angles,
                    smoothed=smoothed, segmentation=segmentation, reps=reps, partial=partial,
                    side_scores=side_scores, notes=tuple(notes))


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


REP_COLUMNS = ("index", "kind", "start_s", "peak_s", "end_s", "min_deg", "max_deg", "rom_deg",
               "peak_deg", "target_met", "duration_s", "time_to_peak_s", "tracked_fraction",
               "score", "flags")


def reps_csv(analysis: Analysis, include_partial: bool = False) -> str:
    """The per-rep table as CSV text (counted reps; optionally the uncounted ones too)."""
    buf = io.StringIO()
    comp_ids = [c.id for c in analysis.exercise.compensations]
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(list(REP_COLUMNS) + [f"{c}_deg" for c in comp_ids])
    rows = list(analysis.reps) + (list(analysis.partial) if include_partial else [])
    for r in rows:
        d = _rep_dict(r)
        w.writerow([_csv_value(d[c]) for c in REP_COLUMNS]
                   + [_csv_value(r.compensations.get(c)) for c in comp_ids])
    return buf.getvalue()


def _csv_value(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return "" if not math.isfinite(v) else f"{v:.3f}"
    if isinstance(v, (list, tuple)):
        return ";".join(str(x) for x in v)
    return str(v)


def angles_csv(analysis: Analysis) -> str:
    """Time series of the exercise's angles: raw and smoothed primary (both sides), compensations."""
    ex = analysis.exercise
    seq = analysis.sequence
    t = seq.timestamps
    cols: list[tuple[str, np.ndarray]] = []
    name = ex.counting.angle
    sides = ("none",) if name in TRUNK_ANGLES else ("left", "right")
    for s in sides:
        label = name if s == "none" else f"{s}_{name}"
        cols.append((f"{label}_raw", analysis.angles.column(name, None if s == "none" else s)))
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
    """Write the result files into ``out_dir``; ``result.json`` last, each atomically."""
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
    doc = analysis.to_dict()
    write_text_atomic(paths["result_json"], json.dumps(doc, indent=2, allow_nan=False) + "\n")
    return paths
