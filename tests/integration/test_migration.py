"""Integration: a database written by rehab 0.1.0 (schema v1), or by the schema-v3 code,
migrates forward intact."""

from __future__ import annotations

import dataclasses
import shutil
import sqlite3
from pathlib import Path

import pytest

from rehab.model import NoteCode
from rehab.settings import DEFAULT_SETTINGS
from rehab.store import MIGRATIONS, open_store, schema_version
from rehab.store import db as store_db
from rehab.store.db import files_dir
from rehab.store.migrate_v2 import legacy_note

V1 = Path(__file__).resolve().parents[1] / "data" / "store_v1"


@pytest.fixture()
def v1_db(tmp_path: Path) -> Path:
    shutil.copytree(V1, tmp_path / "clinic")
    return tmp_path / "clinic" / "rehab.sqlite"


def test_the_fixture_is_schema_v1(v1_db: Path) -> None:
    conn = sqlite3.connect(v1_db)
    assert schema_version(conn) == 1
    conn.close()


def test_v1_database_migrates_with_everything_the_report_shows(v1_db: Path) -> None:
    with open_store(v1_db) as store:
        assert schema_version(store.conn) == len(MIGRATIONS) == 6
        assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        sessions = store.sessions("p01")
        assert [(s.id, s.mode, s.rep_count) for s in sessions] == [
            (1, "offline", 3), (2, "offline", 2), (3, "live", 2), (4, "live", 1)]
        assert sessions[3].interrupted and not sessions[2].interrupted
        squat, abduction = sessions[0], sessions[1]
        # the scale and the distances, which v1 kept only in result.json
        assert squat.scale is not None and squat.scale.source == "patient height 170 cm"
        reps = store.reps(squat.id, counted_only=True)
        assert [r.distances_cm.hip_excursion_cm for r in reps] == [40.85] * 3  # type: ignore
        assert abduction.scale is None
        assert all(r.distances_cm is None for r in store.reps(abduction.id))
        # the trace, which v1 kept only in angles.csv
        trace = store.trace(squat.id)
        assert trace is not None and len(trace[0]) == 151 and trace[1].max() > 95
        assert store.trace(3) is None  # a live session of v1 stored no trace
        # settings: 0.1.0's constants are today's defaults
        assert all(s.settings == DEFAULT_SETTINGS for s in sessions)
        assert squat.start_state == "rest" and squat.low_threshold_deg is not None
        # notes gained codes from their sentences
        assert sessions[2].notes[0].code == NoteCode.LIVE_END
        assert legacy_note("side auto: left (movement x visibility: left 80.1, right 2.0)"
                           ).code == NoteCode.SIDE_CHOSEN
        assert legacy_note("2 people in view in 20 frames; ...").code == NoteCode.SEVERAL_PEOPLE
        assert legacy_note("something else").code == NoteCode.TEXT
        # every session was one-sided: its reps were done on its side
        assert [{r.side for r in store.reps(s.id)} for s in sessions] == [
            {"right"}, {"left"}, {"right"}, {"right"}]
        assert not any(s.alternating for s in sessions)
        # files moved to this database's own folder
        for s in sessions[:3]:
            for path in s.files.values():
                assert path.is_file() and files_dir(v1_db) in path.parents, path
    assert not (v1_db.parent / "files" / "p01" / "1").exists()
    with open_store(v1_db) as store:  # opening again changes nothing
        assert len(store.sessions("p01")) == 4


def _columns(conn: sqlite3.Connection, table: str) -> dict[str, tuple[int, str | None]]:
    """Column name -> (not null, default) of ``table``."""
    return {r[1]: (r[3], r[4]) for r in conn.execute(f"PRAGMA table_info({table})")}


@pytest.fixture()
def v3_db(v1_db: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The v1 fixture migrated by the code of schema 3 (the first three migrations), plus a
    trunk-angle session ('none') and one whose side names no single side."""
    with monkeypatch.context() as m:
        m.setattr(store_db, "MIGRATIONS", MIGRATIONS[:3])
        conn = store_db.connect(v1_db)
    try:
        assert schema_version(conn) == 3 and "side" not in _columns(conn, "reps")
        cols = [c for c in _columns(conn, "sessions") if c != "id"]
        rep_cols = [c for c in _columns(conn, "reps") if c != "session_id"]
        with store_db.transaction(conn):
            for sid, side in ((5, "none"), (6, "both")):
                conn.execute(f"INSERT INTO sessions (id, {', '.join(cols)}) SELECT ?, "
                             f"{', '.join('?' if c == 'side' else c for c in cols)} "
                             f"FROM sessions WHERE id = 1", (sid, side))
                conn.execute(f"INSERT INTO reps (session_id, {', '.join(rep_cols)}) SELECT ?, "
                             f"{', '.join(rep_cols)} FROM reps WHERE session_id = 1", (sid,))
    finally:
        conn.close()
    return v1_db


def test_v3_database_migrates_to_v4_with_rep_sides_from_their_session(v3_db: Path) -> None:
    with open_store(v3_db) as store:
        conn = store.conn
        assert schema_version(conn) == len(MIGRATIONS)
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert _columns(conn, "reps")["side"] == (1, "''")
        assert _columns(conn, "sessions")["alternating"] == (1, "0")
        sessions = store.sessions("p01")
        assert [(s.id, s.side) for s in sessions] == [
            (1, "right"), (5, "none"), (6, "both"), (2, "left"), (3, "right"), (4, "right")]
        sides = {s.id: [r.side for r in store.reps(s.id)] for s in sessions}
        assert all(sides.values())
        assert {i: set(v) for i, v in sides.items()} == {
            1: {"right"}, 2: {"left"}, 3: {"right"}, 4: {"right"}, 5: {"none"}, 6: {""}}
        assert not any(s.alternating for s in sessions)
        # everything else is as v3 left it
        assert [s.rep_count for s in sessions] == [3, 3, 3, 2, 2, 1]
        assert store.reps(5) == [dataclasses.replace(r, side="none") for r in store.reps(1)]
    with open_store(v3_db) as store:  # opening again changes nothing
        assert schema_version(store.conn) == len(MIGRATIONS) and len(store.sessions("p01")) == 6
