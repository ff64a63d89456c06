"""Benchmark: ``rehab batch`` throughput with one and two local workers, and its per-file
overhead against the bare MediaPipe loop, on the same files in the same run.

Files: the single-person shared videos (``shoulder_abduction.mp4`` and the four
``pose2sim_single_cam0N.mp4``), ``--copies`` times (each copy made a distinct recording by
one appended byte, which FFmpeg ignores, so the batch does not refuse it as a repeat).
Measured, in this order:

- **bare**: `bench_throughput.bare_mediapipe` over every file in one process (decode,
  ``cvtColor``, ``PoseLandmarker.detect_for_video``, one pose), the loop a user would
  write; and **bare x2**: two such processes at once on halves of the files (the machine's
  own ceiling for two processes);
- **batch --jobs 1** and **--jobs 2**: `rehab.batch.run_batch` on a `LocalCluster` made by
  `open_client` with the pose model built by the worker plugin beforehand (startup timed
  apart), into a temporary folder, no patient; then **--jobs 2 --max-fps 15 / 10**.

Goals: two workers at least 1.8x the throughput of one (``--min-speedup``); per-file
overhead beyond pose inference (the sum of the batch's task seconds on one worker against
the bare loop's seconds on the same frames) under 5% (``--max-overhead``). Exit status 1
if missed. Prints frames per second per core and the projection to a 24-hour clinic day.

    .venv/bin/python bench/bench_batch.py [--copies N]
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_throughput import bare_mediapipe  # noqa: E402

DEFAULT_DATA = HERE.parent.parent / "shared" / "data" / "videos"
VIDEOS = {"shoulder_abduction.mp4": "shoulder_abduction",
          "pose2sim_single_cam01.mp4": "squat", "pose2sim_single_cam02.mp4": "squat",
          "pose2sim_single_cam03.mp4": "squat", "pose2sim_single_cam04.mp4": "squat"}


def make_files(data: Path, copies: int, work: Path) -> list[tuple[Path, str, int, float]]:
    """(path, exercise, frames, seconds of video) of each distinct copy."""
    files = []
    for k in range(copies):
        for name, exercise in VIDEOS.items():
            src = data / name
            if not src.is_file():
                raise SystemExit(f"{src}: no such video (pass --data-dir)")
            dest = work / f"{Path(name).stem}_{k}.mp4"
            shutil.copyfile(src, dest)
            with open(dest, "ab") as f:
                f.write(bytes([k]))
            cap = cv2.VideoCapture(str(dest))
            n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
            fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
            cap.release()
            files.append((dest, exercise, n, n / fps))
    return files


def bare(files: list[Path], model: Path) -> tuple[float, int]:
    t0 = time.perf_counter()
    frames = sum(bare_mediapipe(f, model) for f in files)
    return time.perf_counter() - t0, frames


def bare_two_processes(files: list[Path]) -> float:
    """Wall seconds of two bare loops at once, each on half the files (frames balanced)."""
    halves: list[list[Path]] = [[], []]
    for i, f in enumerate(sorted(files, key=lambda p: -p.stat().st_size)):
        halves[i % 2].append(f)
    code = ("import sys; sys.path.insert(0, %r); from bench_throughput import bare_mediapipe;"
            "from rehab.pose.model import resolve_model; m = resolve_model()[0];"
            "import time; t = time.perf_counter();"
            "[bare_mediapipe(__import__('pathlib').Path(p), m) for p in sys.argv[1:]]")
    t0 = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-c", code % str(HERE), *map(str, h)])
             for h in halves]
    for p in procs:
        p.wait()
    return time.perf_counter() - t0


def batch(files: list[tuple[Path, str, int, float]], jobs: int, out: Path,
          max_fps: float | None = None) -> dict[str, float]:
    from rehab.batch.manifest import BatchItem
    from rehab.batch.runner import BatchOptions, open_client, run_batch
    from rehab.batch.tasks import PoseModelPlugin

    items = [BatchItem(i + 2, p, ex) for i, (p, ex, _, _) in enumerate(files)]
    t0 = time.perf_counter()
    with open_client(None, jobs) as client:
        client.register_plugin(PoseModelPlugin(None))
        startup = time.perf_counter() - t0
        t1 = time.perf_counter()
        report = run_batch(items, BatchOptions(out=out, progress=False, max_fps=max_fps),
                           client=client)
        wall = time.perf_counter() - t1
    assert report.ran == len(files), report.line()
    failed = [r for r in report.rows if r.status == "failed"]
    if failed:
        logging.warning("%d file(s) failed: %s", len(failed), failed[0].error)
    return {"startup": startup, "wall": wall,
            "task_s": sum(r.seconds or 0.0 for r in report.rows)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--copies", type=int, default=2)
    parser.add_argument("--min-speedup", type=float, default=1.8)
    parser.add_argument("--max-overhead", type=float, default=0.05)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from rehab.pose.model import resolve_model

    model = resolve_model()[0]
    with tempfile.TemporaryDirectory(prefix="rehab-bench-batch-") as tmp:
        work = Path(tmp)
        files = make_files(args.data_dir, args.copies, work)
        paths = [f[0] for f in files]
        frames = sum(f[2] for f in files)
        video_s = sum(f[3] for f in files)
        bare(paths[:1], model)  # warm-up: imports, model build
        bare_s, bare_frames = bare(paths, model)
        bare2_s = bare_two_processes(paths)
        one = batch(files, 1, work / "out1")
        two = batch(files, 2, work / "out2")
        fast = {f: batch(files, 2, work / f"out{f}", max_fps=f) for f in (15.0, 10.0)}
    speedup = one["wall"] / two["wall"]
    overhead = one["task_s"] / bare_s - 1.0
    lines = [
        f"{len(files)} files, {frames} frames ({bare_frames} read by the bare loop), "
        f"{video_s:.0f} s of video; {os.cpu_count()} cores",
        f"{'run':28s} {'wall s':>7s} {'frames/s':>9s} {'per core':>9s} {'startup s':>9s}",
        f"{'bare MediaPipe, 1 process':28s} {bare_s:7.1f} {frames / bare_s:9.1f} "
        f"{frames / bare_s:9.1f} {'-':>9s}",
        f"{'bare MediaPipe, 2 processes':28s} {bare2_s:7.1f} {frames / bare2_s:9.1f} "
        f"{frames / bare2_s / 2:9.1f} {'-':>9s}",
        f"{'rehab batch --jobs 1':28s} {one['wall']:7.1f} {frames / one['wall']:9.1f} "
        f"{frames / one['wall']:9.1f} {one['startup']:9.1f}",
        f"{'rehab batch --jobs 2':28s} {two['wall']:7.1f} {frames / two['wall']:9.1f} "
        f"{frames / two['wall'] / 2:9.1f} {two['startup']:9.1f}",
    ]
    for f, r in fast.items():
        lines.append(f"{f'rehab batch -j 2 --max-fps {f:g}':28s} {r['wall']:7.1f} "
                     f"{frames / r['wall']:9.1f} {frames / r['wall'] / 2:9.1f} "
                     f"{r['startup']:9.1f}  (video frames covered per second)")
    lines += [
        f"speedup 2 workers / 1: {speedup:.2f}x (goal >= {args.min_speedup:g}x; two bare "
        f"processes: {bare_s / bare2_s:.2f}x)",
        f"per-file overhead beyond pose inference: {100 * overhead:+.1f}% (sum of task "
        f"seconds {one['task_s']:.1f} s on one worker vs bare loop {bare_s:.1f} s; goal < "
        f"{100 * args.max_overhead:g}%)",
    ]
    day = 24 * 3600
    for label, r in (("full rate", two), ("--max-fps 15", fast[15.0]),
                     ("--max-fps 10", fast[10.0])):
        hours = day * (video_s / r["wall"]) / 3600
        lines.append(f"24-hour clinic day on this 2-core machine, {label}: {hours:.0f} h of "
                     f"video ({hours * 60 / 5:.0f} five-minute sessions)")
    sys.stdout.write("\n".join(lines) + "\n")
    ok = speedup >= args.min_speedup and overhead < args.max_overhead
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
