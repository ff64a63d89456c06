"""Argument converters shared by every ``rehab`` subcommand.

Each converter takes the text of one command-line value and returns the typed value, or
raises `argparse.ArgumentTypeError` with a short message saying what was expected (argparse
prefixes it with the option's name). Use them as ``add_argument(..., type=finite_float)``;
a command that converts a value itself (to report the error as one ``rehab: error:`` line)
calls `option_value`, which names the option and raises `rehab.errors.InputError`.

Numbers must be finite: ``nan`` and ``inf`` are refused wherever a number enters; the
bounded converters (`number_in`, `int_in`, `session_datetime`, `plan_date`) take their
bounds from `rehab.limits`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
from typing import Callable, TypeVar

from rehab.errors import InputError
from rehab.limits import Range, plan_date_problem, session_time_problem

T = TypeVar("T")

__all__ = ["finite_float", "int_in", "iso_date", "iso_datetime", "number_in", "option_value",
           "plan_date", "positive_float", "positive_int", "positive_int_up_to",
           "session_datetime"]


def finite_float(text: str) -> float:
    """A finite number (``nan``, ``inf`` refused)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
    return value


def positive_float(text: str) -> float:
    """A finite number greater than 0."""
    value = finite_float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def positive_int(text: str, maximum: int | None = None) -> int:
    """A whole number of at least 1 (and at most ``maximum`` when given)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    if maximum is not None and value > maximum:
        raise argparse.ArgumentTypeError(f"must be at most {maximum}, got {value}")
    return value


def positive_int_up_to(maximum: int) -> Callable[[str], int]:
    """`positive_int` with an upper bound, as an argparse ``type``."""
    def convert(text: str) -> int:
        return positive_int(text, maximum)

    convert.__name__ = f"positive_int_up_to_{maximum}"
    convert.__doc__ = f"A whole number from 1 to {maximum}."
    return convert


def number_in(low: float, high: float, low_open: bool = False) -> Callable[[str], float]:
    """A finite number in ``[low, high]`` (``(low, high]`` when ``low_open``), as an argparse
    ``type``; ``number_in(*rehab.limits.DEGREES)`` takes a named bound."""
    bound = Range(low, high, low_open)

    def convert(text: str) -> float:
        value = finite_float(text)
        problem = bound.problem(value)
        if problem:
            raise argparse.ArgumentTypeError(f"{problem}, got {text.strip()}")
        return value

    convert.__name__ = "number_in"
    convert.__doc__ = f"A number in {bound}."
    return convert


def int_in(low: float, high: float, low_open: bool = False) -> Callable[[str], int]:
    """A whole number from ``low`` to ``high`` (above ``low`` when ``low_open``), as an
    argparse ``type``; ``int_in(*rehab.limits.SETS)`` takes a named bound. A number of any
    length is refused with the bound it exceeds."""
    low, high = int(low) + (1 if low_open else 0), int(high)

    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {value}")
        if value > high:
            raise argparse.ArgumentTypeError(f"must be at most {high}, got {text.strip()}")
        return value

    convert.__name__ = f"int_in_{low}_{high}"
    convert.__doc__ = f"A whole number from {low} to {high}."
    return convert


def iso_date(text: str) -> dt.date:
    """A calendar day, ``YYYY-MM-DD``."""
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO date (YYYY-MM-DD)") from None


def iso_datetime(text: str) -> dt.datetime:
    """A date (midnight) or an ISO date-time, ``YYYY-MM-DD[THH:MM[:SS]]``."""
    try:
        return dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO date or date-time "
                                         f"(e.g. 2024-05-01 or 2024-05-01T09:30)") from None


def session_datetime(text: str) -> dt.datetime:
    """`iso_datetime` of a session: from `rehab.limits.EARLIEST_DATE` to today."""
    when = iso_datetime(text)
    problem = session_time_problem(when)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return when


def plan_date(text: str) -> dt.date:
    """`iso_date` of a prescription or report period: from `rehab.limits.EARLIEST_DATE` to
    `rehab.limits.latest_plan_date` (today + 10 years)."""
    day = iso_date(text)
    problem = plan_date_problem(day)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return day


def option_value(convert: Callable[[str], T], text: str, option: str) -> T:
    """``convert(text)`` for a value converted outside argparse.

    A refused value raises `InputError` ``"<option>: <message>"`` (one line on stderr and a
    non-zero exit from ``rehab``) instead of argparse's usage error.
    """
    try:
        return convert(text)
    except argparse.ArgumentTypeError as exc:
        raise InputError(f"{option}: {exc}") from None
