"""`rehab.argtypes`: the one set of command-line value converters, and their use by ``rehab``."""

from __future__ import annotations

import argparse
import datetime as dt

import pytest

from rehab.argtypes import (finite_float, iso_date, iso_datetime, option_value, positive_float,
                            positive_int, positive_int_up_to)
from rehab.errors import InputError


def refused(convert, text: str) -> str:
    """The message ``convert`` refuses ``text`` with."""
    with pytest.raises(argparse.ArgumentTypeError) as exc:
        convert(text)
    return str(exc.value)


def test_finite_float() -> None:
    assert finite_float("1.5") == 1.5 and finite_float("-3") == -3.0
    assert finite_float(" 90 ") == 90.0 and finite_float("1e2") == 100.0
    assert refused(finite_float, "x") == "'x' is not a number"
    assert refused(finite_float, "") == "'' is not a number"
    for text in ("nan", "NaN", "inf", "-inf", "Infinity", "1e999"):
        assert refused(finite_float, text) == f"must be a finite number, got {text}"


def test_positive_float() -> None:
    assert positive_float("0.25") == 0.25 and positive_float("60") == 60.0
    assert refused(positive_float, "0") == "must be a positive number, got 0"
    assert refused(positive_float, "-1.5") == "must be a positive number, got -1.5"
    assert refused(positive_float, "inf") == "must be a finite number, got inf"
    assert refused(positive_float, "nan") == "must be a finite number, got nan"
    assert refused(positive_float, "fast") == "'fast' is not a number"


def test_positive_int() -> None:
    assert positive_int("1") == 1 and positive_int(" 12 ") == 12
    assert refused(positive_int, "0") == "must be at least 1, got 0"
    assert refused(positive_int, "-4") == "must be at least 1, got -4"
    assert refused(positive_int, "1.5") == "'1.5' is not a whole number"
    assert refused(positive_int, "ten") == "'ten' is not a whole number"
    assert positive_int("7", maximum=7) == 7
    with pytest.raises(argparse.ArgumentTypeError, match="^must be at most 7, got 8$"):
        positive_int("8", maximum=7)


def test_positive_int_up_to() -> None:
    days = positive_int_up_to(7)
    assert [days(str(n)) for n in range(1, 8)] == list(range(1, 8))
    assert refused(days, "8") == "must be at most 7, got 8"
    assert refused(days, "0") == "must be at least 1, got 0"
    assert days.__name__ == "positive_int_up_to_7"


def test_iso_date() -> None:
    assert iso_date("2024-05-01") == dt.date(2024, 5, 1)
    assert iso_date(" 2024-05-01\n") == dt.date(2024, 5, 1)
    for text in ("2024-02-30", "31/01/2024", "yesterday", ""):
        assert refused(iso_date, text) == f"{text!r} is not an ISO date (YYYY-MM-DD)"


def test_iso_datetime() -> None:
    assert iso_datetime("2024-05-01") == dt.datetime(2024, 5, 1)
    assert iso_datetime("2024-05-01T09:30") == dt.datetime(2024, 5, 1, 9, 30)
    assert iso_datetime("2024-05-01 09:30:15") == dt.datetime(2024, 5, 1, 9, 30, 15)
    assert refused(iso_datetime, "yesterday") == (
        "'yesterday' is not an ISO date or date-time (e.g. 2024-05-01 or 2024-05-01T09:30)")


def test_option_value_names_the_option() -> None:
    assert option_value(positive_int, "3", "--reps") == 3
    assert option_value(iso_date, "2024-01-31", "--end") == dt.date(2024, 1, 31)
    with pytest.raises(InputError, match=r"^--reps: must be at least 1, got 0$"):
        option_value(positive_int, "0", "--reps")
    with pytest.raises(InputError, match=r"^--target-min: must be a finite number, got nan$"):
        option_value(finite_float, "nan", "--target-min")


def test_as_argparse_types(capsys: pytest.CaptureFixture[str]) -> None:
    p = argparse.ArgumentParser(prog="t")
    p.add_argument("--deg", type=finite_float)
    p.add_argument("--days", type=positive_int_up_to(7))
    args = p.parse_args(["--deg", "-12.5", "--days", "5"])
    assert (args.deg, args.days) == (-12.5, 5)
    with pytest.raises(SystemExit) as exc:
        p.parse_args(["--deg", "inf"])
    assert exc.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        "t: error: argument --deg: must be a finite number, got inf")


@pytest.mark.parametrize("argv, message", [
    (["analyze", "x.npz", "-e", "squat", "--target-min", "nan"],
     "argument --target-min: must be a finite number, got nan"),
    (["analyze", "x.npz", "-e", "squat", "--target-max", "x"],
     "argument --target-max: 'x' is not a number"),
    (["analyze", "x.npz", "-e", "squat", "--height-cm", "inf"],
     "argument --height-cm: must be a finite number, got inf"),
    (["live", "-e", "squat", "--target-min=-inf"],
     "argument --target-min: must be a finite number, got -inf"),
    (["live", "-e", "squat", "--rest", "0"], "argument --rest: must be a positive number, got 0"),
    (["live", "-e", "squat", "--speed", "inf"],
     "argument --speed: must be a finite number, got inf"),
    (["live", "-e", "squat", "--reps", "0"], "argument --reps: must be at least 1, got 0"),
    (["calibrate", "a.png", "--board", "7x4", "--square-mm", "nan", "--out", "c.toml"],
     "argument --square-mm: must be a finite number, got nan"),
    (["board", "--square-mm", "-30", "--out", "b.pdf"],
     "argument --square-mm: must be a positive number, got -30"),
])
def test_rehab_refuses_bad_numbers(capsys: pytest.CaptureFixture[str], argv: list[str],
                                   message: str) -> None:
    """A refused value: argparse's usage and one error line naming the option; exit 2."""
    from rehab.cli import main

    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    errors = [ln for ln in capsys.readouterr().err.splitlines() if ": error: " in ln]
    assert errors == [f"rehab {argv[0]}: error: {message}"]
