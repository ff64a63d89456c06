"""Live loop benchmark: a 640x480, 30 frames/s recording through ``rehab live`` headless.

The demo recording (``shoulder_abduction.mp4``, 1920x1080 at 27.9 frames/s) is letterboxed
to 640x480 and re-timed to 30 frames/s once (into a temporary folder), then played through
the real loop (`rehab live --source ... --headless --record ... --stats ...`: paced producer
thread, one-slot queue, MediaPipe, counter, drawing, video writer) in a fresh process, as a
user would run it. Prints the stats against the goals: at most 5% of frames dropped,
capture-to-overlay latency median <= 40 ms and 95th percentile <= 60 ms.

    .venv/bin/python bench/bench_live.py [--video PATH] [--no-record] [--runs N]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_VIDEO = REPO.parent / "shared" / "data" / "videos" / "shoulder_abduction.mp4"
SIZE = (640, 480)
FPS = 30.0
GOALS = {"dropped_pct": 5.0, "p50": 40.0, "p95": 60.0}


def make_input(video: Path, out: Path) -> int:
    """Letterbox ``video`` to 640x480 and write it at 30 frames/s; returns the frame count."""
    cap = cv2.VideoCapture(str(video))
    if not cap.isOpened():
        raise SystemExit(f"{video}: cannot open")
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter.fourcc(*"mp4v"), FPS, SIZE)
    n = 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        h, w = frame.shape[:2]
        scale = min(SIZE[0] / w, SIZE[1] / h)
        nw, nh = int(round(w * scale)), int(round(h * scale))
        canvas = np.zeros((SIZE[1], SIZE[0], 3), np.uint8)
        x0, y0 = (SIZE[0] - nw) // 2, (SIZE[1] - nh) // 2
        canvas[y0:y0 + nh, x0:x0 + nw] = cv2.resize(frame, (nw, nh), interpolation=cv2.INTER_AREA)
        writer.write(canvas)
        n += 1
    cap.release()
    writer.release()
    return n


def letterboxed_input(video: Path, work: Path) -> tuple[Path, int]:
    """`make_input` of ``video`` into ``work`` (the clip every live benchmark plays) and its
    frame count; says what the input is."""
    clip = work / "input_640x480_30fps.mp4"
    n = make_input(video, clip)
    print(f"input: {video.name} letterboxed to {SIZE[0]}x{SIZE[1]} at {FPS:g} "
          f"frames/s, {n} frames ({n / FPS:.1f} s)")
    return clip, n


def run_once(clip: Path, work: Path, record: bool) -> dict:
    stats = work / "stats.json"
    cmd = [str(Path(sys.executable).with_name("rehab")), "-q", "live",
           "--exercise", "shoulder_abduction", "--source", str(clip), "--headless",
           "--stats", str(stats)]
    if record:
        cmd += ["--record", str(work / "record")]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"rehab live failed ({proc.returncode}):\n{proc.stderr}")
    return json.loads(stats.read_text())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, default=DEFAULT_VIDEO)
    parser.add_argument("--no-record", action="store_true", help="without --record")
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    if not args.video.is_file():
        raise SystemExit(f"{args.video}: not found (pass --video)")
    with tempfile.TemporaryDirectory(prefix="bench-live-") as tmp:
        work = Path(tmp)
        clip, n = letterboxed_input(args.video, work)
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        print(f"machine: {platform.machine()}, {os.cpu_count()} cpus (load average "
              f"{load:.2f} before the run), python {platform.python_version()}, opencv "
              f"{cv2.__version__}; {'with' if not args.no_record else 'without'} --record")
        ok = True
        for k in range(args.runs):
            s = run_once(clip, work, record=not args.no_record)
            dropped = 100.0 * s["frames_dropped"] / max(1, s["frames_in"])
            lat = s["latency_ms"]
            checks = {"dropped_pct": dropped <= GOALS["dropped_pct"],
                      "p50": lat["p50"] <= GOALS["p50"], "p95": lat["p95"] <= GOALS["p95"]}
            ok = ok and all(checks.values())
            print(f"run {k + 1}: frames in {s['frames_in']}, processed {s['frames_processed']}, "
                  f"dropped {s['frames_dropped']} ({dropped:.1f}%, goal <= "
                  f"{GOALS['dropped_pct']:g}%: {'ok' if checks['dropped_pct'] else 'MISSED'}); "
                  f"latency ms p50 {lat['p50']} (goal <= {GOALS['p50']:g}: "
                  f"{'ok' if checks['p50'] else 'MISSED'}), p95 {lat['p95']} (goal <= "
                  f"{GOALS['p95']:g}: {'ok' if checks['p95'] else 'MISSED'}), max {lat['max']}; "
                  f"reps {s['reps']}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
