"""``rehab calibrate`` and ``rehab board``: thin command-line wrappers over the library.

Wire them into the main parser with::

    p = add_parser(subparsers);       p.set_defaults(func=run)        # rehab calibrate
    p = add_board_parser(subparsers); p.set_defaults(func=run_board)  # rehab board

(both functions already call ``set_defaults(func=...)``). Errors are raised as
`RehabError` subclasses for the main CLI to print.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from rehab import limits
from rehab.argtypes import int_in, number_in
from rehab.calibration.board import PAGES_MM, write_board
from rehab.calibration.camera import save_calibration, save_pose2sim_toml
from rehab.calibration.checkerboard import (
    DISTORTION_MODELS,
    CalibrationReport,
    calibrate_from_images,
    calibrate_from_video,
    parse_board,
)
from rehab.errors import ConfigError

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg"})

_BOARD_HELP = ("checkerboard size in INNER corners, COLSxROWS (where four squares meet; a "
               "board of 8x5 squares is 7x4; 7x4 and 4x7 are the same board)")


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``calibrate`` (camera intrinsics from a checkerboard) to ``subparsers``."""
    p = subparsers.add_parser(
        "calibrate",
        help="calibrate a camera from checkerboard photos or a video",
        description="Estimate the camera's focal length, principal point and lens "
                    "distortion from 10-20 photos (or a video) of a printed checkerboard "
                    "seen at different positions and tilts. See calibration/README.md.",
    )
    p.add_argument("inputs", nargs="+", metavar="IMAGES...|VIDEO",
                   help="checkerboard photos, or one video")
    p.add_argument("--board", required=True, type=str, metavar="COLSxROWS", help=_BOARD_HELP)
    p.add_argument("--square-mm", required=True, type=number_in(*limits.SQUARE_MM), metavar="MM",
                   help="side of one printed square in millimetres (measure the print)")
    p.add_argument("--out", required=True, type=Path, metavar="FILE.toml",
                   help="calibration file to write (written only on success)")
    p.add_argument("--name", default=None, help="camera name (default: the images' folder "
                   "or the video's name)")
    p.add_argument("--format", choices=("rehab", "pose2sim"), default="rehab",
                   help="file format: rehab (default) or Pose2Sim/Sports2D Calib.toml")
    p.add_argument("--max-frames", type=int_in(*limits.CALIBRATION_FRAMES), default=20,
                   metavar="N",
                   help="from a video: how many sharp, varied frames to use (default 20)")
    p.add_argument("--model", choices=("auto", *DISTORTION_MODELS), default="auto",
                   help="distortion model (default auto: chosen by leave-one-out error)")
    p.set_defaults(func=run)
    return p


def add_board_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``board`` (write a printable checkerboard PDF/SVG) to ``subparsers``."""
    p = subparsers.add_parser(
        "board", help="write a printable checkerboard (PDF or SVG)",
        description="Write a checkerboard to print at 100% for `rehab calibrate`.")
    p.add_argument("--board", default="7x4", metavar="COLSxROWS",
                   help=_BOARD_HELP + " (default 7x4)")
    p.add_argument("--square-mm", type=number_in(*limits.SQUARE_MM), default=30.0, metavar="MM",
                   help="square size in millimetres (default 30, fits A4)")
    p.add_argument("--page", choices=(*PAGES_MM, "fit"), default="a4",
                   help="paper size (default a4; fit = just large enough)")
    p.add_argument("--out", required=True, type=Path, metavar="FILE.pdf|FILE.svg",
                   help="output file; the suffix chooses PDF or SVG")
    p.set_defaults(func=run_board)
    return p


def _log_report(report: CalibrationReport) -> None:
    video = len(report.per_image) > 0 and "#frame" in report.per_image[0].path
    for r in report.per_image:
        name = Path(r.path).name
        if r.status == "used":
            log.info("%s: used, error %.3f px", name, r.detail)
        elif video and r.status in ("no_board", "not_selected"):
            log.debug("%s: %s (%s)", name, r.status, r.detail)
        else:
            log.warning("%s: %s: %s", name, r.status.replace("_", " "), r.detail)
    if report.loo_px:
        log.info("distortion model %s chosen by leave-one-out error: %s", report.model,
                 ", ".join(f"{k} {v:.3f} px" for k, v in report.loo_px.items()))


def summary(report: CalibrationReport, out: Path) -> str:
    """The lines printed after a successful calibration."""
    c, sd = report.calibration, report.std_px
    pm = {k: f" +/- {v:.1f}" if k in sd else "" for k, v in sd.items()}
    return (
        f"camera {c.name}: {c.width}x{c.height}, {c.images_used} views, "
        f"RMS {c.rms_px:.3f} px, model {report.model}\n"
        f"  fx {c.fx:.1f}{pm.get('fx', '')}  fy {c.fy:.1f}{pm.get('fy', '')}  "
        f"cx {c.cx:.1f}{pm.get('cx', '')}  cy {c.cy:.1f}{pm.get('cy', '')} px\n"
        f"  dist [k1 k2 p1 p2 k3] = [{', '.join(f'{d:.5g}' for d in c.dist)}]\n"
        f"  {len(report.warnings)} warning(s); written to {out}\n"
    )


def run(args: argparse.Namespace) -> int:
    """Calibrate, log per-image results and warnings, write the file, print a summary."""
    board = parse_board(args.board)
    inputs = [Path(p) for p in args.inputs]
    videos = [p for p in inputs if p.suffix.lower() in VIDEO_SUFFIXES]
    if videos and len(inputs) > 1:
        raise ConfigError("give either photos or one video, not both / several videos")
    if args.out.suffix.lower() != ".toml":
        raise ConfigError(f"{args.out}: the calibration is written as a .toml file")
    if videos:
        report = calibrate_from_video(videos[0], board, args.square_mm,
                                      max_frames=args.max_frames, name=args.name,
                                      model=args.model)
    else:
        report = calibrate_from_images(inputs, board, args.square_mm, name=args.name,
                                       model=args.model)
    _log_report(report)
    if args.format == "pose2sim":
        out = save_pose2sim_toml(report.calibration, args.out)
    else:
        out = save_calibration(report.calibration, args.out, report.provenance())
    sys.stdout.write(summary(report, out))
    return 0


def run_board(args: argparse.Namespace) -> int:
    """Write the printable board and say how to print it."""
    board = parse_board(args.board)
    out = write_board(args.out, board, args.square_mm, args.page)
    sys.stdout.write(f"board {board[0]}x{board[1]} inner corners, {args.square_mm:g} mm "
                     f"squares written to {out}; print at 100% and measure a square\n")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``calibrate`` and ``board`` to the main parser."""
    add_parser(subparsers)
    add_board_parser(subparsers)
