"""Integration: a database written by rehab 0.1.0 (schema v1) migrates forward intact."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from rehab.model import NoteCode
from rehab.settings import DEFAULT_SETTINGS
from rehab.store import MIGRATIONS, open_store, schema_version
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
        assert schema_version(store.conn) == len(MIGRATIONS) == 3
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
        # files moved to this database's own folder
        for s in sessions[:3]:
            for path in s.files.values():
                assert path.is_file() and files_dir(v1_db) in path.parents, path
    assert not (v1_db.parent / "files" / "p01" / "1").exists()
    with open_store(v1_db) as store:  # opening again changes nothing
        assert len(store.sessions("p01")) == 4
