"""Integration: the report reads only the store (not the session files)."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from rehab.exercises import get_exercise
from rehab.pipeline import analyze_pose
from rehab.reports import build_report_data, render_report
from rehab.store import open_store
from rehab.synthetic import rep_trajectory, synthetic_sequence

V1 = Path(__file__).resolve().parents[1] / "data" / "store_v1"


def test_report_needs_no_session_file(tmp_path: Path) -> None:
    t, knee = rep_trajectory(3, 30.0, rest=0.0, peak=100.0)
    seq = synthetic_sequence(t, {"knee_flexion": knee, "hip_flexion": 0.8 * knee})
    a = analyze_pose(seq, get_exercise("squat"), side="right", height_cm=170.0)
    with open_store(tmp_path / "db.sqlite") as store:
        store.add_patient("p01", "Ada")
        store.record_analysis("p01", a, dt.datetime(2024, 3, 4, 9))
        shutil.rmtree(store.files_root)  # no result.json, no angles.csv
        data = build_report_data(store, "p01", today=dt.date(2024, 3, 5))
    assert data.trace is not None and len(data.trace.time_s) == seq.n_frames
    assert data.distances is not None and data.distances.headers[0] == "Hip excursion (cm)"
    assert [v[0] for v in data.distances.values] == [r.distances_cm.hip_excursion_cm  # type: ignore
                                                     for r in a.reps]
    html = render_report(data, tmp_path / "r.html").read_text(encoding="utf-8")
    assert "Hip excursion (cm)" in html and "patient height 170 cm" in html


def test_migrated_v1_database_reports_its_distances_and_trace(tmp_path: Path) -> None:
    shutil.copytree(V1, tmp_path / "clinic")
    with open_store(tmp_path / "clinic" / "rehab.sqlite") as store:
        data = build_report_data(store, "p01", exercise_id="squat", end=dt.date(2024, 3, 4))
        assert data.latest is not None and data.latest.session.id == 1
        assert data.trace is not None and data.distances is not None
        assert data.distances.values[0][0] == 40.85
        full = build_report_data(store, "p01", today=dt.date(2024, 3, 10))
    texts = [q.text for q in full.quality]
    assert any("interrupted" in t for t in texts)
    render_report(full, tmp_path / "r.pdf")


def test_alternating_session_shows_each_reps_side(tmp_path: Path) -> None:
    import dataclasses

    from rehab.model import Note, NoteCode
    from rehab.reports import content, pdf, tables

    t, knee = rep_trajectory(3, 30.0, rest=0.0, peak=100.0)
    seq = synthetic_sequence(t, {"knee_flexion": knee, "hip_flexion": 0.8 * knee})
    a = analyze_pose(seq, get_exercise("squat"), side="right", height_cm=170.0)
    sides = ("left", "right", "left")
    alt = a.replace(reps=tuple(dataclasses.replace(r, side=s) for r, s in zip(a.reps, sides)),
                    alternating=True,
                    notes=(*a.notes, Note(NoteCode.ALTERNATING, "left and right in turn")))
    with open_store(tmp_path / "db.sqlite") as store:
        store.add_patient("p01", "Ada")
        store.record_analysis("p01", a, dt.datetime(2024, 3, 4, 9))
        one_sided = build_report_data(store, "p01", today=dt.date(2024, 3, 5))
        store.record_analysis("p01", alt, dt.datetime(2024, 3, 5, 9))
        data = build_report_data(store, "p01", today=dt.date(2024, 3, 5))
    assert one_sided.latest is not None and data.latest is not None
    header, rows = tables.reps_table(one_sided.latest)
    assert "Side" not in header
    assert "side right" in tables.latest_lines(one_sided.latest)[0]
    header, rows = tables.reps_table(data.latest)
    assert header[:2] == ["Rep", "Side"] and [r[1] for r in rows] == list(sides)
    assert "alternating (left 2, right 1)" in tables.latest_lines(data.latest)[0]
    assert not any("in turn" in q.text for q in data.quality)  # shown in the header instead
    html = render_report(data, tmp_path / "r.html").read_text(encoding="utf-8")
    assert "<th>Side</th>" in html and "alternating (left 2, right 1)" in html
    assert '<td class="num">1</td><td>left</td><td class="num">' in html
    # PDF: one width per column (each as wide as its text, the flags taking the rest)
    (detail,) = data.latest_day
    for with_distances in (True, False):
        table = content.reps_table(detail, with_distances)
        lay = pdf.table_layout(table)
        assert len(lay.widths) == len(table.columns) == len(table.rows[0])
        assert sum(lay.widths) == pytest.approx(pdf.TEXT_W)
        assert table.headers[1] == "Side" and lay.size in pdf.TABLE_FONTSIZES
        for i, col in enumerate(table.columns[:-1]):  # all but the flags: on one line
            assert all(len(pdf.wrap(r[i].text, lay.widths[i] - 2 * pdf.CELL_PAD, lay.size))
                       == 1 for r in table.rows), col.header
    render_report(data, tmp_path / "r.pdf")
