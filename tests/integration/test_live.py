"""Live coaching: the loop on replayed landmarks (no model), its faults, `run_session` from
Python, and ``rehab live`` on real recordings through the real model."""

from __future__ import annotations

import csv
import errno
import json
import os
import signal
import socket
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from rehab.analysis import analyze_sequence
from rehab.capture import LiveSource
from rehab.cli import main
from rehab.exercises import get_exercise
from rehab.live.audio import AudioCoach
from rehab.errors import RehabError
from rehab.live import run_session
from rehab.live.cli import _exit_code
from rehab.live.gate import PatientGate
from rehab.live.player import PacedVideoReader, paced_source
from rehab.live.runner import end_on_signals
from rehab.live.session import LiveConfig, LiveSession, SessionResult
from rehab.live.writers import StoreWriter
from rehab.pose.estimator import FramePose, PersonPose, ReplayEstimator
from rehab.sequence import PoseSequence, load_npz
from rehab.model import Rep as RepScore
from rehab.overlay import summary_frames
from rehab.store import SessionRecord, open_store
from rehab.synthetic import rep_trajectory, synthetic_sequence

from live_fakes import FakeDisplay, FrameList, ScriptedEstimator, poses_of

# --- helpers ---------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _StreamClient(threading.Thread):
    """Connects to ``url`` as soon as it is served, keeps every message until ``end``."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.messages: list[dict[str, object]] = []

    def run(self) -> None:
        from websockets.sync.client import connect

        deadline = time.monotonic() + 60
        while True:
            try:
                ws = connect(self.url)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        with ws:
            for raw in ws:
                self.messages.append(json.loads(raw))
                if self.messages[-1]["type"] == "end":
                    break


class _UdpReceiver(threading.Thread):
    """Keeps every datagram sent to its port on loopback until `stop`."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = int(self.sock.getsockname()[1])
        self.got: list[bytes] = []
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            try:
                self.got.append(self.sock.recv(65536))
            except TimeoutError:
                pass
        self.sock.close()

    def stop(self) -> list[bytes]:
        self.done.set()
        self.join(5)
        return self.got


class RecordingSpeaker:
    name = "test"

    def __init__(self, gate: threading.Event | None = None) -> None:
        self.said: list[str] = []
        self.gate = gate
        self.started = threading.Event()

    def speak(self, text: str, kind: str) -> None:
        self.started.set()
        if self.gate is not None:
            self.gate.wait(10)
        self.said.append(text)

    def close(self) -> None:
        pass


def knee_sequence(n_reps: int = 4, lead_s: float = 1.0) -> PoseSequence:
    """Seated knee extensions of the right leg (side view), 30 frames/s, exact angles."""
    t, knee = rep_trajectory(n_reps, 30.0, 90.0, 5.0, rep_s=2.5, pause_s=1.0, lead_s=lead_s)
    return synthetic_sequence(t, {"right_knee_flexion": knee, "hip_flexion": 90.0},
                              view="side", width=640, height=480, anchor="hips")


def run_replay(seq: PoseSequence, exercise: str, estimator: object | None = None,
               **kwargs: object) -> SessionResult:
    config = kwargs.pop("config", LiveConfig(reps=100, sets=1, mirror=False, camera=False))
    session = LiveSession(FrameList(seq.timestamps, seq.width, seq.height),
                          estimator or ReplayEstimator(seq),  # type: ignore[arg-type]
                          get_exercise(exercise), config, **kwargs)  # type: ignore[arg-type]
    return session.run()


def stored(db: Path) -> list[tuple[SessionRecord, list[RepScore]]]:
    with open_store(db) as store:
        return [(s, store.reps(s.id)) for s in store.sessions("p1")]


class TimedReplay:
    """The recorded pose at each frame's time (so frames a slow loop drops are skipped)."""

    model_name = "timed replay"
    model_sha256 = ""

    def __init__(self, seq: PoseSequence) -> None:
        self.seq = seq
        self.calls = 0

    def process(self, image_bgr: np.ndarray, timestamp_s: float) -> FramePose | None:
        self.calls += 1
        i = int(np.clip(np.searchsorted(self.seq.timestamps, timestamp_s - 1e-6), 0,
                        self.seq.n_frames - 1))
        if not self.seq.detected[i]:
            return None
        return FramePose((PersonPose(self.seq.landmarks[i], self.seq.world[i],
                                     self.seq.visibility[i]),))

    def close(self) -> None:
        pass


def blank_video(path: Path, n_frames: int, fps: float = 30.0,
                size: tuple[int, int] = (160, 120)) -> Path:
    """A grey recording of ``n_frames`` (the poses come from a replaying estimator)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), fps, size)
    for _ in range(n_frames):
        writer.write(np.full((size[1], size[0], 3), 90, np.uint8))
    writer.release()
    return path


# --- counting: live agrees with offline -------------------------------------------------------

def test_live_counts_agree_with_offline_on_the_development_set(shared_data: Path) -> None:
    """Each development clip's landmarks (both folders), frame by frame through the live
    loop, give the count of the offline analysis."""
    rows = []
    for folder in ("landmarks", "landmarks_rehab"):
        manifest = shared_data / folder / "manifest.csv"
        if manifest.is_file():
            with open(manifest, newline="") as fh:
                rows += [(folder, r) for r in csv.DictReader(fh)]
    assert len(rows) >= 10
    disagree = []
    for folder, row in rows:
        seq = load_npz(shared_data / folder / row["file"])
        offline = analyze_sequence(seq, get_exercise(row["exercise"])).rep_count
        live = run_replay(seq, row["exercise"])
        assert live.stats.frames_processed == seq.n_frames
        if live.rep_count != offline:
            disagree.append((row["file"], live.rep_count, offline))
    assert not disagree, f"(file, live, offline): {disagree}"


def test_synthetic_reps_are_counted_scored_and_cued() -> None:
    seq = knee_sequence(4)
    result = run_replay(seq, "knee_extension")
    assert result.rep_count == 4
    assert result.side == "right"
    assert [r.rep.index for r in result.reps] == [1, 2, 3, 4]
    ex = get_exercise("knee_extension")
    for r in result.reps:
        assert r.rep.peak_deg == pytest.approx(5.0, abs=3.0)
        assert r.rep.target_met
        assert r.cue == ex.cues.good
    assert result.end_reason == "source_ended"


# --- sets, rest, keys, summary ---------------------------------------------------------------

def test_sets_rest_and_session_end() -> None:
    seq = knee_sequence(6)
    spoken = RecordingSpeaker()
    audio = AudioCoach(lambda: spoken, max_age_s=60.0, queue_size=50)
    config = LiveConfig(reps=2, sets=3, rest_s=0.5, mirror=False, camera=False, linger_s=0.5)
    result = run_replay(seq, "knee_extension", config=config, audio=audio)
    assert result.rep_count == 6
    assert [r.set_no for r in result.reps] == [1, 1, 2, 2, 3, 3]
    assert result.sets_done == 3
    assert result.end_reason == "complete"
    assert "Set 1 done. Rest for 0.5 seconds." in spoken.said
    assert "Set 3. Go." in spoken.said
    assert "Well done. Session complete." in spoken.said
    assert spoken.said.count("1") == 3  # the count restarts each set


def test_keys_pause_restart_quit() -> None:
    seq = knee_sequence(5)
    n = seq.n_frames
    # pause for the 2nd rep (frames ~135-250 at 30 frames/s: rep 2 ends ~7.5 s)
    # reps end at about 3.3, 6.8, 10.3, 13.8 and 17.3 s (30 frames/s); paused 4-8 s,
    # the set restarted at 11 s, ended at 18.2 s
    display = FakeDisplay({120: "pause", 240: "pause", 330: "restart", n - 10: "quit"})
    config = LiveConfig(reps=10, sets=1, mirror=True, camera=False)
    session = LiveSession(FrameList(seq.timestamps, seq.width, seq.height),
                          ReplayEstimator(seq), get_exercise("knee_extension"), config,
                          display=display)
    result = session.run()
    assert display.closed and display.shown == n - 10
    assert result.end_reason == "quit"
    assert result.rep_count == 4  # rep 2 came while paused
    assert [r.rep.index for r in result.reps] == [1, 2, 3, 4]
    assert any("not counted (paused)" in note for note in result.notes)
    assert any("set 1 restarted after 2 reps" in note for note in result.notes)
    assert session.set_reps == 2


# --- bad input and faults --------------------------------------------------------------------

def test_patient_leaving_the_frame_for_a_minute() -> None:
    """No rep is counted while nobody is in view; the cue says what to do; counting resumes."""
    seq = knee_sequence(2)
    gap = 60.0
    dt = 1 / 30
    n_gap = int(gap / dt)
    t = np.concatenate([seq.timestamps, seq.timestamps[-1] + dt * np.arange(1, n_gap + 1),
                        seq.timestamps + seq.timestamps[-1] + gap + dt])
    poses = poses_of(seq) + [None] * n_gap + poses_of(seq)
    spoken = RecordingSpeaker()
    audio = AudioCoach(lambda: spoken, max_age_s=60.0, queue_size=50)
    session = LiveSession(FrameList(t, seq.width, seq.height), ScriptedEstimator(poses),
                          get_exercise("knee_extension"),
                          LiveConfig(reps=10, mirror=False, camera=False), audio=audio)
    result = session.run()
    assert result.rep_count == 4
    not_visible = get_exercise("knee_extension").cues.not_visible
    # said when the patient left, then again every 10 s while away: 6 times over a minute
    assert 5 <= spoken.said.count(not_visible) <= 7
    ends = [r.rep.end_s for r in result.reps]
    assert all(not (seq.timestamps[-1] < e < seq.timestamps[-1] + gap) for e in ends)


def test_a_second_person_walking_through_is_ignored() -> None:
    seq = knee_sequence(3)
    other = synthetic_sequence(seq.timestamps, {"knee_flexion": 0.0}, view="side", width=640,
                               height=480)
    # the bystander, far to the left, is the only detection for 1.5 s mid-session, then
    # is detected first (most likely patient) next to the patient for another 1.5 s
    shift = np.array([-0.45, 0.0, 0.0], np.float32)
    poses = poses_of(seq)
    for i in range(90, 135):
        poses[i] = FramePose((PersonPose(other.landmarks[i] + shift, other.world[i],
                                         other.visibility[i]),))
    for i in range(135, 180):
        poses[i] = FramePose((PersonPose(other.landmarks[i] + shift, other.world[i],
                                         other.visibility[i]),
                              PersonPose(seq.landmarks[i], seq.world[i], seq.visibility[i])))
    result = run_replay(seq, "knee_extension", estimator=ScriptedEstimator(poses))
    assert result.rep_count == 3
    assert any("someone other than the patient was ignored in 45 frames" in n
               for n in result.notes)
    assert result.analysis is not None
    followed = result.analysis.sequence.landmarks[135:180, 0, 0]
    np.testing.assert_allclose(followed, seq.landmarks[135:180, 0, 0])


def test_gate_takes_a_new_person_after_the_patient_was_gone() -> None:
    seq = knee_sequence(1)
    gate = PatientGate(640, 480)
    me = PersonPose(seq.landmarks[0], seq.world[0], seq.visibility[0])
    shifted = PersonPose(seq.landmarks[0] + np.float32(0.45), seq.world[0], seq.visibility[0])
    assert gate.choose(FramePose((me,)), 0.0) is me
    assert gate.choose(FramePose((shifted,)), 0.5) is None
    assert gate.choose(FramePose((shifted,)), 3.0) is shifted  # patient gone > 2 s


def test_camera_unplugged_mid_session_keeps_what_was_done(db: Path) -> None:
    """The camera's stream ends mid-session: camera_lost, the reps so far are stored."""
    seq = knee_sequence(3)
    store = StoreWriter(db)
    store.start()
    frames = int(np.searchsorted(seq.timestamps, 9.5))  # unplugged after the 2nd rep
    session = LiveSession(FrameList(seq.timestamps[:frames], 640, 480), ReplayEstimator(seq),
                          get_exercise("knee_extension"),
                          LiveConfig(reps=10, side="right", mirror=False, camera=True),
                          store=store, patient_id="p1")
    result = session.run()
    assert result.end_reason == "camera_lost"
    assert result.rep_count == 2
    [(s, reps)] = stored(db)
    assert s.mode == "live" and s.ended is not None and s.rep_count == 2
    assert len(reps) == 2
    assert "camera stopped delivering frames" in s.notes[0]


@pytest.mark.model
def test_cli_camera_unplugged(monkeypatch: pytest.MonkeyPatch,
                              capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """``rehab live --camera 0`` whose reads start failing: a clear message, exit 2."""
    import rehab.capture

    class Camera:  # 20 frames, then every read fails (unplugged)
        def __init__(self) -> None:
            self.n = 0

        def read(self) -> tuple[bool, np.ndarray | None]:
            self.n += 1
            if self.n > 20:
                return False, None
            threading.Event().wait(1 / 30)
            return True, np.full((480, 640, 3), 60, np.uint8)

        def release(self) -> None:
            pass

    monkeypatch.setattr(rehab.capture, "open_camera",
                        lambda index, fps=None: LiveSource(Camera(), name=f"camera {index}"))
    code = main(["-q", "live", "--exercise", "squat", "--headless", "--camera", "0",
                 "--record", str(tmp_path), "--stats", str(tmp_path / "stats.json")])
    captured = capsys.readouterr()
    assert code == 2
    assert "camera 0 stopped delivering frames" in captured.err
    assert "the session so far is saved" in captured.err
    assert "0 of 30 reps" in captured.out
    assert json.loads((tmp_path / "stats.json").read_text())["frames_in"] == 20
    assert (tmp_path / "session.json").is_file() and (tmp_path / "overlay.mp4").is_file()


def test_disk_full_while_recording(tmp_path: Path, db: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    """The video writer raises ENOSPC: recording stops, the session goes on and is saved."""

    class FillingDisk:
        def __init__(self, path: Path, fps: float, size: tuple[int, int]) -> None:
            self.n = 0

        def write(self, image: np.ndarray) -> None:
            self.n += 1
            if self.n > 40:
                raise OSError(errno.ENOSPC, "No space left on device", "overlay.mp4")

        def release(self) -> None:
            pass

    seq = knee_sequence(3)
    store = StoreWriter(db)
    store.start()
    result = run_replay(seq, "knee_extension", record_dir=tmp_path / "rec",
                        writer_factory=FillingDisk, store=store, patient_id="p1")
    assert result.rep_count == 3
    assert result.record_error is not None and "disk full" in result.record_error
    [(s, reps)] = stored(db)
    assert s.ended is not None and len(reps) == 3
    assert set(s.files) >= {"result_json", "reps_csv", "angles_csv", "landmarks_npz"}
    assert json.loads(s.files["result_json"].read_text())["rep_count"] == 3
    assert _exit_code(result, "replay") == 4
    assert "disk full; the session so far is saved" in capsys.readouterr().err


def test_a_crash_mid_session_leaves_the_session_and_its_reps(db: Path) -> None:
    seq = knee_sequence(3)
    store = StoreWriter(db)
    store.start()
    fail_at = int(np.searchsorted(seq.timestamps, 9.5))  # after the 2nd rep

    def model_crash() -> None:
        raise RuntimeError("model crashed")

    session = LiveSession(FrameList(seq.timestamps, 640, 480),
                          ScriptedEstimator(poses_of(seq), fail_at, model_crash),
                          get_exercise("knee_extension"),
                          LiveConfig(reps=10, side="right", mirror=False, camera=False),
                          store=store, patient_id="p1")
    with pytest.raises(RuntimeError, match="model crashed"):
        session.run()
    [(s, reps)] = stored(db)
    assert s.ended is None and s.status == "interrupted"
    assert len(reps) == 2


@pytest.mark.parametrize("signals", [1, 2])
def test_sigterm_ends_the_session_and_saves_it(db: Path, tmp_path: Path, signals: int) -> None:
    """``kill`` (SIGTERM) ends the session after the frame in progress, as ``q`` does: the
    result files and the stored session are complete; a second SIGTERM interrupts at once
    (as Ctrl-C), and what was stored stays."""
    seq = knee_sequence(3)
    store = StoreWriter(db)
    store.start()

    def kill() -> None:
        for _ in range(signals):
            os.kill(os.getpid(), signal.SIGTERM)

    session = LiveSession(FrameList(seq.timestamps, seq.width, seq.height),
                          ScriptedEstimator(poses_of(seq), 285, kill),  # 9.5 s: 2 reps done
                          get_exercise("knee_extension"),
                          LiveConfig(reps=100, sets=1, mirror=False, camera=False),
                          record_dir=tmp_path / "rec", store=store, patient_id="p1")
    before = signal.getsignal(signal.SIGTERM)
    with end_on_signals(session):
        result = session.run()
    assert signal.getsignal(signal.SIGTERM) is before  # the handler is put back
    assert result.rep_count == 2 and result.stats.frames_processed == 286
    [(s, reps)] = stored(db)
    assert s.ended is not None and len(reps) == 2
    doc = json.loads((tmp_path / "rec" / "session.json").read_text())
    reason, code = ("terminated", 143) if signals == 1 else ("interrupted", 130)
    assert doc["rep_count"] == 2 and doc["end_reason"] == reason
    assert result.end_reason == reason and _exit_code(result, "replay") == code


def test_ctrl_c_ends_the_session_cleanly(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seq = knee_sequence(3)
    store = StoreWriter(db)
    store.start()

    def ctrl_c() -> None:
        raise KeyboardInterrupt

    result = run_replay(seq, "knee_extension",
                        estimator=ScriptedEstimator(poses_of(seq), 285, ctrl_c),  # after rep 2
                        store=store, patient_id="p1")
    assert result.end_reason == "interrupted" and result.rep_count == 2
    [(s, reps)] = stored(db)
    assert s.ended is not None and len(reps) == 2
    assert _exit_code(result, "replay") == 130
    assert capsys.readouterr().err == ""


def test_audio_never_blocks_and_drops_stale_cues() -> None:
    gate = threading.Event()
    speaker = RecordingSpeaker(gate)
    now = [0.0]
    coach = AudioCoach(lambda: speaker, max_age_s=2.0, queue_size=3, clock=lambda: now[0])
    coach.say("one", "count")
    assert speaker.started.wait(10)  # the worker is stuck speaking "one"
    for word in ("two", "three", "four", "five"):
        coach.say(word, "count")  # returns although the speaker is stuck; "two" pushed out
    now[0] = 1.0
    coach.say("six", "cue")  # pushes "three" out; "four" and "five" (0.0) go stale at 2.5
    now[0] = 2.5
    gate.set()
    coach.close()
    assert speaker.said == ["one", "six"]
    assert coach.dropped == 4


def test_paced_player_waits_for_each_frames_time(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), 20.0, (64, 48))
    for i in range(10):
        writer.write(np.full((48, 64, 3), 20 * i, np.uint8))
    writer.release()
    now = [100.0]
    sleeps: list[float] = []

    def sleep(s: float) -> None:
        sleeps.append(s)

    reader = PacedVideoReader(path, clock=lambda: now[0], sleep=sleep)
    assert reader.peek() is not None
    images = []
    while True:
        ok, image = reader.read()
        if not ok:
            break
        images.append(image)
    assert len(images) == 10
    # nothing moved the clock: frame k is due k/20 s after the first
    np.testing.assert_allclose(sleeps, np.arange(1, 10) / 20.0, atol=1e-3)


def test_a_slow_consumer_loses_frames_like_with_a_camera(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), 30.0, (64, 48))
    for i in range(30):
        writer.write(np.full((48, 64, 3), 8 * i, np.uint8))
    writer.release()
    source = paced_source(PacedVideoReader(path))
    seen = []
    for frame in source:
        seen.append(frame.index)
        threading.Event().wait(0.1)  # three frame periods
    source.close()
    assert source.grabbed == 30
    assert len(seen) + source.dropped == 30
    assert source.dropped >= 10
    assert seen == sorted(seen) and seen[-1] == 29  # the newest frame wins


def test_a_recording_played_faster_keeps_the_time_of_the_motion(tmp_path: Path) -> None:
    """Tempo and durations are the recording's whatever the playback speed; latency is
    measured from when each frame arrived."""
    path = tmp_path / "clip.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), 20.0, (64, 48))
    for i in range(12):
        writer.write(np.full((48, 64, 3), 20 * i, np.uint8))
    writer.release()
    source = paced_source(PacedVideoReader(path, speed=2.0))
    frames = []
    for frame in source:
        frames.append(frame)  # keeps up with 40 frames/s
    source.close()
    assert source.dropped == 0 and [f.index for f in frames] == list(range(12))
    np.testing.assert_allclose([f.timestamp for f in frames], np.arange(12) / 20.0, atol=1e-3)
    arrived = np.array([f.arrived for f in frames])
    assert np.all(np.diff(arrived) > 0)
    # played at 2x: the 0.55 s of the recording arrive in about 0.28 s of wall time
    assert 0.2 < arrived[-1] - arrived[0] < 0.45


# --- run_session: a session started from Python ---------------------------------------------

def test_run_session_plays_a_recording_headless(tmp_path: Path, db: Path) -> None:
    """`rehab.live.run_session` on a recording (poses replayed at each frame's time): two
    sets of two reps with a rest, the result files, the stored session, the spoken cues."""
    seq = knee_sequence(4, lead_s=3.0)  # 4 reps, then 3 s at rest: the final screen lingers
    clip = blank_video(tmp_path / "clip.mp4", seq.n_frames)
    spoken = RecordingSpeaker()
    estimator = TimedReplay(seq)
    result = run_session("knee_extension", clip, reps=2, sets=2, rest_s=0.5, side="right",
                         estimator=estimator, record_dir=tmp_path / "rec", patient_id="p1",
                         db=db, audio=AudioCoach(lambda: spoken, max_age_s=60.0,
                                                 queue_size=50),
                         headless=True, speed=4.0)
    assert isinstance(result, SessionResult)
    assert result.end_reason == "complete" and result.source == str(clip)
    assert result.rep_count == 4 and result.sets_done == 2
    assert [r.set_no for r in result.reps] == [1, 1, 2, 2]
    assert [r.rep.index for r in result.reps] == [1, 2, 3, 4]
    assert all(r.rep.target_met for r in result.reps)
    assert result.stats.frames_processed == estimator.calls  # not warmed up on a frame
    # ended 2 s (the final screen) after the last set, before the end of the recording
    assert result.reps[-1].rep.end_s + 2.0 <= result.duration_s < seq.timestamps[-1]
    assert result.stats.frames_in < seq.n_frames
    assert result.stats.frames_processed + result.stats.frames_dropped == result.stats.frames_in
    assert set(result.files) == {"overlay_mp4", "result_json", "reps_csv", "angles_csv",
                                 "landmarks_npz", "session_json"}
    assert all(p.parent == tmp_path / "rec" for p in result.files.values())
    doc = json.loads(result.files["session_json"].read_text())
    assert doc["rep_count"] == 4 and doc["end_reason"] == "complete"
    assert doc["session_id"] == result.session_id is not None
    [(s, reps)] = stored(db)
    assert s.id == result.session_id and s.ended is not None and len(reps) == 4
    assert spoken.said[:2] == ["1", "2"] and "Set 1 done. Rest for 0.5 seconds." in spoken.said
    assert spoken.said[-1] == "Well done. Session complete."


def test_run_session_with_a_display_of_its_own(tmp_path: Path) -> None:
    """A display passed in gets the frames and its keys (here ``q``) end the session."""
    seq = knee_sequence(1)
    clip = blank_video(tmp_path / "clip.mp4", seq.n_frames)
    display = FakeDisplay({30: "quit"})
    result = run_session(get_exercise("knee_extension"), str(clip), reps=3, sets=1,
                         estimator=TimedReplay(seq), display=display, speed=4.0)
    assert result.end_reason == "quit" and display.closed and display.shown == 30
    assert result.rep_count == 0 and result.files == {} and result.session_id is None


def test_run_session_refuses_a_bad_plan_before_opening_anything(tmp_path: Path,
                                                                 db: Path) -> None:
    missing = tmp_path / "missing.mp4"  # never opened: the plan is refused first
    with pytest.raises(RehabError, match=r"reps and sets must be at least 1 \(got 0 x 2\)"):
        run_session("squat", missing, reps=0, sets=2, headless=True)
    with pytest.raises(ValueError, match="headless"):
        run_session("squat", missing, headless=True, display=FakeDisplay({}))
    with pytest.raises(RehabError, match="unknown patient 'nobody'"):
        run_session("squat", missing, headless=True, patient_id="nobody", db=db)
    with pytest.raises(RehabError, match="no such file"):
        run_session("squat", missing, headless=True)


# --- the command line ------------------------------------------------------------------------

def test_cli_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path, db: Path) -> None:
    assert main(["live", "--exercise", "no_such_exercise", "--headless"]) == 2
    assert "unknown exercise 'no_such_exercise'" in capsys.readouterr().err
    assert main(["live", "--exercise", "squat", "--headless", "--camera", "9"]) == 2
    assert "--source VIDEO" in capsys.readouterr().err
    assert main(["live", "--exercise", "squat", "--headless",
                 "--source", str(tmp_path / "missing.mp4")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["live", "--exercise", "squat", "--headless", "--patient", "nobody",
                 "--db", str(db)]) == 2
    assert "unknown patient 'nobody'" in capsys.readouterr().err
    assert main(["live", "--headless"]) == 2
    assert "--exercise is required" in capsys.readouterr().err


def test_cli_window_needs_a_display(capsys: pytest.CaptureFixture[str],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.platform", "linux")
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert main(["live", "--exercise", "squat", "--source", "x.mp4"]) == 2
    assert "use --headless" in capsys.readouterr().err


@pytest.mark.model
def test_rehab_live_on_the_demo_video(shared_videos: Path, tmp_path: Path, db: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    """The demo recording played as a camera, headless: 7 reps live (as offline), the
    overlay video, the summary, the stats and the stored session; streamed at the same
    time to a WebSocket client (with a token) and to a VMC receiver."""
    from rehab.pipeline import analyze

    with open_store(db) as store:
        store.prescribe("p1", "shoulder_abduction", 130, 180, reps=5, sets=2)
    rec = tmp_path / "rec"
    port = _free_port()
    client = _StreamClient(f"ws://127.0.0.1:{port}/stream?token=T0k")
    client.start()
    vmc = _UdpReceiver()
    vmc.start()
    code = main(["-q", "live", "--exercise", "shoulder_abduction", "--source",
                 str(shared_videos / "shoulder_abduction.mp4"), "--headless", "--record",
                 str(rec), "--patient", "p1", "--db", str(db), "--rest", "1",
                 "--stats", str(tmp_path / "stats.json"), "--serve", "--port", str(port),
                 "--token", "T0k", "--vmc", f"127.0.0.1:{vmc.port}"])
    bundles = vmc.stop()
    client.join(10)
    out = capsys.readouterr().out
    assert code == 0, out
    assert "7 of 10 reps (1 of 2 sets of 5)" in out
    assert "target peak 130-180 deg" in out
    doc = json.loads((rec / "session.json").read_text())
    assert doc["rep_count"] == 7 and [r["set"] for r in doc["reps"]] == [1] * 5 + [2] * 2
    assert all(r["rom_deg"] > 40 and 0 <= r["score"] <= 100 for r in doc["reps"])
    stats = json.loads((tmp_path / "stats.json").read_text())
    assert set(stats) == {"frames_in", "frames_processed", "frames_dropped", "latency_ms", "reps",
                          "streams"}
    assert stats["frames_in"] == 492 and stats["reps"] == 7
    # the stream: every processed frame, well formed; the rep events are the session's reps
    frames = [m for m in client.messages if m["type"] == "frame"]
    assert client.messages[0]["type"] == "hello" and client.messages[-1]["type"] == "end"
    assert [m["seq"] for m in frames] == list(range(stats["frames_processed"]))
    seen = [m for m in frames if m["world"] is not None]
    assert len(seen) > 0.9 * len(frames)
    assert all(len(m["world"]) == 33 and len(m["visibility"]) == 33 for m in seen)
    assert {m["angle"]["name"] for m in frames} == {"shoulder_abduction"}
    assert [m["index"] for m in client.messages if m["type"] == "rep"] == list(range(1, 8))
    assert [m["score"] for m in client.messages if m["type"] == "rep"] == \
        [r["score"] for r in doc["reps"]]
    assert stats["streams"]["websocket"]["connections"] == 1
    # VMC: one bundle per frame with a person, every bundle a well-formed VMC frame
    assert stats["streams"]["vmc"]["sent"] == len(bundles) >= len(seen) - 5
    assert all(b.startswith(b"#bundle\0") and b"/VMC/Ext/Bone/Pos" in b for b in bundles)
    assert stats["frames_processed"] + stats["frames_dropped"] == stats["frames_in"]
    lat = stats["latency_ms"]
    assert 0 < lat["p50"] <= lat["p95"] <= lat["max"]
    # the overlay video: as long as the input (dropped frames repeat the last overlay), then
    # the summary frame; at the camera's resolution
    cap = cv2.VideoCapture(str(rec / "overlay.mp4"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == \
        492 + summary_frames(cap.get(cv2.CAP_PROP_FPS))
    assert (cap.get(cv2.CAP_PROP_FRAME_WIDTH), cap.get(cv2.CAP_PROP_FRAME_HEIGHT)) == (1920, 1080)
    cap.set(cv2.CAP_PROP_POS_FRAMES, 480)
    ok, last = cap.read()
    cap.release()
    assert ok and last.std() > 10
    # stored: the session, its 7 reps, the same files as 'rehab analyze --patient'
    [(s, reps)] = stored(db)
    assert s.mode == "live" and s.ended is not None and len(reps) == 7
    assert (s.target_min, s.target_max) == (130, 180)
    assert set(s.files) >= {"result_json", "reps_csv", "angles_csv", "landmarks_npz"}
    # offline on the frames the live loop processed gives the same count
    assert analyze(rec / "landmarks.npz", "shoulder_abduction", progress=False).rep_count == 7


@pytest.mark.model
def test_rehab_live_with_two_people_in_a_portrait_video(shared_videos: Path, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    from rehab.pipeline import analyze

    # Played at 0.15 x its 60 frames/s (9 frames/s of 1088x1920 drawn and recorded at full
    # size, on a loaded 2-core machine too), so the loop keeps up with every frame: the
    # man's fast leg swings last about the shortest duration a squat is counted at, and with
    # a machine-dependent set of dropped frames the count could go either way.
    video = shared_videos / "pose2sim_two_people_cam02.mp4"
    code = main(["-q", "live", "--exercise", "squat", "--source", str(video), "--headless",
                 "--speed", "0.15", "--record", str(tmp_path),
                 "--stats", str(tmp_path / "stats.json")])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "end of the recording after 2 s" in out  # the recording's time, not the wall's
    cap = cv2.VideoCapture(str(tmp_path / "overlay.mp4"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == \
        100 + summary_frames(cap.get(cv2.CAP_PROP_FPS))
    assert (cap.get(cv2.CAP_PROP_FRAME_WIDTH), cap.get(cv2.CAP_PROP_FRAME_HEIGHT)) == (1088, 1920)
    cap.release()
    result = json.loads((tmp_path / "result.json").read_text())
    stats = json.loads((tmp_path / "stats.json").read_text())
    assert result["frames"] == stats["frames_processed"] >= 90
    # the man on the platform is followed in (nearly) every frame
    assert result["frames_with_pose"] >= 0.9 * result["frames"]
    # no squat in this clip: none counted live, none offline on the same frames
    assert "0 of 30 reps" in out and stats["reps"] == 0
    assert analyze(tmp_path / "landmarks.npz", "squat", progress=False).rep_count == 0
