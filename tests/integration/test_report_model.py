"""Integration: one report model rendered twice (PDF and HTML) from a stored history with two
exercises, camera and logged sessions, pain, exertion and notes, clinician notes and a
prescription of 3 sessions a week, 3 x 10 (store schema 6)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import html as html_lib
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from matplotlib.text import Text

from rehab.analysis import Analysis
from rehab.exercises import get_exercise
from rehab.pipeline import analyze_pose
from rehab.reports import build_report_data, pdf, plots, render_report
from rehab.reports.content import DISCLAIMER, SIGN_OFF, build_document
from rehab.reports.data import ReportData
from rehab.reports.document import Table, Tone
from rehab.store import open_store
from rehab.store.models import SessionFeedback
from rehab.synthetic import rep_trajectory, synthetic_sequence

MONDAY = dt.date(2026, 10, 5)
TODAY = MONDAY + dt.timedelta(days=19)  # the Saturday of the third week
LATEST = MONDAY + dt.timedelta(days=18)
LONG = ("Seated shoulder flexion with a resistance band anchored under the foot, "
        "slow eccentric phase, post-operative protocol week six")


def _day(n: int, hour: int = 9, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(MONDAY + dt.timedelta(days=n), dt.time(hour, minute))


def _squat(peak: float) -> Analysis:
    t, knee = rep_trajectory(6, 30.0, rest=0.0, peak=peak)
    seq = synthetic_sequence(t, {"knee_flexion": knee, "hip_flexion": 0.8 * knee})
    return analyze_pose(seq, get_exercise("squat"), side="right")


def _shoulder(peak: float) -> Analysis:
    t, arm = rep_trajectory(6, 30.0, rest=0.0, peak=peak)
    seq = synthetic_sequence(t, {"shoulder_flexion": arm})
    return analyze_pose(seq, get_exercise("shoulder_flexion"), side="right")


def _fill(store, pid: str, shoulder_name: str | None = None) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Three weeks from `MONDAY`: squat 80 deg (camera, week 1), three logged squat
    sessions of 3 x 10 in week 1 (one more than prescribed), nothing in week 2, squat 130 deg
    (week 3, Wednesday) and 115 deg with shoulder flexion 120 deg on the latest day (the
    squat stored with a date only), shoulder flexion 160 deg in week 1."""
    def shoulder(peak: float) -> Analysis:
        a = _shoulder(peak)
        if shoulder_name:
            a = a.replace(exercise=dataclasses.replace(a.exercise, name=shoulder_name))
        return a

    store.add_patient(pid, "Ada Example", affected_side="right", notes="Right ACL repair")
    for ex, lo, hi in (("squat", 90, 120), ("shoulder_flexion", 150, 180)):
        store.prescribe(pid, ex, lo, hi, reps=10, sets=3, start=MONDAY, days_per_week=3)
    ids = {}
    ids["squat1"] = store.record_analysis(pid, _squat(80.0), _day(0))
    store.set_feedback(ids["squat1"], SessionFeedback(pain=6, exertion=4, note="knee stiff",
                                                      sets=1))
    ids["shoulder1"] = store.record_analysis(pid, shoulder(160.0), _day(0, 9, 30))
    store.set_feedback(ids["shoulder1"], SessionFeedback(pain=2, exertion=3))
    for n, pain in ((2, 5), (4, 4), (5, 4)):
        store.log_session(pid, "squat", MONDAY + dt.timedelta(days=n), 3, 10, side="right",
                          feedback=SessionFeedback(pain=pain, exertion=5,
                                                   note=f"home day {n}"))
    ids["squat2"] = store.record_analysis(pid, _squat(130.0), _day(16))
    store.set_feedback(ids["squat2"], SessionFeedback(pain=3, exertion=6))
    ids["squat3"] = store.record_analysis(pid, _squat(115.0), _day(18, 0))  # date only
    store.set_feedback(ids["squat3"], SessionFeedback(pain=2, exertion=7, note="felt good",
                                                      sets=1))
    ids["shoulder2"] = store.record_analysis(pid, shoulder(120.0), _day(18, 10, 30))
    store.add_clinician_note(pid, "Progressing; add a band next week.", day=LATEST,
                             session_id=ids["squat3"])
    store.add_clinician_note(pid, "Reviewed home log by phone.", day=MONDAY + dt.timedelta(6))
    return ids


@pytest.fixture(scope="module")
def clinic(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    path = tmp_path_factory.mktemp("clinic6") / "rehab.sqlite"
    with open_store(path) as store:
        ids = _fill(store, "p02")
    return path, ids


@pytest.fixture(scope="module")
def report(clinic: tuple[Path, dict[str, int]]) -> ReportData:
    with open_store(clinic[0]) as store:
        return build_report_data(store, "p02", today=TODAY)


def test_adherence_against_sessions_per_week(report: ReportData) -> None:
    assert (report.start, report.end) == (MONDAY, TODAY)
    squat = next(a for a in report.adherence if a.exercise_id == "squat")
    # weeks 1-3 (the third Monday to Saturday: 3 x 6/7 = 2.6 -> 3 sessions)
    assert [w.sessions_prescribed for w in report.weeks if w.exercise_id == "squat"] == [3, 3, 3]
    assert [w.sessions for w in report.weeks if w.exercise_id == "squat"] == [4, 0, 2]
    assert [w.reps_done for w in report.weeks if w.exercise_id == "squat"] == [96, 0, 12]
    assert (squat.weeks, squat.sessions, squat.sessions_credited, squat.sessions_prescribed) \
        == (3, 6, 5, 9)
    assert (squat.reps_done, squat.reps_credited, squat.reps_prescribed) == (108, 102, 270)
    assert squat.sessions_percent == pytest.approx(100 * 5 / 9)
    assert squat.reps_percent == pytest.approx(100 * 102 / 270)
    shoulder = next(a for a in report.adherence if a.exercise_id == "shoulder_flexion")
    assert (shoulder.sessions_credited, shoulder.sessions_prescribed) == (2, 9)
    assert (shoulder.reps_credited, shoulder.reps_prescribed) == (12, 270)


def test_every_session_listed_with_source_and_feedback(report: ReportData) -> None:
    doc = build_document(report)
    table = _table(doc, "sessions", "Source")
    rows = [[c.text for c in r] for r in table.rows]
    head = table.headers
    assert head == ["Date", "Time", "Exercise", "Side", "Source", "Sets", "Reps",
                    "Median peak", "Best rep", "Quality", "Pain", "Exertion"]
    assert len(rows) == 8  # 5 camera + 3 logged
    assert [r[4] for r in rows] == ["camera", "camera", "logged", "logged", "logged",
                                    "camera", "camera", "camera"]
    first, logged, date_only = rows[0], rows[2], rows[6]
    assert first[:3] == ["2026-10-05", "09:00", "Squat"] and first[5:7] == ["1", "6"]
    assert (first[10], first[11]) == ("6/10", "4/10")
    assert logged[:2] == ["2026-10-07", "–"] and logged[5:8] == ["3", "30", "–"]
    assert date_only[:3] == ["2026-10-23", "–", "Squat"] and date_only[10:] == ["2/10",
                                                                                 "7/10"]
    assert rows[7][1] == "10:30"
    notes = _table(doc, "notes", "Patient's note")
    assert [[c.text for c in r] for r in notes.rows] == [
        ["2026-10-05", "Squat", "6/10", "4/10", "knee stiff"],
        ["2026-10-07", "Squat", "5/10", "5/10", "home day 2"],
        ["2026-10-09", "Squat", "4/10", "5/10", "home day 4"],
        ["2026-10-10", "Squat", "4/10", "5/10", "home day 5"],
        ["2026-10-23", "Squat", "2/10", "7/10", "felt good"]]
    clinician = _table(doc, "notes", "Clinician's note")
    assert [[c.text for c in r] for r in clinician.rows] == [
        ["2026-10-11", "–", "Reviewed home log by phone."],
        ["2026-10-23", "Squat, 2026-10-23", "Progressing; add a band next week."]]


def test_now_previous_first_with_verdicts_in_words(report: ReportData) -> None:
    doc = build_document(report)
    table = _table(doc, "summary", "Change vs previous")
    rows = {r[0].text: r for r in table.rows}
    squat = rows["Squat, right"]
    col = table.headers.index
    # 130 deg was 10 beyond the 90-120 band, 115 is inside it: better; 80 was 10 short
    assert squat[col("Now (median peak)")].text.startswith("115°")
    assert squat[col("Previous")].text.startswith("130°")
    assert squat[col("Change vs previous")].text == "−15°, better"
    assert squat[col("Change vs previous")].tone == Tone.BETTER
    assert squat[col("Change vs first")].text == "+35°, better"
    shoulder = rows["Shoulder flexion, right"]
    # 160 deg inside the 150-180 band, 120 is 30 short of it: worse
    assert shoulder[col("Change vs previous")].text == "−40°, worse"
    assert shoulder[col("Change vs previous")].tone == Tone.WORSE
    assert shoulder[col("Scored side")].text == "right"
    assert shoulder[col("Target")].text == "150–180°"


def test_latest_day_shows_every_exercise(report: ReportData) -> None:
    assert [d.summary.session.exercise_id for d in report.latest_day  # type: ignore[union-attr]
            ] == ["squat", "shoulder_flexion"]
    assert report.last_day == LATEST
    assert all(d.trace is not None for d in report.latest_day)
    doc = build_document(report)
    latest = next(s for s in doc.sections if s.key == "latest")
    assert latest.title == f"Latest day: {LATEST}"
    heads = [b.text for b in latest.blocks
             if type(b).__name__ == "Heading" and b.text != "Repetitions"]  # type: ignore[union-attr]
    assert heads[0] == f"Squat, side right, {LATEST}"  # a date only: no clock time
    assert heads[1] == f"Shoulder flexion, side right, {LATEST} 10:30–10:30"


def test_pdf_and_html_say_the_same(report: ReportData, tmp_path: Path) -> None:
    if not shutil.which("pdftotext"):
        pytest.skip("pdftotext (poppler-utils) not installed: scripts/system-deps.sh")
    doc = build_document(report)
    texts = doc.texts()
    assert DISCLAIMER in texts and SIGN_OFF in texts and "Signature" in texts
    page = render_report(report, tmp_path / "r.html").read_text(encoding="utf-8")
    shown_html = _squash(html_lib.unescape(re.sub(r"<[^>]+>", " ", page)))
    out = render_report(report, tmp_path / "r.pdf")
    raw = subprocess.run(["pdftotext", "-raw", "-enc", "UTF-8", str(out), "-"],
                         capture_output=True, text=True, check=True).stdout
    shown_pdf = _squash(raw)
    missing_html = [t for t in texts if _squash(t) not in shown_html]
    missing_pdf = [t for t in texts if _squash(t) not in shown_pdf]
    assert missing_html == [] and missing_pdf == []
    assert "00:00" not in raw and "00:00" not in page  # the date-only session
    assert "does not replace, goniometric measurement" in raw.replace("\n", " ")
    assert shown_html.count(_squash("goniometric measurement")) == 1  # said once, in the end


def test_no_text_outside_its_page_or_column(tmp_path: Path) -> None:
    """Long exercise names and many sessions: every text artist of every page lies inside
    the page, every table cell inside its column."""
    path = tmp_path / "rehab.sqlite"
    with open_store(path) as store:
        _fill(store, "long", shoulder_name=LONG)
        a = _shoulder(140.0).replace(exercise=dataclasses.replace(
            get_exercise("shoulder_flexion"), name=LONG))
        for k in range(40):  # many more sessions, a page of them and more
            store.record_analysis("long", a, _day(k % 19, 11 + k // 19, k % 60))
        data = build_report_data(store, "long", today=TODAY)
    assert len(data.entries) == 48
    pages = pdf.layout(data)
    assert len(pages) >= 8
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    n_cells = 0
    for k, page in enumerate(pages, start=1):
        fig = page.figure
        canvas = FigureCanvasAgg(fig)
        canvas.draw()  # lays out legends and ticks as saving does
        renderer = canvas.get_renderer()
        box = fig.bbox
        for t in fig.findobj(Text):
            if not t.get_visible() or not t.get_text().strip():
                continue
            ext = t.get_window_extent(renderer)
            assert box.x0 - 0.5 <= ext.x0 and ext.x1 <= box.x1 + 0.5, (k, t.get_text())
            assert box.y0 - 0.5 <= ext.y0 and ext.y1 <= box.y1 + 0.5, (k, t.get_text())
        for t, x0, x1 in page.cells:
            ext = t.get_window_extent(renderer)  # dpi 72: display units are points
            assert x0 <= ext.x0 + 0.01 and ext.x1 <= x1 + 0.01, (k, t.get_text(), x0, x1)
            n_cells += 1
    assert n_cells > 48 * 12
    # the 48 rows of the sessions table run over pages, its header repeated on each
    headers = [sum(t.get_text().replace("\n", " ") == "Median peak" for t, _, _ in p.cells)
               for p in pages]
    assert sum(headers) >= 2 and max(headers) == 1
    doc_text = "".join(build_document(data).texts())
    assert LONG in doc_text  # shown whole, wrapped


def test_date_axes_name_the_months() -> None:
    from matplotlib.figure import Figure

    fig = Figure()
    ax = fig.add_subplot()
    ax.plot([dt.date(2026, 10, 5), dt.date(2026, 12, 1)], [0, 1])
    plots._date_axis(ax, [], (dt.date(2026, 10, 5), dt.date(2026, 12, 1)))
    fig.draw_without_rendering()
    labels = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert labels == ["Oct 2026", "Nov 2026", "Dec 2026"]
    ax2 = fig.add_subplot(212)
    ax2.plot([dt.date(2026, 10, 5), dt.date(2026, 10, 24)], [0, 1])
    plots._date_axis(ax2, [], (dt.date(2026, 10, 5), dt.date(2026, 10, 24)))
    fig.draw_without_rendering()
    assert [t.get_text() for t in ax2.get_xticklabels() if t.get_text()] == [
        "05 Oct", "12 Oct", "19 Oct"]


def test_adherence_bars_done_and_prescribed(report: ReportData) -> None:
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    fig = Figure()
    axes = fig.subplots(2)
    names = {a.exercise_id: a.exercise_name for a in report.adherence}
    plots.plot_adherence(report.weeks, names, axes, (report.start, report.end))
    for ax, done, presc in ((axes[0], [4, 0, 2, 1, 0, 1], [3, 3, 3] * 2),
                            (axes[1], [96, 0, 12, 6, 0, 6], [90, 90, 90] * 2)):
        bars = [p for p in ax.patches if isinstance(p, Rectangle)]
        outlined = [b for b in bars if b.get_facecolor()[3] == 0]
        filled = [b for b in bars if b.get_facecolor()[3] == 1]
        assert {b.get_edgecolor()[:3] for b in outlined} == {(34 / 255,) * 3}
        # prescribed: outlined with a dark edge; done: filled, one colour per exercise
        assert sorted(b.get_height() for b in outlined) == sorted(presc)
        assert sorted(b.get_height() for b in filled) == sorted(done)
        assert len({b.get_facecolor() for b in filled}) == 2
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        assert labels == ["prescribed (outline)", "Shoulder flexion done", "Squat done"]


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _table(doc, section: str, header: str) -> Table:  # type: ignore[no-untyped-def]
    s = next(s for s in doc.sections if s.key == section)
    return next(b for b in s.blocks if isinstance(b, Table) and header in b.headers)
