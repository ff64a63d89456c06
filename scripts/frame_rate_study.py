"""Measure what ``--max-fps`` does: counts and range of motion at full rate, 15 and 10 frames/s.

- Development set (``landmarks/`` and ``landmarks_rehab/`` of ../shared/data, hand-counted
  reps): each landmarks file is thinned by `rehab.sequence.limit_frame_rate` and analysed
  with `rehab.pipeline.analyze_pose`. Reported per rate: clips counted exactly and within
  one, clips whose count equals the full-rate count, and the absolute difference of each
  rep's ROM and peak angle against the full-rate rep it overlaps most in time (mean, max).
  This isolates the sampling: the landmarks of a kept frame are those of the full-rate run.
- Videos through the real model (`rehab.pipeline.load_input(video, max_fps=F)`): here
  MediaPipe also tracks across larger motion between frames, so the landmarks of the same
  frame differ. Reported per run: frames analysed, pose seconds (decoding + model,
  including the model's start), reps (``shoulder_abduction.mp4``: 7 true, exercise
  ``shoulder_abduction``; the pose2sim clips have no labelled reps), the ROM/peak differences
  as above, the median / 95th percentile shift of the visible image landmarks of the
  frames both runs analysed (pixels; two full-rate runs give 0.0, the model being
  deterministic) and how many of those frames have the left/right labels of the face, the
  arms or the legs the other way round (raw model output, before the analysis repairs
  swaps; the shift is taken with such labels exchanged back).

Writes the markdown tables to stdout (progress goes to the log on stderr)::

    .venv/bin/python scripts/frame_rate_study.py [--data ../shared/data] [--rates 15 10]
                                                 [--no-videos] [--repeat N] [--per-clip] [-v]
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from rehab.model import Analysis, PoseSequence

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
MANIFESTS = ("landmarks/manifest.csv", "landmarks_rehab/manifest.csv")
VIDEOS: tuple[tuple[str, str | None, int | None], ...] = (
    ("shoulder_abduction.mp4", "shoulder_abduction", 7),
    ("pose2sim_single_cam01.mp4", None, None),
    ("pose2sim_single_cam02.mp4", None, None),
    ("pose2sim_single_cam03.mp4", None, None),
    ("pose2sim_single_cam04.mp4", None, None),
    ("pose2sim_two_people_cam02.mp4", None, None),
)
"""(video, exercise to count or None, true reps or None)."""

log = logging.getLogger("frame_rate_study")


@dataclasses.dataclass(frozen=True)
class RepSummary:
    """What the comparison needs of one counted rep."""

    start_s: float
    end_s: float
    side: str
    rom_deg: float
    peak_deg: float


@dataclasses.dataclass(frozen=True)
class Run:
    """One clip analysed at one rate (``rate`` None: every frame)."""

    clip: str
    rate: float | None
    frames: int
    reps: tuple[RepSummary, ...] | None
    reps_true: int | None = None
    pose_s: float | None = None
    landmark_shift_px: tuple[float, float, int] | None = None
    """Median and 95th percentile shift against the full-rate run, and the frames whose
    left/right labels differ from it (videos only)."""

    @property
    def count(self) -> int | None:
        return None if self.reps is None else len(self.reps)


def rate_label(rate: float | None) -> str:
    return "full" if rate is None else f"{rate:g} fps"


def summarise_reps(analysis: Analysis) -> tuple[RepSummary, ...]:
    return tuple(RepSummary(float(r.start_s), float(r.end_s), str(r.side), float(r.rom_deg),
                            float(r.peak_deg))
                 for r in analysis.reps)


def match_reps(a: Sequence[RepSummary], b: Sequence[RepSummary]
               ) -> list[tuple[RepSummary, RepSummary]]:
    """Pairs of reps of ``a`` and ``b`` (same side) that overlap in time, one-to-one,
    greatest overlap first."""
    candidates = []
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            overlap = min(x.end_s, y.end_s) - max(x.start_s, y.start_s)
            if overlap > 0 and x.side == y.side:
                candidates.append((overlap, i, j))
    used_a: set[int] = set()
    used_b: set[int] = set()
    pairs = []
    for _, i, j in sorted(candidates, reverse=True):
        if i not in used_a and j not in used_b:
            used_a.add(i)
            used_b.add(j)
            pairs.append((a[i], b[j]))
    return pairs


def differences(full: Run, run: Run) -> tuple[int, list[float], list[float]]:
    """(reps matched, |ROM difference|s, |peak difference|s) of ``run`` against ``full``."""
    if full.reps is None or run.reps is None:
        return 0, [], []
    pairs = match_reps(full.reps, run.reps)
    return (len(pairs), [abs(x.rom_deg - y.rom_deg) for x, y in pairs],
            [abs(x.peak_deg - y.peak_deg) for x, y in pairs])


def _mean_max(values: Sequence[float]) -> str:
    return f"{np.mean(values):.1f} / {np.max(values):.1f}" if values else "-"


# --- the development set ---------------------------------------------------------------------

def study_landmarks(data: Path, rates: Sequence[float | None]) -> list[Run]:
    from rehab.errors import RehabError
    from rehab.pipeline import analyze_pose, resolve_exercise
    from rehab.sequence import limit_frame_rate, load_npz
    from rehab.validate import read_manifests

    rows = read_manifests([data / m for m in MANIFESTS])
    runs = []
    for row in rows:
        seq = load_npz(row.path)
        exercise = resolve_exercise(row.exercise)
        for rate in rates:
            limited = seq if rate is None else limit_frame_rate(seq, rate)
            try:
                reps: tuple[RepSummary, ...] | None = summarise_reps(
                    analyze_pose(limited, exercise, side=row.side))
            except RehabError as exc:
                log.warning("%s at %s: %s", row.label, rate_label(rate), exc)
                reps = None
            runs.append(Run(row.label, rate, limited.n_frames, reps, row.reps_true))
        log.info("%s: %s (true %d)", row.label,
                 ", ".join(f"{rate_label(r.rate)} {r.count}" for r in runs[-len(rates):]),
                 row.reps_true)
    return runs


def landmarks_table(runs: Sequence[Run], rates: Sequence[float | None]) -> str:
    full = {r.clip: r for r in runs if r.rate is None}
    lines = ["| rate | clips | exact | within one | same count as full | frames analysed | "
             "reps matched | ROM abs diff mean / max (deg) | peak abs diff mean / max (deg) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for rate in rates:
        at = [r for r in runs if r.rate == rate]
        errors = [None if r.count is None or r.reps_true is None else r.count - r.reps_true
                  for r in at]
        matched, rom, peak = 0, list[float](), list[float]()
        for r in at:
            if rate is not None:
                m, dr, dp = differences(full[r.clip], r)
                matched, rom, peak = matched + m, rom + dr, peak + dp
        same = sum(1 for r in at if r.count is not None and r.count == full[r.clip].count)
        lines.append(
            f"| {rate_label(rate)} | {len(at)} | {sum(1 for e in errors if e == 0)} | "
            f"{sum(1 for e in errors if e is not None and abs(e) <= 1)} | "
            f"{same if rate is not None else '-'} | {sum(r.frames for r in at)} | "
            f"{matched if rate is not None else '-'} | "
            f"{_mean_max(rom) if rate is not None else '-'} | "
            f"{_mean_max(peak) if rate is not None else '-'} |")
    return "\n".join(lines)


def per_clip_table(runs: Sequence[Run], rates: Sequence[float | None]) -> str:
    """Counts per clip; below the full rate with the largest |ROM| / |peak| difference of
    its reps against the full rate's (deg)."""
    clips = list(dict.fromkeys(r.clip for r in runs))
    by = {(r.clip, r.rate): r for r in runs}
    head = " | ".join(rate_label(rate) for rate in rates)
    lines = [f"| clip | true | {head} |", "|---|---|" + "---|" * len(rates)]
    for clip in clips:
        cells = []
        for rate in rates:
            r = by[(clip, rate)]
            cell = "failed" if r.count is None else str(r.count)
            if rate is not None:
                _, rom, peak = differences(by[(clip, None)], r)
                if rom:
                    cell += f" (max {max(rom):.1f} / {max(peak):.1f})"
            cells.append(cell)
        lines.append(f"| {clip} | {by[(clip, rates[0])].reps_true} | {' | '.join(cells)} |")
    return "\n".join(lines)


# --- videos through the model ----------------------------------------------------------------

GROUPS = {
    "face": ("eye_inner", "eye", "eye_outer", "ear", "mouth"),
    "arms": ("shoulder", "elbow", "wrist", "pinky", "index", "thumb"),
    "legs": ("hip", "knee", "ankle", "heel", "foot_index"),
}
"""Parts whose left/right labels the pose model may exchange (each as a whole)."""


def _pairs(part: str) -> tuple[list[int], list[int]]:
    """Landmark indices of the left and the right side of ``part``."""
    from rehab.sequence import LANDMARK_INDEX

    def index(side: str, name: str) -> int:
        return LANDMARK_INDEX[f"{side}_{name}" if name != "mouth" else f"mouth_{side}"]

    return ([index("left", n) for n in GROUPS[part]],
            [index("right", n) for n in GROUPS[part]])


def _shift_px(full: PoseSequence, limited: PoseSequence) -> tuple[float, float, int] | None:
    """Median and 95th percentile distance (px) of the image landmarks visible (> 0.5) in
    both runs, over the frames both analysed (matched by timestamp), and how many of those
    frames have the left/right labels of a part (face, arms, legs) the other way round in
    the two runs (raw model output; such a part is compared with its labels exchanged)."""
    t_full, t = full.timestamps, limited.timestamps
    where = np.clip(np.searchsorted(t_full, t), 0, t_full.size - 1)
    same = np.abs(t_full[where] - t) < 1e-6
    if not same.any():
        return None
    a = full.pixels()[where[same]]
    b = limited.pixels()[same]
    seen_a = (full.visibility[where[same]] > 0.5) & np.isfinite(a[..., 0])
    seen_b = (limited.visibility[same] > 0.5) & np.isfinite(b[..., 0])
    d = np.where(seen_a & seen_b, np.linalg.norm(a - b, axis=-1), np.nan)
    swapped = np.zeros(a.shape[0], bool)
    for part in GROUPS:
        left, right = _pairs(part)
        idx, crossed_idx = np.array(left + right), np.array(right + left)
        crossed = np.where(seen_a[:, idx] & seen_b[:, crossed_idx],
                           np.linalg.norm(a[:, idx] - b[:, crossed_idx], axis=-1), np.nan)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a part seen in neither run
            flip = np.nanmean(crossed, axis=1) < np.nanmean(d[:, idx], axis=1)
        d[np.ix_(flip, idx)] = crossed[flip]
        swapped |= flip
    d = d[np.isfinite(d)]
    if not d.size:
        return None
    return float(np.median(d)), float(np.percentile(d, 95)), int(swapped.sum())


def model_start_s(model: str | None, repeat: int = 3) -> float:
    """Seconds to start and close the pose estimator (the fixed cost of each run), the
    least of ``repeat`` tries."""
    from rehab.pose.mediapipe_estimator import MediaPipePoseEstimator

    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        MediaPipePoseEstimator(model_path=model).close()
        best = min(best, time.perf_counter() - started)
    return best


def study_videos(data: Path, rates: Sequence[float | None], model: str | None,
                 repeat: int = 1) -> list[Run]:
    """Each video at each rate, its pose time the least of ``repeat`` runs (the model is
    deterministic: every run gives the same landmarks)."""
    from rehab.errors import RehabError
    from rehab.pipeline import analyze_pose, load_input, resolve_exercise

    runs = []
    for name, exercise_id, reps_true in VIDEOS:
        path = data / "videos" / name
        if not path.is_file():
            log.warning("%s not found: skipped", path)
            continue
        full_seq = None
        for rate in rates:
            pose_s = float("inf")
            for _ in range(repeat):
                started = time.perf_counter()
                seq = load_input(path, model=model, progress=False, max_fps=rate)
                pose_s = min(pose_s, time.perf_counter() - started)
            if rate is None:
                full_seq = seq
            reps = None
            if exercise_id is not None:
                try:
                    reps = summarise_reps(analyze_pose(seq, resolve_exercise(exercise_id)))
                except RehabError as exc:
                    log.warning("%s at %s: %s", name, rate_label(rate), exc)
            shift = None if rate is None or full_seq is None else _shift_px(full_seq, seq)
            runs.append(Run(name, rate, seq.n_frames, reps, reps_true, pose_s, shift))
            log.info("%s at %s: %d frames, pose %.1f s%s", name, rate_label(rate),
                     seq.n_frames, pose_s,
                     "" if reps is None else f", {len(reps)} reps")
    return runs


def videos_table(runs: Sequence[Run], start_s: float) -> str:
    """One row per run; ``ms / frame`` leaves out the estimator's start (``start_s``)."""
    full = {r.clip: r for r in runs if r.rate is None}
    lines = ["| video | rate | frames analysed | pose s | ms / frame | reps (true) | "
             "ROM abs diff mean / max (deg) | peak abs diff mean / max (deg) | "
             "landmark shift median / p95 (px) | left/right labels other way |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in runs:
        reps = "-" if r.reps_true is None else \
            f"{'failed' if r.count is None else r.count} ({r.reps_true})"
        rom = peak = shift = swapped = "-"
        if r.rate is not None and r.reps is not None:
            _, dr, dp = differences(full[r.clip], r)
            rom, peak = _mean_max(dr), _mean_max(dp)
        if r.landmark_shift_px is not None:
            shift = f"{r.landmark_shift_px[0]:.1f} / {r.landmark_shift_px[1]:.1f}"
            swapped = f"{r.landmark_shift_px[2]} of {r.frames}"
        pose_s = r.pose_s or 0.0
        per_frame = 1000 * max(0.0, pose_s - start_s) / max(1, r.frames)
        lines.append(f"| {r.clip} | {rate_label(r.rate)} | {r.frames} | {pose_s:.1f} | "
                     f"{per_frame:.0f} | {reps} | {rom} | {peak} | {shift} | {swapped} |")
    return "\n".join(lines)


# --- command line ----------------------------------------------------------------------------

def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA,
                        help="the shared data folder (default: ../shared/data)")
    parser.add_argument("--rates", type=float, nargs="+", default=[15.0, 10.0],
                        metavar="F", help="frame rates to compare with the full rate")
    parser.add_argument("--no-videos", action="store_true",
                        help="only the development set (no pose model)")
    parser.add_argument("--model", default=None, help="pose model file (default: bundled)")
    parser.add_argument("--repeat", type=int, default=1, metavar="N",
                        help="run each video N times and keep the least pose time")
    parser.add_argument("--per-clip", action="store_true",
                        help="also the count of each development clip at each rate")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="log rehab's own messages too")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    logging.getLogger("rehab").setLevel(logging.INFO if args.verbose else logging.WARNING)
    from rehab.sequence import check_max_fps

    rates: list[float | None] = [None] + [check_max_fps(r) for r in args.rates]
    out = ["### Development set (landmark files, %d clips)" % 0, ""]
    runs = study_landmarks(args.data, rates)
    out[0] = f"### Development set (landmark files, {len(runs) // len(rates)} clips)"
    out.append(landmarks_table(runs, rates))
    if args.per_clip:
        out += ["", per_clip_table(runs, rates)]
    if not args.no_videos:
        start_s = model_start_s(args.model)
        log.info("pose estimator start: %.2f s", start_s)
        out += ["", "### Videos through the pose model", "",
                videos_table(study_videos(args.data, rates, args.model,
                                          max(1, args.repeat)), start_s), "",
                f"pose s: decoding every frame + the model on the frames analysed + the "
                f"estimator's start ({start_s:.2f} s, left out of ms / frame); the least of "
                f"{max(1, args.repeat)} run(s)."]
    sys.stdout.write("\n".join(out) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
