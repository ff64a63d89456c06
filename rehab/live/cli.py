"""``rehab live``: coaching in front of a webcam (or a recording played as one).

`register(subparsers)` adds the subcommand; `cmd_live` wires the source, the pose model,
the patient history, audio and the window into `rehab.live.session.LiveSession`. Heavy
modules (OpenCV, MediaPipe) are imported when the command runs, not when it registers.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import logging
import signal
import sys
import threading
from pathlib import Path
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from rehab.argtypes import finite_float, positive_float, positive_int
from rehab.errors import InputError, OutputError

if TYPE_CHECKING:
    from rehab.capture import Source
    from rehab.exercises import Exercise
    from rehab.live.session import LiveSession, SessionResult

log = logging.getLogger(__name__)

DEFAULT_REPS = 10
DEFAULT_SETS = 3
DEFAULT_REST_S = 60.0


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``rehab live`` to the subcommands."""
    from rehab.store.cli import add_db_option

    p = sub.add_parser(
        "live", help="live coaching in front of a webcam",
        description="Count and score repetitions live: skeleton, the tracked angle against "
                    "its target, rep and set counters, one cue at a time. Keys: space "
                    "pause, q end, r restart the set.")
    p.add_argument("--exercise", "-e", metavar="ID",
                   help="exercise id (see 'rehab exercises') or a path to an exercise .toml")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--camera", type=int, metavar="N", default=None,
                     help="camera index (default 0; see --list-cameras)")
    src.add_argument("--source", metavar="VIDEO",
                     help="play a recording as if it were the camera, at its real frame rate")
    p.add_argument("--list-cameras", action="store_true", help="list the cameras and exit")
    p.add_argument("--side", choices=("left", "right", "auto"), default=None,
                   help="limb to follow (default: the prescription's, else auto)")
    p.add_argument("--reps", type=positive_int, metavar="N",
                   help=f"reps per set (default: the prescription's, else {DEFAULT_REPS})")
    p.add_argument("--sets", type=positive_int, metavar="N",
                   help=f"sets (default: the prescription's, else {DEFAULT_SETS})")
    p.add_argument("--rest", type=positive_float, metavar="SEC", default=DEFAULT_REST_S,
                   help=f"rest between sets (default {DEFAULT_REST_S:g} s)")
    p.add_argument("--target-min", type=finite_float, metavar="DEG", help="target band, lower end")
    p.add_argument("--target-max", type=finite_float, metavar="DEG", help="target band, upper end")
    p.add_argument("--patient", metavar="ID",
                   help="store the session and each rep in this patient's history; their "
                        "prescription supplies target, reps, sets and side")
    add_db_option(p)
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
    p.add_argument("--max-seconds", type=positive_float, metavar="SEC",
                   help="end the session after this long")
    p.add_argument("--speed", type=positive_float, default=1.0,
                   help="playback speed of --source (default 1: real time); times and "
                        "tempo stay the recording's")
    p.add_argument("--exercises-dir", metavar="DIR",
                   help="extra folder of exercise definitions (*.toml)")
    p.set_defaults(func=cmd_live)


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


def _open_source(args: argparse.Namespace) -> tuple[
        Callable[[], "Source"], Callable[[], None], int, int, Any | None, bool]:
    """How to start the frame source, how to give it up unstarted, its frame size, its
    first image when known (to warm the model up on), and whether it is a camera.

    A camera is opened now (so a missing or busy one is reported before the model loads);
    a recording is opened now but starts playing only when the returned callable is called,
    once everything else is ready, so that no frame is late before the session begins.
    """
    from rehab.capture import open_camera
    from rehab.live.player import PacedVideoReader, paced_source

    if args.source is None or args.source.strip().isdigit():
        try:
            camera = open_camera(int(args.source) if args.source else (args.camera or 0))
        except InputError as exc:
            reason = str(exc).split(";")[0]  # what failed, without capture's generic hint
            raise InputError(f"{reason}; play a recording instead with --source VIDEO, or "
                             f"see 'rehab live --list-cameras'") from None
        return (lambda: camera), camera.close, camera.width, camera.height, None, True
    path = Path(args.source).expanduser()
    if path.is_dir():
        raise InputError(f"{path}: --source takes a video file (an image folder has no "
                         "frame rate to play it at; use 'rehab analyze' for it)")
    reader = PacedVideoReader(path, speed=args.speed)
    return (lambda: paced_source(reader)), reader.release, reader.width, reader.height, \
        reader.peek(), False


def _write_stats(path: str, result: "SessionResult") -> None:
    target = Path(path).expanduser()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(result.stats.to_dict(result.rep_count), indent=2) + "\n",
                          encoding="utf-8")
    except OSError as exc:
        raise OutputError(f"{target}: cannot write the stats ({exc.strerror or exc})") from None


def cmd_live(args: argparse.Namespace) -> int:
    """Run one live session and print its summary."""
    if args.list_cameras:
        from rehab.capture import list_cameras

        found = list_cameras()
        if not found:
            _out("no camera found; play a recording instead with --source VIDEO")
            return 1
        for index in found:
            _out(f"camera {index}")
        return 0
    if not args.exercise:
        raise InputError("--exercise is required (see 'rehab exercises')")
    plan = _plan(args)
    if args.record:
        record = Path(args.record).expanduser()
        try:
            record.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"{record}: cannot create the folder ({exc.strerror or exc})") \
                from None
    elif args.headless:
        log.info("--headless without --record: nothing is shown or recorded, only counted")

    from rehab.live.session import LiveConfig, LiveSession, format_summary
    from rehab.live.ui import Window, display_available

    if not args.headless and not display_available():
        raise InputError("no display to open a window on; use --headless "
                         "(with --record DIR to keep the overlay video)")
    store = None
    if args.patient is not None:
        from rehab.live.writers import StoreWriter

        store = StoreWriter(Path(args.db).expanduser() if args.db else None)
        store.start()
    resources: list[Any] = []
    abort: Callable[[], None] | None = None
    try:
        from rehab.live.session import fit_size
        from rehab.pose.mediapipe_estimator import MediaPipePoseEstimator

        start, abort, width, height, first_image, is_camera = _open_source(args)
        estimator = MediaPipePoseEstimator(model_path=args.model, num_poses=1)
        resources.append(estimator)
        config = LiveConfig(reps=plan.reps, sets=plan.sets, rest_s=args.rest, side=plan.side,
                            mirror=is_camera if args.mirror is None else args.mirror,
                            max_seconds=args.max_seconds, camera=is_camera)
        _warm_up(estimator, plan.exercise, fit_size(width, height, config.max_size),
                 first_image)
        display = None if args.headless else Window(
            f"rehab live - {plan.exercise.name}", fullscreen=args.fullscreen)
        audio = None
        if args.audio:
            from rehab.live.audio import AudioCoach

            audio = AudioCoach()
        source = start()
        abort = None
        resources.append(source)
        session = LiveSession(source, estimator, plan.exercise, config, display=display,
                              record_dir=args.record, audio=audio, store=store,
                              patient_id=args.patient)
        log.info("%s: %d sets of %d reps, target %g-%g deg, side %s", plan.exercise.name,
                 plan.sets, plan.reps, plan.exercise.target.min_deg,
                 plan.exercise.target.max_deg, plan.side)
        with _signals_end(session):
            result = session.run()
        resources.remove(source)  # closed by the session
    finally:
        if abort is not None:
            abort()
        if store is not None:
            store.stop()
        for r in reversed(resources):
            r.close()
    _out(format_summary(result))
    if args.stats:
        _write_stats(args.stats, result)
    return _exit_code(result, source.name)


def _warm_up(estimator: Any, exercise: "Exercise", size: tuple[int, int],
             image: Any | None) -> None:
    """Run the model and the counter once before the first frame, so that their set-up
    (graph, compiled kernels) does not stall the session's first frames."""
    import cv2
    import numpy as np

    from rehab.live.session import warm_up_counter

    if image is None:
        image = np.zeros((size[1], size[0], 3), np.uint8)
    estimator.process(cv2.resize(image, size, interpolation=cv2.INTER_AREA), -1.0)
    warm_up_counter(exercise)


@contextlib.contextmanager
def _signals_end(session: "LiveSession") -> Iterator[None]:
    """SIGTERM (a service manager, ``kill``) and SIGHUP (the terminal closed) end the session
    like ``q``: after the current frame, saved and stored. A second one interrupts at once
    (as Ctrl-C: what was stored stays). Only in the main thread, where signals arrive."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []

    def handler(signum: int, frame: object) -> None:
        received.append(signum)
        if len(received) > 1:
            raise KeyboardInterrupt
        log.info("%s received: ending the session", signal.Signals(signum).name)
        session.request_stop("terminated")

    wanted = [signal.SIGTERM] + ([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])
    previous = {sig: signal.signal(sig, handler) for sig in wanted}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _exit_code(result: "SessionResult", source_name: str) -> int:
    """0 for a session that ended normally; errors as one line each on stderr."""
    code = 0
    if result.end_reason == "camera_lost":
        sys.stderr.write(f"rehab: error: {source_name} stopped delivering frames after "
                         f"{result.duration_s:.0f} s (unplugged, or taken by another "
                         f"program?); the session so far is saved\n")
        code = InputError.exit_code
    for problem in (result.record_error, result.store_error):
        if problem:
            sys.stderr.write(f"rehab: error: {problem}; the session so far is saved\n")
            code = code or OutputError.exit_code
    if result.end_reason == "interrupted":
        code = code or 130
    if result.end_reason == "terminated":
        code = code or 128 + signal.SIGTERM
    return code


def run_cli(argv: list[str]) -> int:
    """``rehab live ARGS`` from Python (tests, benchmarks)."""
    from rehab.cli import main

    return main(["live", *argv])


__all__ = ["cmd_live", "register", "run_cli"]

if __name__ == "__main__":  # pragma: no cover
    sys.exit(run_cli(sys.argv[1:]))
