"""The live coaching loop: frames in, overlay out, every rep stored as it completes.

Threads: the source's capture thread fills a one-slot queue (the newest frame wins); this
loop takes a frame, downscales a copy of it for the pose model (``max_size``), follows the
patient (`rehab.live.gate`), feeds `rehab.reps.LiveRepCounter` (the offline repetition
logic run causally) and draws the overlay on the frame at the camera's resolution, which
is what is recorded (the window is shown it downscaled to ``display_max``); speech
(`rehab.live.audio`), the overlay video and the patient history (`rehab.live.writers`) have their own workers and the loop only enqueues.

The session counts sets of ``reps`` repetitions with a rest between sets, and ends when the
last set is done, on ``q`` or Ctrl-C, when the recording ends, when the camera stops
delivering frames, or after ``max_seconds``. Once the last set is done the final screen
shows the session's summary (`rehab.overlay.Summary` of the session's reps); however the
session ends, the recording ends with that summary frame held ``summary_s`` seconds (and a
window shows it as long when the recording or the camera ended or the time ran out). At the
end the same files as ``rehab analyze`` (``result.json``, ``reps.csv``, ``angles.csv``,
``landmarks.npz``) are built from what was seen and stored with the session.

With ``record_dir`` everything (the overlay video, those files and ``session.json``) is
written into a hidden folder beside it (`rehab.analysis.result_folder`) and published whole
at the end, however the session ends: the folder holds the previous session's files or this
one's, never a mix, and a killed session leaves only the hidden folder, which the next run
into the same folder removes. Saving is not interrupted by a signal (see
`rehab.live.runner.end_on_signals`); an I/O error while saving is the session's
``record_error``, and what could be kept is kept.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import logging
import math
import os
import signal
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from rehab import __version__
from rehab.analysis import result_folder, view_note, write_outputs
from rehab.codec import encode
from rehab.capture import Source
from rehab.errors import OutputError, RehabError
from rehab.exercises import Exercise, compensation_column, view_cue
from rehab.live.audio import AudioCoach
from rehab.live.cues import CueScheduler
from rehab.live.gate import PatientGate
from rehab.live.sets import SetTracker
from rehab.live.ui import HudState, draw_live, mirror_points
from rehab.live.writers import (
    StoreWriter,
    VideoRecorder,
    WriterFactory,
    cv_writer_factory,
    describe_error,
)
from rehab.overlay import Placer, Summary, draw_summary, summary_frames, verdict
from rehab.pose.estimator import PoseEstimator
from rehab.fileio import StagedFolder, describe_os_error, reason, write_json_atomic
from rehab.model import (
    N_LANDMARKS,
    Analysis,
    LiveInfo,
    Note,
    NoteCode,
    PoseSequence,
    Rep,
    Segmentation,
    SessionHeader,
    ViewCheck,
)
from rehab.kinematics.view import ViewMonitor
from rehab.scoring import cue_for
from rehab.stream.frames import LiveFrame, LiveSink, RepEvent

log = logging.getLogger(__name__)

END_REASONS = {
    "complete": "all sets done",
    "quit": "ended by the patient",
    "interrupted": "interrupted (Ctrl-C)",
    "terminated": "stopped by the system (a termination signal)",
    "source_ended": "end of the recording",
    "camera_lost": "the camera stopped delivering frames (unplugged or taken by another program?)",
    "time_limit": "time limit reached",
}
"""Why a session ended, in words."""

_NO_PERSON = (np.full((N_LANDMARKS, 3), np.nan, np.float32),
              np.full((N_LANDMARKS, 3), np.nan, np.float32),
              np.zeros(N_LANDMARKS, np.float32))


class Display(Protocol):
    """Where frames are shown (`rehab.live.ui.Window`); returns the key action, if any."""

    def show(self, img: np.ndarray) -> str | None: ...

    def close(self) -> None: ...


@dataclasses.dataclass(frozen=True)
class LiveConfig:
    """Settings of one session (defaults suit a webcam at home)."""

    reps: int = 10
    sets: int = 1
    rest_s: float = 60.0
    side: str = "auto"
    mirror: bool = True
    max_size: tuple[int, int] = (640, 480)
    """Frames are downscaled to fit this before inference (the overlay is drawn and
    recorded at the camera's resolution)."""
    display_max: tuple[int, int] = (1280, 720)
    """The window is shown the overlay downscaled to fit this (for speed)."""
    max_seconds: float | None = None
    camera: bool = True
    """The source is a camera: its stream ending means it was lost, not that it ended."""
    lost_after_s: float = 1.0
    """The limb must be out of view this long before the patient is told."""
    cue_s: float = 3.0
    """How long a rep's cue stays on screen."""
    repeat_lost_cue_s: float = 10.0
    """How often the out-of-view cue is spoken again while the limb stays out of view."""
    linger_s: float = 2.0
    """Seconds the final screen stays after the last set."""
    cue_rest_s: float = 1.5
    """A rep's cue goes once the limb has been at rest this long (`CueScheduler`)."""
    summary_s: float = 3.0
    """Seconds the summary frame is held at the end of the recording."""


@dataclasses.dataclass(frozen=True)
class SessionRep:
    """A counted rep of the session (``rep.index`` numbers reps across sets)."""

    rep: Rep
    set_no: int
    cue: str


@dataclasses.dataclass
class LiveStats:
    """Frame counts and capture-to-overlay latency of a session."""

    frames_in: int = 0
    frames_processed: int = 0
    frames_with_person: int = 0
    """Processed frames in which the patient was seen (not in the ``--stats`` document)."""
    latencies_ms: list[float] = dataclasses.field(default_factory=list)
    streams: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    """What each stream sent, by name (``websocket``, ``vmc``), once they are closed."""

    @property
    def frames_dropped(self) -> int:
        return max(0, self.frames_in - self.frames_processed)

    def to_dict(self, reps: int) -> dict[str, Any]:
        """The ``--stats`` document."""
        lat = np.asarray(self.latencies_ms, np.float64)

        def q(p: float) -> float | None:
            return round(float(np.percentile(lat, p)), 2) if lat.size else None

        return {"frames_in": self.frames_in, "frames_processed": self.frames_processed,
                "frames_dropped": self.frames_dropped,
                "latency_ms": {"p50": q(50), "p95": q(95),
                               "max": round(float(lat.max()), 2) if lat.size else None},
                "reps": reps, **({"streams": self.streams} if self.streams else {})}


@dataclasses.dataclass(frozen=True)
class SessionResult:
    """What a finished session reports (see `format_summary`)."""

    exercise: Exercise
    side: str
    reps: tuple[SessionRep, ...]
    reps_goal: int
    sets_goal: int
    sets_done: int
    end_reason: str
    started: dt.datetime
    duration_s: float
    stats: LiveStats
    notes: tuple[str, ...]
    files: dict[str, Path]
    session_id: int | None
    record_error: str | None
    store_error: str | None
    analysis: Analysis | None
    source: str = ""
    """The name of the frame source (``camera 0``, the recording's file name)."""
    reps_stored: int | None = None
    """Reps committed to the patient history (None: no patient history)."""
    record_dir: Path | None = None
    """The record folder (``files`` lists what of it was published)."""
    late_signal: int | None = None
    """A signal received while the session was being saved: it waited for the save (the
    command then exits as interrupted)."""

    @property
    def rep_count(self) -> int:
        return len(self.reps)

    def to_dict(self) -> dict[str, Any]:
        """The ``session.json`` document."""
        return {
            "rehab_version": __version__, "mode": "live", "exercise": self.exercise.id,
            "exercise_name": self.exercise.name, "side": self.side,
            "target": {"min_deg": self.exercise.target.min_deg,
                       "max_deg": self.exercise.target.max_deg},
            "prescribed": {"reps": self.reps_goal, "sets": self.sets_goal},
            "rep_count": self.rep_count, "sets_done": self.sets_done,
            "end_reason": self.end_reason, "started": self.started.isoformat(timespec="seconds"),
            "duration_s": round(self.duration_s, 3), "session_id": self.session_id,
            "reps": [{**encode(r.rep, rounded=True), "set": r.set_no, "cue": r.cue}
                     for r in self.reps],
            "stats": self.stats.to_dict(self.rep_count), "notes": list(self.notes),
            "record_error": self.record_error, "store_error": self.store_error,
            "files": {k: str(v) for k, v in self.files.items()},
        }


def even_size(width: int, height: int) -> tuple[int, int]:
    """``width`` x ``height`` rounded down to even numbers (the video codec needs them)."""
    return max(2, int(width) // 2 * 2), max(2, int(height) // 2 * 2)


def fit_size(width: int, height: int, max_size: tuple[int, int]) -> tuple[int, int]:
    """``width`` x ``height`` scaled down (never up) to fit ``max_size``, even numbers."""
    scale = min(1.0, max_size[0] / width, max_size[1] / height)
    return max(2, int(round(width * scale)) // 2 * 2), max(2, int(round(height * scale)) // 2 * 2)


class _Accumulator:
    """The pose sequence and the live angle trace of the processed frames."""

    def __init__(self) -> None:
        self.t: list[float] = []
        self.lm: list[np.ndarray] = []
        self.world: list[np.ndarray] = []
        self.vis: list[np.ndarray] = []
        self.angle: list[float] = []

    def add(self, t: float, lm: np.ndarray, world: np.ndarray, vis: np.ndarray,
            angle: float) -> None:
        self.t.append(t)
        self.lm.append(lm)
        self.world.append(world)
        self.vis.append(vis)
        self.angle.append(angle)


class LiveSession:
    """One coaching session; call `run` once.

    The loop: each frame goes through the pose model, `PatientGate` and the counter; the
    reps it completes go to the set tracker (`rehab.live.sets.SetTracker`) and the cue
    scheduler (`rehab.live.cues.CueScheduler`), then the overlay is drawn, recorded and
    shown. `rehab.live.run_session` builds one with a camera or a recording and the model.
    """

    def __init__(self, source: Source, estimator: PoseEstimator, exercise: Exercise,
                 config: LiveConfig = LiveConfig(), *, display: Display | None = None,
                 record_dir: str | os.PathLike[str] | StagedFolder | None = None,
                 writer_factory: WriterFactory = cv_writer_factory,
                 audio: AudioCoach | None = None, store: StoreWriter | None = None,
                 patient_id: str | None = None, sinks: Sequence[LiveSink] = (),
                 clock: Callable[[], float] = time.monotonic) -> None:
        from rehab.counter import LiveRepCounter

        self.sets = SetTracker(config.reps, config.sets, config.rest_s)
        self.source = source
        self.estimator = estimator
        self.exercise = exercise
        self.config = config
        self.display = display
        self.audio = audio
        self.store = store
        self.patient_id = patient_id
        self.sinks = list(sinks)
        """Where each frame and rep is also sent (the WebSocket stream, VMC)."""
        self.clock = clock
        self.size = fit_size(source.width, source.height, config.max_size)
        """The frame size the pose model is run at."""
        self.record_size = even_size(source.width, source.height)
        """The size of the overlay and its recording: the camera's."""
        self.placer = Placer()
        """Where the overlay's boxes were (they stay unless the body comes under them)."""
        self.peak: float | None = None
        """The peak so far of the rep under way (None between reps)."""
        self.summary: Summary | None = None
        """The summary frame's content, once the session is finished."""
        self._last_frame: np.ndarray | None = None
        self.counter = LiveRepCounter(exercise, side=config.side)
        self.view = ViewMonitor(exercise.view, self.counter.settings.view_tolerance_deg,
                                min_visibility=self.counter.settings.min_visibility)
        """The body's orientation to the camera, frame by frame (the turn-to-camera cue)."""
        if source.fps > 0:
            self.counter.fps = float(source.fps)  # dropped frames count as unmeasured
        self.gate = PatientGate(*self.size)
        self.saving = False
        """The session is over and being saved (signals wait, see `defer_signal`)."""
        self.deferred_signals: list[int] = []
        self.stats = LiveStats()
        self.reps: list[SessionRep] = []
        self.started = dt.datetime.now()
        self._acc = _Accumulator()
        self.cues = CueScheduler(
            exercise.cues.good, exercise.cues.not_visible, cue_s=config.cue_s,
            lost_after_s=config.lost_after_s, repeat_lost_cue_s=config.repeat_lost_cue_s,
            linger_s=config.linger_s, rest_clear_s=config.cue_rest_s,
            speak=None if audio is None else audio.say)
        self._t0: float | None = None
        self._last_t = -math.inf
        self._last_index: int | None = None
        self._stop_reason: str | None = None
        self.record: StagedFolder | None = None
        """Where the record folder is written until it is published (see `run`)."""
        self.recorder: VideoRecorder | None = None
        if record_dir is not None:
            self._open_record(record_dir, writer_factory)

    @property
    def record_dir(self) -> Path | None:
        """The record folder (its files appear there when the session ends)."""
        return self.record.final if self.record is not None else None

    def _open_record(self, record_dir: str | os.PathLike[str] | StagedFolder,
                     writer_factory: WriterFactory) -> None:
        """The staged record folder (owner-only for a patient) and the video recorder."""
        self.record = record_dir if isinstance(record_dir, StagedFolder) else \
            result_folder(record_dir, private=self.patient_id is not None)
        fps = self.source.fps if self.source.fps > 0 else 30.0
        try:
            self.recorder = VideoRecorder(self.record.path / "overlay.mp4", fps,
                                          self.record_size, factory=writer_factory)
        except (OSError, RehabError) as exc:
            self.record.discard()
            why = self._public(reason(exc))
            raise OutputError(f"{self.record.final / 'overlay.mp4'}: cannot record ({why})") \
                from None

    def _public(self, text: str) -> str:
        """``text`` naming the record folder rather than its hidden staging folder."""
        if self.record is None:
            return text
        return text.replace(str(self.record.path), str(self.record.final))

    def defer_signal(self, signum: int) -> None:
        """Note a signal that came while saving: it waits until the session is saved."""
        self.deferred_signals.append(signum)
        log.warning("%s received while saving the session: it ends once everything is "
                    "saved", signal.Signals(signum).name)

    @property
    def late_signal(self) -> int | None:
        """The first signal deferred while saving (see `defer_signal`)."""
        return self.deferred_signals[0] if self.deferred_signals else None

    def request_stop(self, reason: str = "terminated") -> None:
        """End the session after the frame in progress, saving it as any normal end does
        (safe to call from a signal handler or another thread)."""
        if reason not in END_REASONS:
            raise ValueError(f"unknown end reason {reason!r}")
        self._stop_reason = self._stop_reason or reason

    @property
    def set_no(self) -> int:
        """The set under way."""
        return self.sets.set_no

    @property
    def set_reps(self) -> int:
        """Reps counted in the set under way."""
        return self.sets.set_reps

    @property
    def sets_done(self) -> int:
        return self.sets.sets_done

    @property
    def paused(self) -> bool:
        return self.sets.paused

    @property
    def notes(self) -> list[str]:
        """What the session's record mentions about its sets (reps not counted, restarts)."""
        return self.sets.notes

    # --- the loop ----------------------------------------------------------------------------

    def run(self) -> SessionResult:
        """Run until the session ends; always stops the workers and stores what was done."""
        reason = "source_ended" if not self.config.camera else "camera_lost"
        try:
            if self.store is not None and self.config.side in ("left", "right", "none"):
                self._begin_store()
            for frame in self.source:
                arrived = self.clock()
                self.stats.frames_processed += 1
                action = self._step(frame.image, frame.timestamp, frame.index,
                                    arrived if frame.arrived is None else frame.arrived)
                if action == "quit":
                    reason = "quit"
                    break
                if self._stop_reason is not None:
                    reason = self._stop_reason
                    log.info("session stopped (%s); saving what was done", reason)
                    break
                finished_at = self.sets.finished_at
                if finished_at is not None and self._t() - finished_at >= self.config.linger_s:
                    reason = "complete"
                    break
                if self.config.max_seconds is not None and self._t() >= self.config.max_seconds:
                    reason = "time_limit"
                    break
        except KeyboardInterrupt:
            reason = "interrupted"
            log.info("session interrupted; saving what was done")
        except BaseException:
            self.saving = True
            self._shutdown(abandon=True)
            self._abandon_record()
            raise
        if reason == "camera_lost" and self.sets.finished:
            reason = "complete"
        try:
            return self._finish(reason)
        except BaseException:  # a bug while saving: nothing half-published, workers stopped
            if self.record is not None:
                self.record.discard()
            if self.store is not None:
                self.store.stop()
            raise

    def _t(self) -> float:
        return self._last_t if self._t0 is not None else 0.0

    def _step(self, image: np.ndarray, stamp: float, index: int, captured: float) -> str | None:
        import cv2

        if self._t0 is None:
            self._t0 = stamp
        t = stamp - self._t0
        if t <= self._last_t:  # a clock that did not move: keep the sequence strictly increasing
            t = self._last_t + 1e-4
        self._last_t = t
        w, h = self.size
        full = image
        if (image.shape[1], image.shape[0]) != (w, h):
            image = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)
        pose = self.estimator.process(image, t)
        person = self.gate.choose(pose, t)
        if person is not None:
            self.stats.frames_with_person += 1
        lm, world, vis = _NO_PERSON if person is None else (
            person.landmarks, person.world, person.visibility)
        completed = self.counter.update(t, lm, world, vis, w, h)
        self.view.update(t, lm, world, vis, w, h)
        self._acc.add(t, lm, world, vis, self.counter.angle)
        for rep in completed:
            self._on_rep(rep, t)
        state = self.counter.state
        self._follow_peak(state == "active" and not completed)
        self.cues.movement(t, state == "rest", self._corrected())
        self.cues.visibility(self.counter.visible, t, finished=self.sets.finished)
        self.cues.view(self.view.off and self.counter.visible, view_cue(self.exercise), t,
                       finished=self.sets.finished)
        event = self.sets.update(t)
        if event is not None:
            self.cues.set_event(event)
        if self.sinks:
            self._send_frame(t, captured, person)
        out = self._draw(full, lm, vis, t) \
            if self.recorder is not None or self.display is not None else None
        self.stats.latencies_ms.append(1000.0 * (self.clock() - captured))
        if self.recorder is not None and out is not None:
            gap = 1 if self._last_index is None else index - self._last_index
            self.recorder.write(out, repeat=gap)
        self._last_index = index
        if self.display is None or out is None:
            return None
        action = self.display.show(self._for_display(out))
        if action == "pause":
            self.cues.paused(self.sets.toggle_pause())
        elif action == "restart":
            event = self.sets.restart(t)
            if event is not None:
                self.cues.set_event(event)
        return action

    # --- reps ------------------------------------------------------------------------------

    def _follow_peak(self, active: bool) -> None:
        """The peak so far of the rep under way (``active``: the counter's state is active
        and no rep ended at this frame): the extreme away from rest of the angle since the
        state turned active; none at rest."""
        angle = self.counter.angle
        if not active:
            self.peak = None
            return
        if not math.isfinite(angle):
            return
        if self.peak is None:
            self.peak = angle
        else:
            self.peak = max(self.peak, angle) if self.exercise.counting.rest == "low" \
                else min(self.peak, angle)

    def _corrected(self) -> bool:
        """The rep under way has reached the target band after a rep short of it."""
        if self.peak is None or not self.reps:
            return False
        target = (self.exercise.target.min_deg, self.exercise.target.max_deg)
        last = self.reps[-1].rep
        rest = self.exercise.counting.rest
        return not last.target_met and verdict(last.peak_deg, target, rest) == "short" \
            and verdict(self.peak, target, rest) == "met"

    def _on_rep(self, rep: Rep, t: float) -> None:
        if not self.sets.add_rep(t, rep.end_s):
            return
        rep = self._measured(dataclasses.replace(rep, index=len(self.reps) + 1))
        cue = cue_for(self.exercise, rep)
        self.reps.append(SessionRep(rep, self.set_no, cue))
        if self.store is not None:
            self._begin_store()
            self.store.add_rep(rep)
        self.cues.rep_counted(cue, self.set_reps, t)
        self._to_sinks("rep", RepEvent(t, rep, self.set_no, cue))
        log.info("rep %d (set %d): ROM %.0f deg, peak %.0f deg, score %d%s", rep.index,
                 self.set_no, rep.rom_deg, rep.peak_deg, rep.score,
                 f", {', '.join(rep.flags)}" if rep.flags else "")

    def _measured(self, rep: Rep) -> Rep:
        """``rep`` with what its number rests on, from the frames so far: the view, the
        limb's visibility and the quality grade (the other side's numbers are not measured
        live)."""
        from rehab.analysis import limb_visibility
        from rehab.scoring import Measurement, measure_reps

        side = rep.side or self.counter.side
        angle = np.asarray(self._acc.angle, np.float64)
        # visibility of the rep's own frames only (the session may be long)
        a = rep.rest_frame if 0 <= rep.rest_frame <= rep.start_frame else rep.start_frame
        vis = np.full(angle.size, np.nan)
        vis[a:rep.end_frame + 1] = limb_visibility(np.stack(self._acc.vis[a:rep.end_frame + 1]),
                                                   self.exercise.counting.angle, (side,))[side]
        m = Measurement(angle={side: angle}, seen={side: np.isfinite(angle)},
                        deviation=np.asarray(self.view.deviation, np.float64),
                        orientation=np.asarray(self.view.orientation, np.float64),
                        visibility={side: vis}, swapped=np.zeros(angle.size, bool),
                        involved=side)
        return measure_reps([rep], self.exercise, m, False, self.counter.settings)[0][0]

    # --- streaming -------------------------------------------------------------------------

    def _send_frame(self, t: float, captured: float, person: Any) -> None:
        """The frame as the patient sees it, to every sink."""
        cue = self.cues.on_screen(t, self.counter.visible)
        self._to_sinks("frame", LiveFrame(
            t=t, captured=captured, world=None if person is None else person.world,
            visibility=None if person is None else person.visibility,
            angle_name=self.exercise.counting.angle, side=self.counter.side,
            angle_deg=float(self.counter.angle),
            target=(self.exercise.target.min_deg, self.exercise.target.max_deg),
            rest=self.exercise.counting.rest, reps_done=self.set_reps,
            reps_goal=self.config.reps, set_no=self.set_no, sets=self.config.sets,
            state=self.counter.state, cue=None if cue is None else cue.text,
            cue_tone="info" if cue is None else cue.tone, paused=self.paused,
            finished=self.sets.finished, rest_left_s=self.sets.rest_left(t)))

    def _to_sinks(self, method: str, *args: Any) -> None:
        """Call ``method`` on every sink; a sink that fails is logged and left out."""
        for sink in list(self.sinks):
            try:
                getattr(sink, method)(*args)
            except Exception as exc:  # noqa: BLE001 - a stream must never end a session
                log.error("%s stopped: %s", type(sink).__name__, exc)
                self.sinks.remove(sink)

    # --- drawing ---------------------------------------------------------------------------

    def _draw(self, image: np.ndarray, lm: np.ndarray, vis: np.ndarray, t: float) -> np.ndarray:
        """The overlay on ``image`` at the recording's size (the camera's)."""
        import cv2

        w, h = self.record_size
        if (image.shape[1], image.shape[0]) != (w, h):
            image = cv2.resize(image, (w, h), interpolation=cv2.INTER_LINEAR)
        out = cv2.flip(image, 1) if self.config.mirror else image.copy()
        self._last_frame = image  # not drawn on: the summary frame's background
        pts = None
        if np.isfinite(lm[:, :2]).all():
            pts = lm[:, :2].astype(np.float64) * np.array([w, h], np.float64)
            if self.config.mirror:
                pts = mirror_points(pts, w)
        last = self.reps[-1].rep if self.reps else None
        name = self.exercise.counting.angle
        side = self.counter.side
        hud = HudState(
            angle=self.counter.angle,
            target=(self.exercise.target.min_deg, self.exercise.target.max_deg),
            reps_done=self.set_reps, reps_goal=self.config.reps,
            set_no=self.set_no, sets=self.config.sets,
            cue=self.cues.on_screen(t, self.counter.visible),
            rest_left_s=self.sets.rest_left(t), paused=self.paused, finished=self.sets.finished,
            peak=self.peak, last_rep=last, rest=self.exercise.counting.rest,
            summary=self._summary() if self.sets.finished else None,
        )
        draw_live(out, pts, vis, name, side if side != "none" else "left", hud, self.placer)
        return out

    def _for_display(self, img: np.ndarray) -> np.ndarray:
        """``img`` downscaled to fit ``display_max`` (the window's copy)."""
        import cv2

        size = fit_size(img.shape[1], img.shape[0], self.config.display_max)
        if size == (img.shape[1], img.shape[0]):
            return img
        return cv2.resize(img, size, interpolation=cv2.INTER_AREA)

    def _summary(self) -> Summary:
        """The summary frame's content: the session's counted reps against the
        prescription (made again only when a rep was added)."""
        reps = tuple(r.rep for r in self.reps)
        if self.summary is None or self.summary.reps != reps:
            self.summary = Summary.of_reps(self.exercise, self.counter.side, reps,
                                           self.config.reps * self.config.sets)
        return self.summary

    def _end_with_summary(self, reason: str) -> None:
        """The summary frame at the end of the recording, held ``summary_s``; shown as long
        in the window when the recording or the camera ended or the time ran out (not
        when the patient ended the session, nor after the final screen)."""
        if self._last_frame is None or self.config.summary_s <= 0:
            return
        import cv2

        img = cv2.flip(self._last_frame, 1) if self.config.mirror else self._last_frame.copy()
        draw_summary(img, self._summary())
        if self.recorder is not None:
            fps = self.source.fps if self.source.fps > 0 else 30.0
            self.recorder.write(img, repeat=summary_frames(fps, self.config.summary_s))
        if self.display is not None and reason in ("source_ended", "camera_lost",
                                                   "time_limit"):
            shown = self._for_display(img)
            for _ in range(max(1, int(round(self.config.summary_s / 0.05)))):
                if self.display.show(shown) is not None:
                    break
                time.sleep(0.05)

    # --- the end ---------------------------------------------------------------------------

    def _begin_store(self) -> None:
        if self.store is None or self.store.began or self.patient_id is None:
            return
        self.store.begin(self.patient_id, SessionHeader.for_exercise(
            self.exercise, self.counter.side, "live", source=self.source.name,
            model=getattr(self.estimator, "model_name", ""),
            model_sha256=getattr(self.estimator, "model_sha256", ""),
            angle_space=self.counter.space, settings=self.counter.settings), self.started)

    def _shutdown(self, abandon: bool = False, reason: str | None = None) -> None:
        """Stop capture, audio and the video writer (after the summary frame, given the
        session's end ``reason``); on ``abandon`` also the store writer."""
        self.source.close()
        if reason is not None and not abandon:
            self._end_with_summary(reason)
        if self.display is not None:
            self.display.close()
        if self.audio is not None:
            self.audio.close()
        if self.recorder is not None:
            self.recorder.close()
        if abandon and self.store is not None:
            self.store.stop()

    def _finish(self, reason: str) -> SessionResult:
        """Stop the workers, write the result files, finish the stored session, publish the
        record folder. I/O errors become the session's record error."""
        self.saving = True
        ended = dt.datetime.now()
        for rep in self.counter.finish():  # the other limb's reps still waiting
            self._on_rep(rep, self._last_t)
        grabbed = getattr(self.source, "grabbed", None)
        self._shutdown(reason=reason)
        self._to_sinks("end", reason, len(self.reps))
        self.stats.frames_in = int(grabbed) if grabbed is not None else \
            self.stats.frames_processed
        self.stats.frames_in = max(self.stats.frames_in, self.stats.frames_processed)
        notes = self._end_notes(reason)
        files: dict[str, Path] = {}
        record_error = self._recording_outcome(notes, files)
        analysis = self._analysis(notes, reason)
        if self.store is not None and self.patient_id is not None and analysis is not None:
            self._begin_store()  # a session without a counted rep is still a session
        staging, record_error = self._write_result_files(analysis, files, notes, record_error)
        session_id, store_error = self._finish_store(ended, notes, files, analysis)
        if staging is not None:
            with contextlib.suppress(OSError):
                staging.cleanup()
            files = {k: v for k, v in files.items() if k == "overlay_mp4"}
        result = SessionResult(
            exercise=self.exercise, side=self.counter.side, reps=tuple(self.reps),
            reps_goal=self.config.reps, sets_goal=self.config.sets, sets_done=self.sets_done,
            end_reason=reason, started=self.started, duration_s=self._t(), stats=self.stats,
            notes=tuple(notes), files=self._published_names(files), session_id=session_id,
            record_error=record_error, store_error=store_error, analysis=analysis,
            source=self.source.name,
            reps_stored=None if self.store is None else self.store.reps_written,
            record_dir=self.record_dir)
        if self.record is not None:
            result = self._save_record(result)
        return dataclasses.replace(result, late_signal=self.late_signal)

    def _published_names(self, files: dict[str, Path]) -> dict[str, Path]:
        """``files`` with those of the staged record folder named as published."""
        if self.record is None:
            return dict(files)
        return {k: self.record.final / p.name if p.parent == self.record.path else p
                for k, p in files.items()}

    def _save_record(self, result: SessionResult) -> SessionResult:
        """``session.json`` (unless the recording failed), then the record folder
        published with what was written; a failure is the record error."""
        assert self.record is not None
        files = dict(result.files)
        record_error = result.record_error
        if record_error is None:
            record_error = self._write_session_json(result)
            if record_error is None:
                files["session_json"] = self.record.final / "session.json"
        mine = {k: p for k, p in files.items() if p.parent == self.record.final}
        try:
            self._tidy_record({p.name for p in mine.values()})
            if mine:
                self.record.publish()
            else:
                self.record.discard()
        except (OutputError, OSError) as exc:
            self.record.discard()
            why = f"{self.record.final}: cannot write ({describe_os_error(exc)})" \
                if isinstance(exc, OSError) else self._public(str(exc))
            record_error = record_error or why
            files = {k: p for k, p in files.items() if k not in mine}
        return dataclasses.replace(result, files=files, record_error=record_error)

    def _tidy_record(self, keep: set[str]) -> None:
        """Remove from the staged record folder what is not part of the set (an empty video,
        result files left half written by a failure)."""
        assert self.record is not None
        for entry in self.record.path.iterdir():
            if entry.name not in keep:
                entry.unlink()

    def _abandon_record(self) -> None:
        """After a crash: publish the overlay video so far (if any), else discard."""
        if self.record is None:
            return
        try:
            if self.recorder is not None and self.recorder.frames_written:
                self._tidy_record({"overlay.mp4"})
                self.record.publish()
            else:
                self.record.discard()
        except (OutputError, OSError) as exc:
            self.record.discard()
            log.error("%s: the overlay video could not be kept (%s)", self.record.final,
                      self._public(str(exc)))

    def _end_notes(self, reason: str) -> list[Note]:
        """Why the session ended, dropped frames, bystanders, then the sets' notes."""
        notes: list[Note] = [Note(NoteCode.LIVE_END, f"live session: {END_REASONS[reason]}",
                      {"reason": reason})]
        if self.stats.frames_dropped:
            notes.append(Note(NoteCode.FRAMES_DROPPED,
                              f"live capture: {self.stats.frames_dropped} of "
                              f"{self.stats.frames_in} frames dropped because processing was "
                              "slower than the camera",
                              {"dropped": self.stats.frames_dropped, "of": self.stats.frames_in}))
        if self.gate.others_ignored:
            notes.append(Note(NoteCode.SEVERAL_PEOPLE,
                              f"someone other than the patient was ignored in "
                              f"{self.gate.others_ignored} frames",
                              {"frames": self.gate.others_ignored}))
        notes += [n if isinstance(n, Note) else Note(NoteCode.LIVE, n) for n in self.notes]
        return notes

    def _recording_outcome(self, notes: list[Note], files: dict[str, Path]) -> str | None:
        """The overlay video into ``files`` (if a frame was written: after an error, the
        video up to it), its problems into ``notes``; returns the recording's error."""
        record_error = None
        if self.recorder is not None:
            if self.recorder.error is not None:
                record_error = "recording stopped: " + \
                    self._public(describe_error(self.recorder.error))
                notes.append(Note(NoteCode.RECORDING, record_error))
            if self.recorder.frames_written:
                files["overlay_mp4"] = self.recorder.path
            if self.recorder.frames_dropped:
                notes.append(Note(NoteCode.RECORDING,
                                  f"overlay video: {self.recorder.frames_dropped} frames not "
                                  "written (the writer fell behind)",
                                  {"frames": self.recorder.frames_dropped}))
        return record_error

    def _write_result_files(self, analysis: Analysis | None, files: dict[str, Path],
                            notes: list[Note], record_error: str | None
                            ) -> tuple[tempfile.TemporaryDirectory[str] | None, str | None]:
        """The files of ``rehab analyze`` into the staged record folder (or, for the store
        alone or after a failed recording, a temporary folder, returned for cleaning up),
        added to ``files``; returns the temporary folder and the record error."""
        staging = None
        if analysis is None or (self.record is None and self.store is None):
            return None, record_error
        try:
            if self.record is not None and record_error is None:
                out_dir = self.record.path
            else:
                staging = tempfile.TemporaryDirectory(prefix="rehab-live-")
                out_dir = Path(staging.name)
            files.update(write_outputs(analysis, out_dir))
        except (OutputError, OSError) as exc:
            why = self._public(str(exc) if isinstance(exc, OutputError) else
                               describe_error(exc))
            record_error = record_error or f"result files not written: {why}"
            notes.append(Note(NoteCode.RECORDING, f"result files not written: {why}"))
        return staging, record_error

    def _finish_store(self, ended: dt.datetime, notes: list[Note], files: dict[str, Path],
                      analysis: Analysis | None = None) -> tuple[int | None, str | None]:
        """Mark the stored session finished with its result files (not the video); returns
        its id and the store's error."""
        store_files = {k: v for k, v in files.items() if k != "overlay_mp4"}
        session_id = None
        store_error = None
        if self.store is not None:
            trace = (np.asarray(self._acc.t, np.float64),
                     np.asarray(self._acc.angle, np.float64)) if self._acc.t else None
            if analysis is not None:  # its notes: these and the view note
                notes = list(analysis.notes)
            self.store.finish(ended, notes=notes, files=store_files or None, trace=trace,
                              alternating=self.counter.alternating, involved=self._involved,
                              view=analysis.view if analysis is not None else None)
            session_id = self.store.session_id
            if self.store.error is not None:
                store_error = f"patient history: {describe_error(self.store.error)}"
        return session_id, store_error

    def _write_session_json(self, result: SessionResult) -> str | None:
        """``session.json`` into the staged record folder; returns the error, if any."""
        assert self.record is not None
        try:
            write_json_atomic(self.record.path / "session.json", result.to_dict())
        except (OSError, OutputError, ValueError) as exc:
            why = reason(exc)
            error = f"{self.record.final / 'session.json'}: not written ({self._public(why)})"
            log.error("%s", error)
            return error
        return None

    def _analysis(self, notes: list[Note], reason: str) -> Analysis | None:
        """The session as an `Analysis` (for the same files as ``rehab analyze``)."""
        from rehab.kinematics import compute_angles, smooth_signal

        acc = self._acc
        if not acc.t:
            return None
        w, h = self.size
        n = len(acc.t)
        t = np.asarray(acc.t, np.float64)
        fps = (n - 1) / (t[-1] - t[0]) if n > 1 and t[-1] > t[0] else float(self.source.fps)
        seq = PoseSequence(
            landmarks=np.stack(acc.lm).astype(np.float32),
            world=np.stack(acc.world).astype(np.float32),
            visibility=np.stack(acc.vis).astype(np.float32), timestamps=t, fps=float(fps),
            width=w, height=h, source=self.source.name,
            model=getattr(self.estimator, "model_name", ""),
            model_sha256=getattr(self.estimator, "model_sha256", ""), notes=tuple(notes))
        ex = self.exercise
        settings = self.counter.settings
        angles = compute_angles(seq, space=self.counter.space,
                                min_visibility=settings.min_visibility)
        side = self.counter.side
        smoothed = {"primary": np.asarray(acc.angle, np.float64)}
        for comp in ex.compensations:
            smoothed[comp.id] = smooth_signal(angles[compensation_column(comp, side)], t,
                                              settings.cutoff_hz, settings.max_gap_s)
        th = self.counter.thresholds
        rest = ex.counting.rest
        view = self._view_check(seq)
        segmentation = Segmentation(
            segments=(), low_threshold=th[0] if th else math.nan,
            high_threshold=th[1] if th else math.nan, rest_level=math.nan,
            active_level=math.nan, start_state=self.counter.start_state,  # type: ignore[arg-type]
            rest_position=rest)  # type: ignore[arg-type]
        return Analysis(
            exercise=ex, side=side, sequence=seq, angles=angles, smoothed=smoothed,
            segmentation=segmentation, reps=tuple(r.rep for r in self.reps), partial=(),
            side_scores={}, notes=tuple(notes) + ((view_note(view),) if view.warning else ()),
            settings=settings, alternating=self.counter.alternating, view=view,
            involved=self._involved,
            live=LiveInfo(end_reason=reason, prescribed_reps=self.config.reps,
                          prescribed_sets=self.config.sets, sets_done=self.sets_done))

    @property
    def _involved(self) -> str:
        """The affected side asked for (`Analysis.involved`): empty when left to auto."""
        return self.config.side if self.config.side != "auto" else ""

    def _view_check(self, seq: PoseSequence) -> ViewCheck:
        """The session's view check from the live orientation of each frame."""
        from rehab.analysis import view_check

        n = seq.n_frames
        return view_check(np.asarray(self.view.orientation[:n], np.float64),
                          np.asarray(self.view.deviation[:n], np.float64), self.exercise.view,
                          seq.detected, self.view.tolerance_deg)


def warm_up_counter(exercise: Exercise) -> None:
    """Run a synthetic session through a throw-away counter so that every compiled kernel
    (angles, filter, state machine, scoring) is loaded before the first real frame."""
    from rehab.counter import LiveRepCounter
    from rehab.synthetic import rep_trajectory, synthetic_sequence

    name = exercise.counting.angle
    key, view = {"shoulder_abduction": ("shoulder_flexion", "front"),
                 "hip_abduction": ("hip_flexion", "front")}.get(name, (name, "side"))
    low, high = 10.0, 10.0 + 3 * exercise.counting.min_amplitude_deg
    rest, peak = (low, high) if exercise.counting.rest == "low" else (high, low)
    t, angle = rep_trajectory(2, 30.0, rest, peak)
    if name == "trunk_lean":
        seq = synthetic_sequence(t, {}, trunk_lean=angle)
    else:  # the figure poses limb angles; others (pelvic obliquity) just stay still
        seq = synthetic_sequence(t, {key: angle}, view=view)  # type: ignore[arg-type]
    counter = LiveRepCounter(exercise)
    for i in range(seq.n_frames):
        counter.update(float(t[i]), seq.landmarks[i], seq.world[i], seq.visibility[i],
                       seq.width, seq.height)
    counter.finish()


def saved_summary(result: SessionResult) -> str:
    """What of the session was kept, in words, for the lines reporting its faults: the reps
    stored in the patient history and the files published in the record folder."""
    kept: list[str] = []
    lost: list[str] = []
    if result.reps_stored is not None:
        if result.session_id is not None:
            kept.append(f"{result.reps_stored} rep(s) stored as session {result.session_id}")
        else:
            lost.append("nothing stored in the patient history")
    if result.record_dir is not None:
        where = result.record_dir
        mine = {k for k, p in result.files.items() if p.parent == where}
        if {"overlay_mp4", "result_json"} <= mine:
            kept.append(f"the overlay video and result files are in {where}")
        elif "overlay_mp4" in mine:
            kept.append(f"the overlay video so far is in {where}")
        elif "result_json" in mine:
            kept.append(f"the result files are in {where}")
        elif mine:
            kept.append(f"the session's record is in {where}")
        else:
            lost.append(f"nothing was written to {where}")
    if not kept:
        return "nothing could be saved" if lost else \
            "nothing was saved (no record folder, no patient history)"
    head = "the session so far is saved" if not lost else "the session is only partly saved"
    return f"{head}: " + "; ".join(kept + lost)


def format_summary(result: SessionResult) -> str:
    """The end-of-session summary printed on stdout."""
    ex = result.exercise
    goal = result.reps_goal * result.sets_goal
    lines = [
        f"{ex.name} ({ex.id}), side {result.side}: {result.rep_count} of {goal} reps "
        f"({result.sets_done} of {result.sets_goal} sets of {result.reps_goal}); "
        f"{END_REASONS[result.end_reason]} after {result.duration_s:.0f} s",
        f"target peak {ex.target.min_deg:g}-{ex.target.max_deg:g} deg",
        f"{'rep':>3s} {'set':>3s} {'end':>7s} {'ROM':>6s} {'peak':>6s} {'target':>6s} "
        f"{'score':>5s}  cue",
    ]
    for r in result.reps:
        rep = r.rep
        lines.append(f"{rep.index:3d} {r.set_no:3d} {rep.end_s:7.1f} {rep.rom_deg:6.1f} "
                     f"{rep.peak_deg:6.1f} {'yes' if rep.target_met else 'no':>6s} "
                     f"{rep.score:5d}  {r.cue}")
    if not result.reps:
        lines.append("  (no complete repetition)")
    if result.reps:
        lines.append(f"mean score {np.mean([r.rep.score for r in result.reps]):.0f}; "
                     f"target met in {sum(r.rep.target_met for r in result.reps)} of "
                     f"{result.rep_count} reps")
    if result.session_id is not None:
        lines.append(f"stored as session {result.session_id}")
    for note in result.notes[1:]:
        lines.append(f"note: {note}")
    return "\n".join(lines)
