"""Live sessions under faults: the record folder written whole, what the exit lines say was
saved, a signal while saving, a full disk at the end, nobody in view, ``--stats`` and
``--list-cameras`` errors, a set restarted during the rest.

The frame source, scripted estimator and display come from ``live_fakes`` (shared with
test_live.py)."""

from __future__ import annotations

import errno
import json
import os
import signal
import sqlite3
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from rehab.cli import main
from rehab.errors import OutputError
from rehab.exercises import get_exercise
from rehab.live import run_session
from rehab.live.cli import _exit_code
from rehab.live.runner import end_on_signals
from rehab.live.session import LiveConfig, LiveSession, SessionResult
from rehab.live.sets import SetTracker
from rehab.live.writers import StoreWriter
from rehab.model import PoseSequence
from rehab.pose.estimator import ReplayEstimator
from rehab.store import open_store
from rehab.synthetic import rep_trajectory, synthetic_sequence

from live_fakes import FakeDisplay, FrameList, ScriptedEstimator, poses_of

ALL_FILES = {"overlay.mp4", "result.json", "reps.csv", "angles.csv", "landmarks.npz",
             "session.json"}
OLD = {name: f"old {name}\n" for name in ("result.json", "reps.csv", "session.json")}


# --- fakes -----------------------------------------------------------------------------------

class ByteWriter:
    """A video writer that appends a few bytes per frame; fails (ENOSPC) after ``limit``."""

    limit: int | None = None

    def __init__(self, path: Path, fps: float, size: tuple[int, int]) -> None:
        self.path = path
        self.n = 0
        path.write_bytes(b"")

    def write(self, image: np.ndarray) -> None:
        self.n += 1
        if self.limit is not None and self.n > self.limit:
            raise OSError(errno.ENOSPC, "No space left on device", str(self.path))
        with open(self.path, "ab") as fh:
            fh.write(b"frame\n")

    def release(self) -> None:
        pass


def failing_after(limit: int) -> type[ByteWriter]:
    return type("FailingWriter", (ByteWriter,), {"limit": limit})


def knee_sequence(n_reps: int = 3) -> PoseSequence:
    t, knee = rep_trajectory(n_reps, 30.0, 90.0, 5.0, rep_s=2.5, pause_s=1.0, lead_s=1.0)
    return synthetic_sequence(t, {"right_knee_flexion": knee, "hip_flexion": 90.0},
                              view="side", width=640, height=480, anchor="hips")


RIGHT_KNEE = LiveConfig(reps=10, side="right", mirror=False, camera=False)


def knee_session(seq: PoseSequence, config: LiveConfig = RIGHT_KNEE,
                 **kwargs: object) -> LiveSession:
    """A knee-extension session replaying ``seq`` on blank frames."""
    return LiveSession(FrameList(seq.timestamps), ReplayEstimator(seq),  # type: ignore[arg-type]
                       get_exercise("knee_extension"), config, **kwargs)  # type: ignore[arg-type]


def started_store(db: Path) -> StoreWriter:
    store = StoreWriter(db)
    store.start()
    return store


def stored(db: Path) -> list[tuple[object, int]]:
    with open_store(db) as store:
        return [(s, len(store.reps(s.id))) for s in store.sessions("p1")]


def old_record(path: Path) -> Path:
    """A record folder holding an earlier session's (fake) files."""
    path.mkdir(parents=True)
    for name, text in OLD.items():
        (path / name).write_text(text)
    return path


def leftovers(folder: Path) -> list[str]:
    """Staging folders beside ``folder`` and temporaries anywhere under its parent."""
    return sorted(str(p.relative_to(folder.parent)) for p in folder.parent.rglob("*")
                  if p.name.startswith(f".{folder.name}.") or ".part" in p.name)


def one_error_line(err: str, *needles: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.startswith("rehab: error:")]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


# --- 1. the record folder is written whole ----------------------------------------------------

@pytest.mark.parametrize("end", ["complete", "quit", "ctrl_c", "camera_lost", "disk_full"])
def test_record_folder_is_staged_then_published_whole(tmp_path: Path, end: str) -> None:
    """During the session the files go to a hidden folder beside DIR (DIR keeps the previous
    session's files); at the end, however it ends, the new set replaces DIR whole."""
    seq = knee_sequence(3)
    rec = old_record(tmp_path / "rec")
    seen: dict[str, object] = {}

    def look() -> None:  # at frame 200: mid-session
        seen["final"] = {p.name: p.read_text() for p in rec.iterdir()}
        seen["staged"] = [sorted(os.listdir(p)) for p in tmp_path.glob(".rec.rehab-new-*")]
        if end == "ctrl_c":
            raise KeyboardInterrupt

    n = seq.n_frames
    frames = n if end != "camera_lost" else 250
    config = LiveConfig(reps=3 if end == "complete" else 100, sets=1, mirror=False,
                        camera=end == "camera_lost", linger_s=0.5)
    session = LiveSession(FrameList(seq.timestamps[:frames]),
                          ScriptedEstimator(poses_of(seq), 200, look),
                          get_exercise("knee_extension"), config, record_dir=rec,
                          display=FakeDisplay({240: "quit"}) if end == "quit" else None,
                          writer_factory=failing_after(100) if end == "disk_full"
                          else ByteWriter)
    result = session.run()
    assert seen["final"] == OLD
    assert seen["staged"] == [["overlay.mp4"]]
    assert leftovers(rec) == []
    expected = {"overlay.mp4"} if end == "disk_full" else ALL_FILES
    assert {p.name for p in rec.iterdir()} == expected
    assert set(result.files.values()) == {rec / name for name in expected}
    if end != "disk_full":
        doc = json.loads((rec / "session.json").read_text())
        assert doc["end_reason"] == result.end_reason
        assert doc["files"]["overlay_mp4"] == str(rec / "overlay.mp4")
        assert json.loads((rec / "result.json").read_text())["rep_count"] == result.rep_count
    else:
        assert result.record_error is not None and "disk full" in result.record_error
        assert (rec / "overlay.mp4").read_bytes() == b"frame\n" * 100


def test_record_folder_is_private_for_a_patient(tmp_path: Path, db: Path) -> None:
    seq = knee_sequence(1)
    rec = tmp_path / "rec"
    session = knee_session(seq, record_dir=rec, writer_factory=ByteWriter,
                           store=started_store(db), patient_id="p1")
    session.run()
    assert rec.stat().st_mode & 0o777 == 0o700
    assert {p.name: p.stat().st_mode & 0o777 for p in rec.iterdir()} == \
        {name: 0o600 for name in ALL_FILES}


def test_a_record_folder_with_foreign_files_is_refused_first(tmp_path: Path) -> None:
    """Before the recording is opened (here: it does not exist) or the model loads."""
    rec = tmp_path / "rec"
    rec.mkdir()
    (rec / "notes.txt").write_text("mine")
    (rec / "result.json").write_text("{}")
    with pytest.raises(OutputError, match=r"holds files rehab did not write \(notes.txt\)"):
        run_session("squat", tmp_path / "missing.mp4", headless=True, record_dir=rec)
    assert sorted(os.listdir(tmp_path)) == ["rec"]
    assert sorted(os.listdir(rec)) == ["notes.txt", "result.json"]


def test_nothing_recorded_when_the_session_cannot_start(tmp_path: Path) -> None:
    """A refusal after the record folder was checked (the recording is missing) leaves
    neither a staging folder nor a new DIR."""
    rec = tmp_path / "rec"
    with pytest.raises(Exception, match="no such file"):
        run_session("squat", tmp_path / "missing.mp4", headless=True, record_dir=rec)
    assert os.listdir(tmp_path) == []


# --- 2. the exit lines say what was saved ----------------------------------------------------

def failing_begin(monkeypatch: pytest.MonkeyPatch) -> None:
    from rehab.store.store import Store

    def begin(self: object, *args: object) -> None:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(Store, "begin", begin)


def test_store_full_at_begin_without_record(db: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    failing_begin(monkeypatch)
    seq = knee_sequence(2)
    session = knee_session(seq, store=started_store(db), patient_id="p1")
    result = session.run()
    assert result.rep_count == 2 and result.session_id is None
    assert _exit_code(result, "replay") == 4
    line = one_error_line(capsys.readouterr().err, "database or disk is full")
    assert line.endswith("; nothing could be saved"), line
    assert "session so far is saved" not in line
    assert stored(db) == []


def test_store_full_at_begin_with_record(tmp_path: Path, db: Path,
                                         monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    failing_begin(monkeypatch)
    seq = knee_sequence(2)
    rec = tmp_path / "rec"
    session = knee_session(seq, record_dir=rec, writer_factory=ByteWriter,
                           store=started_store(db), patient_id="p1")
    result = session.run()
    assert _exit_code(result, "replay") == 4
    line = one_error_line(capsys.readouterr().err, "database or disk is full",
                          f"the overlay video and result files are in {rec}",
                          "nothing stored in the patient history")
    assert "session so far is saved" not in line
    assert {p.name for p in rec.iterdir()} == ALL_FILES


def test_recording_failing_at_the_first_frame(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """Nothing could be written: DIR keeps the previous session's files, and the exit line
    says nothing was saved."""
    seq = knee_sequence(2)
    rec = old_record(tmp_path / "rec")
    session = knee_session(seq, LiveConfig(reps=10, mirror=False, camera=False),
                           record_dir=rec, writer_factory=failing_after(0))
    result = session.run()
    assert result.record_error is not None and "disk full" in result.record_error
    assert _exit_code(result, "replay") == 4
    one_error_line(capsys.readouterr().err, "disk full; nothing could be saved")
    assert {p.name: p.read_text() for p in rec.iterdir()} == OLD
    assert leftovers(rec) == []


def test_recording_full_with_the_store_working(tmp_path: Path, db: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    seq = knee_sequence(3)
    rec = tmp_path / "rec"
    session = knee_session(seq, record_dir=rec, writer_factory=failing_after(40),
                           store=started_store(db), patient_id="p1")
    result = session.run()
    assert _exit_code(result, "replay") == 4
    one_error_line(capsys.readouterr().err, "disk full; the session so far is saved: ",
                   f"3 rep(s) stored as session {result.session_id}",
                   f"the overlay video so far is in {rec}")
    assert os.listdir(rec) == ["overlay.mp4"]


# --- 3. a full disk and a second signal while saving -----------------------------------------

@pytest.mark.parametrize("where", ["savez_compressed", "save_npz"])
def test_disk_full_writing_the_landmarks(tmp_path: Path, db: Path, where: str,
                                         monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    """An OSError (ENOSPC) while writing landmarks.npz is the session's record error, one
    line; the session is still stored, the overlay video published, no partial result set."""
    import rehab.analysis
    import rehab.sequence

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    if where == "savez_compressed":
        monkeypatch.setattr(rehab.sequence.np, "savez_compressed", full)
    else:
        monkeypatch.setattr(rehab.analysis, "save_npz", full)
    seq = knee_sequence(2)
    rec = tmp_path / "rec"
    session = knee_session(seq, record_dir=rec, writer_factory=ByteWriter,
                           store=started_store(db), patient_id="p1")
    result = session.run()
    assert result.record_error is not None and "disk full" in result.record_error
    assert ".rehab-new-" not in result.record_error  # the folder the user named
    [(s, n_reps)] = stored(db)
    assert s.ended is not None and n_reps == 2  # type: ignore[attr-defined]
    assert os.listdir(rec) == ["overlay.mp4"]
    assert leftovers(rec) == []
    assert _exit_code(result, "replay") == 4
    one_error_line(capsys.readouterr().err, "disk full",
                   f"2 rep(s) stored as session {result.session_id}")


@pytest.mark.parametrize("first", [signal.SIGINT, signal.SIGTERM])
def test_a_second_signal_while_saving_waits_for_the_save(
        tmp_path: Path, db: Path, first: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C (or kill) mid-session, then Ctrl-C again while the result files are being
    written: the save finishes, then the session exits 130."""
    import rehab.live.session

    real = rehab.live.session.write_outputs

    def write_outputs(*args: object, **kwargs: object) -> object:
        os.kill(os.getpid(), signal.SIGINT)  # the handler runs here, in the main thread
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(rehab.live.session, "write_outputs", write_outputs)
    seq = knee_sequence(3)
    rec = tmp_path / "rec"
    session = LiveSession(FrameList(seq.timestamps), ScriptedEstimator(
        poses_of(seq), 285, lambda: os.kill(os.getpid(), first)),
        get_exercise("knee_extension"),
        LiveConfig(reps=100, side="right", mirror=False, camera=False), record_dir=rec,
        writer_factory=ByteWriter, store=started_store(db), patient_id="p1")
    try:
        with end_on_signals(session):
            result = session.run()
    except KeyboardInterrupt:
        pytest.fail("the second SIGINT interrupted the save")
    assert result.rep_count == 2
    assert {p.name for p in rec.iterdir()} == ALL_FILES
    [(s, n_reps)] = stored(db)
    assert s.ended is not None and n_reps == 2  # type: ignore[attr-defined]
    assert _exit_code(result, "replay") == 130


# --- 6. nobody in view ------------------------------------------------------------------------

def test_nobody_in_view_is_saved_then_exit_3(tmp_path: Path, db: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    t = np.arange(60) / 30.0
    rec = tmp_path / "rec"
    session = LiveSession(FrameList(t), ScriptedEstimator([None] * 60),
                          get_exercise("knee_extension"),
                          LiveConfig(reps=10, mirror=False, camera=False), record_dir=rec,
                          writer_factory=ByteWriter, store=started_store(db), patient_id="p1")
    result = session.run()
    assert result.rep_count == 0 and result.session_id is not None
    [(s, n_reps)] = stored(db)
    assert s.ended is not None and n_reps == 0  # type: ignore[attr-defined]
    assert "session.json" in os.listdir(rec)
    assert _exit_code(result, "replay") == 3
    one_error_line(capsys.readouterr().err, "nobody was seen in 60 frames",
                   f"0 rep(s) stored as session {result.session_id}")


# --- 4, 5. --stats and --list-cameras -------------------------------------------------------

@pytest.mark.parametrize("stats", ["/proc/x/stats.json", "file/stats.json"])
def test_stats_path_checked_before_the_session(tmp_path: Path, stats: str,
                                               monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "file").write_text("a file")
    monkeypatch.chdir(tmp_path)
    code = main(["live", "--exercise", "squat", "--headless", "--source",
                 str(tmp_path / "missing.mp4"), "--stats", stats])
    assert code == 4
    one_error_line(capsys.readouterr().err, stats)


def replayed_result(tmp_path: Path) -> Callable[..., SessionResult]:
    seq = knee_sequence(1)

    def run(*args: object, **kwargs: object) -> SessionResult:
        return knee_session(seq, LiveConfig(reps=10, mirror=False, camera=False)).run()

    return run


def test_stats_written_atomically(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    """A disk full while writing the stats keeps the previous stats file whole, and is one
    line after the summary (exit 4)."""
    import rehab.fileio
    import rehab.live.runner

    monkeypatch.setattr(rehab.live.runner, "run_session", replayed_result(tmp_path))
    stats = tmp_path / "stats.json"
    assert main(["-q", "live", "--exercise", "knee_extension", "--headless", "--source",
                 "x.mp4", "--stats", str(stats)]) == 0
    doc = json.loads(stats.read_text())
    assert doc["frames_processed"] > 0
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(rehab.fileio.os, "fsync", fsync)
    capsys.readouterr()
    try:
        code = main(["-q", "live", "--exercise", "knee_extension", "--headless", "--source",
                     "x.mp4", "--stats", str(stats)])
    finally:
        monkeypatch.setattr(rehab.fileio.os, "fsync", real_fsync)
    out, err = capsys.readouterr()
    assert code == 4 and "1 of 10 reps" in out
    one_error_line(err, str(stats), "disk full")
    assert json.loads(stats.read_text()) == doc
    assert sorted(os.listdir(tmp_path)) == ["stats.json"]


def test_list_cameras_without_a_camera(monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    import rehab.capture

    monkeypatch.setattr(rehab.capture, "list_cameras", lambda: [])
    assert main(["live", "--list-cameras"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    one_error_line(err, "no camera found", "--source VIDEO")
    monkeypatch.setattr(rehab.capture, "list_cameras", lambda: [0, 2])
    assert main(["live", "--list-cameras"]) == 0
    assert capsys.readouterr().out == "camera 0\ncamera 2\n"


# --- 7. sets ---------------------------------------------------------------------------------

def test_restart_during_the_rest_counts_the_set_once() -> None:
    sets = SetTracker(reps=2, sets=2, rest_s=30.0)
    for t in (1.0, 2.0):
        assert sets.add_rep(t, t)
    assert sets.update(2.0) is not None and sets.sets_done == 1 and sets.resting
    event = sets.restart(5.0)  # redo set 1 during its rest
    assert event is not None and event.kind == "restarted" and event.set_no == 1
    assert sets.sets_done == 0 and sets.set_no == 1 and not sets.resting
    for t in (6.0, 7.0):
        assert sets.add_rep(t, t)
    event = sets.update(7.0)
    assert event is not None and event.kind == "set_done"
    assert sets.sets_done == 1 and sets.set_no == 1
    assert sets.update(40.0) is not None and sets.set_no == 2
    for t in (41.0, 42.0):
        sets.add_rep(t, t)
    assert sets.update(42.0).kind == "finished"  # type: ignore[union-attr]
    assert sets.sets_done == 2
