"""Typed records read from the patient store (repetitions come back as `rehab.model.Rep`)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from pathlib import Path

from rehab.limits import session_time_problem
from rehab.model import CalibrationRef, Note, Scale, SwapSummary, Symmetry, ViewCheck
from rehab.settings import AnalysisSettings
from rehab.store.db import StoreError

PATIENT_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
"""A whole patient id (use ``fullmatch``)."""
SIDES = ("left", "right", "both")
MODES = ("offline", "live", "batch")
NOTE_CHARS = 2000
"""Longest note (a patient's note on a session, a clinician's note), in characters."""


def check_patient_id(patient_id: str) -> str:
    """A patient id is also a folder name: letters, digits, ``_ . -``, at most 64."""
    if not isinstance(patient_id, str) or not PATIENT_ID_RE.fullmatch(patient_id):
        raise StoreError(f"invalid patient id {patient_id!r}: use 1-64 letters, digits, "
                         f"'_', '.' or '-', starting with a letter or digit")
    return patient_id


def check_session_time(started: dt.datetime) -> dt.datetime:
    """A session's start time: from `rehab.limits.EARLIEST_DATE` to today."""
    problem = session_time_problem(started) if isinstance(started, dt.datetime) else \
        f"{started!r} is not a date-time"
    if problem:
        raise StoreError(f"session time {problem}")
    return started


def check_side(side: str | None, what: str = "side") -> str | None:
    """``left``, ``right``, ``both`` or None."""
    if side is not None and side not in SIDES:
        raise StoreError(f"{what} must be one of {', '.join(SIDES)}, not {side!r}")
    return side


def to_db_time(when: dt.datetime) -> str:
    """Local wall-clock ISO text (aware datetimes are converted to local time)."""
    if when.tzinfo is not None:
        when = when.astimezone().replace(tzinfo=None)
    return when.isoformat(timespec="seconds")


def from_db_time(text: str | None) -> dt.datetime | None:
    return None if text is None else dt.datetime.fromisoformat(text)


def from_db_date(text: str | None) -> dt.date | None:
    return None if text is None else dt.date.fromisoformat(text)


def check_note(text: str, what: str = "note") -> str:
    """A free-text note: at most `NOTE_CHARS` characters, surrounding blanks dropped."""
    if not isinstance(text, str):
        raise StoreError(f"{what} must be text, not {text!r}")
    text = text.strip()
    if len(text) > NOTE_CHARS:
        raise StoreError(f"{what} is {len(text)} characters long; at most {NOTE_CHARS}")
    return text


@dataclasses.dataclass(frozen=True)
class SessionFeedback:
    """What the patient said of a session: pain and exertion, a note, the sets done."""

    pain: int | None = None
    """Pain after the session on the 0-10 numeric rating scale (None: not asked)."""
    exertion: int | None = None
    """Perceived exertion, 0-10 (Borg CR10; None: not asked)."""
    note: str = ""
    """The patient's own note on the session."""
    sets: int | None = None
    """Sets done (None: not said)."""

    def checked(self) -> "SessionFeedback":
        """This feedback, validated (`rehab.limits.RATING`, `rehab.limits.SETS`)."""
        from rehab import limits

        for name, value, bound in (("pain", self.pain, limits.RATING),
                                   ("exertion", self.exertion, limits.RATING),
                                   ("sets", self.sets, limits.SETS)):
            if value is None:
                continue
            problem = "must be a whole number" if isinstance(value, bool) or \
                not isinstance(value, int) else bound.problem(value)
            if problem:
                raise StoreError(f"{name} {problem}, not {value!r}")
        return dataclasses.replace(self, note=check_note(self.note))

    @property
    def empty(self) -> bool:
        return self == SessionFeedback()


@dataclasses.dataclass(frozen=True)
class Patient:
    """A patient: the id is what the clinician types, the display name what reports show."""

    id: str
    display_name: str
    affected_side: str | None
    notes: str
    created: dt.datetime


@dataclasses.dataclass(frozen=True)
class Prescription:
    """Prescribed work for one exercise: target band of the peak angle, sets x reps."""

    id: int
    patient_id: str
    exercise_id: str
    target_min: float
    target_max: float
    reps: int
    sets: int
    side: str | None
    start: dt.date | None
    """First day it applies (None: from the first session)."""
    end: dt.date | None
    """Last day it applies (None: open-ended)."""
    days_per_week: int = 7
    """Sessions prescribed per week."""
    created: dt.datetime | None = None

    @property
    def sessions_per_week(self) -> int:
        return self.days_per_week

    @property
    def reps_per_day(self) -> int:
        """Reps of one prescribed session (sets x reps)."""
        return self.reps * self.sets

    def active_on(self, day: dt.date) -> bool:
        """True when ``day`` lies within the prescription's dates."""
        return (self.start is None or self.start <= day) and (self.end is None or day <= self.end)


@dataclasses.dataclass(frozen=True)
class SessionRecord:
    """One stored session (offline analysis, live coaching or batch run)."""

    id: int
    patient_id: str
    exercise_id: str
    exercise_name: str
    side: str
    angle: str
    """Primary angle column, e.g. ``right_knee_flexion``."""
    rest: str
    """``low`` or ``high``: the exercise's rest position on the primary angle."""
    started: dt.datetime
    ended: dt.datetime | None
    source: str
    mode: str
    model: str
    model_sha256: str
    calibration: CalibrationRef | None
    software_version: str
    target_min: float | None
    target_max: float | None
    rep_count: int
    notes: tuple[Note, ...]
    files: dict[str, Path]
    """Absolute paths of the session's stored files by kind (``angles_csv``, ...)."""
    angle_space: str = "image"
    settings: AnalysisSettings | None = None
    """The analysis settings used (None: not recorded)."""
    settings_hash: str = ""
    scale: Scale | None = None
    """The cm scale of the analysis (None: no distances)."""
    start_state: str = ""
    low_threshold_deg: float | None = None
    high_threshold_deg: float | None = None
    alternating: bool = False
    """A one-sided exercise done with the left and the right limb in turn: the reps of both
    sides were counted (each rep's ``side`` says which)."""
    involved: str = ""
    """The affected side the analysis was asked for (``left``, ``right``, ``both``); empty
    when the side was left to ``auto`` and in sessions stored before it was recorded."""
    view: ViewCheck | None = None
    """The body's orientation to the camera against the exercise's view (None: not checked,
    sessions stored before schema 5)."""
    symmetry: Symmetry | None = None
    """Left against right over the session (None: not measured)."""
    swaps: SwapSummary | None = None
    """Left/right label swaps repaired and frames gated (None: not checked)."""
    feedback: SessionFeedback = SessionFeedback()
    """Pain, exertion, the patient's note and the sets done (empty before schema 6)."""
    content_sha256: str = ""
    """sha256 of the analysed recording (empty for a camera, and before schema 6)."""

    logged = False
    """A camera session (see `LoggedSession`)."""

    @property
    def date_only(self) -> bool:
        """Stored with a date and no time of day (``--date 2026-10-01``)."""
        return self.started.time() == dt.time(0)

    @property
    def interrupted(self) -> bool:
        """A session that never finished (live session killed, crash)."""
        return self.ended is None

    @property
    def status(self) -> str:
        return "interrupted" if self.interrupted else "complete"

    @property
    def day(self) -> dt.date:
        return self.started.date()

    @property
    def angle_name(self) -> str:
        """The primary angle without its side prefix (``knee_flexion``)."""
        for prefix in ("left_", "right_"):
            if self.angle.startswith(prefix):
                return self.angle[len(prefix):]
        return self.angle


@dataclasses.dataclass(frozen=True)
class OutputFolder:
    """A result folder written for a session outside the store (``analyze --patient
    --out DIR``): its path and the sha256 of its ``result.json``."""

    path: Path
    result_sha256: str


@dataclasses.dataclass(frozen=True)
class LoggedSession:
    """A session done without a camera, logged afterwards (``rehab log``): it counts for
    adherence, pain and exertion; it has no angles."""

    id: int
    patient_id: str
    exercise_id: str
    exercise_name: str
    side: str | None
    day: dt.date
    sets: int
    reps: int
    """Repetitions per set."""
    feedback: SessionFeedback
    created: dt.datetime

    logged = True

    @property
    def rep_count(self) -> int:
        return self.sets * self.reps

    @property
    def started(self) -> dt.datetime:
        return dt.datetime.combine(self.day, dt.time(0))


@dataclasses.dataclass(frozen=True)
class ClinicianNote:
    """A clinician's note in a patient's record, dated, optionally about one session."""

    id: int
    patient_id: str
    day: dt.date
    text: str
    session_id: int | None
    created: dt.datetime


@dataclasses.dataclass(frozen=True)
class PatientPlan:
    """What a patient's prescription in force says for one exercise on one day.

    ``target`` is the band with command-line ``--target-min``/``--target-max`` winning (None
    without a prescription); ``side`` is ``--side`` if given (``auto`` included), else the
    prescription's side (``left``, ``right``, ``both``), else the patient's affected side
    (the same three), for a bilateral exercise as for a one-sided one: a squat of a patient
    with an affected left knee is scored and headlined on the left knee, the right measured
    beside it; ``both`` counts a bilateral exercise on the better-seen side and scores both,
    and counts both limbs of a one-sided exercise, expecting them to alternate. None when
    none of these says (the analysis then picks the side that moves most, ``auto``).
    """

    target: tuple[float, float] | None
    reps: int | None
    sets: int | None
    side: str | None
