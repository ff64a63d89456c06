"""What the progress report says: `build_document` turns `ReportData` into one `Document`
that the PDF and the HTML renderers both lay out (`rehab.reports.document`).

Sections, in order: summary (the patient, prescriptions, range of motion per exercise now
vs previous vs first session vs target vs norm with better/worse in words, adherence
totals), recovery trend (range of motion with pain and exertion under it on the same date
axis, the limb symmetry index), adherence per week (sessions and reps done against
prescribed), the latest day (every session of it: checks, angle trace, repetitions), every
session of the period, pain, exertion and notes (the patient's and the clinicians'),
quality notes, and the sign-off (the disclaimer and the clinician's name, signature and
date).
"""

from __future__ import annotations

import functools
import math
from typing import Sequence

from matplotlib.axes import Axes

from rehab.reports import plots, tables
from rehab.reports.adherence import ADHERENCE_RULE
from rehab.reports.data import (BEST_REP_RULE, VERDICT_RULE, Entry, LatestSession, ReportData,
                                Trace, Trend)
from rehab.reports.document import (Block, Cell, Column, Document, Heading, Paragraph, Plot,
                                    Role, Section, SignOff, Table, Tone)
from rehab.reports.norms import NORMATIVE_SOURCE

TITLE = "Rehabilitation progress report"
DISCLAIMER = ("Angles are measured from video by pose estimation (clinical neutral-zero "
              "convention). This report is a decision-support tool: it supports, and does not "
              "replace, goniometric measurement and clinical assessment by a clinician.")
SIGN_OFF = "Reviewed by the treating clinician:"
FEEDBACK_NOTE = ("Pain: 0–10 numeric rating scale (NRS); exertion: Borg CR10 rating of "
                 "perceived exertion (0–10), as reported by the patient after the session.")
SESSIONS_NOTE = ("Source: camera = recorded and measured; logged = done at home without a "
                 "camera, as reported. Reps: counted repetitions (camera) or sets × reps "
                 "(logged). Median peak and best rep: peak angle of the counted reps. "
                 + BEST_REP_RULE)
TONES = {"better": Tone.BETTER, "worse": Tone.WORSE}


def _cells(*texts: str) -> tuple[Cell, ...]:
    return tuple(Cell(t) for t in texts)


def _score(x: int | None) -> str:
    return "–" if x is None else f"{x}/10"


def _change(before: float, after: float, word: str) -> Cell:
    """``−5°, better`` in the verdict's tone."""
    if not (math.isfinite(before) and math.isfinite(after)):
        return Cell("–")
    text = tables.signed(after - before).replace("-", "−")
    return Cell(f"{text}, {word}" if word else text, TONES.get(word, Tone.PLAIN))


def _value(x: float, day: object) -> str:
    return "–" if day is None or not math.isfinite(x) else f"{tables.deg(x)} ({day})"


def comparison_table(data: ReportData) -> Table:
    """Per exercise and side: now, previous, first, target, norm, LSI."""
    cols = (Column("Exercise, side"), Column("Scored side"), Column("Now (median peak)"),
            Column("Previous"), Column("Change vs previous"), Column("First"),
            Column("Change vs first"), Column("Target"), Column("Norm (% of norm)"),
            Column("LSI", Role.NUMBER))
    rows = []
    for h in data.headlines:
        norm = "–" if h.norm is None else (
            tables.deg(h.norm) + (f" ({100 * h.last / h.norm:.0f}%)"
                                  if math.isfinite(h.last) else ""))
        rows.append((Cell(h.label), Cell(tables.side_label(h.involved or None)),
                     Cell(_value(h.last, h.last_day), Tone.STRONG),
                     Cell(_value(h.previous, h.previous_day)),
                     _change(h.previous, h.last, h.verdict_previous),
                     Cell(_value(h.first, h.first_day) if h.n_measured > 1 else "–"),
                     _change(h.first, h.last, h.verdict) if h.n_measured > 1 else Cell("–"),
                     Cell(tables.band(h.target)), Cell(norm),
                     Cell(tables.percent(h.lsi))))
    return Table(cols, tuple(rows), empty="No sessions recorded in this period.",
                 note=(f"Median peak angle of the counted reps per session. Norm: "
                       f"{NORMATIVE_SOURCE}. LSI: limb symmetry index, the involved side's "
                       f"range of motion as a percentage of the other side's (latest session "
                       f"with both sides measured)."))


def verdict_sentences(data: ReportData) -> list[Paragraph]:
    """One sentence per exercise and side with two measured sessions."""
    out = []
    for h in data.headlines:
        if h.n_measured < 2 or h.previous_day is None:
            continue
        prev = h.verdict_previous or "not judged (no target or norm)"
        first = h.verdict or "not judged"
        out.append(Paragraph(
            f"{h.label}: {tables.deg(h.last)} on {h.last_day}; {prev} than the previous "
            f"session ({tables.deg(h.previous)} on {h.previous_day}) and {first} than the "
            f"first ({tables.deg(h.first)} on {h.first_day}).".replace(
                "unchanged than", "unchanged from"),
            TONES.get(h.verdict_previous, Tone.PLAIN)))
    return out


def prescriptions_table(data: ReportData) -> Table:
    header, rows = tables.prescriptions_table(data)
    roles = [Role.TEXT, Role.TEXT, Role.TEXT, Role.NUMBER, Role.NUMBER, Role.DATE, Role.DATE]
    return Table(tuple(Column(h, r) for h, r in zip(header, roles)),
                 tuple(_cells(*r) for r in rows),
                 empty="No prescription on file for this period.")


def _done(done: int, prescribed: int | None, pct: float | None) -> str:
    if prescribed is None:
        return f"{done} (none prescribed)"
    return f"{done} of {prescribed} ({tables.percent(pct)})"


def adherence_table(data: ReportData) -> Table:
    cols = (Column("Exercise"), Column("Weeks in force", Role.NUMBER),
            Column("Sessions done of prescribed"), Column("Reps done of prescribed"))
    rows = []
    for a in data.adherence:
        rows.append((Cell(a.exercise_name), Cell(str(a.weeks)),
                     Cell(_done(a.sessions_credited if a.sessions_prescribed else a.sessions,
                                a.sessions_prescribed, a.sessions_percent)),
                     Cell(_done(a.reps_credited if a.reps_prescribed else a.reps_done,
                                a.reps_prescribed, a.reps_percent))))
    extra = [a for a in data.adherence if a.sessions_prescribed and (
        a.sessions > a.sessions_credited or a.reps_done > a.reps_credited)]
    note = "; ".join(f"{a.exercise_name}: {a.sessions} session(s) and {a.reps_done} reps done "
                     f"in all" for a in extra)
    return Table(cols, tuple(rows), empty="No sessions and no prescription in this period.",
                 note=(note + " (the excess of a week is not credited)") if note else "")


def weeks_table(data: ReportData) -> Table:
    cols = (Column("Week of", Role.DATE), Column("Exercise"), Column("Sessions done", Role.NUMBER),
            Column("Sessions prescribed", Role.NUMBER), Column("Reps done", Role.NUMBER),
            Column("Reps prescribed", Role.NUMBER))
    names = {a.exercise_id: a.exercise_name for a in data.adherence}
    rows = []
    for w in sorted(data.weeks, key=lambda w: (w.start, w.exercise_id)):
        if w.sessions_prescribed is None and not w.sessions:
            continue
        rows.append(_cells(w.start.isoformat(), names.get(w.exercise_id, w.exercise_id),
                           str(w.sessions), "–" if w.sessions_prescribed is None
                           else str(w.sessions_prescribed), str(w.reps_done),
                           "–" if w.reps_prescribed is None else str(w.reps_prescribed)))
    return Table(cols, tuple(rows), empty="No sessions and no prescription in this period.")


def _sets(e: Entry) -> str:
    return "–" if e.sets is None else str(e.sets)


def sessions_table(data: ReportData) -> Table:
    """Every session of the period, camera and logged."""
    cols = (Column("Date", Role.DATE), Column("Time", Role.DATE), Column("Exercise"), Column("Side"),
            Column("Source"), Column("Sets", Role.NUMBER), Column("Reps", Role.NUMBER),
            Column("Median peak", Role.NUMBER), Column("Best rep", Role.NUMBER),
            Column("Quality"), Column("Pain", Role.NUMBER), Column("Exertion", Role.NUMBER))
    rows = []
    for e in data.entries:
        s = e.summary
        rows.append(_cells(
            e.day.isoformat(), "–" if e.time is None else e.time.strftime("%H:%M"),
            e.exercise_name, tables.side_label(e.side or None), e.source, _sets(e),
            str(e.reps), "–" if s is None else tables.deg(s.median),
            "–" if s is None else tables.deg(s.best), "–" if s is None else s.grades(),
            _score(e.feedback.pain), _score(e.feedback.exertion)))
    return Table(cols, tuple(rows), empty="No sessions recorded in this period.",
                 note=SESSIONS_NOTE)


def patient_notes_table(data: ReportData) -> Table:
    cols = (Column("Date", Role.DATE), Column("Exercise"), Column("Pain", Role.NUMBER),
            Column("Exertion", Role.NUMBER), Column("Patient's note", Role.WIDE))
    rows = tuple(_cells(e.day.isoformat(), e.exercise_name, _score(e.feedback.pain),
                        _score(e.feedback.exertion), e.feedback.note)
                 for e in data.entries if e.feedback.note.strip())
    return Table(cols, rows, empty="The patient left no note on a session in this period.")


def clinician_notes_table(data: ReportData) -> Table:
    by_id = {e.session_id: e for e in data.entries if e.session_id is not None}
    cols = (Column("Date", Role.DATE), Column("Session"), Column("Clinician's note", Role.WIDE))
    rows = []
    for n in data.clinician_notes:
        e = by_id.get(n.session_id) if n.session_id is not None else None
        about = ("–" if n.session_id is None else
                 f"{e.exercise_name}, {e.day}" if e is not None else f"session {n.session_id}")
        rows.append(_cells(n.day.isoformat(), about, n.text))
    return Table(cols, tuple(rows), empty="No clinician note in this period.")


def reps_table(detail: LatestSession, with_distances: bool = True) -> Table:
    assert detail.summary is not None
    header, rows = tables.reps_table(detail.summary)
    numbers = set(tables.NUMERIC_REP_COLUMNS)
    if detail.distances is not None and with_distances:
        header, rows = detail.distances.extend((header, rows))
        numbers |= set(detail.distances.headers)
    roles = [Role.WIDE if h == "Flags" else Role.NUMBER if h in numbers else Role.TEXT
             for h in header]
    s = detail.summary
    notes = []
    if s.best_index is not None:
        notes.append(f"Best rep: rep {s.best_index} ({tables.deg(s.best)}), the counted rep "
                     f"closest to the target band {tables.band(s.target)}"
                     if s.target else f"Best rep: rep {s.best_index} ({tables.deg(s.best)})")
    if detail.distances is not None and s.reps:
        notes.append(detail.distances.note)
    return Table(tuple(Column(h, r) for h, r in zip(header, roles)),
                 tuple(_cells(*r) for r in rows), empty="No counted repetition.",
                 note=". ".join(notes) + "." if notes else "")


def _section(key: str, title: str, blocks: Sequence[Block], new_page: bool = True) -> Section:
    return Section(key, title, tuple(blocks), new_page)


def _summary(data: ReportData) -> Section:
    blocks: list[Block] = [Heading("Prescriptions"), prescriptions_table(data),
                           Heading("Range of motion per exercise: now vs previous vs first "
                                   "session vs target vs norm"),
                           comparison_table(data), *verdict_sentences(data),
                           Paragraph(VERDICT_RULE, Tone.MUTED),
                           Heading("Adherence to the prescription"), adherence_table(data),
                           Paragraph(ADHERENCE_RULE, Tone.MUTED)]
    return _section("summary", "Summary", blocks, new_page=False)


def _feedback_of(data: ReportData, exercise_id: str, side: str) -> list[Entry]:
    return [e for e in data.entries if e.exercise_id == exercise_id
            and (e.side in ("", side) or side in ("", "none") or e.source == "logged")]


def _trend(data: ReportData) -> Section:
    blocks: list[Block] = []
    if not data.trends:
        blocks.append(Paragraph("No sessions recorded in this period.", Tone.EMPTY))
    for trend in data.trends:
        feedback = _feedback_of(data, trend.exercise_id, trend.side)

        def draw(axes: Sequence[Axes], t: Trend = trend,
                 f: list[Entry] = feedback) -> None:
            plots.plot_recovery_trend(t, ax=axes[0], period=(data.start, data.end))
            plots.plot_feedback(f, ax=axes[1], period=(data.start, data.end))

        blocks.append(Plot(draw, f"{trend.label}: peak angle per session (median with "
                                 f"interquartile range and min–max; best rep), target band "
                                 f"and norm; below, pain and exertion reported for its "
                                 f"sessions (camera and logged)", (2.7, 1.5)))
    if data.symmetry:
        blocks.append(Heading("Limb symmetry index"))
        blocks.append(Plot(functools.partial(_symmetry, data),
                           "Limb symmetry index per session: the involved side's range of "
                           "motion as a percentage of the other side's (100% = equal)",
                           (2.4,)))
        header, rows = tables.symmetry_table(data)
        blocks.append(Table(tuple(Column(h, Role.TEXT if i == 0 else Role.NUMBER)
                                  for i, h in enumerate(header)),
                            tuple(_cells(*r) for r in rows)))
    return _section("trend", "Recovery trend", blocks)


def _symmetry(data: ReportData, axes: Sequence[Axes]) -> None:
    plots.plot_symmetry_trend(data.symmetry, ax=axes[0], period=(data.start, data.end))


def _adherence(data: ReportData) -> Section:
    names = {a.exercise_id: a.exercise_name for a in data.adherence}

    def draw(axes: Sequence[Axes]) -> None:
        plots.plot_adherence(data.weeks, names, axes, period=(data.start, data.end))

    return _section("adherence", "Adherence per week", [
        Paragraph(ADHERENCE_RULE, Tone.MUTED),
        Plot(draw, "Sessions and repetitions per calendar week: done (filled bars) against "
                   "prescribed (outlined bars), one colour per exercise", (2.4, 2.4)),
        weeks_table(data)])


def _latest(data: ReportData) -> Section:
    day = data.last_day
    if day is None:
        return _section("latest", "Latest day",
                        [Paragraph("No sessions recorded in this period.", Tone.EMPTY)])
    blocks: list[Block] = []
    n = len(data.latest_day)
    later = [e for e in data.latest_logged if e.day > day]
    text = (f"{n} session(s) recorded with the camera on {day.isoformat()}, each shown below"
            if n else f"{len(data.latest_logged)} session(s) logged on {day.isoformat()}")
    if later:
        text += f"; {len(later)} session(s) logged without a camera since, listed after them"
    blocks.append(Paragraph(text + "."))
    for detail in data.latest_day:
        s = detail.summary
        assert s is not None
        blocks.append(Heading(f"{s.session.exercise_name}, {tables.side_text(s)}, "
                              f"{tables.when_text(s)}"))
        blocks += [Paragraph(line, Tone.MUTED) for line in tables.latest_lines(s)]
        warning = tables.view_warning(s)
        blocks += [Paragraph(line, Tone.WARNING if line == warning else Tone.MUTED)
                   for line in tables.check_lines(s)]
        fb = s.feedback
        if fb.pain is not None or fb.exertion is not None or fb.note or fb.sets is not None:
            blocks.append(Paragraph(_feedback_line(fb.pain, fb.exertion, fb.sets, fb.note)))
        if detail.trace is not None:
            trace = detail.trace
            blocks.append(Plot(functools.partial(_trace, trace),
                               "Smoothed angle with repetition boundaries and the target band",
                               (2.3,)))
        else:
            blocks.append(Paragraph(f"No angle trace: {detail.trace_problem}.", Tone.EMPTY))
        blocks += [Heading("Repetitions"), reps_table(detail)]
    for e in data.latest_logged:
        blocks.append(Heading(f"{e.exercise_name}, logged without a camera, {e.day}"))
        blocks.append(Paragraph(
            f"{e.sets} set(s) × {e.reps // max(1, e.sets or 1)} reps = {e.reps} reps; "
            + _feedback_line(e.feedback.pain, e.feedback.exertion, None, e.feedback.note)))
    if data.sides:
        blocks.append(Heading("Left / right (latest session of each side, median rep)"))
        header, rows = tables.sides_table(data)
        blocks.append(Table(tuple(Column(h) for h in header), tuple(_cells(*r) for r in rows)))
    return _section("latest", f"Latest day: {day.isoformat()}", blocks)


def _trace(trace: Trace, axes: Sequence[Axes]) -> None:
    plots.plot_angle_trace(trace, ax=axes[0])


def _feedback_line(pain: int | None, exertion: int | None, sets: int | None,
                   note: str) -> str:
    parts = [f"pain {_score(pain)}", f"exertion {_score(exertion)}"]
    if sets is not None:
        parts.append(f"{sets} set(s)")
    text = "Patient reported: " + ", ".join(parts)
    return text + (f"; note: “{note}”" if note.strip() else "")


def _sessions(data: ReportData) -> Section:
    return _section("sessions", "All sessions", [sessions_table(data)])


def _notes(data: ReportData) -> Section:
    return _section("notes", "Pain, exertion and notes", [
        Paragraph(FEEDBACK_NOTE, Tone.MUTED),
        Heading("The patient's notes on sessions"), patient_notes_table(data),
        Heading("Clinician notes"), clinician_notes_table(data)], new_page=False)


def _quality(data: ReportData) -> Section:
    lines = tables.quality_lines(data)
    blocks: list[Block] = [Paragraph(tables.quality_intro(data), Tone.MUTED)]
    if not lines:
        blocks.append(Paragraph(tables.QUALITY_EMPTY, Tone.EMPTY))
    blocks += [Paragraph(f"• {line}") for line in lines]
    return _section("quality", "Quality notes", blocks)


def _sign_off() -> Section:
    return _section("signoff", "Clinical review", [Paragraph(DISCLAIMER, Tone.STRONG),
                                                   SignOff(SIGN_OFF)], new_page=False)


def _facts(data: ReportData) -> tuple[Paragraph, ...]:
    p = data.patient
    camera = len(data.sessions)
    logged = len(data.logged)
    facts = [Paragraph(f"Patient: {p.display_name} (id {p.id})", Tone.STRONG),
             Paragraph(f"Affected side: {tables.side_label(p.affected_side)}"),
             Paragraph(f"Period: {tables.period_text(data)}"
                       + (f" · exercise {data.exercise_filter}" if data.exercise_filter else "")),
             Paragraph(f"Sessions: {camera + logged} ({camera} recorded with the camera, "
                       f"{logged} logged without one)"
                       + (f", {data.interrupted} interrupted" if data.interrupted else ""))]
    if p.notes:
        facts.append(Paragraph(f"Notes: {p.notes}", Tone.MUTED))
    return tuple(facts)


def build_document(data: ReportData) -> Document:
    """The report's one document, for every renderer."""
    p = data.patient
    return Document(
        title=TITLE, subtitle=f"{p.display_name} ({p.id}) · {tables.period_text(data)}",
        facts=_facts(data),
        sections=(_summary(data), _trend(data), _adherence(data), _latest(data),
                  _sessions(data), _notes(data), _quality(data), _sign_off()),
        footer=f"rehab {data.software_version} · generated {data.generated:%Y-%m-%d %H:%M}")


__all__ = ["DISCLAIMER", "TITLE", "build_document"]
