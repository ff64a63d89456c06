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

Sessions logged without a camera (`LoggedSession`) count for adherence, pain and exertion
(`Entry` puts both kinds in one list); what the patient said of a session
(`SessionFeedback`) and the clinicians' notes are shown as stored. "Better" and the best rep
follow `VERDICT_RULE` and `BEST_REP_RULE`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import math
import re
from typing import Sequence

import numpy as np

from rehab import __version__
from rehab.limits import EARLIEST_DATE, latest_plan_date, plan_date_problem
from rehab.reports.norms import normative_deg
from rehab.model import Flag, Note, NoteCode, Rep, Scale
from rehab.reports.adherence import Done, ExerciseAdherence, Week, adherence
from rehab.store import Patient, Prescription, SessionRecord, Store
from rehab.store.db import StoreError
from rehab.store.models import ClinicianNote, LoggedSession, SessionFeedback

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
    """The peak of the best rep (`best_rep`)."""
    q25: float
    q75: float
    low: float
    high: float
    mean_score: float
    best_index: int | None = None
    """The best rep's number (`best_rep`); None without a measured peak."""
    target: tuple[float, float] | None = None
    """The target band the session was measured against (stored with it, else the
    prescription in force on its day)."""

    @property
    def n_reps(self) -> int:
        return len(self.reps)

    @property
    def date_only(self) -> bool:
        """Recorded with a date and no time of day (stored at 00:00:00)."""
        return self.session.started.time() == dt.time(0)

    @property
    def feedback(self) -> SessionFeedback:
        return self.session.feedback

    def grades(self) -> str:
        """The counted reps' quality grades, ``8 good, 2 fair`` (``–`` none graded)."""
        counts = {g: sum(r.quality == g for r in self.reps) for g in ("good", "fair", "poor")}
        return ", ".join(f"{n} {g}" for g, n in counts.items() if n) or "–"

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
    previous_day: dt.date | None = None
    """The measured session before the latest (None with fewer than two)."""
    previous: float = math.nan
    involved: str = ""
    """The side scored in the latest session (``left``, ``right``, ``both``; '' unknown)."""
    lsi: float | None = None
    """The latest limb symmetry index of this exercise (%), None when not measured."""
    lsi_day: dt.date | None = None

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
        """Now against the first session (`verdict`)."""
        if self.n_measured < 2:
            return ""
        return verdict(self.first, self.last, self.target, self.norm)

    @property
    def verdict_previous(self) -> str:
        """Now against the previous session (`verdict`)."""
        return verdict(self.previous, self.last, self.target, self.norm)


VERDICT_RULE = (
    "Better / worse: the median peak angle is better when it lies closer to the target band "
    "than before (inside the band the distance is zero), worse when further from it; "
    "without a target band, closer to / further from the normative value; unchanged within "
    "1°. Without a target or a norm no verdict is given.")
VERDICT_MIN_DEG = 1.0


def band_distance(x: float, band: tuple[float, float]) -> float:
    """How far ``x`` lies outside ``band`` (0 inside)."""
    return max(band[0] - x, 0.0, x - band[1])


def verdict(before: float, after: float, target: tuple[float, float] | None,
            norm: float | None) -> str:
    """``better``, ``worse`` or ``unchanged`` (`VERDICT_RULE`): ``after`` against
    ``before``; '' when either is unknown or there is neither a target nor a norm."""
    if not (math.isfinite(before) and math.isfinite(after)):
        return ""
    if target is not None:
        gain = band_distance(before, target) - band_distance(after, target)
    elif norm is not None:
        gain = abs(before - norm) - abs(after - norm)
    else:
        return ""
    return ("better" if gain >= VERDICT_MIN_DEG else "worse" if gain <= -VERDICT_MIN_DEG
            else "unchanged")


BEST_REP_RULE = ("Best rep: the counted rep whose peak angle lies closest to the target band "
                 "(inside it if any rep is; without a band, closest to the norm; without "
                 "either, the furthest from rest), not simply the highest peak.")


def best_rep(reps: Sequence[Rep], rest: str, target: tuple[float, float] | None,
             norm: float | None) -> Rep | None:
    """The rep of `BEST_REP_RULE` among ``reps`` with a measured peak (ties: the first)."""
    measured = [r for r in reps if math.isfinite(r.peak_deg)]
    if not measured:
        return None
    away = 1.0 if rest == "low" else -1.0
    if target is not None:
        return min(measured, key=lambda r: band_distance(r.peak_deg, target))
    if norm is not None:
        return min(measured, key=lambda r: abs(r.peak_deg - norm))
    return max(measured, key=lambda r: away * r.peak_deg)


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
class LatestSession:
    """The report's latest-session section."""

    summary: SessionSummary | None
    trace: Trace | None
    trace_problem: str
    """Why there is no trace ('' when there is one)."""
    distances: RepDistances | None


@dataclasses.dataclass(frozen=True)
class Entry:
    """One session of the period: recorded with the camera or logged without one."""

    day: dt.date
    time: dt.time | None
    """Its start on the clock; None for a logged session and a camera session stored with a
    date only (at 00:00:00)."""
    exercise_id: str
    exercise_name: str
    side: str
    """``left``, ``right``, ``both``; '' when not said."""
    source: str
    """``camera`` or ``logged``."""
    reps: int
    """Counted reps (camera), sets x reps per set (logged)."""
    sets: int | None
    feedback: SessionFeedback
    summary: SessionSummary | None = None
    logged: LoggedSession | None = None

    @property
    def session_id(self) -> int | None:
        """The camera session's id (None for a logged one)."""
        return None if self.summary is None else self.summary.session.id

    @property
    def sort_key(self) -> tuple[dt.date, dt.time, int, int]:
        ident = self.summary.session.id if self.summary else self.logged.id if self.logged else 0
        return (self.day, self.time or dt.time(0), self.source != "camera", ident)


def camera_entry(s: SessionSummary, name: str) -> Entry:
    ses = s.session
    return Entry(day=ses.day, time=None if s.date_only else ses.started.time(),
                 exercise_id=ses.exercise_id, exercise_name=name,
                 side="" if ses.side in ("", "none") else ses.side, source="camera",
                 reps=s.n_reps, sets=ses.feedback.sets, feedback=ses.feedback, summary=s)


def logged_entry(g: LoggedSession, name: str) -> Entry:
    return Entry(day=g.day, time=None, exercise_id=g.exercise_id, exercise_name=name,
                 side=g.side or "", source="logged", reps=g.rep_count, sets=g.sets,
                 feedback=g.feedback, logged=g)


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
    entries: tuple[Entry, ...] = ()
    """Every session of the period, camera and logged, oldest first."""
    clinician_notes: tuple[ClinicianNote, ...] = ()
    """The clinicians' notes of the period, oldest first."""
    latest_day: tuple[LatestSession, ...] = ()
    """Every camera session of the latest day recorded with the camera (oldest first), with
    its trace and distances."""
    latest_logged: tuple[Entry, ...] = ()
    """The logged sessions of that day and after it (of the latest day when none was
    recorded with the camera)."""

    @property
    def last_day(self) -> dt.date | None:
        """The latest day recorded with the camera (else with a logged session)."""
        if self.latest_day and self.latest_day[0].summary is not None:
            return self.latest_day[0].summary.session.day
        return self.latest_logged[0].day if self.latest_logged else None

    @property
    def logged(self) -> tuple[Entry, ...]:
        return tuple(e for e in self.entries if e.source == "logged")

    @property
    def interrupted(self) -> int:
        return sum(s.session.interrupted for s in self.sessions)


def _summary(session: SessionRecord, reps: list[Rep],
             target: tuple[float, float] | None = None) -> SessionSummary:
    counted = tuple(r for r in reps if r.counted)
    measured = [r for r in counted
                if math.isfinite(r.peak_deg) and "tracking_lost" not in r.flags]
    peaks = np.array([r.peak_deg for r in measured], np.float64)
    scores = [r.score for r in counted]
    norm = normative_deg(session.angle, session.rest) if session.angle else None
    best = best_rep(measured, session.rest, target, norm)
    if peaks.size:
        q25, med, q75 = np.percentile(peaks, (25.0, 50.0, 75.0))
        low, high = float(peaks.min()), float(peaks.max())
    else:
        q25 = med = q75 = low = high = math.nan
    return SessionSummary(session=session, reps=counted,
                          uncounted=tuple(r for r in reps if not r.counted),
                          median=float(med), best=math.nan if best is None else best.peak_deg,
                          q25=float(q25), q75=float(q75), low=low, high=high,
                          mean_score=float(np.mean(scores)) if scores else math.nan,
                          best_index=None if best is None else best.index, target=target)


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


def _target_for(prescriptions: Sequence[Prescription], sessions: Sequence[SessionRecord],
                exercise_id: str, day: dt.date) -> tuple[float, float] | None:
    """The latest prescription of ``exercise_id`` in force on ``day``, else the target
    stored with the latest of ``sessions`` that has one."""
    active = [p for p in prescriptions if p.exercise_id == exercise_id and p.active_on(day)]
    if active:
        return active[-1].target_min, active[-1].target_max
    for s in reversed(sessions):
        if s.target_min is not None and s.target_max is not None:
            return s.target_min, s.target_max
    return None


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


def report_period(sessions: Sequence[SessionRecord | LoggedSession], start: dt.date | None, end: dt.date | None,
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


def session_target(session: SessionRecord, prescriptions: Sequence[Prescription]
                   ) -> tuple[float, float] | None:
    """The target band a session is judged against: the latest prescription of its
    exercise in force on its day (as the trends), else the one stored with it."""
    return _target_for(prescriptions, [session], session.exercise_id, session.day)


def session_summaries(store: Store, sessions: list[SessionRecord], start: dt.date,
                      end: dt.date, prescriptions: Sequence[Prescription] = ()
                      ) -> list[SessionSummary]:
    """The `SessionSummary` of every session held between ``start`` and ``end``."""
    within = [s for s in sessions if start <= s.day <= end]
    reps = store.reps_for(s.id for s in within)
    return [_summary(s, reps[s.id], session_target(s, prescriptions)) for s in within]


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
    """First, previous and latest measured median of a trend, with its target and norm, the
    side scored last and the latest limb symmetry index."""
    measured = trend.measured
    prev = measured[-2] if len(measured) > 1 else None
    involved = next((s.session.involved or (s.session.symmetry.involved
                                            if s.session.symmetry else "")
                     for s in reversed(trend.sessions)), "")
    sym = next((s for s in reversed(trend.sessions) if s.session.symmetry is not None
                and s.session.symmetry.index_pct is not None), None)
    return Headline(
        label=trend.label, n_sessions=len(trend.sessions), n_measured=len(measured),
        first_day=measured[0].session.day if measured else None,
        first=measured[0].median if measured else math.nan,
        last_day=measured[-1].session.day if measured else None,
        last=measured[-1].median if measured else math.nan,
        target=trend.target, norm=trend.norm, rest=trend.rest,
        previous_day=prev.session.day if prev else None,
        previous=prev.median if prev else math.nan, involved=involved,
        lsi=None if sym is None or sym.session.symmetry is None
        else sym.session.symmetry.index_pct,
        lsi_day=None if sym is None else sym.session.day)


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
                       _target_for(prescriptions, [s.session for s in items], ex_id, end))
              for (ex_id, side), items in sorted(by_key.items())]
    return trends, [headline_of(t) for t in trends]


def adherence_section(summaries: Sequence[SessionSummary], prescriptions: list[Prescription],
                      names: dict[str, str], start: dt.date, end: dt.date,
                      logged: Sequence[LoggedSession] = ()
                      ) -> tuple[list[Week], list[ExerciseAdherence]]:
    """Adherence per exercise (sorted by id) and calendar week over [start, end], camera and
    logged sessions alike (`rehab.reports.adherence.ADHERENCE_RULE`)."""
    done = [Done(s.session.exercise_id, s.session.day, s.n_reps) for s in summaries]
    done += [Done(g.exercise_id, g.day, g.rep_count) for g in logged]
    return adherence(done, prescriptions, names, start, end)


def latest_section(summaries: list[SessionSummary], prescriptions: list[Prescription],
                   store: Store | None = None) -> LatestSession:
    """The last of ``summaries`` with its angle trace (against the target in force on its
    day) and its per-rep distances."""
    if not summaries:
        return LatestSession(None, None, "no session in this period", None)
    return session_detail(summaries[-1], prescriptions, store)


def session_detail(latest: SessionSummary, prescriptions: list[Prescription],
                   store: Store | None = None) -> LatestSession:
    """One session with its angle trace and per-rep distances."""
    target = session_target(latest.session, prescriptions)
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
    all_logged = store.logged_sessions(patient_id, exercise_id=exercise_id)
    start, end = report_period(sorted([*all_sessions, *all_logged], key=_day), start, end,
                               today or dt.date.today())
    prescriptions = store.prescriptions(patient_id, exercise_id)
    summaries = session_summaries(store, all_sessions, start, end, prescriptions)
    logged = [g for g in all_logged if start <= g.day <= end]
    shown_prescriptions = [p for p in prescriptions if (p.start is None or p.start <= end)
                           and (p.end is None or p.end >= start)]
    names = exercise_names(summaries, shown_prescriptions)
    for g in logged:
        names.setdefault(g.exercise_id, g.exercise_name or g.exercise_id)
    trends, headlines = trends_and_headlines(summaries, prescriptions, names, end)
    weeks, adherence = adherence_section(summaries, prescriptions, names, start, end, logged)
    latest = latest_section(summaries, prescriptions, store)
    quality, omitted = _quality(summaries, names)
    entries = sorted([camera_entry(s, names[s.session.exercise_id]) for s in summaries]
                     + [logged_entry(g, names[g.exercise_id]) for g in logged],
                     key=lambda e: e.sort_key)
    recorded = [e.day for e in entries if e.source == "camera"]
    last_day = recorded[-1] if recorded else entries[-1].day if entries else None
    notes = sorted(store.clinician_notes(patient_id, start, end), key=lambda n: (n.day, n.id))
    return ReportData(
        patient=patient, start=start, end=end, generated=dt.datetime.now(),
        exercise_filter=exercise_id, prescriptions=tuple(shown_prescriptions),
        sessions=tuple(summaries), trends=tuple(trends), headlines=tuple(headlines),
        weeks=tuple(weeks), adherence=tuple(adherence), latest=latest.summary,
        trace=latest.trace, trace_problem=latest.trace_problem,
        sides=tuple(side_comparisons(trends, names)), quality=tuple(quality),
        quality_omitted=omitted, distances=latest.distances,
        symmetry=tuple(symmetry_trends(summaries, names)),
        view_unchecked=sum(s.session.view is None for s in summaries),
        entries=tuple(entries), clinician_notes=tuple(notes),
        latest_day=tuple(session_detail(e.summary, prescriptions, store) for e in entries
                         if e.day == last_day and e.summary is not None),
        latest_logged=tuple(e for e in entries if last_day is not None and e.day >= last_day
                            and e.source == "logged"))


def _day(s: SessionRecord | LoggedSession) -> dt.date:
    return s.day
