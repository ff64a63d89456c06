"""The ``rehab`` command line: a thin dispatcher over the library.

Every error caused by the input is one line on stderr (``rehab: error: ...``) and a
non-zero exit status; ``--debug`` shows tracebacks for bug reports.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from pathlib import Path
from typing import Sequence

from rehab import __version__
from rehab.errors import ProblemsError, RehabError
from rehab.terminal import out

log = logging.getLogger("rehab")


# --- subcommands ---------------------------------------------------------------------------

def cmd_exercises(args: argparse.Namespace) -> int:
    """List the exercise library."""
    from rehab.exercises import load_library

    library = load_library(args.exercises_dir)
    rows = [("id", "joint angle", "view", "sides", "target (deg)", "name")]
    for ex in sorted(library.values(), key=lambda e: e.id):
        rows.append((ex.id, ex.counting.angle, ex.view,
                     "both" if ex.bilateral else "one",
                     f"{ex.target.min_deg:g}-{ex.target.max_deg:g}", ex.name))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for r in rows:
        _out("  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[-1])
    return 0


def _default_out(input_path: str) -> Path:
    return Path("rehab-out") / Path(input_path.rstrip("/")).stem


def cmd_analyze(args: argparse.Namespace) -> int:
    """Analyse one recording, write its result folder and (with ``--patient``) store it.

    Everything that can be refused is checked before the slow pose stage; nothing is created
    on an input error. The result files are written in private and appear together
    (`rehab.analysis.result_folder`). With ``--patient`` they are owner-only, and without
    ``--out`` they are kept only in the patient's history (deleted with the patient), which
    keeps no video: ``--overlay`` then needs ``--out``.
    """
    from rehab.analysis import check_out_dir, result_folder, write_outputs
    from rehab.pipeline import analyze_pose, is_landmarks_file, load_input, resolve_exercise

    from rehab.store import cli as store_cli

    store_cli.check_patient(args)  # unknown patient or bad date: fail before any work
    exercise = resolve_exercise(args.exercise, args.target_min, args.target_max,
                                args.exercises_dir)
    plan = store_cli.patient_plan(args, exercise.id, exercise.bilateral)
    if plan.target is not None:
        exercise = exercise.with_target(*plan.target)
        log.info("target %g-%g deg from %s's prescription", *plan.target, args.patient)
    side = plan.side or "auto"
    if args.side is None and plan.side is not None:
        log.info("side %s from %s's prescription or affected side", side, args.patient)
    for_patient = args.patient is not None
    out = args.out or (None if for_patient else _default_out(args.input))
    if out is not None:
        check_out_dir(out)
    if args.overlay and is_landmarks_file(args.input):
        raise RehabError("--overlay needs the video: a landmarks file has no images")
    if args.overlay and out is None:
        raise RehabError("--overlay with --patient needs --out DIR: the patient history "
                         "keeps no video")
    if args.export and out is None:
        raise RehabError("--export with --patient needs --out DIR: the patient history keeps "
                         "the result files, not the exports")
    if args.calibration:  # fail on a bad calibration file before the slow pose stage
        from rehab.calibration import load_calibration

        load_calibration(args.calibration, camera=args.camera)
    seq = load_input(args.input, model=args.model, progress=not args.no_progress,
                     fps=args.fps)
    analysis = analyze_pose(seq, exercise, side=side, space=args.space,
                            calibration=args.calibration, camera=args.camera,
                            height_cm=args.height_cm, scale_board=args.scale_board,
                            scale_square_mm=args.scale_square_mm, video=args.input)
    for note in analysis.notes:
        log.info("note: %s", note)
    folder = None if out is None else result_folder(out, private=for_patient)
    with folder or contextlib.nullcontext():
        paths = {} if folder is None else write_outputs(analysis, folder.path)
        if args.export and folder is not None:
            from rehab.exports import write_exports

            paths.update(write_exports(analysis, folder.path, args.export))
        if args.overlay and folder is not None:
            from rehab.overlay import render_overlay

            # the goal of this recording: the prescribed reps of each set it holds
            goal = plan.reps * (getattr(args, "sets_done", None) or 1) if plan.reps else None
            paths["overlay"] = render_overlay(args.input, analysis, folder.path / "overlay.mp4",
                                              progress=not args.no_progress, reps_goal=goal)
        if for_patient:
            output = None
            if folder is not None:
                output = store_cli.output_folder(folder.final, paths)
                folder.publish()
            store_cli.after_analyze(args, analysis, output=output)
    if folder is not None:
        log.info("wrote %s (%s)", folder.final, ", ".join(p.name for p in paths.values()))
    _out(format_rep_table(analysis))
    return 0


def format_rep_table(analysis: "object") -> str:
    """The per-rep table printed by ``rehab analyze``."""
    from rehab.analysis import Analysis

    assert isinstance(analysis, Analysis)
    ex = analysis.exercise
    both = ex.bilateral and analysis.side in ("left", "right")
    why = {"left": " (affected side)", "right": " (affected side)",
           "both": " (both sides scored)"}.get(analysis.involved, "")
    lines = [
        f"{ex.name} ({ex.id}), side {analysis.side}{why}: {analysis.rep_count} repetition(s); "
        f"target peak {ex.target.min_deg:g}-{ex.target.max_deg:g} deg "
        f"{analysis.primary_column.replace('_', ' ')}",
        f"{'rep':>3s} {'start':>7s} {'end':>7s} {'min':>6s} {'max':>6s} {'ROM':>6s} "
        f"{'target':>6s} {'score':>5s} {'quality':>7s}"
        + (f" {'L peak':>6s} {'R peak':>6s} {'LSI%':>5s}" if both else "") + "  flags",
    ]

    def num(v: float | None, width: int) -> str:
        return f"{v:{width}.1f}" if v is not None else f"{'-':>{width}s}"

    for r in analysis.reps:
        lines.append(f"{r.index:3d} {r.start_s:7.2f} {r.end_s:7.2f} {r.min_deg:6.1f} "
                     f"{r.max_deg:6.1f} {r.rom_deg:6.1f} {'yes' if r.target_met else 'no':>6s} "
                     f"{r.score:5d} {r.quality or '-':>7s}"
                     + (f" {num(r.left_peak_deg, 6)} {num(r.right_peak_deg, 6)} "
                        f"{num(r.symmetry_pct, 5)}" if both else "")
                     + f"  {', '.join(r.flags) or '-'}")
    if not analysis.reps:
        lines.append("  (no complete repetition)")
    from rehab.analysis import view_note
    from rehab.codec import symmetry_text

    if analysis.symmetry is not None and analysis.symmetry.index_pct is not None:
        lines.append(symmetry_text(analysis.symmetry))
    if analysis.view is not None and analysis.view.warning:
        lines.append("warning: " + view_note(analysis.view).text)
    return "\n".join(lines)


def cmd_validate(args: argparse.Namespace) -> int:
    """Counting accuracy on one or more labelled manifests; with ``--out`` the report too."""
    from rehab.analysis import prepare_out_dir
    from rehab.model import Analysis
    from rehab.pipeline import analyze
    from rehab.validate import ManifestRow, format_summary, read_manifests, validate

    rows = read_manifests(args.manifest)
    if args.out:
        prepare_out_dir(args.out)  # an unwritable folder fails before the work

    def analyse(row: ManifestRow) -> Analysis:
        return analyze(row.path, row.exercise, side=row.side, model=args.model,
                       progress=not args.no_progress, exercises_dir=args.exercises_dir)

    summary = validate(rows, analyse, keep_traces=bool(args.out))
    _out(format_summary(summary))
    if args.out:
        from rehab.validate_report import write_report

        paths = write_report(summary, args.out)
        log.info("wrote %s (%s)", Path(args.out), ", ".join(p.name for p in paths))
    return 1 if summary.failed else 0


def cmd_info(args: argparse.Namespace) -> int:
    """Versions and the model in use, for bug reports."""
    from rehab.info import collect_info, settings_table

    for key, value in collect_info(model=args.model).items():
        _out(f"{key + ':':18s} {value}")
    _out("analysis settings (defaults; an exercise's [settings] table overrides them):")
    for line in settings_table():
        _out(line)
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    """Fetch (or find offline) a sample recording and print its path."""
    from rehab.sample_data import fetch_sample

    _out(str(fetch_sample(args.name)))
    return 0


# --- plumbing ------------------------------------------------------------------------------

def _out(text: str) -> None:
    """Write a command's result to stdout (made safe for the terminal; diagnostics go to
    logging)."""
    out(text)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for all subcommands."""
    parser = argparse.ArgumentParser(
        prog="rehab", description="Camera-based physical rehabilitation: analyse exercises "
                                  "from video, count and score repetitions.")
    parser.add_argument("--version", action="version", version=f"rehab {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="more log output")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--exercises-dir", metavar="DIR",
                        help="extra folder of exercise definitions (*.toml)")

    p = sub.add_parser("exercises", parents=[common], help="list the exercise library")
    p.set_defaults(func=cmd_exercises)

    _add_analyze_parser(sub, common)

    p = sub.add_parser("validate", parents=[common], help="counting accuracy on a labelled set",
                       description="Rows: file,exercise,reps_true[,side]; files relative to "
                                   "their manifest (videos or landmarks .npz). The clips of "
                                   "all manifests are validated together.")
    p.add_argument("manifest", nargs="+", help="manifest CSV (one or more)")
    p.add_argument("--model", metavar="PATH.task", help="pose model for video rows")
    p.add_argument("--out", "-o", metavar="DIR",
                   help="write validation.json/.csv and the report validation.html/.pdf here")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("info", help="versions of rehab and its dependencies; the model in use")
    p.add_argument("--model", metavar="PATH.task", help="report on this model instead")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("sample", help="fetch a sample recording (or find it offline) and "
                                      "print its path")
    p.add_argument("name", nargs="?", default="shoulder_abduction.mp4",
                   help="sample file name (default: shoulder_abduction.mp4)")
    p.set_defaults(func=cmd_sample)

    _register_extensions(sub)
    return parser


def _add_analyze_parser(sub: argparse._SubParsersAction,  # type: ignore[type-arg]
                        common: argparse.ArgumentParser) -> None:
    """``rehab analyze`` and its options (numbers bounded by `rehab.limits`)."""
    from rehab import limits
    from rehab.argtypes import finite_float, number_in
    from rehab.exports import export_formats

    p = sub.add_parser("analyze", parents=[common], help="analyse a recorded exercise",
                       description="Analyse a video, an image folder or a landmarks .npz.")
    p.add_argument("input", help="video file, image folder, or landmarks .npz")
    p.add_argument("--exercise", "-e", required=True, help="exercise id (see 'rehab exercises') "
                                                           "or a path to an exercise .toml")
    p.add_argument("--side", choices=("left", "right", "both", "auto"), default=None,
                   help="the affected side, scored and headlined (both sides are always "
                        "measured); both: score both. Default: with --patient, the "
                        "prescription's or the patient's affected side; else auto, the side "
                        "that moves most and is best seen")
    p.add_argument("--target-min", type=finite_float, metavar="DEG",
                   help="target band, lower end (within the joint's physiological range)")
    p.add_argument("--target-max", type=finite_float, metavar="DEG",
                   help="target band, upper end (within the joint's physiological range)")
    p.add_argument("--model", metavar="PATH.task",
                   help="MediaPipe pose_landmarker_{lite,full,heavy}.task (default: the full "
                        "model built offline from the installed mediapipe)")
    p.add_argument("--space", choices=("image", "world"), default=None,
                   help="angles from image-plane (2D) or world (3D) landmarks "
                        "(default: as the exercise says)")
    p.add_argument("--fps", type=number_in(*limits.FPS), default=None,
                   help="frame rate of an image folder (default 30)")
    p.add_argument("--calibration", metavar="CAMERA.toml",
                   help="camera calibration (rehab calibrate, or a Pose2Sim/Sports2D TOML): "
                        "undistorts the landmarks before measuring angles")
    p.add_argument("--camera", metavar="NAME",
                   help="which camera of a multi-camera Pose2Sim calibration file")
    p.add_argument("--height-cm", type=number_in(*limits.HEIGHT_CM), metavar="CM",
                   help="patient's height: adds distances in cm to each rep (needs frames "
                        "where the patient stands fully visible)")
    p.add_argument("--scale-board", metavar="COLSxROWS",
                   help="a checkerboard held in the scene gives the cm scale instead "
                        "(inner corners, e.g. 7x4)")
    p.add_argument("--scale-square-mm", type=number_in(*limits.SQUARE_MM), metavar="MM",
                   help="square size of the --scale-board checkerboard")
    p.add_argument("--overlay", action="store_true",
                   help="also write overlay.mp4 with skeleton, angle, target band and counter")
    p.add_argument("--export", type=export_formats, metavar="trc,mot,c3d", default=(),
                   help="also write the landmarks as OpenSim markers (markers.trc), the joint "
                        "angles as an OpenSim motion (angles.mot) and/or the markers as C3D "
                        "(markers.c3d), comma-separated")
    p.add_argument("--out", "-o", metavar="DIR",
                   help="output folder (default: ./rehab-out/<input name>/)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    from rehab.store.cli import add_analyze_options

    add_analyze_options(p)
    p.set_defaults(func=cmd_analyze)


EXTENSION_MODULES: tuple[str, ...] = (
    "rehab.calibration.cli",
    "rehab.store.cli",
    "rehab.reports.cli",
    "rehab.live.cli",
    "rehab.batch.cli",
)
"""Modules that add subcommands: each has ``register(subparsers)`` (or ``add_parser`` +
``run``). Kept as a list so that the core CLI stays a dispatcher."""


def _register_extensions(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    import importlib

    for name in EXTENSION_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name is not None and name.startswith(exc.name):
                continue  # that part of rehab is not installed
            raise
        if hasattr(module, "register"):
            module.register(sub)
        else:
            module.add_parser(sub).set_defaults(func=module.run)


class _SafeFormatter(logging.Formatter):
    """Log lines with user text made safe for the terminal (`rehab.terminal.safe_text`)."""

    def format(self, record: logging.LogRecord) -> str:
        from rehab.terminal import safe_text

        return safe_text(super().format(record))


LOG_HANDLER_NAME = "rehab-cli"
"""Name of the stderr handler `main` puts on the root logger."""


def _configure_logging(verbose: bool, quiet: bool) -> None:
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_SafeFormatter("rehab: %(message)s"))
    handler.set_name(LOG_HANDLER_NAME)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    logging.getLogger("rehab").setLevel(level)


def _one_line(text: str) -> str:
    from rehab.terminal import safe_text

    return safe_text(text, keep_newlines=False)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``rehab`` command."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help(sys.stderr)
        return 2
    _configure_logging(args.verbose, args.quiet)
    try:
        return int(args.func(args) or 0)
    except RehabError as exc:
        if args.debug:
            raise
        lines = exc.problems if isinstance(exc, ProblemsError) else (str(exc),)
        for line in lines:
            sys.stderr.write(f"rehab: error: {_one_line(line)}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("rehab: interrupted\n")
        return 130
    except MemoryError:
        sys.stderr.write("rehab: error: out of memory\n")
        return 1
    except OSError as exc:
        if args.debug:
            raise
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        sys.stderr.write(f"rehab: error: {_one_line(f'{where}{exc.strerror or exc}')}\n")
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
