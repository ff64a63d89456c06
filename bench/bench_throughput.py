"""Benchmark: `rehab analyze` throughput against bare MediaPipe inference on the same frames.

Measures, in the same run and on the same video file:
- **bare**: the loop a user would write with MediaPipe alone: ``cv2.VideoCapture`` read,
  ``cvtColor`` BGR->RGB, ``mp.Image``, ``PoseLandmarker.detect_for_video`` with the
  landmarker's default options (one pose, VIDEO mode) and the same model file as rehab;
- **rehab**: what ``rehab analyze`` does: `rehab.pipeline.load_input` (decoding, pose,
  patient selection), `analyze_sequence` and `write_outputs` to a temporary folder.

Both timings include creating the landmarker(s) and exclude imports: one untimed warm-up
run of each on a few frames comes first (imports, numba cache, model build). Runs are
interleaved (bare/rehab, then rehab/bare, ...) and the median of ``--repeats`` is kept.

Goal: rehab at least 90% of bare frames/s (``--min-ratio``) on single-person videos;
exit status 1 if missed. "extra s" is how many seconds more (or less) rehab took in all.
The two-person video is reported but not gated: there rehab detects both people in every frame so that it can follow the patient, which costs a
second landmark pass per frame and detector runs, while the bare loop tracks one person
(on that video the woman standing at the side, not the patient).
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("GLOG_minloglevel", "2")  # quieten MediaPipe's native logging
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "videos"
DEFAULT_VIDEOS = ("shoulder_abduction.mp4", "pose2sim_single_cam01.mp4",
                  "pose2sim_two_people_cam02.mp4")
EXERCISES = {"shoulder_abduction.mp4": "shoulder_abduction"}
DEFAULT_EXERCISE = "squat"  # any valid exercise: its cost is negligible next to the model
MULTI_PERSON = {
    "pose2sim_two_people_cam02.mp4":
        "two people in view: rehab detects both in every frame to follow the patient",
}
"""Videos with several people: reported, not gated (why in the value)."""


def bare_mediapipe(video: Path, model: Path) -> int:
    """The plain MediaPipe loop; returns the number of frames processed."""
    import mediapipe as mp
    from mediapipe.tasks.python import BaseOptions, vision

    options = vision.PoseLandmarkerOptions(base_options=BaseOptions(model_asset_path=str(model)),
                                           running_mode=vision.RunningMode.VIDEO)
    landmarker = vision.PoseLandmarker.create_from_options(options)
    cap = cv2.VideoCapture(str(video))
    n, last_ms = 0, -1
    try:
        while True:
            ok, bgr = cap.read()
            if not ok:
                break
            ms = max(int(cap.get(cv2.CAP_PROP_POS_MSEC)), last_ms + 1)
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            landmarker.detect_for_video(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb), ms)
            last_ms, n = ms, n + 1
    finally:
        cap.release()
        landmarker.close()
    return n


def rehab_analyze(video: Path, exercise: str, out_dir: Path) -> tuple[int, tuple[str, ...]]:
    """What ``rehab analyze VIDEO --exercise EXERCISE --out OUT`` does (without printing)."""
    from rehab.analysis import analyze_sequence, write_outputs
    from rehab.pipeline import load_input, resolve_exercise

    ex = resolve_exercise(exercise)
    seq = load_input(video, progress=False)
    write_outputs(analyze_sequence(seq, ex), out_dir)
    return seq.n_frames, seq.notes


def trimmed_copy(video: Path, frames: int, dest: Path) -> Path:
    """The first ``frames`` frames of ``video`` re-encoded (both loops then read this file)."""
    cap = cv2.VideoCapture(str(video))
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    writer = None
    try:
        for _ in range(frames):
            ok, image = cap.read()
            if not ok:
                break
            if writer is None:
                h, w = image.shape[:2]
                writer = cv2.VideoWriter(str(dest), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
            writer.write(image)
    finally:
        cap.release()
        if writer is not None:
            writer.release()
    if writer is None:
        raise SystemExit(f"{video}: no frame could be read")
    return dest


def timed(fn: Callable[[], int]) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds (this process) and frames of one call."""
    c0, t0 = os.times(), time.perf_counter()
    frames = fn()
    t1, c1 = time.perf_counter(), os.times()
    return t1 - t0, (c1.user - c0.user) + (c1.system - c0.system), frames


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", action="append", type=Path,
                        help="a video (name in --data-dir or a path); repeatable "
                             f"(default: {', '.join(DEFAULT_VIDEOS)})")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--frames", type=int, default=None,
                        help="only the first N frames (of a re-encoded copy, for both loops)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each (median)")
    parser.add_argument("--min-ratio", type=float, default=0.90)
    args = parser.parse_args(argv)
    if args.repeats < 2:
        parser.error("--repeats must be at least 2 (the median of several runs is reported)")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    from rehab.pose.model import resolve_model

    model, model_name, _ = resolve_model()
    videos = [v if v.is_file() else args.data_dir / v
              for v in (args.video or [Path(v) for v in DEFAULT_VIDEOS])]
    for v in videos:
        if not v.is_file():
            parser.error(f"{v}: no such video")
    with tempfile.TemporaryDirectory(prefix="rehab-bench-") as tmp_name:
        tmp = Path(tmp_name)
        # Warm-up (untimed): imports, numba cache, first model load of this process.
        warm = trimmed_copy(videos[0], 5, tmp / "warmup.mp4")
        bare_mediapipe(warm, model)
        rehab_analyze(warm, EXERCISES.get(videos[0].name, DEFAULT_EXERCISE), tmp / "warmup-out")
        rows = []
        for video in videos:
            name = video.name
            source = trimmed_copy(video, args.frames, tmp / f"first{args.frames}_{name}") \
                if args.frames else video
            exercise = EXERCISES.get(name, DEFAULT_EXERCISE)
            runs: dict[str, list[tuple[float, float, int]]] = {"bare": [], "rehab": []}
            notes: tuple[str, ...] = ()

            def run_rehab(i: int) -> int:
                nonlocal notes
                n, notes = rehab_analyze(source, exercise, tmp / f"out-{name}-{i}")
                return n

            for i in range(args.repeats):
                order = ("bare", "rehab") if i % 2 == 0 else ("rehab", "bare")
                for which in order:
                    fn = (lambda: bare_mediapipe(source, model)) if which == "bare" \
                        else (lambda i=i: run_rehab(i))
                    runs[which].append(timed(fn))
                    print(f"  {name} run {i + 1} {which}: {runs[which][-1][2] / runs[which][-1][0]:.1f} "
                          "frames/s", file=sys.stderr, flush=True)
            frames = runs["bare"][0][2]
            if any(r[2] != frames for rs in runs.values() for r in rs):
                raise SystemExit(f"{name}: bare and rehab saw different frame counts")
            fps = {k: frames / statistics.median(r[0] for r in rs) for k, rs in runs.items()}
            cpu = {k: statistics.median(r[1] for r in rs) / frames * 1000 for k, rs in runs.items()}
            multi = any("periodic look for other people" in n for n in notes)
            extra = statistics.median(r[0] for r in runs["rehab"]) - statistics.median(
                r[0] for r in runs["bare"])
            why = MULTI_PERSON.get(name)
            rows.append((name, frames, fps["bare"], fps["rehab"], fps["rehab"] / fps["bare"],
                         cpu["bare"], cpu["rehab"], extra, multi, why))

    print(f"\nmodel: {model_name}; median of {args.repeats} interleaved runs; "
          f"goal rehab/bare >= {args.min_ratio:.2f}")
    header = (f"{'video':32s} {'frames':>6s} {'bare f/s':>9s} {'rehab f/s':>9s} {'ratio':>6s} "
              f"{'extra s':>7s} {'bare cpu ms/f':>13s} {'rehab cpu ms/f':>14s} {'people':>6s}"
              "  verdict")
    print(header)
    print("-" * len(header))
    failed = False
    for name, frames, bare, rehab, ratio, cpu_bare, cpu_rehab, extra, multi, why in rows:
        if why:
            verdict = f"not gated: {why}"
        elif ratio >= args.min_ratio:
            verdict = "ok"
        else:
            verdict = "TOO SLOW"
            failed = True
        print(f"{name:32s} {frames:6d} {bare:9.1f} {rehab:9.1f} {ratio:6.2f} {extra:7.2f} "
              f"{cpu_bare:13.1f} {cpu_rehab:14.1f} {'2+' if multi else '1':>6s}  {verdict}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
