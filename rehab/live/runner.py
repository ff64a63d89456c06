"""Start a live session from Python: `run_session`.

It does the wiring ``rehab live`` needs around `rehab.live.session.LiveSession`: opens the
camera (or the recording, played as a camera), loads the pose model and runs it once
before the first frame, opens the window, audio and the patient's history, ends the session
cleanly on SIGINT/SIGTERM/SIGHUP (and lets no signal interrupt its saving), and closes
everything whatever happens. The record folder is checked (and a killed run's leftovers
removed) before the camera or the model is opened. Heavy modules (OpenCV,
MediaPipe) are imported when a session starts, not with this module.

    from rehab.live import run_session
    result = run_session("knee_extension", "clip.mp4", reps=5, sets=2, headless=True)
    print(result.rep_count, [r.rep.score for r in result.reps])
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rehab.errors import InputError
from rehab.live.sets import check_plan

if TYPE_CHECKING:
    from rehab.capture import Source
    from rehab.exercises import Exercise
    from rehab.fileio import StagedFolder
    from rehab.live.audio import AudioCoach
    from rehab.live.session import Display, LiveSession, SessionResult
    from rehab.stream.frames import LiveSink
    from rehab.stream.server import ServeOptions
    from rehab.live.writers import StoreWriter
    from rehab.pose.estimator import PoseEstimator

log = logging.getLogger(__name__)

DEFAULT_REPS = 10
DEFAULT_SETS = 3
DEFAULT_REST_S = 60.0


def run_session(exercise: Exercise | str, source: int | str | os.PathLike[str] = 0, *,
                reps: int = DEFAULT_REPS, sets: int = DEFAULT_SETS,
                rest_s: float = DEFAULT_REST_S, side: str = "auto",
                model: str | os.PathLike[str] | None = None,
                estimator: PoseEstimator | None = None,
                record_dir: str | os.PathLike[str] | None = None,
                patient_id: str | None = None, db: str | os.PathLike[str] | None = None,
                audio: bool | AudioCoach = False, headless: bool = False,
                display: Display | None = None, fullscreen: bool = False,
                mirror: bool | None = None, max_seconds: float | None = None,
                speed: float = 1.0, handle_signals: bool = True,
                serve: ServeOptions | None = None,
                vmc: tuple[str, int] | None = None) -> SessionResult:
    """Run one live coaching session to its end and return what was done.

    Parameters:
        exercise: the exercise (with the target to reach), or its id or ``.toml`` path.
        source: a camera index (``int``), or a video file played as if it were the camera,
            at its real frame rate (times and tempo stay the recording's).
        reps, sets, rest_s: ``sets`` sets of ``reps`` repetitions, ``rest_s`` seconds of
            rest between them (a rep during the rest starts the next set early).
        side: the limb to follow: ``"left"``, ``"right"`` or ``"auto"`` (the one that moves).
        model: pose model ``.task`` file (default: the full model); not used with
            ``estimator``.
        estimator: a pose estimator to use instead of loading ``model`` (used as it is: not
            warmed up, not closed).
        record_dir: folder for ``overlay.mp4``, ``session.json`` and the result files of
            ``rehab analyze``: written beside it in a hidden folder, which replaces it whole
            at the end (owner-only with ``patient_id``). A folder holding other files is
            refused before anything is opened.
        patient_id, db: store the session and each rep as it completes in this patient's
            history, in the database ``db`` (default: the default database).
        audio: speak cues and counts (``True``: pyttsx3 or espeak-ng when installed, tones
            otherwise), or the `rehab.live.audio.AudioCoach` to speak with.
        headless: no window. Otherwise frames go to ``display`` or, without one, to an
            OpenCV window (``fullscreen`` or not) whose keys pause, restart and end.
        mirror: show the image mirrored (default: for a camera, not for a recording).
        max_seconds: end the session after this long.
        speed: playback speed of a recording (1: real time).
        handle_signals: SIGINT, SIGTERM and SIGHUP end the session, saved and stored, and a
            signal during the save waits for it (``late_signal``); only when called from
            the main thread.
        serve: stream the session over a WebSocket and serve its 3D page
            (`rehab.stream.server.StreamServer`; bound before the camera or model opens).
        vmc: ``(host, port)``: send the body as VMC protocol bones over UDP
            (`rehab.stream.vmc.VmcSender`), for avatar apps and game engines.

    Returns:
        The `rehab.live.session.SessionResult`: reps with their set and cue, sets done,
        why the session ended, frame statistics, notes, files written, the stored session
        id, and recording/store errors (what could be saved is saved despite them; see
        `rehab.live.session.saved_summary`).

    Raises:
        rehab.errors.RehabError: bad plan, no camera, unreadable recording, no display,
            unusable record folder, unknown patient or unusable database, a stream port
            in use, before the session starts.
        ValueError: both ``headless`` and ``display``.
    """
    ex, record = _prepare(exercise, reps, sets, record_dir, headless, display,
                          private=patient_id is not None)
    from rehab.live.session import LiveConfig, LiveSession
    from rehab.live.ui import Window

    resources: list[Any] = []
    abort: Callable[[], None] | None = None
    store: StoreWriter | None = None
    try:
        sinks = _start_sinks(ex, serve, vmc)
        resources.extend(sinks)
        store = _start_store(patient_id, db)
        opened = _open_source(source, speed)
        abort = opened.abort
        config = LiveConfig(reps=reps, sets=sets, rest_s=rest_s, side=side,
                            mirror=opened.camera if mirror is None else mirror,
                            max_seconds=max_seconds, camera=opened.camera)
        if estimator is None:
            estimator = _load_model(model, opened, config.max_size)
            resources.append(estimator)
        _warm_up_counter(ex)
        if display is None and not headless:
            display = Window(f"rehab live - {ex.name}", fullscreen=fullscreen)
        coach = _audio_coach(audio)
        frames = opened.start()
        abort = None
        resources.append(frames)
        session = LiveSession(frames, estimator, ex, config, display=display, record_dir=record,
                              audio=coach, store=store, patient_id=patient_id, sinks=sinks)
        log.info("%s: %d sets of %d reps, target %g-%g deg, side %s", ex.name, sets, reps,
                 ex.target.min_deg, ex.target.max_deg, side)
        with end_on_signals(session) if handle_signals else contextlib.nullcontext():
            result = session.run()
            if result.late_signal is None and session.late_signal is not None:
                result = dataclasses.replace(result, late_signal=session.late_signal)
            resources.remove(frames)  # closed by the session
            for sink in sinks:  # what is queued is sent; then their counts are final
                resources.remove(sink)
                sink.close()
                result.stats.streams[sink.name] = sink.counts()
    finally:
        if abort is not None:
            abort()
        if store is not None:
            store.stop()
        for r in reversed(resources):
            r.close()
        if record is not None:
            record.discard()  # unless the session published it
    return result


def _prepare(exercise: Exercise | str, reps: int, sets: int,
             record_dir: str | os.PathLike[str] | None, headless: bool,
             display: Display | None, private: bool = False
             ) -> tuple[Exercise, StagedFolder | None]:
    """The exercise, and the staged record folder, once the plan and the display are
    checked: what can be refused is refused before a camera or a model is opened."""
    from rehab.exercises import Exercise as _Exercise, get_exercise

    ex = exercise if isinstance(exercise, _Exercise) else get_exercise(str(exercise))
    check_plan(reps, sets)
    if headless and display is not None:
        raise ValueError("a display was given for a headless session")
    from rehab.live.ui import display_available

    if not headless and display is None and not display_available():
        raise InputError("no display to open a window on; use --headless "
                         "(with --record DIR to keep the overlay video)")
    return ex, _prepare_record_dir(record_dir, headless, private)


def _prepare_record_dir(record_dir: str | os.PathLike[str] | None, headless: bool,
                        private: bool) -> StagedFolder | None:
    """The record folder's staging folder (`rehab.analysis.result_folder`: a killed run's
    leftovers removed, a folder of foreign files refused); `OutputError` if it cannot be."""
    if record_dir is None:
        if headless:
            log.info("--headless without --record: nothing is shown or recorded, only counted")
        return None
    from rehab.analysis import result_folder

    return result_folder(Path(record_dir).expanduser(), private=private)


def _start_sinks(exercise: Exercise, serve: ServeOptions | None,
                 vmc: tuple[str, int] | None) -> list[LiveSink]:
    """The stream server (bound and serving) and the VMC sender, as asked."""
    sinks: list[LiveSink] = []
    try:
        if serve is not None:
            from rehab.stream.frames import hello_message
            from rehab.stream.server import StreamServer

            server = StreamServer(serve, hello=hello_message(
                exercise.id, exercise.name, exercise.counting.angle))
            server.start()
            sinks.append(server)
        if vmc is not None:
            from rehab.stream.vmc import VmcSender

            sinks.append(VmcSender(*vmc))
    except BaseException:
        for sink in sinks:
            sink.close()
        raise
    return sinks


def _start_store(patient_id: str | None,
                 db: str | os.PathLike[str] | None) -> StoreWriter | None:
    """The patient-history writer, started, for a session with a patient (else None);
    the patient must be in the database."""
    if patient_id is None:
        return None
    from rehab.live.writers import StoreWriter

    store = StoreWriter(Path(db).expanduser() if db else None)
    store.start(patient_id=patient_id)
    return store


@dataclasses.dataclass(frozen=True)
class _OpenedSource:
    """A frame source opened but not started (see `_open_source`)."""

    start: Callable[[], Source]
    abort: Callable[[], None]
    width: int
    height: int
    first_image: Any | None
    camera: bool


def _open_source(source: int | str | os.PathLike[str], speed: float) -> _OpenedSource:
    """How to start the frame source, how to give it up unstarted, its frame size, its
    first image when known (to warm the model up on), and whether it is a camera.

    A camera is opened now (so a missing or busy one is reported before the model loads);
    a recording is opened now but starts playing only when ``start`` is called, once
    everything else is ready, so that no frame is late before the session begins.
    """
    from rehab.capture import open_camera
    from rehab.live.player import PacedVideoReader, paced_source

    if isinstance(source, int):
        try:
            camera = open_camera(source)
        except InputError as exc:
            reason = str(exc).split(";")[0]  # what failed, without capture's generic hint
            raise InputError(f"{reason}; play a recording instead with --source VIDEO, or "
                             f"see 'rehab live --list-cameras'") from None
        return _OpenedSource(lambda: camera, camera.close, camera.width, camera.height,
                             None, True)
    path = Path(source).expanduser()
    if path.is_dir():
        raise InputError(f"{path}: --source takes a video file (an image folder has no "
                         "frame rate to play it at; use 'rehab analyze' for it)")
    reader = PacedVideoReader(path, speed=speed)
    return _OpenedSource(lambda: paced_source(reader), reader.release, reader.width,
                         reader.height, reader.peek(), False)


def _load_model(model: str | os.PathLike[str] | None, opened: _OpenedSource,
                max_size: tuple[int, int]) -> PoseEstimator:
    """The MediaPipe model for one person, warmed up at the session's frame size."""
    from rehab.live.session import fit_size
    from rehab.pose.mediapipe_estimator import MediaPipePoseEstimator

    estimator = MediaPipePoseEstimator(model_path=model, num_poses=1)
    try:
        _warm_up_model(estimator, fit_size(opened.width, opened.height, max_size),
                       opened.first_image)
    except BaseException:
        estimator.close()
        raise
    return estimator


def _warm_up_model(estimator: PoseEstimator, size: tuple[int, int],
                   image: Any | None) -> None:
    """Run the model once before the first frame (on the first image when known), so that
    its set-up does not stall the session's first frames."""
    import cv2
    import numpy as np

    if image is None:
        image = np.zeros((size[1], size[0], 3), np.uint8)
    estimator.process(cv2.resize(image, size, interpolation=cv2.INTER_AREA), -1.0)


def _warm_up_counter(exercise: Exercise) -> None:
    """Load the counter's compiled kernels before the first frame."""
    from rehab.live.session import warm_up_counter

    warm_up_counter(exercise)


def _audio_coach(audio: bool | AudioCoach) -> AudioCoach | None:
    if audio is True:
        from rehab.live.audio import AudioCoach

        return AudioCoach()
    return audio or None


@contextlib.contextmanager
def end_on_signals(session: LiveSession) -> Iterator[None]:
    """Signals end the session, saved and stored: SIGTERM (a service manager, ``kill``) and
    SIGHUP (the terminal closed) like ``q``, after the current frame; SIGINT (Ctrl-C, when
    Python's own handler is in place) and a second SIGTERM/SIGHUP at once. From then on (and
    while the session is saved) signals wait: `LiveSession.defer_signal` notes them and the
    session's ``late_signal`` tells after the save. Only in the main thread, where signals
    arrive."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    ending = False

    def handler(signum: int, frame: object) -> None:
        nonlocal ending
        if ending or session.saving:
            session.defer_signal(signum)
            return
        received.append(signum)
        if signum == signal.SIGINT or len(received) > 1:
            ending = True
            raise KeyboardInterrupt
        log.info("%s received: ending the session", signal.Signals(signum).name)
        session.request_stop("terminated")

    wanted = [signal.SIGTERM] + ([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        wanted.append(signal.SIGINT)
    previous = {sig: signal.signal(sig, handler) for sig in wanted}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


__all__ = ["DEFAULT_REPS", "DEFAULT_REST_S", "DEFAULT_SETS", "end_on_signals", "run_session"]
