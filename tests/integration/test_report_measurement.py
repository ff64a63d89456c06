"""Integration: the report and ``rehab patient show`` show the measurement checks of stored
sessions (quality grades, both sides and the limb symmetry index, the involved side and why,
the view warning, swap repairs), the quality notes list what they promise, and sessions
stored before these checks render without them."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from rehab.analysis import Analysis
from rehab.cli import main
from rehab.exercises import get_exercise
from rehab.model import Flag, NoteCode, SwapSummary, ViewCheck
from rehab.pipeline import analyze_pose
from rehab.reports import build_report_data, content, pdf, render_report, tables
from rehab.reports.data import ReportData
from rehab.store import open_store
from rehab.synthetic import rep_trajectory, synthetic_sequence

V1 = Path(__file__).resolve().parents[1] / "data" / "store_v1"
TODAY = dt.date(2024, 3, 25)


def _squat(left_peak: float, view: str = "side", height_cm: float | None = None,
           n_reps: int = 4) -> Analysis:
    """A squat of an affected left knee bending to ``left_peak`` (the right to 100 deg)."""
    t, unit = rep_trajectory(n_reps, 30.0, rest=0.0, peak=1.0)
    seq = synthetic_sequence(t, {"left_knee_flexion": left_peak * unit,
                                 "right_knee_flexion": 100.0 * unit,
                                 "hip_flexion": 80.0 * unit}, view=view)  # type: ignore[arg-type]
    return analyze_pose(seq, get_exercise("squat"), side="left", height_cm=height_cm)


@pytest.fixture(scope="module")
def clinic(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Analysis]]:
    """Patient ``acl`` (left knee affected): three weekly squats whose symmetry improves
    (70, 80, 90%), the last filmed from the front (a view warning) with a height scale."""
    path = tmp_path_factory.mktemp("clinic") / "rehab.sqlite"
    analyses = [_squat(70.0), _squat(80.0), _squat(90.0, view="front", height_cm=170.0)]
    with open_store(path) as store:
        store.add_patient("acl", "ACL Patient", affected_side="left")
        for k, a in enumerate(analyses):
            store.record_analysis("acl", a, dt.datetime(2024, 3, 1 + 7 * k, 9))
    return path, analyses


@pytest.fixture(scope="module")
def report(clinic: tuple[Path, list[Analysis]]) -> ReportData:
    with open_store(clinic[0]) as store:
        return build_report_data(store, "acl", today=TODAY)


def test_report_data_holds_the_stored_checks(clinic: tuple[Path, list[Analysis]],
                                             report: ReportData) -> None:
    _, analyses = clinic
    latest = report.latest
    assert latest is not None and latest.bilateral
    assert latest.session.view == analyses[-1].view and latest.session.view is not None
    assert latest.session.view.warning
    (trend,) = report.symmetry
    assert trend.involved == "left" and trend.label == "Squat, left / right"
    assert [trend.index(s) for s in trend.sessions] == [
        a.symmetry.index_pct for a in analyses]  # type: ignore[union-attr]
    assert [round(trend.index(s)) for s in trend.sessions] == [70, 80, 90]
    assert report.view_unchecked == 0


def test_html_shows_the_warning_grades_and_symmetry(report: ReportData,
                                                    tmp_path: Path) -> None:
    assert report.latest is not None
    text = render_report(report, tmp_path / "r.html").read_text(encoding="utf-8")
    latest = text[text.index('<section id="latest">'):text.index('<section id="quality">')]
    warning = re.search(r'<p class="warning">(.*?)</p>', latest)
    assert warning is not None
    assert warning.group(1).startswith("WARNING, camera view: the body was turned 90° away "
                                       "from the side view")
    assert "tolerance 30°" in warning.group(1)
    assert "scored side: left (affected side)" in latest
    assert "limb symmetry index 90% (left 90° / right 100° range of motion" in latest
    # the per-rep table: grade, both sides' peaks, the rep's index; distances before flags
    table = latest[latest.index("<h3>Repetitions</h3>"):]
    table = table[:table.index("</table>")]
    ths = re.findall(r"<th(?: [^>]*)?>(.*?)</th>", table)
    assert ths[8:12] == ["Quality", "Left peak", "Right peak", "LSI"]
    assert ths[-1] == "Flags" and "Hip excursion (cm)" in ths
    first = re.findall(r"<td(?: [^>]*)?>(.*?)</td>", table.split("<tbody><tr>")[1]
                       .split("</tr>")[0])
    row = dict(zip(ths, first))
    rep = report.latest.reps[0]
    assert row["Quality"] == rep.quality == "poor"
    assert row["Left peak"] == f"{rep.left_peak_deg:.0f}°" == "90°"
    assert row["Right peak"] == "100°" and row["LSI"] == "90%"
    assert row["Flags"] == "wrong view"
    # the trend section: the index over sessions
    trend = text[text.index('<section id="trend">'):text.index('<section id="adherence">')]
    assert "<h3>Limb symmetry index</h3>" in trend and "data:image/png;base64," in trend
    assert "<td>Squat, left / right</td>" in trend
    assert "70% (2024-03-01)" in trend and "90% (2024-03-15)" in trend
    # the quality notes list the view warning and the reps it touched, as they say
    quality = text[text.index('<section id="quality">'):]
    assert tables.QUALITY_INTRO.split(" (")[0] in quality
    assert "camera and view warnings" not in text
    items = re.findall(r"<p>• (.*?)</p>", quality)
    assert any(i.startswith("Squat: camera view: the body is turned 90 deg away") for i in items)
    assert any("4 of 4 rep(s) graded poor for measurement (reps 1–4: body at 0° to the "
               "camera, the side view being 90°)" in i for i in items)
    assert any("4 of 4 rep(s) measured with the body turned away from the side view" in i
               for i in items)
    assert not any("limb symmetry index" in i for i in items)  # shown in the summary


def test_pdf_renders_with_the_checks(report: ReportData, tmp_path: Path) -> None:
    out = render_report(report, tmp_path / "r.pdf")
    assert out.read_bytes().startswith(b"%PDF")
    (detail,) = report.latest_day
    table = content.reps_table(detail)
    lay = pdf.table_layout(table)
    header = table.headers
    assert len(header) == len(lay.widths) == len(table.rows[0]) == 16  # + 3 distances,
    # grade, L/R/LSI
    assert sum(lay.widths) == pytest.approx(pdf.TEXT_W) and lay.size in pdf.TABLE_FONTSIZES
    # every cell is shown whole: its lines hold all its words (none clipped)
    for row in table.rows:
        for i, cell in enumerate(row):
            lines = pdf.wrap(cell.text, lay.widths[i] - 2 * pdf.CELL_PAD, lay.size)
            assert " ".join(lines).split() == cell.text.split()
    # summary, trend (the ROM with pain and exertion, the symmetry index under it),
    # adherence, latest day, sessions and notes, quality notes and sign-off
    assert shutil.which("pdftoppm"), "pdftoppm not installed (apt-get install poppler-utils)"
    subprocess.run(["pdftoppm", "-r", "30", "-png", str(out), str(tmp_path / "page")],
                   check=True, capture_output=True)
    from PIL import Image

    pages = sorted(tmp_path.glob("page-*.png"), key=lambda p: int(p.stem.split("-")[1]))
    layout = pdf.layout(report)
    assert len(pages) == len(layout)
    k = next(k for k, p in enumerate(layout) if p.figure.axes)
    assert len(layout[k].figure.axes) == 3  # ROM with pain and exertion, symmetry index
    trend = np.asarray(Image.open(pages[k]).convert("L"))
    rows = (trend < 200).mean(axis=1) > 0.02
    half = rows.size // 2
    assert rows[:half].sum() > 0.1 * half and rows[half:].sum() > 0.1 * half  # two panels


def test_quality_notes_from_a_live_session_without_notes(tmp_path: Path) -> None:
    """A live session may store its view check and swap repair without their notes: the
    quality notes put them in words."""
    a = _squat(80.0)
    with open_store(tmp_path / "db.sqlite") as store:
        store.add_patient("p01", "Ada")
        w = store.begin_session("p01", "squat", "left", dt.datetime(2024, 3, 4, 9),
                                source="camera 0", mode="live")
        for r in a.reps:
            w.add_rep(dataclasses.replace(r, flags=(*r.flags, Flag.WRONG_VIEW), quality="poor",
                                          swapped_frames=3))
        w.finish(dt.datetime(2024, 3, 4, 9, 5), involved="left",
                 view=ViewCheck("side", 40.0, 50.0, 0.8, 30.0, 0.9),
                 swaps=SwapSummary(12, 3, {"legs": [12, 3]}))
        data = build_report_data(store, "p01", today=TODAY)
    texts = [q.text for q in data.quality]
    assert any(t.startswith("WARNING, camera view: the body was turned 50° away") for t in texts)
    assert "left/right labels: 12 frame(s) repaired, 3 gated as unresolved (legs 12, 3 gated)" \
        in texts
    assert any("with left/right labels repaired or gated" in t for t in texts)
    assert not [n for n in data.sessions[0].session.notes if n.code == NoteCode.VIEW]


def test_sessions_stored_before_the_checks_render(tmp_path: Path) -> None:
    shutil.copytree(V1, tmp_path / "clinic")
    with open_store(tmp_path / "clinic" / "rehab.sqlite") as store:
        data = build_report_data(store, "p01", today=dt.date(2024, 3, 10))
    assert data.symmetry == () and data.view_unchecked == len(data.sessions) == 4
    assert data.latest is not None and not data.latest.bilateral
    header, rows = tables.reps_table(data.latest)
    assert "Quality" in header and "LSI" not in header
    assert {r[header.index("Quality")] for r in rows} == {"–"}
    assert tables.view_warning(data.latest) == ""
    text = render_report(data, tmp_path / "r.html").read_text(encoding="utf-8")
    assert "The camera view was not checked in 4 of 4 session(s)" in text
    assert 'class="warning"' not in text and "Limb symmetry index" not in text
    render_report(data, tmp_path / "r.pdf")


def test_patient_show_prints_the_checks(clinic: tuple[Path, list[Analysis]],
                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["patient", "show", "acl", "--db", str(clinic[0])]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    first = lines.index(next(ln for ln in lines if "2024-03-01 09:00  squat" in ln))
    assert lines[first + 1].strip() == ("scored: left (affected side); LSI 70% (left 70 / "
                                        "right 100 deg ROM); quality: 4 good; side view ok "
                                        "(0 deg off, tolerance 30 deg)")
    assert "WARNING, camera view: the body was turned 90 deg away from the side view" in out
    assert "quality: 4 poor" in out
