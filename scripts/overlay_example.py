"""Regenerate docs/images/overlay_demo.png: three frames of the demo recording's overlay.

    REHAB_DATA_DIR=/path/to/videos .venv/bin/python scripts/overlay_example.py [OUT.png]

The demo recording (``rehab sample shoulder_abduction.mp4``) is analysed with the real pose
model (or its landmarks file, ``--landmarks``), the overlay video rendered into a
temporary folder, and three of its frames tiled two to a row: the arm raised in the middle
of a rep (the peak so far against the target), the arm at rest between reps, and the
summary frame at the end.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
from pathlib import Path

import cv2
import numpy as np

log = logging.getLogger("overlay_example")

REPO = Path(__file__).resolve().parents[1]


def pick_frames(analysis: object) -> tuple[int, int]:
    """A frame in the rise of the second rep (the peak so far short of the target) and a
    frame at rest after it."""
    from rehab.model import Analysis

    assert isinstance(analysis, Analysis)
    rep = analysis.reps[1] if len(analysis.reps) > 1 else analysis.reps[0]
    value = analysis.smoothed["primary"]
    lo = analysis.exercise.target.min_deg
    rise = [i for i in range(rep.start_frame, rep.peak_frame + 1)
            if np.isfinite(value[i]) and value[i] >= 0.75 * lo]
    mid = rise[0] if rise else (rep.start_frame + rep.peak_frame) // 2
    nxt = analysis.reps[2].start_frame if len(analysis.reps) > 2 else rep.end_frame + 10
    rest = (rep.end_frame + nxt) // 2
    return mid, rest


def read_frame(video: Path, index: int) -> np.ndarray:
    cap = cv2.VideoCapture(str(video))
    try:
        cap.set(cv2.CAP_PROP_POS_FRAMES, index)
        ok, img = cap.read()
    finally:
        cap.release()
    if not ok:
        raise SystemExit(f"{video}: no frame {index}")
    return img


def tile(frames: list[np.ndarray], width: int, gap: int = 8) -> np.ndarray:
    """The frames two to a row on white, ``width`` pixels wide (the last row centred)."""
    h, w = frames[0].shape[:2]
    tile_w = (width - gap) // 2
    tile_h = int(round(h * tile_w / w))
    rows = (len(frames) + 1) // 2
    canvas = np.full((rows * tile_h + (rows - 1) * gap, width, 3), 255, np.uint8)
    for k, img in enumerate(frames):
        row, col = divmod(k, 2)
        left = len(frames) - 2 * row
        x = col * (tile_w + gap) if left >= 2 else (width - tile_w) // 2
        y = row * (tile_h + gap)
        canvas[y:y + tile_h, x:x + tile_w] = cv2.resize(img, (tile_w, tile_h),
                                                        interpolation=cv2.INTER_AREA)
    return canvas


def main() -> None:
    from rehab.pipeline import analyze
    from rehab.overlay import render_overlay
    from rehab.sample_data import fetch_sample

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", type=Path,
                        default=REPO / "docs" / "images" / "overlay_demo.png")
    parser.add_argument("--width", type=int, default=1520, help="width of the tiled image")
    parser.add_argument("--landmarks", type=Path, default=None,
                        help="the demo's landmarks.npz (from 'rehab analyze'): no model run")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    video = fetch_sample("shoulder_abduction.mp4")
    analysis = analyze(args.landmarks or video, "shoulder_abduction", progress=False)
    mid, rest = pick_frames(analysis)
    with tempfile.TemporaryDirectory() as tmp:
        overlay = render_overlay(video, analysis, Path(tmp) / "overlay.mp4", progress=False)
        cap = cv2.VideoCapture(str(overlay))
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        cap.release()
        frames = [read_frame(overlay, i) for i in (mid, rest, n - 1)]
    canvas = tile(frames, args.width)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.out), canvas, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    log.info("%s: frames %d (mid-rep), %d (rest), %d (summary); %d KB", args.out, mid, rest,
             n - 1, args.out.stat().st_size // 1024)


if __name__ == "__main__":
    main()
