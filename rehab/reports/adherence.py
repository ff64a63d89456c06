"""Adherence to the prescription's frequency: sessions and reps per calendar week.

The rule (`ADHERENCE_RULE`, printed in the report):

- A *session* is a day on which the patient did the exercise, recorded with the camera or
  logged without one (two recordings of one exercise on one day are one session, their reps
  added). Reps done are a camera session's counted reps and a logged session's sets x reps.
- A prescription is *in force* from its start date (without one: the exercise's first session
  in the report, else the period's start) to its end date, within the report's period. When
  several prescriptions of an exercise are in force on a day, the latest one counts.
- Each calendar week (Monday to Sunday) with days in force is prescribed its sessions per
  week times the share of the week in force, rounded (a whole week: the sessions per week);
  its reps are those sessions times the sets x reps per session of the prescription in force
  on the week's last day in force.
- A week is credited with at most what it was prescribed (a week's excess is not carried
  over); the percentage is the credited over the prescribed, summed over the weeks in force.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from typing import Iterable, Sequence

from rehab.store import Prescription

ADHERENCE_RULE = (
    "Adherence: sessions done / sessions prescribed, and reps done / reps prescribed, summed "
    "over the calendar weeks (Monday to Sunday) the prescription was in force within the "
    "period. A session is a day the exercise was done, recorded with the camera or logged "
    "without one; reps done are the counted reps of a recording and the sets × reps of a "
    "logged session. A week is prescribed its sessions per week (times the share of the week "
    "in force, rounded) and those sessions × sets × reps; it is credited with at most that "
    "(a week's excess is not carried over).")


@dataclasses.dataclass(frozen=True)
class Done:
    """One session as adherence counts it."""

    exercise_id: str
    day: dt.date
    reps: int


@dataclasses.dataclass(frozen=True)
class Week:
    """One exercise in one calendar week (Monday to Sunday)."""

    exercise_id: str
    start: dt.date
    sessions: int
    """Sessions done: days with the exercise."""
    reps_done: int
    sessions_prescribed: int | None
    """None when no prescription was in force that week."""
    reps_prescribed: int | None
    days_in_force: int = 0

    @property
    def sessions_credited(self) -> int:
        return min(self.sessions, self.sessions_prescribed or 0)

    @property
    def reps_credited(self) -> int:
        return min(self.reps_done, self.reps_prescribed or 0)


@dataclasses.dataclass(frozen=True)
class ExerciseAdherence:
    """Totals over the period for one exercise (`ADHERENCE_RULE`)."""

    exercise_id: str
    exercise_name: str
    sessions: int
    """Sessions done over the period (in force or not)."""
    reps_done: int
    weeks: int
    """Weeks with the prescription in force."""
    sessions_prescribed: int | None
    sessions_credited: int
    reps_prescribed: int | None
    reps_credited: int

    @property
    def sessions_percent(self) -> float | None:
        if not self.sessions_prescribed:
            return None
        return 100.0 * self.sessions_credited / self.sessions_prescribed

    @property
    def reps_percent(self) -> float | None:
        if not self.reps_prescribed:
            return None
        return 100.0 * self.reps_credited / self.reps_prescribed


def _round(x: float) -> int:
    """Half up (2.5 -> 3), robust to the float error of sums of sevenths."""
    return int(math.floor(x + 0.5 + 1e-9))


def in_force(prescriptions: Sequence[Prescription], day: dt.date,
             begins: dt.date | None) -> Prescription | None:
    """The latest of one exercise's ``prescriptions`` in force on ``day`` (a prescription
    without a start date begins on ``begins``)."""
    active = None
    for p in prescriptions:
        first = p.start or begins
        if first is not None and day >= first and p.active_on(day):
            active = p
    return active


def weeks_of(exercise_id: str, done: Sequence[Done], prescriptions: Sequence[Prescription],
             start: dt.date, end: dt.date, begins: dt.date | None) -> list[Week]:
    """The calendar weeks overlapping [start, end] for one exercise."""
    mine = [p for p in prescriptions if p.exercise_id == exercise_id]
    days_done: dict[dt.date, int] = {}
    for d in done:
        if d.exercise_id == exercise_id and start <= d.day <= end:
            days_done[d.day] = days_done.get(d.day, 0) + d.reps
    out = []
    monday = start - dt.timedelta(days=start.weekday())
    while monday <= end:
        days = [monday + dt.timedelta(days=i) for i in range(7)]
        share, last = 0.0, None
        n_force = 0
        for day in days:
            if not start <= day <= end:
                continue
            p = in_force(mine, day, begins)
            if p is not None:
                share += p.days_per_week / 7.0
                last = p
                n_force += 1
        sessions = sum(1 for d in days if d in days_done)
        reps = sum(days_done.get(d, 0) for d in days)
        if last is None:
            out.append(Week(exercise_id, monday, sessions, reps, None, None))
        else:
            n = min(_round(share), n_force)
            out.append(Week(exercise_id, monday, sessions, reps, n, n * last.reps_per_day,
                            n_force))
        monday += dt.timedelta(days=7)
    return out


def adherence(done: Iterable[Done], prescriptions: Sequence[Prescription],
              names: dict[str, str], start: dt.date, end: dt.date,
              period_start: dt.date | None = None) -> tuple[list[Week], list[ExerciseAdherence]]:
    """Weeks (by exercise id, then week) and totals (by exercise id) over [start, end].

    A prescription without a start date begins with the exercise's first session in
    ``done`` (else ``period_start``, default ``start``)."""
    done = sorted(done, key=lambda d: d.day)
    out_weeks: list[Week] = []
    totals = []
    for ex_id in sorted(names):
        first = next((d.day for d in done if d.exercise_id == ex_id and start <= d.day <= end),
                     period_start or start)
        weeks = weeks_of(ex_id, done, prescriptions, start, end, first)
        out_weeks += weeks
        forced = [w for w in weeks if w.sessions_prescribed is not None]
        totals.append(ExerciseAdherence(
            exercise_id=ex_id, exercise_name=names[ex_id],
            sessions=sum(w.sessions for w in weeks), reps_done=sum(w.reps_done for w in weeks),
            weeks=len(forced),
            sessions_prescribed=sum(w.sessions_prescribed or 0 for w in forced) if forced
            else None,
            sessions_credited=sum(w.sessions_credited for w in forced),
            reps_prescribed=sum(w.reps_prescribed or 0 for w in forced) if forced else None,
            reps_credited=sum(w.reps_credited for w in forced)))
    return out_weeks, totals
