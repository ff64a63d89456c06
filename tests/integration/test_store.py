"""The patient store: schema and migrations, permissions, sessions, export, delete, crashes."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from rehab.analysis import Analysis
from rehab.errors import OutputError
from rehab.store import MIGRATIONS, StoreError, default_db_path, open_store, schema_version
from rehab.store import db as store_db

DAY = dt.datetime(2024, 3, 4, 9, 30)
SquatAnalysis = Callable[..., Analysis]  # the `squat_analysis` fixture (tests/conftest.py)


@pytest.fixture()
def store(tmp_path: Path):
    with open_store(tmp_path / "db" / "rehab.sqlite") as s:
        s.add_patient("p01", "Ada L.", affected_side="left", notes="ACL, left")
        yield s


def test_default_path_and_env_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("REHAB_DB", raising=False)
    p = default_db_path()
    assert p.name == "rehab.sqlite" and p.parent.name == "rehab"
    monkeypatch.setenv("REHAB_DB", str(tmp_path / "x.sqlite"))
    assert default_db_path() == tmp_path / "x.sqlite"
    with open_store() as s:
        assert s.path == (tmp_path / "x.sqlite").resolve()


def test_schema_wal_foreign_keys(store) -> None:
    conn = store.conn
    assert schema_version(conn) == len(MIGRATIONS) >= 1
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"patients", "prescriptions", "sessions", "reps", "session_files"} <= tables
    with pytest.raises(sqlite3.IntegrityError):  # a session needs an existing patient
        conn.execute("INSERT INTO sessions (patient_id, exercise_id, side, started, mode, "
                     "software_version) VALUES ('nobody', 'squat', 'left', 'x', 'live', '0')")


def test_files_are_private_even_with_a_permissive_umask(tmp_path: Path,
                                                        squat_analysis: SquatAnalysis) -> None:
    old = os.umask(0o022)
    try:
        path = tmp_path / "clinic" / "rehab.sqlite"
        with open_store(path) as s:
            s.add_patient("p01", "Ada")
            s.record_analysis("p01", squat_analysis(), DAY)
            for suffix in ("", "-wal", "-shm"):
                f = Path(str(path) + suffix)
                assert f.exists(), suffix
                assert f.stat().st_mode & 0o777 == 0o600, suffix
            session_files = list(store_db.files_dir(path).rglob("*"))
            assert session_files
            for f in session_files:
                assert f.stat().st_mode & 0o077 == 0, f
        # reopened later by a process with a permissive umask: still private
        with open_store(path) as s:
            s.add_patient("p02", "Bob")
            for suffix in ("", "-wal", "-shm"):
                assert Path(str(path) + suffix).stat().st_mode & 0o777 == 0o600, suffix
    finally:
        os.umask(old)


def test_forward_migration_keeps_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "rehab.sqlite"
    with open_store(path) as s:
        s.add_patient("p01", "Ada")
    applied = []

    def m_extra(conn: sqlite3.Connection, db_path: Path) -> None:
        conn.execute("ALTER TABLE patients ADD COLUMN birth_year INTEGER")
        conn.execute("UPDATE patients SET birth_year = 1970")
        applied.append(True)

    monkeypatch.setattr(store_db, "MIGRATIONS", [*MIGRATIONS, m_extra])
    with open_store(path) as s:
        assert schema_version(s.conn) == len(MIGRATIONS) + 1
        assert s.get_patient("p01").display_name == "Ada"
        assert s.conn.execute("SELECT birth_year FROM patients").fetchone()[0] == 1970
    with open_store(path):  # already migrated: not applied twice
        pass
    assert applied == [True]


def test_failed_migration_rolls_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "rehab.sqlite"
    with open_store(path) as s:
        s.add_patient("p01", "Ada")

    def m_broken(conn: sqlite3.Connection, db_path: Path) -> None:
        conn.execute("ALTER TABLE patients ADD COLUMN half_done INTEGER")
        raise sqlite3.OperationalError("boom")

    monkeypatch.setattr(store_db, "MIGRATIONS", [*MIGRATIONS, m_broken])
    with pytest.raises(StoreError, match="boom"):
        open_store(path)
    monkeypatch.setattr(store_db, "MIGRATIONS", list(MIGRATIONS))
    with open_store(path) as s:
        assert schema_version(s.conn) == len(MIGRATIONS)
        cols = [r[1] for r in s.conn.execute("PRAGMA table_info(patients)")]
        assert "half_done" not in cols


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "rehab.sqlite"
    with open_store(path) as s:
        s.conn.execute("PRAGMA user_version = 99")
    with pytest.raises(StoreError, match="newer rehab"):
        open_store(path)


def test_corrupt_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "rehab.sqlite"
    path.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(StoreError, match="not a rehab database or damaged"):
        open_store(path)


def test_patients(store) -> None:
    assert store.get_patient("p01").affected_side == "left"
    store.add_patient("p02", "<b>Bob</b>")
    assert [p.id for p in store.list_patients()] == ["p01", "p02"]
    with pytest.raises(StoreError, match="already exists"):
        store.add_patient("p01", "Again")
    for bad in ("../etc", "", ".hidden", "a/b", "x" * 65):
        with pytest.raises(StoreError, match="invalid patient id"):
            store.add_patient(bad, "X")
    with pytest.raises(StoreError, match="affected side"):
        store.add_patient("p03", "X", affected_side="up")
    with pytest.raises(StoreError, match="unknown patient 'p9'"):
        store.get_patient("p9")


def test_prescriptions(store) -> None:
    early = store.prescribe("p01", "squat", 60, 90, reps=10, sets=2, start=dt.date(2024, 1, 1),
                            end=dt.date(2024, 1, 31))
    later = store.prescribe("p01", "squat", 80, 110, reps=12, sets=3, side="left",
                            start=dt.date(2024, 2, 1))
    assert (early.target_min, early.target_max, early.reps, early.sets) == (60, 90, 10, 2)
    assert store.prescription_for("p01", "squat", dt.date(2024, 1, 15)) == early
    assert store.prescription_for("p01", "squat", dt.date(2024, 2, 15)) == later
    assert store.prescription_for("p01", "squat", dt.date(2023, 12, 31)) is None
    assert store.prescription_for("p01", "lunge", dt.date(2024, 2, 15)) is None
    override = store.prescribe("p01", "squat", 85, 115, reps=8, sets=3)  # no dates: always
    assert store.prescription_for("p01", "squat", dt.date(2024, 2, 15)) == override
    assert store.prescription_for("p01", "squat") == override
    with pytest.raises(StoreError, match="greater than"):
        store.prescribe("p01", "squat", 100, 90, reps=10, sets=3)
    with pytest.raises(StoreError, match="at least 1"):
        store.prescribe("p01", "squat", 80, 90, reps=0, sets=3)
    with pytest.raises(StoreError, match="before start"):
        store.prescribe("p01", "squat", 80, 90, 10, 3, start=dt.date(2024, 2, 1),
                        end=dt.date(2024, 1, 1))
    with pytest.raises(StoreError, match="unknown patient"):
        store.prescribe("p9", "squat", 80, 90, 10, 3)


def test_record_analysis_stores_session_reps_and_files(store, tmp_path: Path,
                                                       squat_analysis: SquatAnalysis) -> None:
    a = squat_analysis(4, peak=95.0)
    sid = store.record_analysis("p01", a, DAY)
    s = store.session(sid)
    assert (s.exercise_id, s.side, s.angle, s.mode, s.status) == (
        "squat", "right", "right_knee_flexion", "offline", "complete")
    assert s.started == DAY and s.ended == DAY + dt.timedelta(seconds=round(a.sequence.duration))
    assert (s.target_min, s.target_max) == (80.0, 130.0)
    assert s.rep_count == 4
    reps = store.reps(sid)
    assert reps == list(a.reps)  # round-trips exactly, as RepScore
    assert set(s.files) == {"result_json", "reps_csv", "angles_csv", "landmarks_npz"}
    for kind, path in s.files.items():
        assert path.is_file() and path.parent == store.session_dir("p01", sid), kind
    doc = json.loads(s.files["result_json"].read_text())
    assert doc["rep_count"] == 4
    header = s.files["angles_csv"].read_text().splitlines()[0].split(",")
    assert "right_knee_flexion_smoothed" in header
    # the store writes its own files from the analysis; extra files of this run are copied
    extra = tmp_path / "overlay.mp4"
    extra.write_bytes(b"video")
    sid2 = store.record_analysis("p01", a, DAY + dt.timedelta(days=1),
                                 files={"overlay_mp4": extra})
    s2 = store.session(sid2)
    assert s2.files["overlay_mp4"].read_bytes() == b"video"
    assert s2.files["landmarks_npz"].read_bytes() == s.files["landmarks_npz"].read_bytes()
    for path in s2.files.values():
        assert path.stat().st_mode & 0o777 == 0o600, path
    assert not list(store.files_root.rglob(".staging-*"))


def test_live_session_commits_each_rep_and_shows_interrupted(store, tmp_path: Path,
                                                             squat_analysis: SquatAnalysis) -> None:
    a = squat_analysis(3)
    w = store.begin_session("p01", "squat", "right", DAY, source="camera 0", mode="live",
                            model="pose_landmarker_full.task", model_sha256="ab" * 32,
                            target_min=80, target_max=120)
    w.add_rep(a.reps[0])
    w.add_rep(a.reps[1])
    # another connection sees them at once: each rep is committed
    with open_store(store.path) as other:
        s = other.session(w.session_id)
        assert s.interrupted and s.status == "interrupted" and s.rep_count == 2
        assert len(other.reps(w.session_id)) == 2
    w.add_rep(a.reps[2])
    trace = tmp_path / "angles.csv"
    trace.write_text("frame,time_s\n0,0.0\n")
    w.finish(DAY + dt.timedelta(minutes=2), notes=["camera moved"], files={"angles_csv": trace})
    s = store.session(w.session_id)
    assert s.status == "complete" and s.rep_count == 3 and s.notes == ("camera moved",)
    assert s.files["angles_csv"].read_text() == trace.read_text()
    with pytest.raises(StoreError, match="finished"):
        w.add_rep(a.reps[0])
    with pytest.raises(StoreError, match="mode"):
        store.begin_session("p01", "squat", "right", DAY, source="x", mode="stream")


def test_failed_file_copy_leaves_session_interrupted(store, tmp_path: Path) -> None:
    w = store.begin_session("p01", "squat", "right", DAY, source="camera 0", mode="live")
    with pytest.raises(OutputError, match="cannot copy"):
        w.finish(DAY, files={"angles_csv": tmp_path / "missing.csv"})
    assert store.session(w.session_id).interrupted
    assert not list(store.files_root.rglob(".staging-*"))


def test_export_writes_everything(store, tmp_path: Path, squat_analysis: SquatAnalysis) -> None:
    store.prescribe("p01", "squat", 80, 120, reps=10, sets=3)
    sid = store.record_analysis("p01", squat_analysis(3), DAY)
    paths = store.export_patient("p01", tmp_path / "export")
    names = {p.relative_to(tmp_path / "export").as_posix() for p in paths}
    assert {"patient.json", "prescriptions.csv", "sessions.csv", "reps.csv",
            f"files/{sid}/landmarks.npz", f"files/{sid}/result.json"} <= names
    doc = json.loads((tmp_path / "export" / "patient.json").read_text())
    assert doc["patient"]["display_name"] == "Ada L." and doc["patient"]["notes"] == "ACL, left"
    assert doc["prescriptions"][0]["target_max"] == 120
    assert len(doc["sessions"]) == 1 and len(doc["sessions"][0]["reps"]) == 3
    with open(tmp_path / "export" / "reps.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["index"] for r in rows] == ["1", "2", "3"]
    assert all(r["session_id"] == str(sid) for r in rows)


def test_delete_removes_rows_and_files(store, squat_analysis: SquatAnalysis) -> None:
    store.add_patient("p02", "Bob")
    sid = store.record_analysis("p01", squat_analysis(), DAY)
    other = store.record_analysis("p02", squat_analysis(), DAY)
    folder = store.session_dir("p01", sid)
    assert folder.is_dir()
    store.delete_patient("p01")
    assert not folder.parent.exists()
    for table in ("sessions", "reps", "session_files", "prescriptions"):
        col = "patient_id" if table in ("sessions", "prescriptions") else "session_id"
        val = "p01" if col == "patient_id" else sid
        assert store.conn.execute(f"SELECT COUNT(*) FROM {table} WHERE {col} = ?",
                                  (val,)).fetchone()[0] == 0
    assert store.session(other).rep_count == 3  # the other patient is untouched
    assert store.session_dir("p02", other).is_dir()
    with pytest.raises(StoreError, match="unknown patient"):
        store.delete_patient("p01")


_WRITER = r"""
import dataclasses, datetime as dt, sys
from rehab.analysis import analyze_sequence
from rehab.exercises import get_exercise
from rehab.store import open_store
from rehab.synthetic import rep_trajectory, synthetic_sequence

t, knee = rep_trajectory(6, 30.0, rest=0.0, peak=100.0)
a = analyze_sequence(synthetic_sequence(t, {"knee_flexion": knee}), get_exercise("squat"),
                     side="right")
with open_store(sys.argv[1]) as store:
    if not store.list_patients():
        store.add_patient("p01", "Ada")
    k = 0
    while True:
        k += 1
        day = dt.datetime(2024, 1, 1) + dt.timedelta(days=k)
        store.record_analysis("p01", a, day)
        w = store.begin_session("p01", "squat", "right", day, source="cam", mode="live")
        for r in a.reps:
            w.add_rep(r)
        w.finish(day + dt.timedelta(minutes=1))
        print(k, flush=True)
"""


def _check_consistent(path: Path) -> tuple[int, int]:
    with open_store(path) as s:
        assert s.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert s.conn.execute("PRAGMA foreign_key_check").fetchall() == []
        sessions = s.sessions("p01")
        reps = s.reps_for(x.id for x in sessions)
        interrupted = 0
        for x in sessions:
            counted = [r for r in reps[x.id] if r.counted]
            assert x.rep_count == len(counted), x.id  # rep_count moves with each rep
            assert [r.index for r in counted] == list(range(1, len(counted) + 1))
            if x.mode == "offline":  # one transaction: all or nothing
                assert x.status == "complete" and x.rep_count == 6
                assert set(x.files) == {"result_json", "reps_csv", "angles_csv",
                                        "landmarks_npz"}
            interrupted += x.interrupted
            for f in x.files.values():
                assert f.is_file() and f.stat().st_size > 0, f
        return len(sessions), interrupted


def test_killed_writer_leaves_a_consistent_database(tmp_path: Path, squat_analysis: SquatAnalysis
                                                   ) -> None:
    path = tmp_path / "rehab.sqlite"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    total = 0
    for round_, delay in enumerate((0.013, 0.037)):
        proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(path)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                                text=True)
        try:
            done = 0
            deadline = time.monotonic() + 60
            while done < 3 and time.monotonic() < deadline:
                line = proc.stdout.readline()  # type: ignore[union-attr]
                if not line:
                    pytest.fail(f"writer died: {proc.stderr.read()}")  # type: ignore[union-attr]
                done = int(line)
            time.sleep(delay)
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.stdout.close()  # type: ignore[union-attr]
            proc.stderr.close()  # type: ignore[union-attr]
        assert proc.returncode == -signal.SIGKILL
        n, _ = _check_consistent(path)
        assert n >= total + 2 * done  # every session reported as written is there
        total = n
    # the database stays usable after the kills
    with open_store(path) as s:
        s.record_analysis("p01", squat_analysis(6), DAY)
    assert _check_consistent(path)[0] == total + 1


def test_rep_nan_values_round_trip(store, squat_analysis: SquatAnalysis) -> None:
    a = squat_analysis(2)
    rep = dataclasses.replace(a.reps[0], min_deg=float("nan"), compensations={"trunk_lean": None})
    w = store.begin_session("p01", "squat", "right", DAY, source="cam", mode="live")
    w.add_rep(rep)
    back = store.reps(w.session_id)[0]
    assert back.min_deg != back.min_deg and back.compensations == {"trunk_lean": None}


def _alternating(a: Analysis) -> Analysis:
    """``a`` as if done left, right, left, ... in turn (sides counted and merged)."""
    reps = tuple(dataclasses.replace(r, side=("left", "right")[i % 2])
                 for i, r in enumerate(a.reps))
    return a.replace(reps=reps, alternating=True)


def test_rep_sides_and_alternating_round_trip(store, tmp_path: Path,
                                              squat_analysis: SquatAnalysis) -> None:
    alt = _alternating(squat_analysis(5))
    sid = store.record_analysis("p01", alt, DAY)
    plain = store.record_analysis("p01", squat_analysis(2), DAY + dt.timedelta(days=1))
    s = store.session(sid)
    assert s.alternating and not store.session(plain).alternating
    assert [x.alternating for x in store.sessions("p01")] == [True, False]
    back = store.reps(sid, counted_only=True)
    assert back == list(alt.reps)  # each rep with its side
    assert [r.side for r in back] == ["left", "right", "left", "right", "left"]
    # the session's own files
    doc = json.loads(s.files["result_json"].read_text())
    assert doc["alternating"] is True and doc["reps_by_side"] == {"left": 3, "right": 2}
    assert [r["side"] for r in doc["reps"]] == ["left", "right", "left", "right", "left"]
    with open(s.files["reps_csv"], newline="") as fh:
        assert [r["side"] for r in csv.DictReader(fh)] == ["left", "right", "left", "right",
                                                           "left"]
    plain_doc = json.loads(store.session(plain).files["result_json"].read_text())
    assert plain_doc["alternating"] is False
    assert sum(plain_doc["reps_by_side"].values()) == 2
    assert set(plain_doc["reps_by_side"]) == {"left", "right"}
    # the export keeps both
    store.export_patient("p01", tmp_path / "export")
    exported = json.loads((tmp_path / "export" / "patient.json").read_text())
    assert [x["alternating"] for x in exported["sessions"]] == [True, False]
    assert [r["side"] for r in exported["sessions"][0]["reps"]
            if r["kind"] == "complete"] == ["left", "right", "left", "right", "left"]
    with open(tmp_path / "export" / "sessions.csv", newline="") as fh:
        assert [r["alternating"] for r in csv.DictReader(fh)] == ["true", "false"]
    with open(tmp_path / "export" / "reps.csv", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["session_id"] == str(sid)
                and r["kind"] == "complete"]
    assert [r["side"] for r in rows] == ["left", "right", "left", "right", "left"]


def test_patient_show_says_alternating(store, capsys: pytest.CaptureFixture[str],
                                       squat_analysis: SquatAnalysis) -> None:
    import argparse

    from rehab.store.cli import cmd_patient_show

    store.record_analysis("p01", _alternating(squat_analysis(3)), DAY)
    store.record_analysis("p01", squat_analysis(2), DAY + dt.timedelta(days=1))
    assert cmd_patient_show(argparse.Namespace(id="p01", db=str(store.path))) == 0
    lines = [x for x in capsys.readouterr().out.splitlines() if " reps " in x]
    assert len(lines) == 2
    assert lines[0].endswith("complete  alternating (left 2, right 1)")
    assert lines[1].endswith("complete")


def test_live_reps_keep_their_side(store, squat_analysis: SquatAnalysis) -> None:
    a = _alternating(squat_analysis(2))
    w = store.begin_session("p01", "squat", "right", DAY, source="cam", mode="live")
    for r in a.reps:
        w.add_rep(r)
    assert [r.side for r in store.reps(w.session_id)] == ["left", "right"]
    assert not store.session(w.session_id).alternating


def test_results_without_rep_sides_still_decode(squat_analysis: SquatAnalysis) -> None:
    from rehab.codec import decode, encode, reps_by_side
    from rehab.model import Rep, sides_of

    rep = dataclasses.replace(squat_analysis(1).reps[0], side="left")
    old = {k: v for k, v in encode(rep).items() if k != "side"}  # a result made before
    assert decode(Rep, old) == dataclasses.replace(rep, side="")
    assert decode(Rep, encode(rep)) == rep
    # a rep without a side counts for its analysis' side; trunk angles have one, 'none'
    reps = [rep, dataclasses.replace(rep, side="")]
    assert reps_by_side(reps, sides_of("knee_flexion"), "right") == {"left": 1, "right": 1}
    assert reps_by_side([dataclasses.replace(rep, side="")] * 3, sides_of("trunk_lean"),
                        "none") == {"none": 3}
