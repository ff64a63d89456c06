"""Assemble what a progress report shows from the store (no drawing here).

"ROM" in the report is the peak angle a repetition reaches (neutral-zero degrees): the value
the target band and the normative value refer to. The in-rep excursion (max - min) is shown
in the per-rep table as "excursion".

The measurement checks are shown as stored: each rep's quality grade, both sides' peaks and
its limb symmetry index; each session's involved side, symmetry, view check and swap repair
(`SessionRecord`); sessions stored before these checks have None there and show "–" or
nothing. The quality notes list the view warnings, the swap repairs and the reps flagged
for the wrong view or graded poor (`_session_remarks`); `SymmetryTrend` follows the limb
symmetry index over sessions.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import math
import re

import numpy as np

from rehab import __version__
from rehab.limits import EARLIEST_DATE, latest_plan_date, plan_date_problem
from rehab.reports.norms import normative_deg
from rehab.model import Flag, Note, NoteCode, Rep, Scale
from rehab.store import Patient, Prescription, SessionRecord, Store
from rehab.store.db import StoreError

log = logging.getLogger(__name__)

MAX_QUALITY_GROUPS = 60
DISTANCE_COLUMNS = (("hip_excursion_cm", "Hip excursion (cm)"),
                    ("heel_rise_cm", "Heel rise (cm)"),
                    ("ankle_separation_change_cm", "Step length (cm)"))
"""Per-rep distances the latest-session table may show (`rehab.model.Distances` field, header),
in this order; a column is shown when any rep has a value for it."""
MAX_DISTANCE_COLUMNS = 3
SHORT_DETAIL_CHARS = 40


@dataclasses.dataclass(frozen=True)
class SessionSummary:
    """One session and the statistics of its counted reps' peak angles.

    Reps flagged ``tracking_lost`` count as done (adherence) but are left out of the ROM
    statistics: their peak may not have been seen.
    """

    session: SessionRecord
    reps: tuple[Rep, ...]
    """Counted repetitions."""
    uncounted: tuple[Rep, ...]
    median: float
    best: float
    q25: float
    q75: float
    low: float
    high: float
    mean_score: float

    @property
    def n_reps(self) -> int:
        return len(self.reps)

    @property
    def bilateral(self) -> bool:
        """Both sides measured in each rep (a bilateral exercise): its symmetry rests on
        per-rep indices, or a rep has one (sessions stored before schema 5: False)."""
        sym = self.session.symmetry
        return (sym is not None and sym.basis == "bilateral") or any(
            r.symmetry_pct is not None for r in self.reps)


@dataclasses.dataclass(frozen=True)
class SymmetryTrend:
    """The limb symmetry index per session for one exercise and involved side: the sessions
    (in order) whose stored symmetry has an index."""

    exercise_id: str
    exercise_name: str
    involved: str
    sessions: tuple[SessionSummary, ...]

    @property
    def label(self) -> str:
        other = {"left": "right", "right": "left"}.get(self.involved, "other")
        return f"{self.exercise_name}, {self.involved} / {other}"

    def index(self, s: SessionSummary) -> float:
        """The session's index (%)."""
        assert s.session.symmetry is not None and s.session.symmetry.index_pct is not None
        return float(s.session.symmetry.index_pct)


@dataclasses.dataclass(frozen=True)
class Trend:
    """ROM per session for one exercise and side, with the target band and the norm."""

    exercise_id: str
    exercise_name: str
    side: str
    angle: str
    rest: str
    sessions: tuple[SessionSummary, ...]
    target: tuple[float, float] | None
    norm: float | None

    @property
    def label(self) -> str:
        side = "" if self.side in ("none", "") else f", {self.side}"
        return f"{self.exercise_name}{side}"

    @property
    def measured(self) -> tuple[SessionSummary, ...]:
        """Sessions with at least one counted rep with a measured peak."""
        return tuple(s for s in self.sessions if math.isfinite(s.median))


@dataclasses.dataclass(frozen=True)
class Headline:
    """ROM now vs the first session vs the target, for one exercise and side."""

    label: str
    n_sessions: int
    n_measured: int
    """Sessions with a measured median (the change needs two)."""
    first_day: dt.date | None
    first: float
    last_day: dt.date | None
    last: float
    target: tuple[float, float] | None
    norm: float | None
    rest: str

    @property
    def change(self) -> float:
        """Signed change towards the movement's direction (positive = further); NaN with
        fewer than two measured sessions."""
        if self.n_measured < 2:
            return math.nan
        d = self.last - self.first
        return d if self.rest == "low" else -d

    @property
    def verdict(self) -> str:
        """``better``/``worse`` when the median moved 1 degree or more closer to / further
        from the target band (or, without a target, further / less far); else ``''``."""
        if not math.isfinite(self.change):
            return ""
        if self.target is None:
            gain = self.change
        else:
            gain = _band_distance(self.first, self.target) - _band_distance(self.last,
                                                                              self.target)
        return "better" if gain >= 1.0 else "worse" if gain <= -1.0 else ""


def _band_distance(x: float, band: tuple[float, float]) -> float:
    return max(band[0] - x, 0.0, x - band[1])


@dataclasses.dataclass(frozen=True)
class Week:
    """Adherence in one calendar week (Monday to Sunday)."""

    start: dt.date
    sessions: int
    reps_done: int
    reps_prescribed: float | None
    """None when no prescription applied that week."""


@dataclasses.dataclass(frozen=True)
class ExerciseAdherence:
    """Totals over the period for one exercise."""

    exercise_id: str
    exercise_name: str
    sessions: int
    reps_done: int
    reps_prescribed: float | None

    @property
    def percent(self) -> float | None:
        if not self.reps_prescribed:
            return None
        return 100.0 * self.reps_done / self.reps_prescribed


@dataclasses.dataclass(frozen=True)
class Trace:
    """The smoothed primary-angle trace of one session, with rep boundaries."""

    time_s: np.ndarray
    angle_deg: np.ndarray
    reps: tuple[Rep, ...]
    target: tuple[float, float] | None
    label: str


@dataclasses.dataclass(frozen=True)
class SideComparison:
    """Latest median ROM on each side for one exercise recorded on both sides."""

    exercise_name: str
    left: float
    right: float
    left_day: dt.date
    right_day: dt.date
    target: tuple[float, float] | None


@dataclasses.dataclass(frozen=True)
class QualityNote:
    """A recurring remark about tracking or camera placement, grouped over sessions."""

    exercise_name: str
    text: str
    count: int
    first_day: dt.date
    last_day: dt.date


@dataclasses.dataclass(frozen=True)
class RepDistances:
    """Distances in centimetres for the latest session's counted reps, when its analysis
    had a scale (patient height or a board in the scene)."""

    headers: tuple[str, ...]
    values: tuple[tuple[float | None, ...], ...]
    """One row per counted rep (in the order of ``SessionSummary.reps``), one value per
    header; None when not measured."""
    note: str
    """Where the scale came from, printed under the table."""

    def extend(self, table: tuple[list[str], list[list[str]]]
               ) -> tuple[list[str], list[list[str]]]:
        """The per-rep table with the distance columns inserted before its last column
        (the free-text flags)."""
        header, rows = table
        cells = [["–" if v is None else f"{v:.1f}" for v in vals] for vals in self.values]
        return (header[:-1] + list(self.headers) + header[-1:],
                [r[:-1] + c + r[-1:] for r, c in zip(rows, cells)])


def _scale_note(scale: Scale) -> str:
    """``Distances in cm; scale from patient height 172 cm (±3%)``."""
    source = scale.source or "unknown source"
    detail = scale.detail.strip()
    if detail and len(detail) <= SHORT_DETAIL_CHARS:
        extra = [detail]
    else:
        extra = [f"±{m}" for m in re.findall(r"\+/-\s*(\d+(?:\.\d+)?%)", detail)][:1]
        if "unreliable" in detail or "uncertain" in detail:
            extra.append("uncertain")
    return f"Distances in cm; scale from {source}" + (f" ({', '.join(extra)})" if extra
                                                      else "")


def read_distances(session: SessionRecord, reps: tuple[Rep, ...]) -> RepDistances | None:
    """Per-rep distances of the stored reps; None without a scale (or when no rep has a
    distance)."""
    if session.scale is None or not reps:
        return None

    def value(r: Rep, key: str) -> float | None:
        v = None if r.distances_cm is None else getattr(r.distances_cm, key)
        return None if v is None or not math.isfinite(v) else float(v)

    keys = [(k, h) for k, h in DISTANCE_COLUMNS
            if any(value(r, k) is not None for r in reps)][:MAX_DISTANCE_COLUMNS]
    if not keys:
        return None
    note = _scale_note(session.scale)
    if any(k == "ankle_separation_change_cm" for k, _ in keys):
        note += "; step length = change in ankle separation during the rep"
    return RepDistances(headers=tuple(h for _, h in keys),
                        values=tuple(tuple(value(r, k) for k, _ in keys) for r in reps),
                        note=note)


@dataclasses.dataclass(frozen=True)
class ReportData:
    """Everything a report shows, computed once for the PDF and the HTML renderers."""

    patient: Patient
    start: dt.date
    end: dt.date
    generated: dt.datetime
    exercise_filter: str | None
    prescriptions: tuple[Prescription, ...]
    sessions: tuple[SessionSummary, ...]
    trends: tuple[Trend, ...]
    headlines: tuple[Headline, ...]
    weeks: tuple[Week, ...]
    adherence: tuple[ExerciseAdherence, ...]
    latest: SessionSummary | None
    trace: Trace | None
    trace_problem: str
    """Why there is no trace for the latest session ('' when there is one)."""
    sides: tuple[SideComparison, ...]
    quality: tuple[QualityNote, ...]
    quality_omitted: int
    distances: RepDistances | None = None
    """Distances in cm for the latest session's reps (None: its analysis had no scale)."""
    symmetry: tuple[SymmetryTrend, ...] = ()
    """The limb symmetry index over sessions, per exercise and involved side."""
    view_unchecked: int = 0
    """Sessions of the period without a stored view check (stored before the check existed,
    or live sessions that did not record one)."""
    software_version: str = __version__

    @property
    def interrupted(self) -> int:
        return sum(s.session.interrupted for s in self.sessions)


def _summary(session: SessionRecord, reps: list[Rep]) -> SessionSummary:
    counted = tuple(r for r in reps if r.counted)
    peaks = np.array([r.peak_deg for r in counted
                      if math.isfinite(r.peak_deg) and "tracking_lost" not in r.flags],
                     np.float64)
    scores = [r.score for r in counted]
    if peaks.size:
        q25, med, q75 = np.percentile(peaks, (25.0, 50.0, 75.0))
        low, high = float(peaks.min()), float(peaks.max())
        best = high if session.rest == "low" else low
    else:
        q25 = med = q75 = low = high = best = math.nan
    return SessionSummary(session=session, reps=counted,
                          uncounted=tuple(r for r in reps if not r.counted),
                          median=float(med), best=float(best), q25=float(q25), q75=float(q75),
                          low=low, high=high,
                          mean_score=float(np.mean(scores)) if scores else math.nan)


def _exercise_name(exercise_id: str, summaries: list[SessionSummary]) -> str:
    """The exercise's display name: as stored with a session, else from the library."""
    for s in reversed(summaries):
        if s.session.exercise_name and s.session.exercise_name != exercise_id:
            return s.session.exercise_name
    from rehab.errors import ConfigError
    from rehab.exercises import get_exercise

    try:
        return get_exercise(exercise_id).name
    except ConfigError:
        return exercise_id


def _target_for(prescriptions: list[Prescription], summaries: list[SessionSummary],
                exercise_id: str, day: dt.date) -> tuple[float, float] | None:
    active = [p for p in prescriptions if p.exercise_id == exercise_id and p.active_on(day)]
    if active:
        return active[-1].target_min, active[-1].target_max
    for s in reversed(summaries):
        if s.session.target_min is not None and s.session.target_max is not None:
            return s.session.target_min, s.session.target_max
    return None


def _weeks(start: dt.date, end: dt.date, summaries: list[SessionSummary],
           prescriptions: list[Prescription], first_day: dict[str, dt.date]) -> list[Week]:
    monday = start - dt.timedelta(days=start.weekday())
    weeks: list[Week] = []
    while monday <= end:
        days = [monday + dt.timedelta(days=i) for i in range(7)]
        in_week = [s for s in summaries if monday <= s.session.day <= days[-1]]
        prescribed = _prescribed(prescriptions, days, start, end, first_day)
        weeks.append(Week(start=monday, sessions=len(in_week),
                          reps_done=sum(s.n_reps for s in in_week), reps_prescribed=prescribed))
        monday += dt.timedelta(days=7)
    return weeks


def _prescribed(prescriptions: list[Prescription], days: list[dt.date], start: dt.date,
                end: dt.date, first_day: dict[str, dt.date]) -> float | None:
    """Reps prescribed over ``days`` within [start, end]: reps x sets x days/7 a day."""
    total, any_active = 0.0, False
    for day in days:
        if not start <= day <= end:
            continue
        latest: dict[str, Prescription] = {}
        for p in prescriptions:
            begins = p.start or first_day.get(p.exercise_id)
            if begins is None or day < begins or not p.active_on(day):
                continue
            latest[p.exercise_id] = p  # the most recent prescription per exercise wins
        for p in latest.values():
            any_active = True
            total += p.reps_per_day * p.days_per_week / 7.0
    return total if any_active else None


QUALITY_SKIPPED = frozenset({NoteCode.SIDE_CHOSEN, NoteCode.ALTERNATING, NoteCode.SYMMETRY})
"""Note codes that are no quality issue (which side was analysed, that both sides were in
turn, and the limb symmetry index are shown elsewhere)."""
POOR_QUALITY = "poor_quality"
"""Code of the remark about reps graded poor for measurement."""


def quality_key(note: Note) -> tuple[str, ...]:
    """What makes two notes the same remark: their code and the words in their data (the
    numbers vary from session to session); uncoded notes group by their text without
    numbers."""
    if note.code == NoteCode.TEXT:
        return (note.code, re.sub(r"-?\d+(?:\.\d+)?", "#", note.text))
    words = tuple(f"{k}={v}" for k, v in sorted(note.data.items()) if isinstance(v, str))
    return (note.code, *words)


def _rep_list(reps: list[Rep]) -> str:
    """``rep 2`` or ``reps 1–3, 5``: rep numbers with runs of consecutive ones shortened."""
    runs: list[list[int]] = []
    for i in sorted(r.index for r in reps):
        if runs and i == runs[-1][-1] + 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    text = ", ".join(f"{r[0]}" if len(r) == 1 else f"{r[0]}–{r[-1]}" for r in runs)
    return ("rep " if len(reps) == 1 else "reps ") + text


VIEW_ORIENTATION = {"side": 90, "front": 0}
"""The body's orientation to the camera (degrees) each exercise view asks for."""


def _rep_remarks(s: SessionSummary) -> list[Note]:
    """The counted reps flagged for the wrong view or graded poor, one remark each kind
    (what the grade rests on: tracking, the rep's orientation, swapped frames)."""
    out = []
    n = s.n_reps
    view = s.session.view
    expected = view.expected if view is not None else ""
    wrong = [r for r in s.reps if Flag.WRONG_VIEW in r.flags]
    if wrong:
        name = f"the {expected} view" if expected else "the exercise's view"
        out.append(Note(Flag.WRONG_VIEW, f"{len(wrong)} of {n} rep(s) measured with the body "
                        f"turned away from {name} beyond the tolerance (flagged wrong view: "
                        f"{_rep_list(wrong)})", {"view": expected}))
    poor = [r for r in s.reps if r.quality == "poor"]
    if poor:
        settings = s.session.settings
        tracked = min(r.tracked_fraction for r in poor)
        swapped = sum(r.swapped_frames for r in poor)
        views = [r.view_deg for r in poor if r.view_deg is not None]
        why = []
        if settings is None or tracked < settings.min_tracked_fraction:
            why.append(f"angle measured in {100 * tracked:.0f}% of the frames at worst")
        if views and expected in VIEW_ORIENTATION:
            lo, hi = min(views), max(views)
            span = f"{lo:.0f}°" if round(lo) == round(hi) else f"{lo:.0f}–{hi:.0f}°"
            why.append(f"body at {span} to the camera, the {expected} view being "
                       f"{VIEW_ORIENTATION[expected]}°")
        if swapped:
            why.append(f"{swapped} frame(s) with left/right labels repaired or gated")
        out.append(Note(POOR_QUALITY, f"{len(poor)} of {n} rep(s) graded poor for measurement "
                        f"({_rep_list(poor)}" + (f": {'; '.join(why)})" if why else ")")))
    return out


def _session_remarks(s: SessionSummary) -> list[Note]:
    """A session's quality remarks: interrupted, reps lost to tracking, reps measured in the
    wrong view or graded poor, its notes (the view and swap checks stored without their
    note, as a live session may, are put in words here)."""
    from rehab.store.describe import swaps_text, view_text

    out = []
    ses = s.session
    if ses.interrupted:
        out.append(Note("interrupted", f"session interrupted after {ses.rep_count} "
                        f"rep(s) ({ses.mode})", {"mode": ses.mode}))
    for r in s.reps:
        if Flag.TRACKING_LOST in r.flags:
            out.append(Note(Flag.TRACKING_LOST, f"rep {r.index} rejected for tracking loss: "
                            f"angle measured in {100 * r.tracked_fraction:.0f}% of its frames "
                            f"(score scaled down)"))
    out += _rep_remarks(s)
    notes = [n for n in ses.notes if n.code not in QUALITY_SKIPPED]
    codes = {n.code for n in notes}
    if ses.view is not None and ses.view.warning and NoteCode.VIEW not in codes:
        out.append(Note(NoteCode.VIEW, view_text(ses.view, "°"), {"expected": ses.view.expected}))
    swaps = ses.swaps
    if swaps is not None and (swaps.repaired_frames or swaps.gated_frames) \
            and NoteCode.SWAPS not in codes:
        out.append(Note(NoteCode.SWAPS, swaps_text(swaps)))
    return out + notes


def _quality(summaries: list[SessionSummary],
             names: dict[str, str]) -> tuple[list[QualityNote], int]:
    """Remarks grouped by exercise and `quality_key`, most frequent first."""
    groups: dict[tuple[str, tuple[str, ...]], list[tuple[dt.date, str]]] = {}
    for s in summaries:
        name = names.get(s.session.exercise_id, s.session.exercise_name)
        for note in _session_remarks(s):
            groups.setdefault((name, quality_key(note)), []).append((s.session.day, note.text))
    notes = []
    for (exercise, _), items in groups.items():
        days = [d for d, _ in items]
        notes.append(QualityNote(exercise_name=exercise, text=items[-1][1], count=len(items),
                                 first_day=min(days), last_day=max(days)))
    notes.sort(key=lambda n: (-n.count, n.exercise_name, n.text))
    return notes[:MAX_QUALITY_GROUPS], max(0, len(notes) - MAX_QUALITY_GROUPS)


def read_trace(session: SessionRecord, reps: tuple[Rep, ...],
               target: tuple[float, float] | None,
               trace: tuple[np.ndarray, np.ndarray] | None) -> tuple[Trace | None, str]:
    """The latest session's stored smoothed primary angle (`Store.trace`) as a `Trace`."""
    if trace is None:
        return None, "no angle trace was stored with this session"
    label = f"{session.exercise_name}, {session.angle.replace('_', ' ')}"
    return Trace(trace[0], trace[1], reps, target, label), ""


def parse_day(text: str, what: str = "date") -> dt.date:
    """An ISO date (``2024-05-01``) or date-time, as a date; a clear error otherwise."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        pass
    try:
        return dt.datetime.fromisoformat(text).date()
    except ValueError:
        raise StoreError(f"{what}: {text!r} is not an ISO date (YYYY-MM-DD)") from None


def report_period(sessions: list[SessionRecord], start: dt.date | None, end: dt.date | None,
                  today: dt.date) -> tuple[dt.date, dt.date]:
    """The report's first and last day (inclusive) from the requested bounds.

    Defaults: from the first of ``sessions`` (all the patient's, in the exercise filter,
    oldest first) within the period (``end`` without any) to ``today`` (``start`` if later).
    Both ends lie between `rehab.limits.EARLIEST_DATE` and `rehab.limits.latest_plan_date`,
    so a period never spans centuries; sessions dated outside the default period (a wrong
    clock, an older database) are left out with a warning saying how many.
    """
    for name, day in (("start", start), ("end", end)):
        problem = None if day is None else plan_date_problem(day, today)
        if problem:
            raise StoreError(f"the period's {name} {problem}")
    if start is not None and end is not None and start > end:
        raise StoreError(f"the period starts ({start}) after it ends ({end})")
    if end is None:
        end = today if start is None else max(today, start)
        later = sum(1 for s in sessions if s.day > end)
        if later:
            log.warning("%d session(s) dated after %s left out of the report (--to shows "
                        "those up to %s)", later, end, latest_plan_date(today))
    if start is None:
        within = [s.day for s in sessions if EARLIEST_DATE <= s.day <= end]
        start = within[0] if within else end
        earlier = sum(1 for s in sessions if s.day < EARLIEST_DATE)
        if earlier:
            log.warning("%d session(s) dated before %s left out of the report", earlier,
                        EARLIEST_DATE)
    return start, end


def session_summaries(store: Store, sessions: list[SessionRecord], start: dt.date,
                      end: dt.date) -> list[SessionSummary]:
    """The `SessionSummary` of every session held between ``start`` and ``end``."""
    within = [s for s in sessions if start <= s.day <= end]
    reps = store.reps_for(s.id for s in within)
    return [_summary(s, reps[s.id]) for s in within]


def exercise_names(summaries: list[SessionSummary],
                   prescriptions: list[Prescription]) -> dict[str, str]:
    """Display name of every exercise with a session or a prescription in the report."""
    ids = {s.session.exercise_id for s in summaries} | {p.exercise_id for p in prescriptions}
    return {ex_id: _exercise_name(ex_id, [s for s in summaries
                                          if s.session.exercise_id == ex_id])
            for ex_id in ids}


def trend_of(exercise_id: str, side: str, items: list[SessionSummary], name: str,
             target: tuple[float, float] | None) -> Trend:
    """The `Trend` of one exercise and side; angle and rest position from its latest
    session that recorded an angle."""
    last = next((s.session for s in reversed(items) if s.session.angle), items[-1].session)
    return Trend(exercise_id=exercise_id, exercise_name=name, side=side, angle=last.angle,
                 rest=last.rest, sessions=tuple(items), target=target,
                 norm=normative_deg(last.angle, last.rest) if last.angle else None)


def headline_of(trend: Trend) -> Headline:
    """First and latest measured median of a trend, with its target and norm."""
    measured = trend.measured
    return Headline(
        label=trend.label, n_sessions=len(trend.sessions), n_measured=len(measured),
        first_day=measured[0].session.day if measured else None,
        first=measured[0].median if measured else math.nan,
        last_day=measured[-1].session.day if measured else None,
        last=measured[-1].median if measured else math.nan,
        target=trend.target, norm=trend.norm, rest=trend.rest)


def trends_and_headlines(summaries: list[SessionSummary], prescriptions: list[Prescription],
                         names: dict[str, str], end: dt.date
                         ) -> tuple[list[Trend], list[Headline]]:
    """One `Trend` and one `Headline` per exercise and side, sorted by exercise id and side.

    The target is the prescription in force on ``end``, else the latest session's.
    """
    by_key: dict[tuple[str, str], list[SessionSummary]] = {}
    for s in summaries:
        by_key.setdefault((s.session.exercise_id, s.session.side), []).append(s)
    trends = [trend_of(ex_id, side, items, names[ex_id],
                       _target_for(prescriptions, items, ex_id, end))
              for (ex_id, side), items in sorted(by_key.items())]
    return trends, [headline_of(t) for t in trends]


def _first_days(summaries: list[SessionSummary], prescriptions: list[Prescription],
                start: dt.date) -> dict[str, dt.date]:
    """When each exercise's prescription without a start date begins: its first session,
    else the period's start."""
    first_day: dict[str, dt.date] = {}
    for s in summaries:
        first_day.setdefault(s.session.exercise_id, s.session.day)
    for p in prescriptions:
        if p.start is None:
            first_day.setdefault(p.exercise_id, start)
    return first_day


def adherence_section(summaries: list[SessionSummary], prescriptions: list[Prescription],
                      names: dict[str, str], start: dt.date, end: dt.date
                      ) -> tuple[list[Week], list[ExerciseAdherence]]:
    """Adherence per calendar week and per exercise (sorted by id) over [start, end].

    Counted reps done against reps x sets x days-per-week / 7 prescribed each day.
    """
    first_day = _first_days(summaries, prescriptions, start)
    weeks = _weeks(start, end, summaries, prescriptions, first_day)
    days = [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]
    adherence = []
    for ex_id in sorted(names):
        mine = [s for s in summaries if s.session.exercise_id == ex_id]
        ex_prescriptions = [p for p in prescriptions if p.exercise_id == ex_id]
        adherence.append(ExerciseAdherence(
            exercise_id=ex_id, exercise_name=names[ex_id], sessions=len(mine),
            reps_done=sum(s.n_reps for s in mine),
            reps_prescribed=_prescribed(ex_prescriptions, days, start, end, first_day)))
    return weeks, adherence


@dataclasses.dataclass(frozen=True)
class LatestSession:
    """The report's latest-session section."""

    summary: SessionSummary | None
    trace: Trace | None
    trace_problem: str
    """Why there is no trace ('' when there is one)."""
    distances: RepDistances | None


def latest_section(summaries: list[SessionSummary], prescriptions: list[Prescription],
                   store: Store | None = None) -> LatestSession:
    """The last of ``summaries`` with its angle trace (against the target in force on its
    day) and its per-rep distances."""
    if not summaries:
        return LatestSession(None, None, "no session in this period", None)
    latest = summaries[-1]
    target = _target_for(prescriptions, [latest], latest.session.exercise_id,
                         latest.session.day)
    trace, problem = read_trace(latest.session, latest.reps, target,
                                None if store is None else store.trace(latest.session.id))
    return LatestSession(latest, trace, problem, read_distances(latest.session, latest.reps))


def side_comparisons(trends: list[Trend], names: dict[str, str]) -> list[SideComparison]:
    """Per exercise (sorted by id) measured on both sides: each side's latest measured
    median; the target is the left trend's, else the right's."""
    by_ex: dict[str, dict[str, Trend]] = {}
    for t in trends:
        by_ex.setdefault(t.exercise_id, {})[t.side] = t
    sides = []
    for ex_id, per_side in sorted(by_ex.items()):
        left, right = per_side.get("left"), per_side.get("right")
        if left and right and left.measured and right.measured:
            sides.append(SideComparison(
                exercise_name=names[ex_id], left=left.measured[-1].median,
                right=right.measured[-1].median, left_day=left.measured[-1].session.day,
                right_day=right.measured[-1].session.day, target=left.target or right.target))
    return sides


def symmetry_trends(summaries: list[SessionSummary], names: dict[str, str]
                    ) -> list[SymmetryTrend]:
    """Per exercise and involved side (sorted), the sessions with a symmetry index."""
    by_key: dict[tuple[str, str], list[SessionSummary]] = {}
    for s in summaries:
        sym = s.session.symmetry
        if sym is not None and sym.index_pct is not None:
            by_key.setdefault((s.session.exercise_id, sym.involved), []).append(s)
    return [SymmetryTrend(exercise_id=ex_id, exercise_name=names.get(ex_id, ex_id),
                          involved=involved, sessions=tuple(items))
            for (ex_id, involved), items in sorted(by_key.items())]


def build_report_data(store: Store, patient_id: str, start: dt.date | None = None,
                      end: dt.date | None = None, exercise_id: str | None = None,
                      today: dt.date | None = None) -> ReportData:
    """Collect a patient's report between ``start`` and ``end`` (inclusive).

    Defaults: from the first session (in the filter) to today; see `report_period` for the
    bounds and the sessions dated after today (left out, with a warning).
    """
    patient = store.get_patient(patient_id)
    all_sessions = store.sessions(patient_id, exercise_id=exercise_id)
    start, end = report_period(all_sessions, start, end, today or dt.date.today())
    summaries = session_summaries(store, all_sessions, start, end)
    prescriptions = store.prescriptions(patient_id, exercise_id)
    shown_prescriptions = [p for p in prescriptions if (p.start is None or p.start <= end)
                           and (p.end is None or p.end >= start)]
    names = exercise_names(summaries, shown_prescriptions)
    trends, headlines = trends_and_headlines(summaries, prescriptions, names, end)
    weeks, adherence = adherence_section(summaries, prescriptions, names, start, end)
    latest = latest_section(summaries, prescriptions, store)
    quality, omitted = _quality(summaries, names)
    return ReportData(
        patient=patient, start=start, end=end, generated=dt.datetime.now(),
        exercise_filter=exercise_id, prescriptions=tuple(shown_prescriptions),
        sessions=tuple(summaries), trends=tuple(trends), headlines=tuple(headlines),
        weeks=tuple(weeks), adherence=tuple(adherence), latest=latest.summary,
        trace=latest.trace, trace_problem=latest.trace_problem,
        sides=tuple(side_comparisons(trends, names)), quality=tuple(quality),
        quality_omitted=omitted, distances=latest.distances,
        symmetry=tuple(symmetry_trends(summaries, names)),
        view_unchecked=sum(s.session.view is None for s in summaries))
