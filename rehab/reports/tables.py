"""The report's texts and tables as plain text cells, for `rehab.reports.content` (which
puts them in the report's one document).

Cells hold raw text (user values unescaped); each renderer escapes or wraps them.
"""

from __future__ import annotations

import math

from rehab.codec import alternation_text
from rehab.reports.data import ReportData, SessionSummary
from rehab.store import describe

Table = tuple[list[str], list[list[str]]]
NUMERIC_REP_COLUMNS = frozenset({"Rep", "Start", "Duration", "To peak", "Peak", "Excursion",
                                 "Score", "Left peak", "Right peak", "LSI"})
"""Headers of `reps_table` whose cells are numbers (right-aligned)."""
BILATERAL_REP_COLUMNS = ("Left peak", "Right peak", "LSI")
"""The per-rep columns of a bilateral session: each side's peak and the limb symmetry
index (involved / uninvolved range of motion x 100)."""
QUALITY_INTRO = ("Camera view warnings (the body turned away from the view the exercise is "
                 "measured in), left/right label swaps repaired in the pose, repetitions "
                 "flagged for the wrong view, graded poor for measurement or rejected for "
                 "tracking loss, other remarks of the analyses, interrupted sessions.")
"""What the quality-notes section lists (`quality_lines`)."""
QUALITY_EMPTY = "No tracking, camera view or measurement problems were noted in this period."


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
    header = ["Exercise", "Side", "Target (peak)", "Sets × reps", "Sessions/week", "From", "To"]
    names = {a.exercise_id: a.exercise_name for a in data.adherence}
    rows = [[names.get(p.exercise_id, p.exercise_id), side_label(p.side), band((p.target_min, p.target_max)),
             f"{p.sets} × {p.reps}", str(p.days_per_week),
             p.start.isoformat() if p.start else "first session",
             p.end.isoformat() if p.end else "open"] for p in data.prescriptions]
    return header, rows


def percent(x: float | None) -> str:
    return "–" if x is None or not math.isfinite(x) else f"{x:.0f}%"


def reps_table(summary: SessionSummary) -> Table:
    """The counted reps of a session with their quality grade (``–`` before grades
    existed); a bilateral session's with each side's peak and the rep's limb symmetry index
    (`BILATERAL_REP_COLUMNS`) before the flags; an alternating session's with a ``Side``
    column after ``Rep`` (a rep stored without a side: the session's)."""
    both = summary.bilateral
    header = ["Rep", "Start", "Duration", "To peak", "Peak", "Excursion", "In target", "Score",
              "Quality", *(BILATERAL_REP_COLUMNS if both else ()), "Flags"]
    rows = [[str(r.index), f"{r.start_s:.1f} s", f"{r.duration_s:.1f} s",
             f"{r.time_to_peak_s:.1f} s",
             deg(r.peak_deg), deg(r.rom_deg), "yes" if r.target_met else "no", str(r.score),
             r.quality or "–",
             *([deg(r.left_peak_deg), deg(r.right_peak_deg), percent(r.symmetry_pct)]
               if both else []),
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


def symmetry_table(data: ReportData) -> Table:
    """Per exercise and involved side: the limb symmetry index of the first and the latest
    session that has one, with the latest session's range of motion on each side."""
    header = ["Exercise, involved / other side", "Sessions", "First", "Latest",
              "Latest ROM left / right"]
    rows = []
    for t in data.symmetry:
        first, last = t.sessions[0], t.sessions[-1]
        sym = last.session.symmetry
        assert sym is not None
        rows.append([t.label, str(len(t.sessions)),
                     f"{percent(t.index(first))} ({first.session.day.isoformat()})",
                     f"{percent(t.index(last))} ({last.session.day.isoformat()})",
                     f"{deg(sym.left_rom_deg)} / {deg(sym.right_rom_deg)}"])
    return header, rows


def sides_table(data: ReportData) -> Table:
    header = ["Exercise", "Left (median)", "Right (median)", "Difference", "Target"]
    rows = [[p.exercise_name, f"{deg(p.left)} ({p.left_day.isoformat()})",
             f"{deg(p.right)} ({p.right_day.isoformat()})", deg(abs(p.left - p.right)),
             band(p.target)] for p in data.sides]
    return header, rows


def latest_lines(s: SessionSummary) -> list[str]:
    """Facts about the latest session, one per line."""
    ses = s.session
    lines = [f"{ses.exercise_name} ({ses.exercise_id}), {side_text(s)}, "
             f"{when_text(s)}, {ses.mode}",
             f"{s.n_reps} counted rep(s), median peak {deg(s.median)}, best rep"
             + (f" {s.best_index}" if s.best_index is not None else "") + f" {deg(s.best)}, "
             f"mean score {'–' if not math.isfinite(s.mean_score) else f'{s.mean_score:.0f}'}"
             + (f"; {len(s.uncounted)} movement(s) not counted" if s.uncounted else "")]
    model = ses.model.rsplit("/", 1)[-1] if ses.model else "landmarks file"
    lines.append(f"source: {ses.source.rsplit('/', 1)[-1] or '–'}; model: {model}; "
                 f"rehab {ses.software_version}")
    return lines


def when_text(s: SessionSummary) -> str:
    """``2026-11-30 09:30–09:41``; a session stored with a date only: ``2026-11-30`` (and
    ``interrupted`` when it never finished)."""
    ses = s.session
    if s.date_only:
        return ses.day.isoformat() + (" (interrupted)" if ses.ended is None else "")
    end = ses.ended.strftime("%H:%M") if ses.ended else "interrupted"
    return f"{ses.started:%Y-%m-%d %H:%M}–{end}"


def check_lines(s: SessionSummary) -> list[str]:
    """The latest session's measurement checks, one per line (`rehab.store.describe`): the
    side scored and why, the limb symmetry index, the grades, the view, the label swaps;
    lines a session stored before these checks has no data for are left out. The view line
    is `view_warning`'s when there is one."""
    return describe.check_lines(s.session, s.reps, "°")


def view_warning(s: SessionSummary) -> str:
    """The latest session's camera view warning ('' when its view was within the tolerance
    or not checked)."""
    view = s.session.view
    return describe.view_text(view, "°") if view is not None and view.warning else ""


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


def quality_intro(data: ReportData) -> str:
    """`QUALITY_INTRO`, with the sessions whose camera view was never checked."""
    n = data.view_unchecked
    if not n:
        return QUALITY_INTRO
    return (QUALITY_INTRO + f" The camera view was not checked in {n} of "
            f"{len(data.sessions)} session(s) (stored before the check, or live).")
