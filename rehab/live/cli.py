"""``rehab live``: coaching in front of a webcam (or a recording played as one).

`register(subparsers)` adds the subcommand; `cmd_live` parses its arguments, resolves the
plan (exercise and target, reps, sets, side: command line, else the patient's prescription,
else defaults), runs it with `rehab.live.runner.run_session`, prints the summary and maps
the result to an exit code. Heavy modules (OpenCV, MediaPipe) are imported when the
command runs, not when it registers.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from rehab.errors import InputError, NoPoseError, OutputError, RehabError
from rehab.live.runner import DEFAULT_REPS, DEFAULT_REST_S, DEFAULT_SETS
from rehab.terminal import out

if TYPE_CHECKING:
    from rehab.exercises import Exercise
    from rehab.live.session import SessionResult
    from rehab.store.models import SessionFeedback
    from rehab.stream.server import ServeOptions

log = logging.getLogger(__name__)


def _out(text: str) -> None:
    """The command's result on stdout, made safe for the terminal."""
    out(text)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``rehab live`` to the subcommands (numbers bounded by `rehab.limits`)."""
    from rehab import limits
    from rehab.argtypes import finite_float, int_in, number_in
    from rehab.store.cli import add_db_option, add_feedback_options

    p = sub.add_parser(
        "live", help="live coaching in front of a webcam",
        description="Count and score repetitions live: skeleton, the tracked angle against "
                    "its target, rep and set counters, one cue at a time. Keys: space "
                    "pause, q end, r restart the set.")
    p.add_argument("--exercise", "-e", metavar="ID",
                   help="exercise id (see 'rehab exercises') or a path to an exercise .toml")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--camera", type=int_in(*limits.CAMERA_INDEX), metavar="N", default=None,
                     help="camera index (default 0; see --list-cameras)")
    src.add_argument("--source", metavar="VIDEO",
                     help="play a recording as if it were the camera, at its real frame rate")
    p.add_argument("--list-cameras", action="store_true", help="list the cameras and exit")
    p.add_argument("--side", choices=("left", "right", "both", "auto"), default=None,
                   help="limb to follow (default: the prescription's, else auto)")
    p.add_argument("--reps", type=int_in(*limits.REPS_PER_SET), metavar="N",
                   help=f"reps per set (default: the prescription's, else {DEFAULT_REPS})")
    p.add_argument("--sets", type=int_in(*limits.SETS), metavar="N",
                   help=f"sets (default: the prescription's, else {DEFAULT_SETS})")
    p.add_argument("--rest", type=number_in(*limits.SECONDS), metavar="SEC",
                   default=DEFAULT_REST_S,
                   help=f"rest between sets (default {DEFAULT_REST_S:g} s)")
    p.add_argument("--target-min", type=finite_float, metavar="DEG",
                   help="target band, lower end (within the joint's physiological range)")
    p.add_argument("--target-max", type=finite_float, metavar="DEG",
                   help="target band, upper end (within the joint's physiological range)")
    p.add_argument("--patient", metavar="ID",
                   help="store the session and each rep in this patient's history; their "
                        "prescription supplies target, reps, sets and side")
    add_db_option(p)
    g = p.add_argument_group("what the patient says (with --patient; asked at the end when "
                             "not given and the terminal is interactive)")
    add_feedback_options(g, sets=False)
    g.add_argument("--no-ask", action="store_true",
                   help="do not ask for pain and exertion at the end")
    p.add_argument("--record", metavar="DIR",
                   help="write overlay.mp4, session.json and the result files here")
    p.add_argument("--headless", action="store_true",
                   help="no window (tests, CI, remote runs); use with --record")
    p.add_argument("--audio", action="store_true",
                   help="speak cues and counts (pyttsx3 or espeak-ng; tones if neither)")
    p.add_argument("--stats", metavar="PATH.json",
                   help="write frame counts and capture-to-overlay latency here")
    p.add_argument("--model", metavar="PATH.task", help="pose model (default: the full model)")
    p.add_argument("--mirror", action=argparse.BooleanOptionalAction, default=None,
                   help="show the image mirrored (default: yes for a camera, no for --source)")
    p.add_argument("--fullscreen", action="store_true", help="full-screen window")
    p.add_argument("--max-seconds", type=number_in(*limits.LIVE_SECONDS), metavar="SEC",
                   help="end the session after this long")
    p.add_argument("--speed", type=number_in(*limits.SPEED), default=1.0,
                   help="playback speed of --source (default 1: real time); times and "
                        "tempo stay the recording's")
    p.add_argument("--exercises-dir", metavar="DIR",
                   help="extra folder of exercise definitions (*.toml)")
    _add_stream_options(p)
    p.set_defaults(func=cmd_live)


def _add_stream_options(p: argparse.ArgumentParser) -> None:
    """``--serve`` (WebSocket and 3D page) and ``--vmc`` (avatar apps) and their options."""
    from rehab.argtypes import int_in
    from rehab.stream import DEFAULT_HOST, DEFAULT_PORT

    g = p.add_argument_group("streaming to browsers, headsets and avatar apps")
    g.add_argument("--serve", action="store_true",
                   help="serve the session: a 3D page at http://HOST:PORT/ (WebXR where the "
                        "browser has it) and a WebSocket stream at /stream (see the README)")
    g.add_argument("--host", default=None, metavar="ADDR",
                   help=f"address to serve on (default {DEFAULT_HOST}: this machine only)")
    g.add_argument("--port", type=int_in(0, 65535), default=None, metavar="N",
                   help=f"port to serve on (default {DEFAULT_PORT}; 0: any free port)")
    g.add_argument("--token", default=None, metavar="T",
                   help="every client must present this token (?token=T or Authorization: "
                        "Bearer T); default: $REHAB_STREAM_TOKEN if set")
    g.add_argument("--allow-origin", action="append", default=[], metavar="URL",
                   help="let browser pages from this origin connect too (repeatable)")
    g.add_argument("--vmc", nargs="?", const="", default=None, metavar="HOST:PORT",
                   help="send the body as VMC protocol bones over UDP to an avatar app "
                        "(default 127.0.0.1:39539)")
    g.add_argument("--allow-remote", action="store_true",
                   help="allow --host or --vmc beyond this machine (the stream shows the "
                        "patient's movements to whoever receives it)")


def _stream_plan(args: argparse.Namespace
                 ) -> tuple[ServeOptions | None, tuple[str, int] | None]:
    """The ``--serve`` options and the ``--vmc`` target, checked (`InputError`)."""
    from rehab.stream import DEFAULT_HOST, DEFAULT_PORT
    from rehab.stream.server import ServeOptions, check_options, is_loopback

    given = [f"--{o.replace('_', '-')}" for o in ("host", "port", "token")
             if getattr(args, o) is not None] + (["--allow-origin"] if args.allow_origin else [])
    serve = None
    if args.serve:
        token = args.token if args.token is not None else \
            os.environ.get("REHAB_STREAM_TOKEN") or None
        serve = ServeOptions(host=args.host or DEFAULT_HOST,
                             port=DEFAULT_PORT if args.port is None else args.port,
                             token=token, allow_remote=args.allow_remote,
                             allowed_origins=tuple(args.allow_origin))
        check_options(serve)
    elif given:
        raise InputError(f"{given[0]} is only used with --serve")
    vmc = None
    if args.vmc is not None:
        from rehab.stream.vmc import parse_target

        vmc = parse_target(args.vmc or None)
        if not is_loopback(vmc[0]) and not args.allow_remote:
            raise InputError(f"--vmc {vmc[0]}: the body would be sent to another machine; "
                             f"add --allow-remote to do so")
    if args.allow_remote and serve is None and vmc is None:
        raise InputError("--allow-remote is only used with --serve or --vmc")
    return serve, vmc


@dataclasses.dataclass(frozen=True)
class _Plan:
    exercise: "Exercise"
    reps: int
    sets: int
    side: str


def _plan(args: argparse.Namespace) -> _Plan:
    """Exercise, target, reps, sets and side: command line, else prescription, else defaults."""
    from rehab.pipeline import resolve_exercise
    from rehab.store.cli import patient_plan

    exercise = resolve_exercise(args.exercise, args.target_min, args.target_max,
                                args.exercises_dir)
    plan = patient_plan(args, exercise.id, exercise.bilateral)
    if plan.target is not None:
        exercise = exercise.with_target(*plan.target)
    reps, sets, side = args.reps or plan.reps, args.sets or plan.sets, args.side or plan.side
    return _Plan(exercise, reps or DEFAULT_REPS, sets or DEFAULT_SETS, side or "auto")


def _source(args: argparse.Namespace) -> int | str:
    """``--camera N`` or ``--source VIDEO`` (a number given to ``--source`` is a camera)."""
    if args.source is None:
        return int(args.camera or 0)
    if args.source.strip().isdigit():  # a camera index, bounded as --camera is
        from rehab import limits
        from rehab.argtypes import int_in, option_value

        return option_value(int_in(*limits.CAMERA_INDEX), args.source.strip(), "--source")
    return str(args.source)


def _check_stats_path(path: str) -> Path:
    """The ``--stats`` file, checked writable (its folder created) before the session:
    `OutputError` otherwise."""
    from rehab.fileio import describe_os_error, temp_sibling

    target = Path(path).expanduser()
    if target.is_dir():
        raise OutputError(f"{target}: is a folder; --stats takes a file name")
    probe = temp_sibling(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        os.unlink(probe)
    except FileExistsError:
        raise OutputError(f"{target}: cannot write the stats ({target.parent} is a file, "
                          f"not a folder)") from None
    except OSError as exc:
        raise OutputError(f"{target}: cannot write the stats ({describe_os_error(exc)})") \
            from None
    return target


def _write_stats(target: Path, result: "SessionResult") -> str | None:
    """The ``--stats`` document, written atomically; returns the error, if any."""
    from rehab.fileio import write_json_atomic

    try:
        write_json_atomic(target, result.stats.to_dict(result.rep_count))
    except OutputError as exc:
        return str(exc)
    return None


def cmd_live(args: argparse.Namespace) -> int:
    """Run one live session and print its summary."""
    if args.list_cameras:
        from rehab.capture import list_cameras

        found = list_cameras()
        if not found:
            raise InputError("no camera found; play a recording instead with --source VIDEO",
                             exit_code=1)
        for index in found:
            _out(f"camera {index}")
        return 0
    if not args.exercise:
        raise InputError("--exercise is required (see 'rehab exercises')")
    if args.patient is None:
        given = [o for o in ("pain", "exertion", "note") if getattr(args, o) is not None]
        if given:
            raise InputError(f"--{given[0]} is only used with --patient")
    stats = _check_stats_path(args.stats) if args.stats else None
    serve, vmc = _stream_plan(args)
    plan = _plan(args)
    from rehab.live.runner import run_session
    from rehab.live.session import format_summary

    result = run_session(
        plan.exercise, _source(args), reps=plan.reps, sets=plan.sets, rest_s=args.rest,
        side=plan.side, model=args.model, record_dir=args.record, patient_id=args.patient,
        db=args.db, audio=args.audio, headless=args.headless, fullscreen=args.fullscreen,
        mirror=args.mirror, max_seconds=args.max_seconds, speed=args.speed,
        serve=serve, vmc=vmc)
    _out(format_summary(result))
    feedback_error = _store_feedback(args, result)
    stats_error = _write_stats(stats, result) if stats is not None else None
    code = _exit_code(result, result.source)
    if feedback_error:
        sys.stderr.write(f"rehab: error: {feedback_error}\n")
        code = code or OutputError.exit_code
    if stats_error:
        sys.stderr.write(f"rehab: error: {stats_error}\n")
        code = code or OutputError.exit_code
    return code


def ask_rating(question: str, stdin: TextIO, stderr: TextIO, tries: int = 3) -> int | None:
    """Ask for a 0-10 rating at the terminal; None when skipped (Enter, end of input) or
    not answered with a whole number from 0 to 10 in ``tries`` attempts."""
    for _ in range(tries):
        stderr.write(f"{question} (0-10, Enter to skip): ")
        stderr.flush()
        line = stdin.readline()
        if not line.strip():
            return None
        text = line.strip()
        if text.isdigit() and 0 <= int(text) <= 10:
            return int(text)
        stderr.write(f"  please type a whole number from 0 to 10, not {text!r}\n")
    return None


def ask_feedback(stdin: TextIO, stderr: TextIO) -> "SessionFeedback":
    """Pain and exertion, asked at the end of a live session."""
    from rehab.store.models import SessionFeedback

    pain = ask_rating("Pain now, 0 none to 10 worst imaginable", stdin, stderr)
    exertion = ask_rating("How hard was it, 0 rest to 10 maximal", stdin, stderr)
    return SessionFeedback(pain=pain, exertion=exertion)


def _store_feedback(args: argparse.Namespace, result: "SessionResult") -> str | None:
    """Store what the patient says of the stored session (options, else asked when the
    terminal is interactive); returns the error, if any."""
    from rehab.store.cli import feedback_of, open_db

    if args.patient is None or result.session_id is None:
        return None
    feedback = feedback_of(args, sets=result.sets_done or None)
    if feedback.pain is None and feedback.exertion is None and not args.no_ask \
            and sys.stdin.isatty():
        asked = ask_feedback(sys.stdin, sys.stderr)
        feedback = dataclasses.replace(feedback, pain=asked.pain, exertion=asked.exertion)
    try:
        with open_db(args) as store:
            store.set_feedback(result.session_id, feedback)
    except RehabError as exc:
        return f"pain and exertion not stored: {exc}"
    return None


def _exit_code(result: "SessionResult", source_name: str) -> int:
    """0 for a session that ended normally; each fault as one line on stderr, ending with
    what of the session was saved (`rehab.live.session.saved_summary`)."""
    from rehab.live.session import saved_summary

    problems: list[tuple[str, int]] = []
    if result.end_reason == "camera_lost":
        problems.append((f"{source_name} stopped delivering frames after "
                         f"{result.duration_s:.0f} s (unplugged, or taken by another "
                         f"program?)", InputError.exit_code))
    frames = result.stats.frames_processed
    if frames and result.stats.frames_with_person == 0:
        problems.append((f"nobody was seen in {frames} frames ({result.duration_s:.0f} s) of "
                         f"{source_name}: stand where the camera sees the whole movement",
                         NoPoseError.exit_code))
    for problem in (result.record_error, result.store_error):
        if problem:
            problems.append((problem, OutputError.exit_code))
    saved = saved_summary(result) if problems else ""
    for text, _ in problems:
        sys.stderr.write(f"rehab: error: {text}; {saved}\n")
    code = problems[0][1] if problems else 0
    if result.late_signal is not None:
        code = code or 130
    if result.end_reason == "interrupted":
        code = code or 130
    if result.end_reason == "terminated":
        code = code or 128 + signal.SIGTERM
    return code


__all__ = ["cmd_live", "register"]
