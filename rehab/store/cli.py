"""``rehab patient``, ``rehab prescribe`` and the ``analyze --patient`` hooks.

`register(subparsers)` adds the two subcommands; ``rehab report`` is defined with the reports
(above the store) and uses `add_db_option` and `open_db` from here. ``rehab analyze`` (in
`rehab.cli`) calls:

- `add_analyze_options(parser)`: ``--patient ID``, ``--date ISO``, ``--db PATH``;
- `check_patient(args)` early, before any analysis work (unknown patient, bad date);
- `patient_plan(args, exercise_id, bilateral)`: the target band, reps, sets and side from
  the patient's prescription, the side else from their affected side (values given on the
  command line win); `rehab live` uses it too;
- `after_analyze(args, analysis, output)`: stores the session, returns its id (or
  None); `output_folder` describes the result folder written for it.

Errors are `RehabError` subclasses: one line on stderr and a non-zero exit.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import math
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from rehab.argtypes import option_value
from rehab.errors import InputError, RehabError
from rehab.store.models import PatientPlan
from rehab.terminal import out

if TYPE_CHECKING:
    from rehab.analysis import Analysis
    from rehab.store import Store
    from rehab.store.models import OutputFolder, SessionFeedback

log = logging.getLogger(__name__)


# --- helpers ---------------------------------------------------------------------------------

def _out(text: str) -> None:
    """Write a command's result to stdout (made safe for the terminal; diagnostics go to
    logging)."""
    out(text)


def parse_when(text: str | None, what: str = "--date") -> dt.datetime:
    """A session time from ``YYYY-MM-DD`` or an ISO date-time (default: now), from
    `rehab.limits.EARLIEST_DATE` to today."""
    from rehab.argtypes import session_datetime

    if text is None:
        return dt.datetime.now()
    return option_value(session_datetime, text, what)


def parse_date(text: str | None, what: str) -> dt.date | None:
    """An ISO date of a prescription or a report period (from `rehab.limits.EARLIEST_DATE`
    to today + 10 years), or None when not given."""
    from rehab.argtypes import plan_date

    return None if text is None else option_value(plan_date, text, what)


def _db_path(args: argparse.Namespace) -> Path:
    from rehab.store import default_db_path

    return Path(args.db).expanduser() if getattr(args, "db", None) else default_db_path()


def open_db(args: argparse.Namespace, must_exist: bool = True) -> "Store":
    """The store named by ``--db`` / ``REHAB_DB``; read-only commands need it to exist
    (`rehab.store.open_existing_store`)."""
    from rehab.store import open_existing_store, open_store

    path = _db_path(args)
    return open_existing_store(path) if must_exist else open_store(path)


def add_db_option(p: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """``--db PATH``, as every command that opens the patient database takes it."""
    p.add_argument("--db", metavar="PATH",
                   help="patient database (default: $REHAB_DB or the user data folder)")


def _exercise_id(exercise: str) -> str:
    p = Path(exercise)
    return p.stem if p.suffix == ".toml" else exercise


# --- rehab analyze hooks ---------------------------------------------------------------------

def add_feedback_options(g: argparse.ArgumentParser | argparse._ArgumentGroup,
                         sets: bool = True) -> None:
    """``--pain``, ``--exertion``, ``--note`` (and ``--sets``): what the patient says of a
    session."""
    from rehab import limits
    from rehab.argtypes import int_in

    g.add_argument("--pain", type=int_in(*limits.RATING), metavar="0-10",
                   help="pain after the session (0 none - 10 worst imaginable)")
    g.add_argument("--exertion", type=int_in(*limits.RATING), metavar="0-10",
                   help="perceived exertion (Borg CR10: 0 rest - 10 maximal)")
    g.add_argument("--note", metavar="TEXT", help="the patient's note on the session")
    if sets:
        g.add_argument("--sets-done", type=int_in(*limits.SETS), metavar="N",
                       help="sets done in this recording")


def feedback_of(args: argparse.Namespace, sets: int | None = None) -> "SessionFeedback":
    """The `SessionFeedback` given by `add_feedback_options`'s options."""
    from rehab.store.models import SessionFeedback

    return SessionFeedback(pain=getattr(args, "pain", None),
                           exertion=getattr(args, "exertion", None),
                           note=(getattr(args, "note", None) or "").strip(),
                           sets=sets if sets is not None else getattr(args, "sets_done", None))


def add_analyze_options(parser: argparse.ArgumentParser) -> None:
    """``--patient``, ``--date``, the feedback options, ``--force`` and ``--db`` for
    ``rehab analyze``."""
    g = parser.add_argument_group("patient history")
    g.add_argument("--patient", metavar="ID",
                   help="store the session in this patient's history; their prescription "
                        "supplies the target and side when not given on the command line")
    g.add_argument("--date", metavar="ISO",
                   help="date or date-time of the session, from 1990-01-01 to today "
                        "(default: now)")
    add_feedback_options(g)
    g.add_argument("--force", action="store_true",
                   help="store the session even if the same recording is already stored "
                        "for the patient on that day")
    add_db_option(g)


_PATIENT_ONLY = ("date", "pain", "exertion", "note", "sets_done", "force")


def check_patient(args: argparse.Namespace) -> None:
    """Fail early on an unknown ``--patient``, a malformed ``--date``, a missing database,
    or the same recording already stored for the patient that day (unless ``--force``);
    keeps the recording's sha256 in ``args.content_sha256``."""
    from rehab.fileio import recording_sha256

    if getattr(args, "patient", None) is None:
        given = [o for o in _PATIENT_ONLY if getattr(args, o, None) not in (None, False)]
        if given:
            raise InputError(f"--{given[0].replace('_', '-')} is only used with --patient")
        return
    started = parse_when(getattr(args, "date", None))
    feedback_of(args).checked()
    with open_db(args) as store:
        store.get_patient(args.patient)
        source = Path(args.input)
        args.content_sha256 = recording_sha256(source) if source.exists() else ""
        if args.content_sha256 and not args.force:
            store.refuse_duplicate(args.patient, started.date(), args.content_sha256,
                                   source.name)


def patient_plan(args: argparse.Namespace, exercise_id: str, bilateral: bool = False
                 ) -> PatientPlan:
    """The `PatientPlan` for ``--patient`` on ``--date`` (default today); empty without one.

    ``bilateral`` (whether the exercise moves both limbs together) no longer changes the
    side: the affected side is the one to measure either way; it is kept for callers."""
    side = getattr(args, "side", None)  # given on the command line (auto included): it wins
    if getattr(args, "patient", None) is None:
        return PatientPlan(None, None, None, side)
    day = parse_when(getattr(args, "date", None)).date()
    with open_db(args) as store:
        plan = store.plan(args.patient, _exercise_id(exercise_id), day, side=side,
                          target_min=getattr(args, "target_min", None),
                          target_max=getattr(args, "target_max", None))
    if plan.target is None:
        log.info("no prescription of %s for %s on %s; using the exercise's target",
                 exercise_id, args.patient, day)
    return plan


def prescribed_target(args: argparse.Namespace, exercise_id: str) -> tuple[float, float] | None:
    """The prescribed target band for the session's date, command-line values winning.

    None without ``--patient`` or without a prescription in force on that date.
    """
    return patient_plan(args, exercise_id).target


def output_folder(out: str | os.PathLike[str], paths: dict[str, Path]) -> "OutputFolder":
    """The reference the store keeps to a result folder written for a patient: where it
    is published and the sha256 of this run's own ``result.json`` (still in staging)."""
    from rehab.fileio import file_sha256
    from rehab.store.models import OutputFolder

    return OutputFolder(Path(out).expanduser().resolve(), file_sha256(paths["result_json"]))


def after_analyze(args: argparse.Namespace, analysis: "Analysis",
                  output: "OutputFolder | None" = None) -> int | None:
    """Store the analysed session when ``--patient`` was given; returns the session id.

    ``output``: the result folder written for the session outside the store."""
    if getattr(args, "patient", None) is None:
        return None
    started = parse_when(getattr(args, "date", None))
    with open_db(args) as store:
        sid = store.record_analysis(args.patient, analysis, started=started, output=output,
                                    feedback=feedback_of(args),
                                    content_sha256=getattr(args, "content_sha256", ""),
                                    force=bool(getattr(args, "force", False)))
        log.info("stored session %d for patient %s in %s (files in %s)", sid, args.patient,
                 store.path, store.session_dir(args.patient, sid))
    return sid


# --- rehab patient ---------------------------------------------------------------------------

def cmd_patient_add(args: argparse.Namespace) -> int:
    """Add a patient."""
    with open_db(args, must_exist=False) as store:
        p = store.add_patient(args.id, args.name, affected_side=args.side, notes=args.notes)
        log.info("added patient %s to %s", p.id, store.path)
    return 0


def cmd_patient_list(args: argparse.Namespace) -> int:
    """List patients with their session counts."""
    with open_db(args) as store:
        patients = store.list_patients()
        if not patients:
            _out("(no patients)")
            return 0
        rows = [("id", "sessions", "last session", "side", "name")]
        for p in patients:
            sessions = store.sessions(p.id)
            last = f"{sessions[-1].started:%Y-%m-%d}" if sessions else "-"
            rows.append((p.id, str(len(sessions)), last, p.affected_side or "-",
                         p.display_name))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for r in rows:
        _out("  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[-1])
    return 0


def cmd_patient_show(args: argparse.Namespace) -> int:
    """Show a patient, their prescriptions and sessions; under each session its measurement
    checks (`rehab.store.describe.short_lines`: the side scored and why, the limb symmetry
    index, the grades, the view, a view warning and swap repairs on lines of their own)."""
    from rehab.codec import alternation_text
    from rehab.store.describe import short_lines

    with open_db(args) as store:
        p = store.get_patient(args.id)
        prescriptions = store.prescriptions(p.id)
        sessions = store.sessions(p.id)
        reps = store.reps_for((s.id for s in sessions), counted_only=True)
        logged = store.logged_sessions(p.id)
        notes = store.clinician_notes(p.id)
    _out(f"{p.id}: {p.display_name}")
    _out(f"  affected side: {p.affected_side or '-'}; added {p.created:%Y-%m-%d}")
    if p.notes:
        _out(f"  notes: {p.notes}")
    _out(f"prescriptions ({len(prescriptions)}):")
    for rx in prescriptions:
        _out(f"  {rx.exercise_id}: target {rx.target_min:g}-{rx.target_max:g} deg, "
             f"{rx.sets} x {rx.reps}, {rx.sessions_per_week} session(s)/week, "
             f"side {rx.side or '-'}, "
             f"{rx.start or 'first session'} to {rx.end or 'open'}")
    _out(f"sessions ({len(sessions)}):")
    for s in sessions:
        peaks = sorted(r.peak_deg for r in reps[s.id] if math.isfinite(r.peak_deg))
        median = f"{peaks[len(peaks) // 2]:.0f}" if peaks else "-"
        turns = f"  {alternation_text(reps[s.id], s.side)}" if s.alternating else ""
        when = f"{s.started:%Y-%m-%d}      " if s.date_only else f"{s.started:%Y-%m-%d %H:%M}"
        _out(f"  {s.id:5d}  {when}  {s.exercise_id:20s} {s.side:5s} "
             f"{s.rep_count:3d} reps  median peak {median:>4s} deg  {s.mode:7s} {s.status}"
             f"{turns}")
        for line in short_lines(s, reps[s.id]):
            _out(f"{'':9s}{line}")
        said = feedback_text(s.feedback)
        if said or s.feedback.sets is not None:
            sets = f"{s.feedback.sets} set(s)" if s.feedback.sets is not None else ""
            _out(f"{'':9s}patient: {', '.join(x for x in (sets, said) if x)}")
    if logged:
        _out(f"logged without a camera ({len(logged)}):")
        for x in logged:
            _out(f"  {x.id:5d}  {x.day}        {x.exercise_id:20s} {x.side or '-':5s} "
                 f"{x.sets} x {x.reps}{feedback_text(x.feedback, lead='  ')}")
    if notes:
        _out(f"clinician notes ({len(notes)}):")
        for n in notes:
            about = f" (session {n.session_id})" if n.session_id is not None else ""
            _out(f"  {n.day}{about}: {n.text}")
    return 0


def cmd_patient_edit(args: argparse.Namespace) -> int:
    """Change a patient's name, affected side or notes."""
    if args.name is None and args.side is None and args.notes is None:
        raise InputError("nothing to change: give --name, --side or --notes")
    with open_db(args) as store:
        p = store.edit_patient(args.id, display_name=args.name,
                               affected_side=None if args.side in (None, "none") else args.side,
                               clear_side=args.side == "none", notes=args.notes)
    _out(f"{p.id}: {p.display_name}; affected side {p.affected_side or '-'}"
         f"{'; notes: ' + p.notes if p.notes else ''}")
    return 0


def cmd_patient_note(args: argparse.Namespace) -> int:
    """Add a clinician's note to a patient's record."""
    day = parse_when(args.date).date() if args.date else None
    with open_db(args) as store:
        n = store.add_clinician_note(args.id, args.text, day=day, session_id=args.session)
    _out(f"{n.patient_id}: note {n.id} on {n.day}"
         f"{f' (session {n.session_id})' if n.session_id is not None else ''}")
    return 0


def cmd_log(args: argparse.Namespace) -> int:
    """Log a session done without a camera."""
    from rehab.exercises import get_exercise

    ex = get_exercise(args.exercise, args.exercises_dir)
    day = parse_when(args.date).date()
    with open_db(args) as store:
        x = store.log_session(args.patient, ex.id, day, sets=args.sets, reps=args.reps,
                              side=args.side, feedback=feedback_of(args, sets=args.sets),
                              force=args.force)
    _out(f"{x.patient_id}: logged {x.exercise_id} {x.sets} x {x.reps} on {x.day}"
         f"{feedback_text(x.feedback, lead='; ')}")
    return 0


def feedback_text(f: "SessionFeedback", lead: str = "") -> str:
    """``pain 3/10, exertion 5/10, 2 set(s), "note"`` (empty when nothing was said)."""
    parts = []
    if f.pain is not None:
        parts.append(f"pain {f.pain}/10")
    if f.exertion is not None:
        parts.append(f"exertion {f.exertion}/10")
    if f.note:
        parts.append(f'"{f.note}"')
    return lead + ", ".join(parts) if parts else ""


def cmd_patient_export(args: argparse.Namespace) -> int:
    """Export everything held about a patient (JSON, CSV, files) with ``--out``, and/or
    their camera sessions as a FHIR R4 Bundle with ``--fhir``."""
    if args.out is None and args.fhir is None:
        raise InputError("patient export needs --out DIR (everything, JSON + CSV) or "
                         "--fhir FILE.json (a FHIR R4 Bundle), or both")
    fhir_only = [o for o, v in (("--from", args.date_from), ("--to", args.date_to),
                                ("--include-name", args.include_name)) if v]
    if fhir_only and args.fhir is None:
        raise InputError(f"{', '.join(fhir_only)} needs --fhir FILE.json (--out exports "
                         f"everything held)")
    start = parse_date(args.date_from, "--from")
    end = parse_date(args.date_to, "--to")
    if start and end and start > end:
        raise InputError(f"--from {start} is after --to {end}")
    if args.fhir is not None:
        from rehab.exports.fhir import check_bundle_path

        check_bundle_path(args.fhir)
    with open_db(args) as store:  # an unknown patient is refused before anything is written
        if args.fhir is not None:
            from rehab.exports.fhir import write_bundle

            bundle = write_bundle(store, args.id, args.fhir, start, end,
                                  include_name=args.include_name)
            n = sum(e["resource"]["resourceType"] == "Observation" for e in bundle["entry"])
            log.info("wrote a FHIR R4 Bundle of %d observation(s) to %s", n, args.fhir)
            _out(str(Path(args.fhir)))
        if args.out is not None:
            paths = store.export_patient(args.id, args.out)
            for path in paths:
                log.debug("wrote %s", path)
            _out(str(Path(args.out) / "patient.json"))
            log.info("exported %d file(s) to %s", len(paths), args.out)
    return 0


def cmd_patient_delete(args: argparse.Namespace) -> int:
    """Delete a patient and all their data, after confirmation."""
    with open_db(args) as store:
        p = store.get_patient(args.id)
        n = len(store.sessions(p.id))
        if not args.yes:
            if not sys.stdin.isatty():
                raise RehabError(f"refusing to delete patient {p.id!r} ({n} session(s)) "
                                 f"without --yes (not an interactive terminal)")
            sys.stderr.write(f"Delete patient {p.id} ({p.display_name}), {n} session(s) and "
                             f"all their files? Type the patient id to confirm: ")
            sys.stderr.flush()
            if sys.stdin.readline().strip() != p.id:
                raise RehabError("not confirmed; nothing deleted", exit_code=1)
        store.delete_patient(p.id)
    log.info("deleted patient %s and %d session(s)", args.id, n)
    return 0


# --- rehab prescribe -------------------------------------------------------------------------

def cmd_prescribe(args: argparse.Namespace) -> int:
    """Prescribe an exercise to a patient (every number bounded by `rehab.limits`)."""
    from rehab import limits
    from rehab.argtypes import finite_float, int_in
    from rehab.exercises import get_exercise

    ex = get_exercise(args.exercise, args.exercises_dir)
    lo = option_value(finite_float, args.target_min, "--target-min")
    hi = option_value(finite_float, args.target_max, "--target-max")
    ex.with_target(lo, hi)  # within the joint's physiological range, min <= max
    reps = option_value(int_in(*limits.REPS_PER_SET), args.reps, "--reps")
    sets = option_value(int_in(*limits.SETS), args.sets, "--sets")
    days = option_value(int_in(*limits.DAYS_PER_WEEK), args.per_week, "--per-week")
    start = parse_date(args.start, "--start")
    end = parse_date(args.end, "--end")
    with open_db(args) as store:
        rx = store.prescribe(args.patient, ex.id, lo, hi, reps=reps, sets=sets, side=args.side,
                             start=start, end=end, days_per_week=days,
                             angle=ex.counting.angle)
    _out(f"{args.patient}: {ex.id} target {rx.target_min:g}-{rx.target_max:g} deg, "
         f"{rx.sets} x {rx.reps}, {rx.sessions_per_week} session(s) a week, from "
         f"{rx.start or 'the first session'} to {rx.end or 'open'}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``patient``, ``prescribe`` and ``log`` to the ``rehab`` command."""
    from rehab import limits
    from rehab.argtypes import int_in, positive_int

    p = subparsers.add_parser("patient", help="patients: add, list, show, edit, note, "
                                              "export, delete",
                              description="Manage the patient history database.")
    sub = p.add_subparsers(dest="patient_command", metavar="ACTION", required=True)

    q = sub.add_parser("add", help="add a patient")
    q.add_argument("id", help="patient id (letters, digits, _ . -), used on the command line")
    q.add_argument("--name", required=True, help="display name shown in reports")
    q.add_argument("--side", choices=("left", "right", "both"), help="affected side")
    q.add_argument("--notes", default="", help="free-text notes")
    add_db_option(q)
    q.set_defaults(func=cmd_patient_add)

    q = sub.add_parser("list", help="list patients")
    add_db_option(q)
    q.set_defaults(func=cmd_patient_list)

    q = sub.add_parser("show", help="a patient's details, prescriptions and sessions")
    q.add_argument("id", help="patient id")
    add_db_option(q)
    q.set_defaults(func=cmd_patient_show)

    q = sub.add_parser("edit", help="change a patient's name, affected side or notes")
    q.add_argument("id", help="patient id")
    q.add_argument("--name", help="display name shown in reports")
    q.add_argument("--side", choices=("left", "right", "both", "none"),
                   help="affected side (none: no affected side)")
    q.add_argument("--notes", help="free-text notes (replace the old ones)")
    add_db_option(q)
    q.set_defaults(func=cmd_patient_edit)

    q = sub.add_parser("note", help="add a clinician's note to a patient's record")
    q.add_argument("id", help="patient id")
    q.add_argument("text", help="the note")
    q.add_argument("--date", metavar="ISO", help="the note's date (default: the session's, "
                                                 "else today)")
    q.add_argument("--session", type=positive_int, metavar="N",
                   help="the session the note is about")
    add_db_option(q)
    q.set_defaults(func=cmd_patient_note)

    q = sub.add_parser("export", help="write everything held about a patient (JSON + CSV), "
                                      "or their sessions as a FHIR R4 Bundle")
    q.add_argument("id", help="patient id")
    q.add_argument("--out", "-o", metavar="DIR", help="export folder: everything held")
    q.add_argument("--fhir", metavar="FILE.json",
                   help="a FHIR R4 Bundle: the patient (by id), one Observation per session "
                        "and joint side (peak angle, reps), the prescriptions as Goals")
    q.add_argument("--from", dest="date_from", metavar="DATE",
                   help="with --fhir: first day (default: the first session)")
    q.add_argument("--to", dest="date_to", metavar="DATE",
                   help="with --fhir: last day (default: the last session)")
    q.add_argument("--include-name", action="store_true",
                   help="with --fhir: also the patient's display name (default: the id only)")
    add_db_option(q)
    q.set_defaults(func=cmd_patient_export)

    q = sub.add_parser("delete", help="delete a patient and all their data and files")
    q.add_argument("id", help="patient id")
    q.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    add_db_option(q)
    q.set_defaults(func=cmd_patient_delete)

    p = subparsers.add_parser("prescribe", help="prescribe an exercise to a patient",
                              description="Target band of the rep's peak angle, sets x reps "
                                          "per session and sessions per week; later "
                                          "prescriptions of the same exercise take "
                                          "precedence.")
    p.add_argument("patient", help="patient id")
    p.add_argument("exercise", help="exercise id (see 'rehab exercises')")
    p.add_argument("--target-min", required=True, metavar="DEG",
                   help="target band, lower end (within the joint's physiological range)")
    p.add_argument("--target-max", required=True, metavar="DEG",
                   help="target band, upper end (within the joint's physiological range)")
    p.add_argument("--reps", required=True, metavar="N", help="repetitions per set (1-1000)")
    p.add_argument("--sets", required=True, metavar="N", help="sets per session (1-100)")
    p.add_argument("--per-week", "--days-per-week", dest="per_week", default="7",
                   metavar="N", help="sessions per week (1-7, default 7)")
    p.add_argument("--side", choices=("left", "right", "both"), help="side to exercise")
    p.add_argument("--start", metavar="DATE", help="first day (default: from the first session; "
                                                   "1990-01-01 to 10 years from today)")
    p.add_argument("--end", metavar="DATE", help="last day (default: open; at most 10 years "
                                                 "from today)")
    p.add_argument("--exercises-dir", metavar="DIR",
                   help="extra folder of exercise definitions (*.toml)")
    add_db_option(p)
    p.set_defaults(func=cmd_prescribe)

    p = subparsers.add_parser("log", help="log a session done without a camera",
                              description="Log a session done at home without a camera: it "
                                          "counts for adherence and its pain and exertion "
                                          "are reported; it has no angles.")
    p.add_argument("patient", help="patient id")
    p.add_argument("exercise", help="exercise id (see 'rehab exercises')")
    p.add_argument("--date", required=True, metavar="ISO",
                   help="the day of the session (1990-01-01 to today)")
    p.add_argument("--sets", required=True, type=int_in(*limits.SETS), metavar="N",
                   help="sets done (1-100)")
    p.add_argument("--reps", required=True, type=int_in(*limits.REPS_PER_SET), metavar="N",
                   help="repetitions per set (1-1000)")
    p.add_argument("--side", choices=("left", "right", "both"), help="side exercised")
    add_feedback_options(p, sets=False)
    p.add_argument("--force", action="store_true",
                   help="log it even if the same sets x reps are logged that day")
    p.add_argument("--exercises-dir", metavar="DIR",
                   help="extra folder of exercise definitions (*.toml)")
    add_db_option(p)
    p.set_defaults(func=cmd_log)
