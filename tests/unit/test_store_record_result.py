"""Unit: a session stored from a batch worker's small `AnalysisRecord` and the files it
wrote (`Store.record_result`) is the session `Store.record_analysis` stores from the whole
analysis; the record travels without the frames."""

from __future__ import annotations

import datetime as dt
import pickle
import sqlite3
from collections.abc import Callable
from pathlib import Path

import numpy as np

from rehab.analysis import write_outputs
from rehab.model import Analysis, AnalysisRecord
from rehab.store import open_store


def _rows(db: Path, sql: str) -> list[dict[str, object]]:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(sql)]
    finally:
        conn.close()


def test_record_result_stores_what_record_analysis_stores(
        tmp_path: Path, db: Path, squat_analysis: Callable[..., Analysis]) -> None:
    analysis = squat_analysis(4, 95.0)
    started = dt.datetime(2026, 11, 2, 10, 0)
    out = tmp_path / "worker-out"
    paths = write_outputs(analysis, out)
    with open_store(db) as store:
        a = store.record_analysis("p1", analysis, started, mode="batch",
                                  content_sha256="aa" * 32)
        b = store.record_result("p1", AnalysisRecord.of(analysis, "batch"),
                                started + dt.timedelta(days=1), files=paths,
                                content_sha256="aa" * 32)
        sa, sb = store.session(a), store.session(b)
        assert set(sa.files) == set(sb.files) == {"result_json", "reps_csv", "angles_csv",
                                                   "landmarks_npz"}
        for kind in sa.files:
            assert sa.files[kind].read_bytes() == sb.files[kind].read_bytes(), kind
            assert sb.files[kind] != paths[kind]  # a copy inside the store
        ta, tb = store.trace(a), store.trace(b)
        assert ta is not None and tb is not None
        for x, y in zip(ta, tb):
            np.testing.assert_array_equal(x, y)  # NaN where the other has NaN
        assert store.analysed("p1", "aa" * 32, "squat", analysis.settings.short_hash()).id == a
        assert store.analysed("p1", "aa" * 32, "lunge", analysis.settings.short_hash()) is None
        assert store.analysed("p1", "bb" * 32, "squat", analysis.settings.short_hash()) is None
    sessions = _rows(db, "SELECT * FROM sessions ORDER BY id")
    differ = {k for k in sessions[0] if sessions[0][k] != sessions[1][k]}
    assert differ == {"id", "started", "ended"}, differ
    reps = _rows(db, "SELECT * FROM reps ORDER BY session_id, seq")
    n = len(reps) // 2
    assert n == len(analysis.reps) + len(analysis.partial)
    for ra, rb in zip(reps[:n], reps[n:]):
        assert {k for k in ra if ra[k] != rb[k]} <= {"session_id", "id"}


def test_the_record_travels_without_the_frames(
        squat_analysis: Callable[..., Analysis]) -> None:
    analysis = squat_analysis(10, 100.0)
    record = pickle.dumps(AnalysisRecord.of(analysis, "batch"))
    frames = pickle.dumps(analysis.sequence)
    assert len(record) * 10 < len(frames), (len(record), len(frames))
    back = pickle.loads(record)
    assert back.rep_count == 10 and len(back.counted) == 10
