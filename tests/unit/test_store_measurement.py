"""Unit: the measurement checks of a session (involved side, view, symmetry, swap repair) and
of its reps (both sides, grade, view) round-trip through the store; a schema-4 database
opens with None / empty values for them; the patient plan takes the affected side for a
bilateral exercise too."""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from rehab.analysis import Analysis, analyze_sequence
from rehab.exercises import get_exercise
from rehab.model import Flag, Rep, SwapSummary, Symmetry, ViewCheck
from rehab.store import MIGRATIONS, StoreError, open_store, schema_version
from rehab.store import db as store_db
from rehab.store.cli import PatientPlan, add_analyze_options, patient_plan
from rehab.store.describe import involved_text, short_lines, symmetry_text, view_text
from rehab.synthetic import rep_trajectory, synthetic_sequence

V1 = Path(__file__).resolve().parents[1] / "data" / "store_v1"
WHEN = dt.datetime(2024, 3, 4, 9)


def _squat(side: str = "left", view: str = "side", left_peak: float = 80.0,
           right_peak: float = 100.0, n_reps: int = 3) -> Analysis:
    """A squat whose left knee bends to ``left_peak`` and right knee to ``right_peak``."""
    t, unit = rep_trajectory(n_reps, 30.0, rest=0.0, peak=1.0)
    seq = synthetic_sequence(t, {"left_knee_flexion": left_peak * unit,
                                 "right_knee_flexion": right_peak * unit,
                                 "hip_flexion": 80.0 * unit}, view=view)  # type: ignore[arg-type]
    return analyze_sequence(seq, get_exercise("squat"), side=side)


def _same(a: float | None, b: float | None) -> bool:
    return (a is None and b is None) or (a is not None and b is not None and (
        a == b or (math.isnan(a) and math.isnan(b))))


def _assert_same_reps(stored: list[Rep], made: tuple[Rep, ...]) -> None:
    assert len(stored) == len(made)
    for s, m in zip(stored, made):
        for f in dataclasses.fields(Rep):
            a, b = getattr(s, f.name), getattr(m, f.name)
            if isinstance(a, float) or isinstance(b, float):
                assert _same(a, b), (f.name, a, b)
            elif f.name != "compensations":
                assert a == b, (f.name, a, b)


@pytest.fixture(scope="module")
def asymmetric() -> Analysis:
    """A squat of a patient whose left knee (affected) bends 80 deg, the right 100."""
    return _squat()


def test_analysis_checks_round_trip(tmp_path: Path, asymmetric: Analysis) -> None:
    a = asymmetric
    assert a.involved == "left" and a.symmetry is not None and a.view is not None
    assert a.symmetry.index_pct == pytest.approx(80.0, abs=1.0)
    with open_store(tmp_path / "db.sqlite") as store:
        store.add_patient("p01", "Ada", affected_side="left")
        sid = store.record_analysis("p01", a, WHEN)
        s = store.session(sid)
        assert (s.involved, s.view, s.symmetry, s.swaps) == (a.involved, a.view, a.symmetry,
                                                              a.swaps)
        assert store.sessions("p01")[0] == s
        reps = store.reps(sid, counted_only=True)
    _assert_same_reps(reps, a.reps)
    r = reps[0]
    assert r.left_peak_deg == pytest.approx(80.0, abs=0.5)
    assert r.right_peak_deg == pytest.approx(100.0, abs=0.5)
    assert r.symmetry_pct == pytest.approx(80.0, abs=1.0)
    assert r.quality == "good" and r.view_deg == pytest.approx(90.0, abs=1.0)
    assert r.rest_frame >= 0 and r.swapped_frames == 0 and r.visibility is not None


def test_a_wrong_view_is_stored_with_its_reps_flags_and_grades(tmp_path: Path) -> None:
    a = _squat(view="front")
    assert a.view is not None and a.view.warning
    with open_store(tmp_path / "db.sqlite") as store:
        store.add_patient("p01", "Ada")
        s = store.session(store.record_analysis("p01", a, WHEN))
        reps = store.reps(s.id, counted_only=True)
    assert s.view == a.view and s.view is not None and s.view.warning
    assert s.view.expected == "side" and s.view.deviation_deg == pytest.approx(90.0, abs=1.0)
    assert reps and all(Flag.WRONG_VIEW in r.flags and r.quality == "poor" for r in reps)
    text = view_text(s.view)
    assert text.startswith("WARNING, camera view") and "90 deg away from the side view" in text
    assert "tolerance 30 deg" in text


def test_live_session_finish_records_the_checks(tmp_path: Path, asymmetric: Analysis) -> None:
    view = ViewCheck("side", 5.0, 85.0, 1.0, 30.0, 0.9)
    sym = Symmetry("right", "bilateral", 90.0, 72.0, 80.0, 4)
    swaps = SwapSummary(7, 2, {"legs": [7, 2]})
    with open_store(tmp_path / "db.sqlite") as store:
        store.add_patient("p01", "Ada")
        w = store.begin_session("p01", "squat", "right", WHEN, source="camera 0", mode="live")
        for r in asymmetric.reps:
            w.add_rep(r)
        assert store.session(w.session_id).view is None  # not known before the end
        w.finish(WHEN + dt.timedelta(minutes=2), involved="right", view=view, symmetry=sym,
                 swaps=swaps)
        s = store.session(w.session_id)
        assert (s.involved, s.view, s.symmetry, s.swaps) == ("right", view, sym, swaps)
        # the keywords are optional: an older caller stores none of the checks
        w2 = store.begin_session("p01", "squat", "right", WHEN, source="camera 0", mode="live")
        w2.finish(WHEN + dt.timedelta(minutes=1), notes=(), trace=None, alternating=False)
        s2 = store.session(w2.session_id)
        assert (s2.involved, s2.view, s2.symmetry, s2.swaps) == ("", None, None, None)
        w3 = store.begin_session("p01", "squat", "right", WHEN, source="camera 0", mode="live")
        with pytest.raises(StoreError, match="involved side"):
            w3.finish(WHEN, involved="middle")
        assert store.session(w3.session_id).interrupted  # refused before anything changed
    assert symmetry_text(sym) == ("limb symmetry index 80% (right 72 deg / left 90 deg range "
                                  "of motion, median of 4 rep(s))")
    assert "7 frame(s) repaired, 2 gated" in short_lines(s, [])[-1]


@pytest.fixture()
def v4_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The schema-v1 fixture migrated by the code of schema 4 (before the measurement
    checks)."""
    shutil.copytree(V1, tmp_path / "clinic")
    path = tmp_path / "clinic" / "rehab.sqlite"
    with monkeypatch.context() as m:
        m.setattr(store_db, "MIGRATIONS", MIGRATIONS[:4])
        conn = store_db.connect(path)
    try:
        assert schema_version(conn) == 4
        assert "quality" not in {r[1] for r in conn.execute("PRAGMA table_info(reps)")}
    finally:
        conn.close()
    return path


def test_schema_4_database_migrates_and_reads_without_checks(v4_db: Path,
                                                              tmp_path: Path) -> None:
    with open_store(v4_db) as store:
        assert schema_version(store.conn) == len(MIGRATIONS) == 6
        assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        sessions = store.sessions("p01")
        assert len(sessions) == 4
        for s in sessions:
            assert (s.involved, s.view, s.symmetry, s.swaps) == ("", None, None, None)
            for r in store.reps(s.id):
                assert (r.left_peak_deg, r.right_peak_deg, r.left_rom_deg, r.right_rom_deg,
                        r.symmetry_pct, r.view_deg, r.visibility) == (None,) * 7
                assert (r.rest_frame, r.swapped_frames, r.quality) == (-1, 0, "")
                assert math.isfinite(r.peak_deg)  # what was there is still there
        # nothing to say about checks that never ran (the auto side is in its note)
        assert all(not short_lines(s, store.reps(s.id)) or
                   short_lines(s, store.reps(s.id))[0].startswith("scored: ")
                   for s in sessions)
        # a new session beside the old ones
        store.record_analysis("p01", _squat(n_reps=2), dt.datetime(2024, 3, 20, 9))
        assert store.sessions("p01")[-1].view is not None
        store.export_patient("p01", tmp_path / "export")
    header = (tmp_path / "export" / "sessions.csv").read_text().splitlines()[0].split(",")
    assert {"involved", "view", "symmetry", "swaps"} <= set(header)


def test_involved_text_says_why() -> None:
    from rehab.model import Note, NoteCode
    from rehab.store.models import SessionRecord

    base = SessionRecord(id=1, patient_id="p", exercise_id="squat", exercise_name="Squat",
                         side="right", angle="right_knee_flexion", rest="low", started=WHEN,
                         ended=WHEN, source="", mode="offline", model="", model_sha256="",
                         calibration=None, software_version="x", target_min=None,
                         target_max=None, rep_count=0, notes=(), files={})
    auto = Note(NoteCode.SIDE_CHOSEN, "side auto: right, ...", {"asked": "auto"})
    legacy = Note(NoteCode.SIDE_CHOSEN, "side auto: right (movement x visibility: ...)")
    assert involved_text(dataclasses.replace(base, involved="right")) == \
        "right (affected side)"
    for note in (auto, legacy):
        assert involved_text(dataclasses.replace(base, notes=(note,))) == \
            "right (auto: moves most and is best seen, no affected side given)"
    both = dataclasses.replace(base, involved="both",
                               symmetry=Symmetry("right", "bilateral", 1.0, 1.0, 100.0, 1))
    assert involved_text(both).endswith("both scored)")
    assert involved_text(base) == ""  # side given before it was recorded: no reason known
    assert involved_text(dataclasses.replace(base, side="none", involved="left")) == ""


def _plan_args(db: Path, *argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--side")
    add_analyze_options(parser)
    return parser.parse_args(["--db", str(db), "--date", "2024-03-01", *argv])


def test_patient_plan_takes_the_affected_side_of_a_bilateral_exercise(tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite"
    with open_store(db) as store:
        store.add_patient("acl", "ACL", affected_side="left")
        store.add_patient("both", "Both knees", affected_side="both")
        store.add_patient("none", "No side")
        store.prescribe("none", "squat", 80, 120, reps=8, sets=2, side="both",
                        start=dt.date(2024, 2, 1))
        store.prescribe("acl", "knee_extension", 0, 15, reps=8, sets=2, side="right",
                        start=dt.date(2024, 2, 1))
    args = _plan_args(db, "--patient", "acl")
    # the bug of this issue: the squat of an ACL patient was analysed on the healthy knee
    assert patient_plan(args, "squat", bilateral=True) == PatientPlan(None, None, None, "left")
    assert patient_plan(args, "squat").side == "left"
    assert patient_plan(args, "knee_extension").side == "right"  # the prescription wins
    args.side = "auto"  # the command line wins over both
    assert patient_plan(args, "squat", bilateral=True).side == "auto"
    assert patient_plan(_plan_args(db, "--patient", "both"), "squat", True).side == "both"
    plan = patient_plan(_plan_args(db, "--patient", "none"), "squat", bilateral=True)
    assert plan == PatientPlan((80.0, 120.0), 8, 2, "both")
    assert patient_plan(_plan_args(db), "squat", True).side is None  # no patient


def test_both_sides_asked_of_a_bilateral_exercise(tmp_path: Path) -> None:
    a = _squat(side="both")
    assert a.involved == "both" and a.side in ("left", "right")
    with open_store(tmp_path / "db.sqlite") as store:
        store.add_patient("p01", "Ada", affected_side="both")
        s = store.session(store.record_analysis("p01", a, WHEN))
    assert s.involved == "both" and s.symmetry == a.symmetry
    text = involved_text(s)
    assert text.startswith(f"{a.side} (both sides asked") and "both scored" in text
    assert np.isfinite([r.peak_deg for r in a.reps]).all()
