"""Progress reports from a patient history built with real analyses of ../shared/data."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure

from rehab.pipeline import analyze
from rehab.reports import build_report_data, check_report_path, render_report
from rehab.reports import pdf, plots
from rehab.reports.assets import reports_dir
from rehab.reports.norms import NORMATIVE_ROM_DEG, normative_deg
from rehab.store import open_store

REPO = Path(__file__).resolve().parents[2]
TODAY = dt.date.today()
HOSTILE = '<script>alert(1)</script>"><img src=x onerror=alert(2)>&amp;$\\frac{1}{0}$'
HOSTILE_NOTES = "</textarea><b onclick=alert(3)>notes</b>"


def _at(days_ago: int) -> dt.datetime:
    return dt.datetime.combine(TODAY - dt.timedelta(days=days_ago), dt.time(10, 0))


@pytest.fixture(scope="module")
def history(shared_data: Path, tmp_path_factory: pytest.TempPathFactory):
    """Patient ``p01``: squat_01 four weeks ago, squat_02 last week (right knee), curls on
    both sides, a live session interrupted after a rep that lost tracking."""
    lm = shared_data / "landmarks"
    path = tmp_path_factory.mktemp("history") / "rehab.sqlite"
    analyses = {
        "squat_01": analyze(lm / "squat_01.npz", "squat", progress=False),
        "squat_02": analyze(lm / "squat_02.npz", "squat", progress=False),
        "curl_r": analyze(lm / "elbow_flexion_03.npz", "elbow_flexion", side="right",
                          progress=False),
        "curl_l": analyze(lm / "elbow_flexion_04.npz", "elbow_flexion", side="left",
                          progress=False),
    }
    with open_store(path) as store:
        store.add_patient("p01", HOSTILE, affected_side="right", notes=HOSTILE_NOTES)
        store.add_patient("one", "One Session")
        store.add_patient("none", "No Sessions")
        store.prescribe("p01", "squat", 90, 120, reps=10, sets=3, start=TODAY - dt.timedelta(30))
        store.record_analysis("p01", analyses["squat_01"], _at(28))
        store.record_analysis("p01", analyses["curl_r"], _at(20))
        store.record_analysis("p01", analyses["squat_02"], _at(7))
        w = store.begin_session("p01", "squat", "right", _at(5), source="camera 0",
                                mode="live")
        w.add_rep(dataclasses.replace(analyses["squat_02"].reps[0], tracked_fraction=0.5,
                                      flags=("tracking_lost",)))
        store.record_analysis("p01", analyses["curl_l"], _at(2))
        store.record_analysis("one", analyses["squat_02"], _at(3))
    return path, analyses


def _median_peak(analysis) -> float:
    return float(np.median([r.peak_deg for r in analysis.reps]))


def test_norms_in_one_place() -> None:
    assert NORMATIVE_ROM_DEG == {"knee_flexion": 135, "hip_flexion": 120, "hip_abduction": 45,
                                 "shoulder_flexion": 180, "shoulder_abduction": 180,
                                 "elbow_flexion": 150, "ankle_plantarflexion": 50}
    assert normative_deg("right_knee_flexion") == 135
    assert normative_deg("knee_flexion", rest="high") is None  # e.g. knee extension
    assert normative_deg("trunk_lean") is None


def test_report_data_from_real_sessions(history) -> None:
    path, analyses = history
    with open_store(path) as store:
        data = build_report_data(store, "p01")
    assert data.start == TODAY - dt.timedelta(28) and data.end == TODAY
    assert len(data.sessions) == 5 and data.interrupted == 1
    squat = next(h for h in data.headlines if h.label == "Squat, right")
    assert squat.first == pytest.approx(_median_peak(analyses["squat_01"]))
    assert squat.last == pytest.approx(_median_peak(analyses["squat_02"]))
    assert squat.first_day == TODAY - dt.timedelta(28)
    assert squat.target == (90, 120) and squat.norm == 135
    assert squat.change == pytest.approx(squat.last - squat.first)
    # squat_01 went beyond the 90-120 band, squat_02 came back towards it
    assert squat.first > 120 and 120 < squat.last < squat.first and squat.verdict == "better"
    trend = next(t for t in data.trends if t.exercise_id == "squat")
    first = trend.measured[0]
    peaks = [r.peak_deg for r in analyses["squat_01"].reps]
    # the best rep: the peak closest to the 90-120 band (squat_01 went beyond it)
    nearest = min(peaks, key=lambda p: max(90 - p, 0, p - 120))
    assert (first.low, first.high, first.best) == pytest.approx((min(peaks), max(peaks),
                                                                  nearest))
    assert first.best < first.high
    # adherence: 3 x 10 on 7 days a week from 28 days ago to today (29 days in force, each
    # calendar week prescribed its share of 7 sessions); counted reps done
    squat_adh = next(a for a in data.adherence if a.exercise_id == "squat")
    assert squat_adh.sessions_prescribed == 29
    assert squat_adh.reps_prescribed == 29 * 30
    assert squat_adh.reps_done == (analyses["squat_01"].rep_count
                                   + analyses["squat_02"].rep_count + 1)
    assert sum(w.sessions for w in data.weeks) == 5
    assert sum(w.reps_done for w in data.weeks) == sum(a.reps_done for a in data.adherence)
    # latest session: the left curl, its trace read back from the stored angles.csv
    assert data.latest is not None and data.latest.session.side == "left"
    assert data.trace is not None
    ref = analyses["curl_l"].smoothed["primary"]
    assert data.trace.angle_deg.shape == ref.shape
    assert np.nanmax(np.abs(data.trace.angle_deg - ref)) < 0.001
    assert [s.exercise_name for s in data.sides] == ["Elbow flexion (biceps curl)"]
    texts = [q.text for q in data.quality]
    assert any("tracking loss" in t for t in texts)
    assert any("interrupted" in t for t in texts)
    assert any("opens in the elbow flexion active position" in t for t in texts)
    # period and exercise filters
    with open_store(path) as store:
        recent = build_report_data(store, "p01", start=TODAY - dt.timedelta(10),
                                   exercise_id="squat")
    assert [s.session.day for s in recent.sessions] == [TODAY - dt.timedelta(7),
                                                        TODAY - dt.timedelta(5)]
    assert {t.exercise_id for t in recent.trends} == {"squat"}


def _page_images(pdf: Path, tmp: Path, dpi: int = 30) -> list[np.ndarray]:
    # `make test` installs it (scripts/system-deps.sh): a missing one is a failure, not a skip
    assert shutil.which("pdftoppm"), "pdftoppm not installed (apt-get install poppler-utils)"
    subprocess.run(["pdftoppm", "-r", str(dpi), "-png", str(pdf), str(tmp / "page")],
                   check=True, capture_output=True)
    from PIL import Image

    pages = sorted(tmp.glob("page-*.png"), key=lambda p: int(p.stem.split("-")[1]))
    return [np.asarray(Image.open(p).convert("L")) for p in pages]


def _check_pages(images: list[np.ndarray], dpi: int = 30) -> None:
    for k, img in enumerate(images, start=1):
        # A4 portrait at `dpi`
        assert img.shape == pytest.approx((11.69 * dpi, 8.27 * dpi), abs=2), k
        inked = float(np.mean(img < 200))
        assert 0.005 < inked < 0.6, f"page {k}: {inked:.1%} of pixels inked"


def test_pdf_pages(history, tmp_path: Path) -> None:
    path, _ = history
    with open_store(path) as store:
        data = build_report_data(store, "p01")
    out = render_report(data, tmp_path / "report.pdf")
    assert out.read_bytes().startswith(b"%PDF")
    images = _page_images(out, tmp_path)
    # summary, trend (3 exercise/side figures), adherence, latest day, sessions, notes,
    # quality notes and sign-off, as laid out
    pages = pdf.layout(data)
    assert len(images) == len(pages) >= 5
    _check_pages(images)
    # the trend page (the first with figures) is mostly figures: bands of ink down the page
    k = next(k for k, p in enumerate(pages) if p.figure.axes)
    # three exercise/side figures of two panels (ROM, pain and exertion) over two pages,
    # the limb symmetry index under the last
    assert data.symmetry
    assert [len(p.figure.axes) for p in pages[k:k + 2]] == [4, 3]
    # their axes take most of the page's height, and the page shows them
    assert sum(ax.get_position().height for ax in pages[k].figure.axes) > 0.5
    rows = (images[k] < 200).mean(axis=1) > 0.005
    assert rows.sum() > 0.3 * rows.size


@pytest.mark.parametrize("patient", ["one", "none"])
def test_small_histories_render(history, tmp_path: Path, patient: str) -> None:
    path, _ = history
    with open_store(path) as store:
        data = build_report_data(store, patient)
    assert len(data.sessions) == (1 if patient == "one" else 0)
    out = render_report(data, tmp_path / "r.pdf")
    images = _page_images(out, tmp_path)
    assert len(images) == len(pdf.layout(data))
    _check_pages(images)
    text = render_report(data, tmp_path / "r.html").read_text()
    if patient == "none":
        assert "No sessions recorded in this period." in text
        assert data.start == data.end == TODAY
    else:
        head = data.headlines[0]
        assert head.n_measured == 1 and math.isnan(head.change)  # one session: no change
        assert "Squat, right" in text


def test_html_is_self_contained_and_escaped(history, tmp_path: Path) -> None:
    path, _ = history
    with open_store(path) as store:
        data = build_report_data(store, "p01")
    text = render_report(data, tmp_path / "report.html").read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    assert "<script" not in text and "onerror=" not in text.replace("onerror=alert", "")
    assert "<img src=x" not in text and "<b onclick" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&gt;&lt;img src=x" in text
    assert "&lt;/textarea&gt;&lt;b onclick=alert(3)&gt;" in text
    assert "&amp;amp;" in text  # '&amp;' in the name is shown literally
    # figures are embedded; nothing is loaded from elsewhere
    # trends (with pain and exertion under each), symmetry index, adherence, the latest
    # day's traces
    n_figures = len(data.trends) + bool(data.symmetry) + 1 + sum(
        d.trace is not None for d in data.latest_day)
    assert text.count('src="data:image/png;base64,') == n_figures
    assert "http://" not in text and "https://" not in text and "<link" not in text
    css = (reports_dir() / "report.css").read_text()
    assert css.strip()[:40] in text
    for section in ("Summary", "Recovery trend", "Adherence per week",
                    f"Latest day: {data.last_day}", "All sessions", "Pain, exertion and notes",
                    "Quality notes", "Clinical review"):
        assert f"<h2>{section}</h2>" in text


@pytest.fixture(scope="module")
def scaled_history(history, shared_data: Path, tmp_path_factory: pytest.TempPathFactory):
    """Patient ``s01``: squat_01 without a scale ten days ago, squat_02 analysed with the
    patient's height (170 cm) two days ago."""
    _, analyses = history
    scaled = analyze(shared_data / "landmarks" / "squat_02.npz", "squat", height_cm=170,
                     progress=False)
    path = tmp_path_factory.mktemp("scaled") / "rehab.sqlite"
    with open_store(path) as store:
        store.add_patient("s01", "Scaled Patient")
        store.record_analysis("s01", analyses["squat_01"], _at(10))
        store.record_analysis("s01", scaled, _at(2))
    return path, scaled


def test_latest_session_distances_in_cm(scaled_history, tmp_path: Path) -> None:
    path, scaled = scaled_history
    with open_store(path) as store:
        data = build_report_data(store, "s01")
    d = data.distances
    assert d is not None and data.latest is not None
    assert d.headers == ("Hip excursion (cm)", "Heel rise (cm)", "Step length (cm)")
    assert len(d.values) == data.latest.n_reps == scaled.rep_count
    expected = [r.distances_cm.hip_excursion_cm for r in scaled.reps]
    assert [v[0] for v in d.values] == pytest.approx(expected)
    assert all(20 < v[0] < 70 for v in d.values)  # squat depth of an adult, in cm
    assert d.note.startswith("Distances in cm; scale from patient height 170 cm (±3%)")

    text = render_report(data, tmp_path / "r.html").read_text(encoding="utf-8")
    table = text[text.index("<h3>Repetitions</h3>"):]
    table = table[:table.index("</table>")]
    ths = re.findall(r"<th(?: [^>]*)?>(.*?)</th>", table)
    assert ths[-4:] == ["Hip excursion (cm)", "Heel rise (cm)", "Step length (cm)", "Flags"]
    first_row = re.findall(r"<td(?: [^>]*)?>(.*?)</td>", table.split("<tbody><tr>")[1]
                           .split("</tr>")[0])
    assert len(first_row) == len(ths)
    assert 20 < float(first_row[ths.index("Hip excursion (cm)")]) < 70
    assert "scale from patient height 170 cm (±3%)" in text

    images = _page_images(render_report(data, tmp_path / "r.pdf"), tmp_path)
    assert len(images) == len(pdf.layout(data))
    _check_pages(images)


def test_sessions_without_scale_have_no_cm_columns(history, scaled_history,
                                                   tmp_path: Path) -> None:
    path, _ = scaled_history
    with open_store(path) as store:  # the period ends before the scaled session
        data = build_report_data(store, "s01", end=TODAY - dt.timedelta(5))
    assert data.latest is not None and data.distances is None
    text = render_report(data, tmp_path / "r.html").read_text(encoding="utf-8")
    assert "(cm)" not in text and "Distances in cm" not in text
    assert re.search(r"<th[^>]*>Flags</th>", text)
    with open_store(history[0]) as store:
        data = build_report_data(store, "p01", exercise_id="squat")  # latest: a live session
    assert data.distances is None
    assert "(cm)" not in render_report(data, tmp_path / "p.html").read_text(encoding="utf-8")


def test_scale_note_text() -> None:
    from rehab.model import Scale
    from rehab.reports.data import _scale_note

    assert _scale_note(Scale(1.0, "patient height 172 cm", "median eye-to-floor "
                        "493.9 px over 139 standing frames (IQR 1.8%); expected error about "
                        "+/-3%; valid in the plane of the person facing the camera")
                       ) == "Distances in cm; scale from patient height 172 cm (±3%)"
    assert _scale_note(Scale(1.0, "checkerboard 9x6, 25 mm squares in scene",
                        "median corner spacing 30.2 px in 12 of 40 frames; valid in "
                                  "the board's plane; board tilted (spacing differs 8% between "
                                  "its axes): scale uncertain by about that much")
                       ) == ("Distances in cm; scale from checkerboard 9x6, 25 mm squares in "
                             "scene (uncertain)")
    assert _scale_note(Scale(1.0, "tape", "1 m tape")) == (
        "Distances in cm; scale from tape (1 m tape)")


def test_hostile_name_renders_in_pdf(history, tmp_path: Path) -> None:
    path, _ = history
    with open_store(path) as store:
        data = build_report_data(store, "p01", exercise_id="elbow_flexion")
    out = render_report(data, tmp_path / "report.pdf")  # '$...$' must not be parsed as math
    assert len(_page_images(out, tmp_path)) == len(pdf.layout(data))


def test_report_output_errors(history, tmp_path: Path) -> None:
    from rehab.errors import OutputError

    with pytest.raises(OutputError, match=r"\.pdf or \.html"):
        check_report_path(tmp_path / "report.docx")
    with pytest.raises(OutputError, match="does not exist"):
        check_report_path(tmp_path / "missing" / "report.pdf")
    (tmp_path / "dir.pdf").mkdir()
    with pytest.raises(OutputError, match="folder"):
        check_report_path(tmp_path / "dir.pdf")


def test_plot_functions_compose(history) -> None:
    path, _ = history
    with open_store(path) as store:
        data = build_report_data(store, "p01")
    assert data.trace is not None
    calls = [(plots.plot_recovery_trend, data.trends[0]), (plots.plot_angle_trace, data.trace),
             (plots.plot_sessions_per_week, data.weeks),
             (plots.plot_reps_vs_prescribed, data.weeks),
             (plots.plot_side_comparison, data.sides), (plots.plot_rom_headline, data.headlines)]
    host = Figure()
    axes = host.subplots(len(calls))
    for (fn, arg), ax in zip(calls, axes):
        fig, ax2 = fn(arg, ax=ax)
        assert fig is host and ax2 is ax
        assert ax.has_data() or ax.texts
        fig_new, ax_new = fn(arg)
        assert isinstance(fig_new, Figure) and fig_new is not host and ax_new.figure is fig_new


def test_import_selects_no_backend() -> None:
    code = ("import sys, rehab.store, rehab.store.cli, rehab.reports, rehab.reports.pdf, "
            "rehab.reports.html, rehab.reports.plots; "
            "print('matplotlib.pyplot' in sys.modules, "
            "'matplotlib.backends.backend_agg' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False", "False"]


def test_templates_found_from_the_package() -> None:
    d = reports_dir()
    assert d == REPO / "reports"
    for name in ("template.html", "report.css", "style.mplstyle"):
        assert (d / name).is_file()


# --- report sections from hand-made values (no store) ----------------------------------------

def _rep(index: int, peak: float, kind: str = "complete"):
    from rehab.scoring import RepScore

    return RepScore(index=index, kind=kind, start_frame=10 * index, peak_frame=10 * index + 4,
                    end_frame=10 * index + 9, start_s=float(index), peak_s=index + 0.4,
                    end_s=index + 0.9, min_deg=0.0, max_deg=peak, rom_deg=peak, peak_deg=peak,
                    target_met=True, duration_s=0.9, time_to_peak_s=0.4, tracked_fraction=1.0,
                    compensations={}, score=90, flags=())


def _summary(sid: int, day: dt.date, median: float = math.nan, side: str = "right",
             exercise: str = "curl", n_reps: int = 0, n_uncounted: int = 0,
             target: tuple[float, float] | None = None):
    """A `SessionSummary` of ``n_reps`` counted reps whose median peak is ``median``."""
    from rehab.reports.data import SessionSummary
    from rehab.store import SessionRecord

    session = SessionRecord(
        id=sid, patient_id="p", exercise_id=exercise, exercise_name=exercise.title(),
        side=side, angle=f"{side}_elbow_flexion", rest="low",
        started=dt.datetime.combine(day, dt.time(9)), ended=dt.datetime.combine(day, dt.time(9, 5)),
        source="clip.mp4", mode="offline", model="m", model_sha256="0", calibration=None,
        software_version="0", target_min=target[0] if target else None,
        target_max=target[1] if target else None, rep_count=n_reps, notes=(), files={})
    reps = tuple(_rep(i + 1, median) for i in range(n_reps))
    uncounted = tuple(_rep(n_reps + i + 1, 10.0, kind="too_short") for i in range(n_uncounted))
    return SessionSummary(session=session, reps=reps, uncounted=uncounted, median=median,
                          best=median, q25=median, q75=median, low=median, high=median,
                          mean_score=90.0 if n_reps else math.nan)


def _rx(reps: int, sets: int, days_per_week: int = 7, start: dt.date | None = None,
        end: dt.date | None = None, exercise: str = "curl"):
    from rehab.store import Prescription

    return Prescription(id=1, patient_id="p", exercise_id=exercise, target_min=90.0,
                        target_max=130.0, reps=reps, sets=sets, side=None, start=start,
                        end=end, days_per_week=days_per_week)


MONDAY = dt.date(2024, 1, 1)


def test_report_period_defaults(caplog: pytest.LogCaptureFixture) -> None:
    from rehab.reports.data import report_period
    from rehab.store.db import StoreError

    sessions = [_summary(1, MONDAY + dt.timedelta(2)).session,
                _summary(2, MONDAY + dt.timedelta(20)).session]
    today = MONDAY + dt.timedelta(10)
    # a session dated after today is left out of the default period, with a warning
    assert report_period(sessions, None, None, today) == (MONDAY + dt.timedelta(2), today)
    assert "1 session(s) dated after 2024-01-11 left out" in caplog.text
    assert report_period([], None, None, today) == (today, today)
    assert report_period([], None, MONDAY, today) == (MONDAY, MONDAY)  # no session: the end
    assert report_period(sessions, MONDAY, MONDAY + dt.timedelta(5), today) == (
        MONDAY, MONDAY + dt.timedelta(5))
    with pytest.raises(StoreError, match="starts"):
        report_period(sessions, MONDAY + dt.timedelta(1), MONDAY, today)


def test_side_comparison_takes_each_sides_latest_measured_median() -> None:
    from rehab.reports.data import side_comparisons, trends_and_headlines

    day = lambda n: MONDAY + dt.timedelta(n)  # noqa: E731
    summaries = [
        _summary(1, day(0), 100.0, side="left", target=(90, 130)),
        _summary(2, day(1), 120.0, side="right"),
        _summary(3, day(2), 110.0, side="left"),
        _summary(4, day(3), side="left"),  # no measured rep: not the latest measured
        _summary(5, day(4), 130.0, side="right"),
        _summary(6, day(5), 80.0, side="right", exercise="squat"),  # one side only
    ]
    names = {"curl": "Curl", "squat": "Squat"}
    trends, headlines = trends_and_headlines(summaries, [], names, day(6))
    assert [(t.exercise_id, t.side, len(t.sessions)) for t in trends] == [
        ("curl", "left", 3), ("curl", "right", 2), ("squat", "right", 1)]
    assert trends[0].target == (90, 130) and trends[1].target is None
    left = headlines[0]
    assert (left.label, left.n_sessions, left.n_measured) == ("Curl, left", 3, 2)
    assert (left.first, left.first_day, left.last, left.last_day) == (100.0, day(0), 110.0,
                                                                      day(2))
    assert left.change == 10.0
    (pair,) = side_comparisons(trends, names)
    assert (pair.exercise_name, pair.left, pair.left_day, pair.right, pair.right_day) == (
        "Curl", 110.0, day(2), 130.0, day(4))
    assert pair.target == (90, 130)  # the left trend's; the right one has none
    # a side whose sessions have no measured rep is not compared
    unmeasured = [_summary(1, day(0), side="left"), _summary(2, day(1), 120.0, side="right")]
    assert side_comparisons(trends_and_headlines(unmeasured, [], names, day(6))[0], names) == []


def test_adherence_counts_reps_sets_and_days_per_week() -> None:
    from rehab.reports.data import adherence_section

    # one calendar week, Monday to Sunday: 3 x 10 reps on 5 days a week = 150 reps
    summaries = [_summary(1, MONDAY + dt.timedelta(1), 100.0, n_reps=4, n_uncounted=1),
                 _summary(2, MONDAY + dt.timedelta(3), 100.0, n_reps=6)]
    weeks, per_exercise = adherence_section(summaries, [_rx(10, 3, days_per_week=5,
                                                            start=MONDAY)],
                                            {"curl": "Curl"}, MONDAY, MONDAY + dt.timedelta(6))
    (week,) = weeks
    assert (week.start, week.sessions, week.reps_done) == (MONDAY, 2, 10)
    assert week.reps_prescribed == 150 and week.sessions_prescribed == 5
    (curl,) = per_exercise
    assert (curl.exercise_id, curl.exercise_name, curl.sessions, curl.reps_done) == (
        "curl", "Curl", 2, 10)
    assert curl.reps_prescribed == 150 and curl.sessions_prescribed == 5
    assert curl.reps_percent == pytest.approx(100 * 10 / 150)
    assert curl.sessions_percent == pytest.approx(100 * 2 / 5)


def test_adherence_over_a_period_cut_by_calendar_weeks() -> None:
    from rehab.reports.data import adherence_section

    # Wednesday to the next Tuesday: 5 days in the first week, 2 in the second; the
    # prescription without a start date begins with the first session (Thursday)
    start, end = MONDAY + dt.timedelta(2), MONDAY + dt.timedelta(8)
    summaries = [_summary(1, MONDAY + dt.timedelta(3), 100.0, n_reps=5),
                 _summary(2, MONDAY + dt.timedelta(7), 100.0, n_reps=7)]
    weeks, (curl,) = adherence_section(summaries, [_rx(10, 2)], {"curl": "Curl"}, start, end)
    assert [w.start for w in weeks] == [MONDAY, MONDAY + dt.timedelta(7)]
    assert [w.sessions for w in weeks] == [1, 1] and [w.reps_done for w in weeks] == [5, 7]
    assert [w.reps_prescribed for w in weeks] == pytest.approx([4 * 20.0, 2 * 20.0])
    assert curl.reps_prescribed == pytest.approx(6 * 20.0) and curl.reps_done == 12
    # no prescription: nothing prescribed, no percentage
    weeks, (curl,) = adherence_section(summaries, [], {"curl": "Curl"}, start, end)
    assert [w.reps_prescribed for w in weeks] == [None, None]
    assert curl.reps_prescribed is None and curl.reps_percent is None
    assert curl.sessions_percent is None


def test_latest_section_without_sessions() -> None:
    from rehab.reports.data import LatestSession, latest_section

    assert latest_section([], [_rx(10, 3)]) == LatestSession(None, None,
                                                              "no session in this period", None)
