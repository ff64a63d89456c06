"""The report's rules on hand-made values: adherence per week, better/worse, the best rep,
the PDF's text wrapping and column widths, the document model's texts."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from rehab.reports.adherence import Done, adherence, weeks_of
from rehab.reports.data import best_rep, verdict
from rehab.reports.document import Cell, Column, Document, Paragraph, Role, Section, Table
from rehab.scoring import RepScore
from rehab.store import Prescription

MONDAY = dt.date(2026, 10, 5)


def _rx(per_week: int = 3, sets: int = 3, reps: int = 10, start: dt.date | None = MONDAY,
        end: dt.date | None = None, pid: int = 1) -> Prescription:
    return Prescription(id=pid, patient_id="p", exercise_id="squat", target_min=90.0,
                        target_max=120.0, reps=reps, sets=sets, side=None, start=start,
                        end=end, days_per_week=per_week)


def _done(*days: int, reps: int = 30) -> list[Done]:
    return [Done("squat", MONDAY + dt.timedelta(days=d), reps) for d in days]


def test_a_week_is_prescribed_its_sessions_and_credited_at_most_those() -> None:
    # week 1: four sessions (one too many), week 2: one; 3 x 10 three times a week
    weeks = weeks_of("squat", _done(0, 1, 2, 3, 8), [_rx()], MONDAY,
                     MONDAY + dt.timedelta(days=13), MONDAY)
    assert [(w.sessions, w.sessions_prescribed, w.sessions_credited) for w in weeks] == [
        (4, 3, 3), (1, 3, 1)]
    assert [(w.reps_done, w.reps_prescribed, w.reps_credited) for w in weeks] == [
        (120, 90, 90), (30, 90, 30)]
    _, (total,) = adherence(_done(0, 1, 2, 3, 8), [_rx()], {"squat": "Squat"}, MONDAY,
                            MONDAY + dt.timedelta(days=13))
    # the excess of week 1 does not make up for week 2
    assert (total.sessions_credited, total.sessions_prescribed) == (4, 6)
    assert total.sessions_percent == pytest.approx(100 * 4 / 6)
    assert (total.reps_credited, total.reps_prescribed) == (120, 180)
    assert (total.sessions, total.reps_done, total.weeks) == (5, 150, 2)


def test_two_recordings_on_one_day_are_one_session() -> None:
    (week,) = weeks_of("squat", _done(0, 0, reps=12), [_rx()], MONDAY,
                       MONDAY + dt.timedelta(days=6), MONDAY)
    assert (week.sessions, week.reps_done) == (1, 24)


def test_part_weeks_get_their_share_rounded() -> None:
    # the prescription starts on Thursday (4 days of the week: 3 x 4/7 = 1.7 -> 2) and the
    # period ends on the next Tuesday (2 days: 0.86 -> 1)
    rx = _rx(start=MONDAY + dt.timedelta(days=3))
    weeks = weeks_of("squat", [], [rx], MONDAY, MONDAY + dt.timedelta(days=8), None)
    assert [(w.days_in_force, w.sessions_prescribed, w.reps_prescribed) for w in weeks] == [
        (4, 2, 60), (2, 1, 30)]
    # every day (7 a week) prescribes one session a day in force
    weeks = weeks_of("squat", [], [_rx(per_week=7, start=MONDAY + dt.timedelta(days=3))],
                     MONDAY, MONDAY + dt.timedelta(days=8), None)
    assert [w.sessions_prescribed for w in weeks] == [4, 2]
    # a single day of 3 a week: 0.43 -> nothing prescribed, yet a week in force
    (week,) = weeks_of("squat", _done(6), [_rx(start=MONDAY + dt.timedelta(days=6))], MONDAY,
                       MONDAY + dt.timedelta(days=6), None)
    assert (week.sessions_prescribed, week.sessions_credited, week.days_in_force) == (0, 0, 1)


def test_the_latest_prescription_in_force_sets_the_week() -> None:
    # 3 x 10 three times a week, replaced on Monday of week 2 by 2 x 15 twice a week
    old = _rx(end=MONDAY + dt.timedelta(days=6))
    new = _rx(per_week=2, sets=2, reps=15, start=MONDAY + dt.timedelta(days=7), pid=2)
    weeks = weeks_of("squat", [], [old, new], MONDAY, MONDAY + dt.timedelta(days=13), None)
    assert [(w.sessions_prescribed, w.reps_prescribed) for w in weeks] == [(3, 90), (2, 60)]
    # no prescription in force: nothing prescribed, the sessions still counted
    (week,) = weeks_of("squat", _done(1), [], MONDAY, MONDAY + dt.timedelta(days=6), None)
    assert (week.sessions, week.sessions_prescribed, week.reps_prescribed) == (1, None, None)
    _, (total,) = adherence(_done(1), [], {"squat": "Squat"}, MONDAY,
                            MONDAY + dt.timedelta(days=6))
    assert total.sessions_percent is None and total.reps_percent is None and total.weeks == 0


def test_a_prescription_without_start_begins_with_the_first_session() -> None:
    weeks, (total,) = adherence(_done(3), [_rx(start=None)], {"squat": "Squat"}, MONDAY,
                                MONDAY + dt.timedelta(days=6))
    assert weeks[0].days_in_force == 4 and total.sessions_prescribed == 2


BAND = (90.0, 120.0)


@pytest.mark.parametrize("before, after, expected", [
    (80.0, 100.0, "better"),     # below the band, into it
    (80.0, 85.0, "better"),      # below it, closer
    (140.0, 125.0, "better"),    # beyond it, back towards it
    (140.0, 100.0, "better"),    # beyond it, into it
    (100.0, 135.0, "worse"),     # in it, beyond it
    (100.0, 70.0, "worse"),      # in it, below it
    (95.0, 115.0, "unchanged"),  # within the band both times
    (85.0, 85.5, "unchanged"),   # less than a degree
    (math.nan, 100.0, ""),
])
def test_better_is_closer_to_the_target_band(before: float, after: float,
                                              expected: str) -> None:
    assert verdict(before, after, BAND, 135.0) == expected


def test_without_a_band_better_is_closer_to_the_norm() -> None:
    assert verdict(100.0, 120.0, None, 135.0) == "better"
    assert verdict(130.0, 150.0, None, 135.0) == "worse"  # past the norm, further
    assert verdict(100.0, 120.0, None, None) == ""  # nothing to judge against


def _rep(index: int, peak: float) -> RepScore:
    return RepScore(index=index, kind="complete", start_frame=10 * index,
                    peak_frame=10 * index + 4, end_frame=10 * index + 9, start_s=float(index),
                    peak_s=index + 0.4, end_s=index + 0.9, min_deg=0.0, max_deg=peak,
                    rom_deg=peak, peak_deg=peak, target_met=True, duration_s=0.9,
                    time_to_peak_s=0.4, tracked_fraction=1.0, compensations={}, score=90,
                    flags=())


def test_best_rep_is_the_one_closest_to_the_band_not_the_highest() -> None:
    reps = [_rep(1, 85.0), _rep(2, 150.0), _rep(3, 118.0), _rep(4, 135.0)]
    best = best_rep(reps, "low", BAND, 135.0)
    assert best is not None and best.index == 3  # inside the band; 150 is the highest
    assert best_rep(reps[:2] + reps[3:], "low", BAND, None).index == 1  # type: ignore[union-attr]
    assert best_rep(reps, "low", None, 140.0).index == 4  # type: ignore[union-attr]
    assert best_rep(reps, "low", None, None).index == 2  # type: ignore[union-attr]
    assert best_rep(reps, "high", None, None).index == 1  # type: ignore[union-attr]
    assert best_rep([_rep(1, math.nan)], "low", BAND, None) is None


def test_wrap_keeps_every_word_and_fits_the_width() -> None:
    from rehab.reports import pdf

    text = "Seated knee extension with a resistance band " * 4 + "x" * 90
    lines = pdf.wrap(text, 120.0, 8.0)
    assert len(lines) > 5
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")
    assert all(pdf.text_width(line, 8.0) <= 120.0 for line in lines)
    assert pdf.wrap("", 100.0, 8.0) == [""]


def test_table_columns_fit_the_page_and_their_longest_word() -> None:
    from rehab.reports import pdf

    long = "Seated shoulder flexion with a resistance band anchored under the foot"
    table = Table((Column("Date"), Column("Exercise"), Column("Reps", Role.NUMBER),
                   Column("Note", Role.WIDE)),
                  tuple((Cell("2026-10-05"), Cell(long), Cell("30"), Cell(long * 3))
                        for _ in range(3)))
    lay = pdf.table_layout(table)
    assert sum(lay.widths) == pytest.approx(pdf.TEXT_W)
    assert lay.size == pdf.TABLE_FONTSIZES[0]
    date_w = pdf.text_width("2026-10-05", lay.size) + 2 * pdf.CELL_PAD
    assert lay.widths[0] >= date_w and lay.widths[2] >= pdf.text_width("Reps", 8, True)
    # a short table is as wide as the page, the free text taking what is left
    short = Table((Column("A"), Column("B", Role.WIDE)), ((Cell("x"), Cell("y")),))
    widths = pdf.table_layout(short).widths
    assert sum(widths) == pytest.approx(pdf.TEXT_W) and widths[1] > widths[0]
    with pytest.raises(ValueError, match="2 cells in a table of 1 columns"):
        Table((Column("A"),), ((Cell("x"), Cell("y")),))


def test_the_font_shrinks_before_a_word_is_split() -> None:
    """Columns whose words do not fit at 8 pt get a smaller size (down to 6 pt) at which
    every column holds its longest word (bold headers included)."""
    from rehab.reports import pdf

    for n in (7, 8):
        words = [f"Compensation{i}" for i in range(n)]
        table = Table(tuple(Column(w) for w in words), (tuple(Cell(w) for w in words),))
        lay = pdf.table_layout(table)
        assert pdf.TABLE_FONTSIZES[-1] <= lay.size < pdf.TABLE_FONTSIZES[0]
        for w, width in zip(words, lay.widths):
            assert width >= pdf.text_width(w, lay.size, True) + 2 * pdf.CELL_PAD - 1e-6


def test_document_texts_are_every_text_shown() -> None:
    doc = Document("Title", "sub", (Paragraph("fact"),), (
        Section("s", "Section", (Paragraph("para"), Table((Column("H"),), ((Cell("c"),),),
                                                           note="n"),
                                 Table((Column("E"),), (), empty="none"))),), "foot")
    assert doc.texts() == ["Title", "fact", "Section", "para", "H", "c", "n", "none"]
