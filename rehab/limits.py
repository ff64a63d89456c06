"""The bounds of every number and date that enters rehab, in one place.

A number from the command line, an exercise or calibration TOML file or a landmarks file is
checked where it enters against one of the `Range` constants below (`Range.problem` says
why a value is refused); a date against `EARLIEST_DATE` and today (`session_time_problem`,
`plan_date_problem`). The bounds are generous: they refuse what cannot be meant (a typo, a
corrupt file), never an unusual but real value.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import NamedTuple


class Range(NamedTuple):
    """The closed interval ``[low, high]``, or ``(low, high]`` when ``low_open``."""

    low: float
    high: float
    low_open: bool = False

    def __str__(self) -> str:
        return f"{'(' if self.low_open else '['}{self.low:g}, {self.high:g}]"

    def problem(self, value: float) -> str | None:
        """Why ``value`` is refused (``"must be at most 1000"``), or None when it is in range."""
        if not isinstance(value, int) and not math.isfinite(value):  # an int of any size
            return "must be a finite number"
        if self.low_open and value <= self.low:
            return "must be a positive number" if self.low == 0 else \
                f"must be greater than {self.low:g}"
        if value < self.low:
            return f"must be at least {self.low:g}"
        if value > self.high:
            return f"must be at most {self.high:g}"
        return None


def as_float(value: int | float) -> float:
    """``value`` as a float; an integer beyond 2**1000 (or any float) becomes infinite, so
    that a finiteness check refuses it rather than the conversion overflowing."""
    if isinstance(value, int) and abs(value) >= 2 ** 1000:
        return math.inf if value > 0 else -math.inf
    return float(value)


# --- numbers ---------------------------------------------------------------------------------

DEGREES = Range(-180.0, 180.0)
"""Any joint angle in degrees: target bands, --target-min/--target-max."""
REPS_PER_SET = Range(1, 1000)
"""Repetitions in one set (prescriptions, ``rehab live --reps``)."""
SETS = Range(1, 100)
"""Sets a day (prescriptions, ``rehab live --sets``)."""
DAYS_PER_WEEK = Range(1, 7)
"""Sessions a week of a prescription."""
RATING = Range(0, 10)
"""Pain (numeric rating scale) and perceived exertion (Borg CR10), 0-10."""
SECONDS = Range(0.0, 3600.0, low_open=True)
"""A duration of the exercise, in seconds: rest between sets, a repetition's tempo."""
FPS = Range(0.0, 1000.0, low_open=True)
"""Frame rate of an image folder or a landmarks file, frames per second."""
MAX_FPS = Range(1.0, 240.0)
"""Most frames analysed per second of a recording (``--max-fps``), frames per second."""
HEIGHT_CM = Range(50.0, 250.0)
"""The patient's height in centimetres."""
SQUARE_MM = Range(0.0, 1000.0, low_open=True)
"""Side of one checkerboard square, millimetres."""
LIVE_SECONDS = Range(0.0, 86400.0, low_open=True)
"""Longest live session (``rehab live --max-seconds``), seconds."""
SPEED = Range(0.0, 16.0, low_open=True)
"""Playback speed of ``rehab live --source``."""
CAMERA_INDEX = Range(0, 99)
"""Index of a camera (``rehab live --camera``)."""
JOBS = Range(1, 256)
"""Local batch worker processes (``rehab batch --jobs``)."""
CALIBRATION_FRAMES = Range(1, 10000)
"""Frames of a video used by ``rehab calibrate --max-frames``."""

# --- joint angles --------------------------------------------------------------------------

JOINT_RANGES: dict[str, Range] = {
    "knee_flexion": Range(0.0, 160.0),
    "hip_flexion": Range(0.0, 140.0),
    "hip_abduction": Range(0.0, 60.0),
    "shoulder_flexion": Range(0.0, 180.0),
    "shoulder_abduction": Range(0.0, 180.0),
    "elbow_flexion": Range(0.0, 160.0),
    "ankle_plantarflexion": Range(-30.0, 60.0),
    "trunk_lean": Range(0.0, 90.0),
    "pelvic_obliquity": Range(0.0, 30.0),
}
"""The physiological range of each joint angle (degrees, clinical neutral-zero convention,
as `rehab.kinematics.angles` measures it: unsigned except the ankle). A target outside it
cannot be reached by anyone and is refused. The ends are the largest passive values of the
clinical literature, a little above the AAOS active norms (knee flexion 135 active, about 160
passive, heel to buttock; hip flexion 120 active, 140 passive; hip abduction 45; elbow 150;
ankle dorsiflexion 20 and plantarflexion 50): Norkin & White, *Measurement of Joint Motion*,
5th ed. 2016; Soucie et al., Haemophilia 2011;17:500-507 (normal ROM of 674 subjects)."""


def joint_range(angle: str) -> Range | None:
    """The physiological range of ``angle`` (with or without a ``left_``/``right_`` prefix;
    None for an angle not in `JOINT_RANGES`)."""
    for prefix in ("left_", "right_"):
        if angle.startswith(prefix):
            angle = angle[len(prefix):]
    return JOINT_RANGES.get(angle)


def target_range_problem(angle: str, low: float, high: float) -> str | None:
    """Why the target band ``[low, high]`` on ``angle`` is refused (None when it lies within
    the angle's physiological range), naming the range."""
    bound = joint_range(angle)
    if bound is None or (bound.problem(low) is None and bound.problem(high) is None):
        return None
    return (f"target {low:g}-{high:g} deg is outside the physiological range of "
            f"{angle.replace('_', ' ')} ({bound.low:g} to {bound.high:g} deg)")


# --- dates -----------------------------------------------------------------------------------

EARLIEST_DATE = dt.date(1990, 1, 1)
"""No session, prescription or report is dated before this day (a plausible past)."""
PLAN_YEARS_AHEAD = 10
"""A prescription or a report period may end at most this many years after today."""


def latest_plan_date(today: dt.date | None = None) -> dt.date:
    """The last day a prescription or a report period may reach: today + `PLAN_YEARS_AHEAD`."""
    today = today or dt.date.today()
    year = today.year + PLAN_YEARS_AHEAD
    return today.replace(year=year, day=28) if (today.month, today.day) == (2, 29) \
        else today.replace(year=year)


def session_time_problem(when: dt.datetime | dt.date, today: dt.date | None = None
                         ) -> str | None:
    """Why ``when`` cannot be the time of a session (None when it can): before
    `EARLIEST_DATE` or on a day after today (a time later today is accepted; an aware time
    is taken in local time)."""
    if isinstance(when, dt.datetime) and when.tzinfo is not None:
        when = when.astimezone().replace(tzinfo=None)
    day = when.date() if isinstance(when, dt.datetime) else when
    today = today or dt.date.today()
    if day < EARLIEST_DATE:
        return f"{when.isoformat()} is before {EARLIEST_DATE}"
    if day > today:
        return f"{when.isoformat()} is in the future (today is {today})"
    return None


def plan_date_problem(day: dt.date, today: dt.date | None = None) -> str | None:
    """Why ``day`` cannot start or end a prescription or a report period (None when it
    can): before `EARLIEST_DATE` or after `latest_plan_date`."""
    latest = latest_plan_date(today)
    if day < EARLIEST_DATE:
        return f"{day} is before {EARLIEST_DATE}"
    if day > latest:
        return f"{day} is more than {PLAN_YEARS_AHEAD} years ahead (latest {latest})"
    return None
