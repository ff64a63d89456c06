"""The report's tables as plain text cells, shared by the PDF and HTML renderers.

Cells hold raw text (user values unescaped); each renderer escapes or truncates them.
"""

from __future__ import annotations

import math

from rehab.codec import alternation_text
from rehab.reports.data import ReportData, SessionSummary

Table = tuple[list[str], list[list[str]]]
NUMERIC_REP_COLUMNS = frozenset({"Rep", "Start", "Duration", "To peak", "Peak", "Excursion",
                                 "Score"})
"""Headers of `reps_table` whose cells are numbers (right-aligned)."""


def deg(x: float | None, digits: int = 0) -> str:
    """Degrees for display, ``–`` when unknown."""
    if x is None or not math.isfinite(x):
        return "–"
    return f"{x:.{digits}f}°"


def band(target: tuple[float, float] | None) -> str:
    return "–" if target is None else f"{target[0]:g}–{target[1]:g}°"


def signed(x: float) -> str:
    return "–" if not math.isfinite(x) else f"{x:+.0f}°"


def side_label(side: str | None) -> str:
    return "–" if side in (None, "", "none") else str(side)


def period_text(data: ReportData) -> str:
    days = (data.end - data.start).days + 1
    return f"{data.start.isoformat()} to {data.end.isoformat()} ({days} day{'s' * (days != 1)})"


def prescriptions_table(data: ReportData) -> Table:
    header = ["Exercise", "Side", "Target (peak)", "Sets × reps", "Days/week", "From", "To"]
    rows = [[p.exercise_id, side_label(p.side), band((p.target_min, p.target_max)),
             f"{p.sets} × {p.reps}", str(p.days_per_week),
             p.start.isoformat() if p.start else "first session",
             p.end.isoformat() if p.end else "open"] for p in data.prescriptions]
    return header, rows


def headline_table(data: ReportData) -> Table:
    header = ["Exercise, side", "n", "First (median)", "Now (median)", "Change",
              "Target", "Norm", "% norm"]
    rows = []
    for h in data.headlines:
        first = f"{deg(h.first)} ({h.first_day.isoformat()})" if h.first_day else "–"
        now = f"{deg(h.last)} ({h.last_day.isoformat()})" if h.last_day else "–"
        pct = (f"{100 * h.last / h.norm:.0f}%" if h.norm and math.isfinite(h.last) else "–")
        rows.append([h.label, str(h.n_sessions), first, now, signed(h.change), band(h.target),
                     deg(h.norm), pct])
    return header, rows


def adherence_table(data: ReportData) -> Table:
    header = ["Exercise", "Sessions", "Reps done", "Reps prescribed", "Adherence"]
    rows = []
    for a in data.adherence:
        presc = "–" if a.reps_prescribed is None else f"{a.reps_prescribed:.0f}"
        pct = "–" if a.percent is None else f"{a.percent:.0f}%"
        rows.append([a.exercise_name, str(a.sessions), str(a.reps_done), presc, pct])
    return header, rows


def reps_table(summary: SessionSummary) -> Table:
    """The counted reps of a session; an alternating session's with a ``Side`` column
    after ``Rep`` (a rep stored without a side: the session's)."""
    header = ["Rep", "Start", "Duration", "To peak", "Peak", "Excursion", "In target", "Score",
              "Flags"]
    rows = [[str(r.index), f"{r.start_s:.1f} s", f"{r.duration_s:.1f} s",
             f"{r.time_to_peak_s:.1f} s",
             deg(r.peak_deg), deg(r.rom_deg), "yes" if r.target_met else "no", str(r.score),
             ", ".join(f.replace("_", " ") for f in r.flags) or "–"] for r in summary.reps]
    if summary.session.alternating:
        header.insert(1, "Side")
        for row, r in zip(rows, summary.reps):
            row.insert(1, side_label(r.side or summary.session.side))
    return header, rows


def side_text(summary: SessionSummary) -> str:
    """``side right``; for an alternating session ``alternating (left 5, right 4)``: its
    counted reps per side."""
    ses = summary.session
    if not ses.alternating:
        return f"side {side_label(ses.side)}"
    return alternation_text(summary.reps, ses.side)


def sides_table(data: ReportData) -> Table:
    header = ["Exercise", "Left (median)", "Right (median)", "Difference", "Target"]
    rows = [[p.exercise_name, f"{deg(p.left)} ({p.left_day.isoformat()})",
             f"{deg(p.right)} ({p.right_day.isoformat()})", deg(abs(p.left - p.right)),
             band(p.target)] for p in data.sides]
    return header, rows


def latest_lines(s: SessionSummary) -> list[str]:
    """Facts about the latest session, one per line."""
    ses = s.session
    end = ses.ended.strftime("%H:%M") if ses.ended else "interrupted"
    lines = [f"{ses.exercise_name} ({ses.exercise_id}), {side_text(s)}, "
             f"{ses.started:%Y-%m-%d %H:%M}–{end}, {ses.mode}",
             f"{s.n_reps} counted rep(s), median peak {deg(s.median)}, best {deg(s.best)}, "
             f"mean score {'–' if not math.isfinite(s.mean_score) else f'{s.mean_score:.0f}'}"
             + (f"; {len(s.uncounted)} movement(s) not counted" if s.uncounted else "")]
    model = ses.model.rsplit("/", 1)[-1] if ses.model else "landmarks file"
    lines.append(f"source: {ses.source.rsplit('/', 1)[-1] or '–'}; model: {model}; "
                 f"rehab {ses.software_version}")
    return lines


def quality_lines(data: ReportData) -> list[str]:
    lines = []
    for q in data.quality:
        when = (q.first_day.isoformat() if q.first_day == q.last_day
                else f"{q.first_day.isoformat()} to {q.last_day.isoformat()}")
        times = f"{q.count} time{'s' * (q.count != 1)}"
        lines.append(f"{q.exercise_name}: {q.text} ({times}, {when})")
    if data.quality_omitted:
        lines.append(f"… and {data.quality_omitted} other kinds of note (see the export)")
    return lines
