"""``rehab report``: a patient's progress report from the command line.

`register(subparsers)` adds the subcommand (see `rehab.cli.EXTENSION_MODULES`). The patient
database is opened with the store's ``--db`` helpers (reports sit above the store).

Errors are `RehabError` subclasses: one line on stderr and a non-zero exit.
"""

from __future__ import annotations

import argparse
import sys

from rehab.terminal import out
from rehab.errors import InputError
from rehab.store.cli import add_db_option, open_db, parse_date


def _out(text: str) -> None:
    """Write a command's result to stdout (made safe for the terminal; diagnostics go to
    logging)."""
    out(text)


def cmd_report(args: argparse.Namespace) -> int:
    """Render a patient's progress report (PDF or HTML)."""
    from rehab.reports import build_report_data, check_report_path, render_report

    check_report_path(args.out)
    start = parse_date(args.date_from, "--from")
    end = parse_date(args.date_to, "--to")
    if start and end and start > end:
        raise InputError(f"--from {start} is after --to {end}")
    with open_db(args) as store:
        store.get_patient(args.patient)
        known = args.exercise is None or bool(
            store.sessions(args.patient, exercise_id=args.exercise)
            or store.logged_sessions(args.patient, exercise_id=args.exercise)
            or store.prescriptions(args.patient, args.exercise))
        if not known:
            from rehab.exercises import get_exercise

            get_exercise(args.exercise)  # unknown id: a clear error listing the known ones
        data = build_report_data(store, args.patient, start, end, args.exercise)
    from rehab.fileio import private_umask

    with private_umask():
        path = render_report(data, args.out, progress=not args.no_progress and sys.stderr.isatty())
    _out(str(path))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``report`` to the ``rehab`` command."""
    p = subparsers.add_parser("report", help="a patient's progress report (PDF or HTML)",
                              description="Summary (prescriptions, range of motion now vs "
                                          "previous vs first vs target vs norm, adherence), "
                                          "recovery trend with pain and exertion, adherence "
                                          "per week, the latest day's sessions, every "
                                          "session, pain, exertion and notes, quality notes, "
                                          "clinical sign-off. PDF and HTML say the same.")
    p.add_argument("patient", help="patient id")
    p.add_argument("--from", dest="date_from", metavar="DATE",
                   help="first day (default: the first session; from 1990-01-01)")
    p.add_argument("--to", dest="date_to", metavar="DATE",
                   help="last day (default: today; at most 10 years from today)")
    p.add_argument("--exercise", metavar="ID", help="only this exercise")
    p.add_argument("--out", "-o", required=True, metavar="FILE",
                   help="report.pdf or report.html")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_db_option(p)
    p.set_defaults(func=cmd_report)
