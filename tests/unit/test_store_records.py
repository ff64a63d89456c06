"""Schema 6 of the patient store: what the patient says of a session, duplicates of a
recording, sessions logged without a camera, clinician notes, editing a patient; the
migration from schema 5 keeps everything and adds nothing to old sessions."""

from __future__ import annotations

import datetime as dt
import shutil
import threading
from pathlib import Path

import pytest

from rehab.store import MIGRATIONS, StoreError, open_store, schema_version
from rehab.store import db as store_db
from rehab.store.models import SessionFeedback
from rehab.store.store import DuplicateSessionError

V1 = Path(__file__).parent.parent / "data" / "store_v1"
WHEN = dt.datetime(2026, 11, 24, 10, 0)
SHA = "ab" * 32


@pytest.fixture
def store(tmp_path: Path):
    with open_store(tmp_path / "s.sqlite") as s:
        s.add_patient("p1", "One")
        s.add_patient("p2", "Two")
        yield s


def test_feedback_is_stored_and_validated(store, squat_analysis) -> None:
    sid = store.record_analysis("p1", squat_analysis(3), WHEN, feedback=SessionFeedback(
        pain=0, exertion=10, note="  fine  ", sets=2))
    f = store.session(sid).feedback
    assert (f.pain, f.exertion, f.note, f.sets) == (0, 10, "fine", 2)
    store.set_feedback(sid, SessionFeedback(pain=4))
    assert store.session(sid).feedback == SessionFeedback(pain=4)
    for bad, message in ((SessionFeedback(pain=11), "pain must be at most 10, not 11"),
                         (SessionFeedback(exertion=-1), "exertion must be at least 0"),
                         (SessionFeedback(pain=True), "pain must be a whole number"),
                         (SessionFeedback(sets=0), "sets must be at least 1"),
                         (SessionFeedback(note="x" * 2001), "note is 2001 characters")):
        with pytest.raises(StoreError, match=message):
            store.set_feedback(sid, bad)
        with pytest.raises(StoreError, match=message):
            store.record_analysis("p1", squat_analysis(3), WHEN, feedback=bad)
    assert store.session(sid).feedback == SessionFeedback(pain=4)
    assert len(store.sessions("p1")) == 1
    with pytest.raises(StoreError, match="unknown session 99"):
        store.set_feedback(99, SessionFeedback(pain=1))


def test_live_writer_finishes_with_feedback(store, squat_analysis) -> None:
    w = store.begin_session("p1", "squat", "right", WHEN, source="camera 0", mode="live")
    for rep in squat_analysis(2).reps:
        w.add_rep(rep)
    w.finish(WHEN + dt.timedelta(minutes=2), feedback=SessionFeedback(pain=2, sets=1))
    s = store.session(w.session_id)
    assert (s.rep_count, s.feedback.pain, s.feedback.sets, s.date_only) == (2, 2, 1, False)


def test_a_duplicate_recording_is_refused_the_same_day_only(store, squat_analysis) -> None:
    first = store.record_analysis("p1", squat_analysis(3), WHEN, content_sha256=SHA)
    with pytest.raises(DuplicateSessionError, match=f"already stored for p1 on 2026-11-24 "
                                                    f"\\(session {first}, squat\\)"):
        store.record_analysis("p1", squat_analysis(3), WHEN.replace(hour=18),
                              content_sha256=SHA)
    assert store.duplicate_of("p1", WHEN.date(), SHA).id == first
    assert store.duplicate_of("p1", WHEN.date(), "cd" * 32) is None
    assert store.duplicate_of("p2", WHEN.date(), SHA) is None
    store.record_analysis("p1", squat_analysis(3), WHEN, content_sha256=SHA, force=True)
    store.record_analysis("p1", squat_analysis(3), WHEN + dt.timedelta(days=1),
                          content_sha256=SHA)
    store.record_analysis("p2", squat_analysis(3), WHEN, content_sha256=SHA)
    store.record_analysis("p1", squat_analysis(3), WHEN)  # no hash: a camera, never refused
    assert [len(store.sessions(p)) for p in ("p1", "p2")] == [4, 1]


def test_two_writers_of_one_recording_store_it_once(tmp_path: Path, squat_analysis) -> None:
    """Both pass the early check; the check inside the storing transaction refuses one."""
    path = tmp_path / "c.sqlite"
    with open_store(path) as s:
        s.add_patient("p1", "One")
    analysis, outcomes = squat_analysis(3), []
    barrier = threading.Barrier(2)

    def write() -> None:
        with open_store(path) as s:
            barrier.wait()
            try:
                outcomes.append(s.record_analysis("p1", analysis, WHEN, content_sha256=SHA))
            except DuplicateSessionError:
                outcomes.append("refused")

    threads = [threading.Thread(target=write) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(map(str, outcomes)) == ["1", "refused"]
    with open_store(path) as s:
        assert len(s.sessions("p1")) == 1


def test_logged_sessions(store) -> None:
    x = store.log_session("p1", "squat", dt.date(2026, 11, 20), sets=3, reps=10,
                          side="left", feedback=SessionFeedback(pain=2, note="home"))
    assert (x.rep_count, x.started, x.feedback.sets, x.logged) == \
        (30, dt.datetime(2026, 11, 20), 3, True)
    store.log_session("p1", "my_own_exercise", dt.date(2026, 11, 22), sets=1, reps=5)
    assert [y.exercise_name for y in store.logged_sessions("p1")] == ["Squat",
                                                                      "my_own_exercise"]
    assert [y.day.day for y in store.logged_sessions("p1", start=dt.date(2026, 11, 21))] == [22]
    assert store.logged_sessions("p1", end=dt.date(2026, 11, 20)) == [x]
    assert store.logged_sessions("p1", exercise_id="squat") == [x]
    assert store.logged_sessions("p2") == []
    for kwargs, message in (({"sets": 0, "reps": 10}, "sets must be at least 1"),
                            ({"sets": 2, "reps": 1001}, "reps must be at most 1000"),
                            ({"sets": 2.5, "reps": 3}, "sets must be a whole number")):
        with pytest.raises(StoreError, match=message):
            store.log_session("p1", "squat", dt.date(2026, 11, 20), **kwargs)
    with pytest.raises(StoreError, match="is in the future"):
        store.log_session("p1", "squat", dt.date.today() + dt.timedelta(days=1), 1, 1)
    with pytest.raises(StoreError, match="side must be one of"):
        store.log_session("p1", "squat", dt.date(2026, 11, 20), 1, 1, side="up")
    with pytest.raises(StoreError, match="unknown patient 'p9'"):
        store.log_session("p9", "squat", dt.date(2026, 11, 20), 1, 1)


def test_clinician_notes_and_delete(store, squat_analysis) -> None:
    sid = store.record_analysis("p1", squat_analysis(3), WHEN)
    n = store.add_clinician_note("p1", "  Knee stable.  ", session_id=sid)
    assert (n.text, n.day, n.session_id) == ("Knee stable.", WHEN.date(), sid)
    store.add_clinician_note("p1", "Next review in 2 weeks", day=dt.date(2026, 11, 1))
    assert [m.day.isoformat() for m in store.clinician_notes("p1")] == ["2026-11-01",
                                                                        "2026-11-24"]
    assert len(store.clinician_notes("p1", start=dt.date(2026, 11, 2))) == 1
    sid2 = store.record_analysis("p2", squat_analysis(3), WHEN)
    with pytest.raises(StoreError, match=f"session {sid2} is not p1's"):
        store.add_clinician_note("p1", "x", session_id=sid2)
    store.log_session("p1", "squat", dt.date(2026, 11, 20), 1, 1)
    store.delete_patient("p1")
    for table in ("logged_sessions", "clinician_notes", "sessions"):
        assert store.conn.execute(f"SELECT COUNT(*) FROM {table} WHERE patient_id = 'p1'"
                                  ).fetchone()[0] == 0


def test_edit_patient(store) -> None:
    p = store.edit_patient("p1", display_name=" Ann ", affected_side="left", notes="ACL")
    assert (p.display_name, p.affected_side, p.notes) == ("Ann", "left", "ACL")
    assert store.edit_patient("p1", notes="ACL, left").affected_side == "left"  # kept
    assert store.edit_patient("p1", clear_side=True).affected_side is None
    with pytest.raises(StoreError, match="affected side must be one of"):
        store.edit_patient("p1", affected_side="up")
    with pytest.raises(StoreError, match="not both"):
        store.edit_patient("p1", affected_side="left", clear_side=True)


def test_schema_5_database_migrates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A schema-5 database (the v1 fixture migrated by the code of schema 5) opens at
    schema 6 with its sessions whole and no feedback, hash, logged sessions or notes."""
    shutil.copytree(V1, tmp_path / "clinic")
    path = tmp_path / "clinic" / "rehab.sqlite"
    with monkeypatch.context() as m:
        m.setattr(store_db, "MIGRATIONS", MIGRATIONS[:5])
        conn = store_db.connect(path)
        before = [tuple(r) for r in conn.execute("SELECT id, started, rep_count FROM sessions")]
        conn.close()
    with open_store(path) as s:
        assert schema_version(s.conn) == 6
        assert s.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        sessions = s.sessions("p01")
        assert [(x.id, x.started.isoformat(), x.rep_count) for x in sessions] == before
        assert all(x.feedback == SessionFeedback() and x.content_sha256 == ""
                   for x in sessions)
        assert s.logged_sessions("p01") == [] and s.clinician_notes("p01") == []


def test_recording_sha256_of_a_file_and_of_an_image_folder(tmp_path: Path) -> None:
    import hashlib

    from rehab.fileio import recording_sha256

    f = tmp_path / "clip.mp4"
    f.write_bytes(b"frames")
    assert recording_sha256(f) == hashlib.sha256(b"frames").hexdigest()
    d = tmp_path / "imgs"
    d.mkdir()
    (d / "0001.png").write_bytes(b"a")
    (d / "0002.png").write_bytes(b"b")
    first = recording_sha256(d)
    assert recording_sha256(d) == first
    (d / "0002.png").write_bytes(b"c")
    assert recording_sha256(d) != first
    (d / "0002.png").write_bytes(b"b")
    (d / "0002.png").rename(d / "0003.png")
    assert recording_sha256(d) != first


def test_the_same_log_twice_a_day_needs_force(store) -> None:
    day = dt.date(2026, 11, 20)
    store.log_session("p1", "squat", day, sets=3, reps=10)
    with pytest.raises(DuplicateSessionError,
                       match="p1: squat 3 x 10 is already logged on 2026-11-20"):
        store.log_session("p1", "squat", day, sets=3, reps=10)
    store.log_session("p1", "squat", day, sets=2, reps=10)  # other sets: another session
    store.log_session("p2", "squat", day, sets=3, reps=10)  # another patient
    store.log_session("p1", "squat", day, sets=3, reps=10, force=True)
    assert len(store.logged_sessions("p1", day, day)) == 3
