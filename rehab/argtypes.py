"""Argument converters shared by every ``rehab`` subcommand.

Each converter takes the text of one command-line value and returns the typed value, or
raises `argparse.ArgumentTypeError` with a short message saying what was expected (argparse
prefixes it with the option's name). Use them as ``add_argument(..., type=finite_float)``;
a command that converts a value itself (to report the error as one ``rehab: error:`` line)
calls `option_value`, which names the option and raises `rehab.errors.InputError`.

Numbers must be finite: ``nan`` and ``inf`` are refused wherever a number enters.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
from typing import Callable, TypeVar

from rehab.errors import InputError

T = TypeVar("T")

__all__ = ["finite_float", "iso_date", "iso_datetime", "option_value", "positive_float",
           "positive_int", "positive_int_up_to"]


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


def option_value(convert: Callable[[str], T], text: str, option: str) -> T:
    """``convert(text)`` for a value converted outside argparse.

    A refused value raises `InputError` ``"<option>: <message>"`` (one line on stderr and a
    non-zero exit from ``rehab``) instead of argparse's usage error.
    """
    try:
        return convert(text)
    except argparse.ArgumentTypeError as exc:
        raise InputError(f"{option}: {exc}") from None
