"""`Store`: patients, prescriptions and sessions in one SQLite file plus a files folder.

Every way a session arrives (offline analysis, live coaching, batch runs) goes through the
same two internal writers: `_insert_session` and `_insert_rep`. `Store.record_analysis`
writes a finished analysis (session, reps, file references) in one transaction;
`Store.begin_session` returns a `SessionWriter` that commits each rep as it completes, so a
live session killed mid-way keeps its session row (``ended`` NULL: "interrupted") and the
reps written so far.

Session files are first written to a staging folder, then renamed into
``<db name>-files/<patient>/<session id>/`` inside the transaction that references them.
Rows are written and read through `rehab.codec`, so a rep or session header field added to
`rehab.model` reaches the store, the exports and the report without a hand-written copy; the
session's measurement checks (`Analysis.involved`, ``view``, ``symmetry``, ``swaps``) are
kept as the involved side and JSON of their model objects (NULL before schema 5). A crash can
leave an unreferenced folder behind, never a reference to a missing or half-written file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import logging
import math
import os
import shutil
import sqlite3
import time
import uuid
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

from rehab import __version__
from rehab.codec import (
    REP_DB_COLUMNS,
    array_blob,
    blob_array,
    csv_text,
    decode,
    encode,
    flat_row,
    notes_from_json,
    notes_json,
    rep_db_values,
    rep_from_db,
)
from rehab.errors import InputError, OutputError, RehabError
from rehab.fileio import (
    PRIVATE_DIR_MODE,
    PRIVATE_FILE_MODE,
    StagedFolder,
    check_replaceable,
    describe_os_error,
    file_sha256,
    make_private,
    pid_alive,
    write_json_atomic,
    write_text_atomic,
)
from rehab.limits import Range
from rehab.model import (
    Analysis,
    AnalysisRecord,
    CalibrationRef,
    Rep,
    Scale,
    SessionHeader,
    SwapSummary,
    Symmetry,
    ViewCheck,
)
from rehab.settings import AnalysisSettings
from rehab.store.db import (
    StoreError,
    connect,
    default_db_path,
    files_dir,
    transaction,
)
from rehab.store.migrate_v2 import LEGACY_FILES_DIRNAME
from rehab.store.models import (
    MODES,
    PATIENT_ID_RE,
    SIDES,
    ClinicianNote,
    LoggedSession,
    OutputFolder,
    Patient,
    PatientPlan,
    Prescription,
    SessionFeedback,
    SessionRecord,
    check_note,
    check_patient_id,
    check_session_time,
    check_side,
    from_db_date,
    from_db_time,
    to_db_time,
)

log = logging.getLogger(__name__)

ANALYSIS_FILES = {"result_json": "result.json", "reps_csv": "reps.csv",
                  "angles_csv": "angles.csv", "landmarks_npz": "landmarks.npz"}
"""Files of an analysis kept with its session (no video unless the caller passes one)."""
EXPORT_ENTRIES = frozenset({"patient.json", "prescriptions.csv", "sessions.csv", "reps.csv",
                            "logged_sessions.csv", "clinician_notes.csv", "files"})
"""What a patient export folder holds: a folder holding only these may be re-exported into."""
STAGING_PREFIX = ".staging-"
STALE_STAGING_S = 24 * 3600.0

_REP_COLUMNS = ("session_id", "seq") + REP_DB_COLUMNS


def _insert_rep(conn: sqlite3.Connection, session_id: int, seq: int, rep: Rep) -> None:
    conn.execute(f"INSERT INTO reps ({', '.join(_REP_COLUMNS)}) "
                 f"VALUES ({', '.join('?' * len(_REP_COLUMNS))})",
                 (session_id, seq, *rep_db_values(rep)))
    if rep.counted:
        conn.execute("UPDATE sessions SET rep_count = rep_count + 1 WHERE id = ?", (session_id,))


def _insert_session(conn: sqlite3.Connection, **fields: Any) -> int:
    cols = ", ".join(fields)
    cur = conn.execute(f"INSERT INTO sessions ({cols}) VALUES ({', '.join('?' * len(fields))})",
                       tuple(fields.values()))
    assert cur.lastrowid is not None
    return int(cur.lastrowid)


def _header(exercise_id: str, side: str, mode: str, **fields: Any) -> SessionHeader:
    """A session header, with the exercise's name, angle, rest and settings from the library
    when it is known there."""
    from rehab.errors import ConfigError
    from rehab.exercises import get_exercise

    try:
        ex = get_exercise(exercise_id)
    except ConfigError:
        fields.setdefault("exercise_name", exercise_id)
        fields.setdefault("angle", "")
        fields.setdefault("rest", "low")
        return SessionHeader(exercise_id=exercise_id, side=side, mode=mode,  # type: ignore
                             **fields)
    fields = {k: v for k, v in fields.items() if v or k not in ("exercise_name", "angle")}
    return SessionHeader.for_exercise(ex, side, mode, **fields)  # type: ignore[arg-type]


def _trace_values(session_id: int, trace: tuple[np.ndarray, np.ndarray]) -> tuple[Any, ...]:
    t, a = trace
    if len(t) != len(a):
        raise StoreError(f"session {session_id}: trace times and angles differ in length")
    return session_id, array_blob(t), array_blob(a)


def _json_model(cls: type, text: str | None) -> Any:
    """A model object stored as JSON text (None stays None)."""
    if text is None:
        return None
    doc = json.loads(text)
    return None if doc is None else decode(cls, doc)


def _model_json(obj: Any) -> str | None:
    """A model object as stored JSON text (full precision; None stays NULL)."""
    return None if obj is None else json.dumps(encode(obj), allow_nan=False)


def _measurement_fields(involved: str, view: ViewCheck | None, symmetry: Symmetry | None,
                        swaps: SwapSummary | None) -> dict[str, Any]:
    """The ``sessions`` columns of the measurement checks (schema 5): the involved side and
    the view check, symmetry and swap repair as JSON."""
    if involved not in ("", *SIDES):
        raise StoreError(f"involved side must be one of {', '.join(SIDES)} or empty, not "
                         f"{involved!r}")
    return {"involved": involved, "view": _model_json(view),
            "symmetry": _model_json(symmetry), "swaps": _model_json(swaps)}


def _feedback_fields(feedback: SessionFeedback | None) -> dict[str, Any]:
    """The ``sessions`` columns of what the patient said (schema 6), validated."""
    f = (feedback or SessionFeedback()).checked()
    return {"pain": f.pain, "exertion": f.exertion, "patient_note": f.note,
            "sets_done": f.sets}


def _feedback_of(r: sqlite3.Row) -> SessionFeedback:
    """A ``sessions`` row's `SessionFeedback`."""
    return SessionFeedback(pain=r["pain"], exertion=r["exertion"], note=r["patient_note"],
                           sets=r["sets_done"])


class DuplicateSessionError(StoreError):
    """The same recording is already stored for this patient on this day."""


def _days_where(patient_id: str, start: dt.date | None, end: dt.date | None
                ) -> tuple[list[str], list[Any]]:
    """``WHERE`` clauses and parameters: the patient's rows whose ``day`` lies in
    ``[start, end]`` (either end open when None)."""
    where, params = ["patient_id = ?"], [patient_id]
    for clause, value in (("day >= ?", start), ("day <= ?", end)):
        if value is not None:
            where.append(clause)
            params.append(value.isoformat())
    return where, params


def _day_bounds(day: dt.date) -> tuple[str, str]:
    """``started`` text bounds of one day: ``[day, next day)``."""
    return day.isoformat(), (day + dt.timedelta(days=1)).isoformat()


def _check_counts(*counts: tuple[str, Any, Range]) -> None:
    """Each ``(name, count, bound)``: a whole number within its `rehab.limits.Range`."""
    import operator

    for name, count, bound in counts:
        try:
            problem = bound.problem(operator.index(count))
        except TypeError:
            problem = "must be a whole number"
        if problem:
            raise StoreError(f"{name} {problem}, not {count!r}")


def _check_target(target_min: float | None, target_max: float | None) -> None:
    for name, v in (("target min", target_min), ("target max", target_max)):
        if v is not None and not math.isfinite(v):
            raise StoreError(f"{name} must be a finite number of degrees, not {v!r}")
    if target_min is not None and target_max is not None and target_min > target_max:
        raise StoreError(f"target min {target_min:g} deg is greater than target max "
                         f"{target_max:g} deg")


class SessionWriter:
    """Writes one session rep by rep (live coaching); each `add_rep` commits immediately."""

    def __init__(self, store: "Store", session_id: int, patient_id: str) -> None:
        self._store = store
        self.session_id = session_id
        self.patient_id = patient_id
        row = store.conn.execute("SELECT COALESCE(MAX(seq), 0) FROM reps WHERE session_id = ?",
                                 (session_id,)).fetchone()
        self._seq = int(row[0])
        self.finished = False

    def add_rep(self, rep: Rep) -> None:
        """Store one repetition (counted or not) and commit."""
        if self.finished:
            raise StoreError(f"session {self.session_id} is finished; no more reps can be added")
        with transaction(self._store.conn) as conn:
            _insert_rep(conn, self.session_id, self._seq + 1, rep)
        self._seq += 1

    def finish(self, ended: dt.datetime, notes: Iterable[str] = (),
               files: Mapping[str, str | os.PathLike[str]] | None = None,
               trace: tuple[np.ndarray, np.ndarray] | None = None,
               alternating: bool = False, *, involved: str = "",
               view: ViewCheck | None = None, symmetry: Symmetry | None = None,
               swaps: SwapSummary | None = None,
               feedback: SessionFeedback | None = None) -> None:
        """Mark the session complete; copy ``files`` (kind -> path) next to the database;
        keep ``trace`` (times in s, smoothed primary angle in degrees) for the report;
        ``alternating``: the reps were done by both limbs in turn; ``involved`` (the
        affected side asked for: left, right, both; empty for auto), ``view``, ``symmetry``
        and ``swaps``: the session's measurement checks, as `Analysis` has them (None: not
        checked); ``feedback``: pain, exertion, note and sets done (None: keep what
        `Store.set_feedback` stored)."""
        if self.finished:
            raise StoreError(f"session {self.session_id} is already finished")
        checks = _measurement_fields(involved, view, symmetry, swaps)
        if feedback is not None:
            self._store.set_feedback(self.session_id, feedback)
        staged = self._store._stage_files(self.patient_id, files or {})
        try:
            with transaction(self._store.conn) as conn:
                conn.execute("UPDATE sessions SET ended = ?, notes = ?, alternating = ?, "
                             "involved = ?, view = ?, symmetry = ?, swaps = ? WHERE id = ?",
                             (to_db_time(ended), notes_json(notes), int(alternating),
                              *checks.values(), self.session_id))
                if trace is not None:
                    conn.execute("INSERT OR REPLACE INTO session_traces VALUES (?, ?, ?)",
                                 _trace_values(self.session_id, trace))
                self._store._attach_files(conn, self.patient_id, self.session_id, staged)
        finally:
            if staged is not None and staged[0].exists():
                shutil.rmtree(staged[0], ignore_errors=True)
        self.finished = True

    def __enter__(self) -> "SessionWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        """Leaves an unfinished session as it is: it shows as interrupted."""


class Store:
    """The patient store (see module docstring); use `open_store` to get one."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).expanduser().resolve()
        self.conn = connect(self.path)
        self.files_root = files_dir(self.path)
        self._adopt_legacy_files()
        self._clean_stale_staging()
        self._remove_orphan_folders()

    # --- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- patients --------------------------------------------------------------------------

    def add_patient(self, patient_id: str, display_name: str, affected_side: str | None = None,
                    notes: str = "") -> Patient:
        """Add a patient; the id must be new."""
        check_patient_id(patient_id)
        check_side(affected_side, "affected side")
        if not display_name.strip():
            raise StoreError("the display name must not be empty")
        try:
            with transaction(self.conn) as conn:
                conn.execute("INSERT INTO patients (id, display_name, affected_side, notes, "
                             "created) VALUES (?, ?, ?, ?, ?)",
                             (patient_id, display_name, affected_side, notes,
                              to_db_time(dt.datetime.now())))
        except sqlite3.IntegrityError:
            raise StoreError(f"patient {patient_id!r} already exists") from None
        # files of a deleted patient whose removal was interrupted
        self._remove_patient_folder(patient_id, ignore_errors=True)
        return self.get_patient(patient_id)

    def get_patient(self, patient_id: str) -> Patient:
        """The patient, or a `StoreError` naming the unknown id."""
        row = self.conn.execute("SELECT * FROM patients WHERE id = ?", (patient_id,)).fetchone()
        if row is None:
            raise StoreError(f"unknown patient {patient_id!r} (see 'rehab patient list'; "
                             f"database {self.path})")
        return Patient(id=row["id"], display_name=row["display_name"],
                       affected_side=row["affected_side"], notes=row["notes"],
                       created=from_db_time(row["created"]) or dt.datetime.min)

    def edit_patient(self, patient_id: str, display_name: str | None = None,
                     affected_side: str | None = None, clear_side: bool = False,
                     notes: str | None = None) -> Patient:
        """Change a patient's display name, affected side (``clear_side``: none) or notes;
        what is not given stays."""
        p = self.get_patient(patient_id)
        if display_name is not None and not display_name.strip():
            raise StoreError("the display name must not be empty")
        check_side(affected_side, "affected side")
        if clear_side and affected_side is not None:
            raise StoreError("give an affected side or clear it, not both")
        side = None if clear_side else (affected_side or p.affected_side)
        with transaction(self.conn) as conn:
            conn.execute("UPDATE patients SET display_name = ?, affected_side = ?, notes = ? "
                         "WHERE id = ?", (p.display_name if display_name is None
                                          else display_name.strip(), side,
                                          p.notes if notes is None
                                          else check_note(notes, "patient notes"), p.id))
        return self.get_patient(p.id)

    def list_patients(self) -> list[Patient]:
        """All patients, by id."""
        rows = self.conn.execute("SELECT id FROM patients ORDER BY id").fetchall()
        return [self.get_patient(r["id"]) for r in rows]

    def delete_patient(self, patient_id: str) -> list[Path]:
        """Remove the patient, their prescriptions, sessions, reps and files, and the result
        folders written for their sessions outside the store while these still hold those
        results; returns the result folders left in place (changed since, or foreign files
        added)."""
        self.get_patient(patient_id)
        outputs = self.conn.execute(
            "SELECT o.path, o.result_sha256 FROM output_folders o JOIN sessions s "
            "ON s.id = o.session_id WHERE s.patient_id = ?", (patient_id,)).fetchall()
        # first the copies outside the store (killed here, the patient is still whole)
        kept = [p for p in (_remove_output(Path(r[0]), r[1]) for r in outputs) if p]
        with transaction(self.conn) as conn:
            conn.execute("DELETE FROM patients WHERE id = ?", (patient_id,))
        # deleted pages are zeroed (secure_delete); move them out of the WAL as well
        self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self._remove_patient_folder(patient_id)  # killed here: the next open finishes it
        log.debug("deleted patient %s", patient_id)
        return kept

    def _remove_patient_folder(self, patient_id: str, ignore_errors: bool = False) -> None:
        """Remove a patient's files folder (a symbolic link there: the link itself, never
        what it points to)."""
        folder = self.files_root / check_patient_id(patient_id)
        if folder.is_symlink():
            folder.unlink()
        elif folder.exists():
            shutil.rmtree(folder, ignore_errors=ignore_errors)

    def _remove_orphan_folders(self) -> None:
        """Finish a `delete_patient` killed after its commit: remove files folders of
        patients no longer in the database (a patient's row always exists before its
        folder)."""
        if not self.files_root.is_dir():
            return
        known = {r[0] for r in self.conn.execute("SELECT id FROM patients")}
        for d in self.files_root.iterdir():
            if d.name in known or d.name.startswith(".") or not PATIENT_ID_RE.fullmatch(d.name):
                continue
            with contextlib.suppress(OSError):
                self._remove_patient_folder(d.name)
                log.info("removed %s, the files of a deleted patient", d)

    # --- prescriptions ---------------------------------------------------------------------

    def prescribe(self, patient_id: str, exercise_id: str, target_min: float, target_max: float,
                  reps: int, sets: int, side: str | None = None, start: dt.date | None = None,
                  end: dt.date | None = None, days_per_week: int = 7,
                  angle: str | None = None) -> Prescription:
        """Prescribe an exercise: target band of the peak angle, sets x reps a session,
        ``days_per_week`` sessions a week (every number and date within `rehab.limits`;
        the band within the physiological range of ``angle``, by default the library
        exercise's counting angle)."""
        from rehab import limits
        from rehab.errors import ConfigError
        from rehab.exercises import get_exercise

        self.get_patient(patient_id)
        _check_target(float(target_min), float(target_max))
        if angle is None:
            with contextlib.suppress(ConfigError):
                angle = get_exercise(exercise_id).counting.angle
        problem = None if angle is None else limits.target_range_problem(
            angle, float(target_min), float(target_max))
        if problem:
            raise StoreError(f"{exercise_id}: {problem}")
        for name, deg in (("target min", target_min), ("target max", target_max)):
            problem = limits.DEGREES.problem(float(deg))
            if problem:
                raise StoreError(f"{name} {problem} degrees, not {deg:g}")
        check_side(side)
        _check_counts(("reps", reps, limits.REPS_PER_SET), ("sets", sets, limits.SETS),
                      ("days per week", days_per_week, limits.DAYS_PER_WEEK))
        for name, day in (("start date", start), ("end date", end)):
            problem = None if day is None else limits.plan_date_problem(day)
            if problem:
                raise StoreError(f"{name} {problem}")
        if start is not None and end is not None and end < start:
            raise StoreError(f"end date {end} is before start date {start}")
        with transaction(self.conn) as conn:
            cur = conn.execute(
                "INSERT INTO prescriptions (patient_id, exercise_id, target_min, target_max, "
                "reps, sets, days_per_week, side, start_date, end_date, created) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (patient_id, exercise_id, float(target_min), float(target_max), int(reps),
                 int(sets), int(days_per_week), side,
                 start.isoformat() if start else None, end.isoformat() if end else None,
                 to_db_time(dt.datetime.now())))
            pid = int(cur.lastrowid or 0)
        return self._prescriptions("id = ?", (pid,))[0]

    def prescriptions(self, patient_id: str, exercise_id: str | None = None) -> list[Prescription]:
        """The patient's prescriptions, oldest first."""
        if exercise_id is None:
            return self._prescriptions("patient_id = ?", (patient_id,))
        return self._prescriptions("patient_id = ? AND exercise_id = ?", (patient_id, exercise_id))

    def plan(self, patient_id: str, exercise_id: str, day: dt.date, side: str | None = None,
             target_min: float | None = None, target_max: float | None = None
             ) -> PatientPlan:
        """The `PatientPlan` of a session of ``exercise_id`` on ``day``: ``side``,
        ``target_min`` and ``target_max`` (given by the user, None if not) win over the
        prescription in force, whose side wins over the patient's affected side."""
        patient = self.get_patient(patient_id)
        p = self.prescription_for(patient_id, exercise_id, on=day)
        if side is None and p is not None and p.side in SIDES:
            side = p.side
        if side is None and patient.affected_side in SIDES:
            side = patient.affected_side
        if p is None:
            return PatientPlan(None, None, None, side)
        lo = p.target_min if target_min is None else target_min
        hi = p.target_max if target_max is None else target_max
        if lo > hi:
            raise InputError(f"target min {lo:g} deg is greater than target max {hi:g} deg "
                             f"(command line combined with the prescription "
                             f"{p.target_min:g}-{p.target_max:g})")
        return PatientPlan((float(lo), float(hi)), p.reps, p.sets, side)

    def prescription_for(self, patient_id: str, exercise_id: str,
                         on: dt.date | None = None) -> Prescription | None:
        """The most recent prescription of ``exercise_id`` in force on ``on`` (default today)."""
        day = on or dt.date.today()
        active = [p for p in self.prescriptions(patient_id, exercise_id) if p.active_on(day)]
        return active[-1] if active else None

    def _prescriptions(self, where: str, params: tuple[Any, ...]) -> list[Prescription]:
        rows = self.conn.execute(f"SELECT * FROM prescriptions WHERE {where} ORDER BY id",
                                 params).fetchall()
        return [Prescription(
            id=r["id"], patient_id=r["patient_id"], exercise_id=r["exercise_id"],
            target_min=r["target_min"], target_max=r["target_max"], reps=r["reps"],
            sets=r["sets"], side=r["side"], start=from_db_date(r["start_date"]),
            end=from_db_date(r["end_date"]), days_per_week=r["days_per_week"],
            created=from_db_time(r["created"])) for r in rows]

    # --- sessions --------------------------------------------------------------------------

    def begin_session(self, patient_id: str, exercise_id: str, side: str, started: dt.datetime,
                      source: str, mode: str, model: str = "", model_sha256: str = "",
                      calibration: CalibrationRef | None = None,
                      target_min: float | None = None, target_max: float | None = None, *,
                      exercise_name: str = "", angle: str = "", rest: str = "low"
                      ) -> SessionWriter:
        """Open a session now (committed, ``ended`` NULL) and return its rep writer.

        ``exercise_name``, ``angle`` (primary angle column), ``rest`` and the settings come
        from the exercise library for ``exercise_id`` and ``side`` when not given.
        """
        header = _header(exercise_id, side, mode, source=source, model=model,
                         model_sha256=model_sha256, calibration=calibration,
                         target_min=target_min, target_max=target_max,
                         exercise_name=exercise_name, angle=angle, rest=rest)
        return self.begin(patient_id, header, started)

    def begin(self, patient_id: str, header: SessionHeader, started: dt.datetime
              ) -> SessionWriter:
        """Open a session described by ``header`` (committed, ``ended`` NULL)."""
        self.get_patient(patient_id)
        fields = self._session_fields(patient_id, header, started)
        with transaction(self.conn) as conn:
            sid = _insert_session(conn, **fields)
        return SessionWriter(self, sid, patient_id)

    def record_analysis(self, patient_id: str, analysis: Analysis, started: dt.datetime,
                        mode: str = "offline",
                        files: Mapping[str, str | os.PathLike[str]] | None = None,
                        output: OutputFolder | None = None,
                        feedback: SessionFeedback | None = None, content_sha256: str = "",
                        force: bool = False) -> int:
        """Store a finished analysis: session, all reps, its trace and files, in one
        transaction; returns the session id.

        The analysis files (landmarks, angle trace, reps, result.json) are written from
        ``analysis`` itself, never picked up from a folder other runs may share; ``files``
        adds this run's own other files (kind -> path, e.g. ``overlay_mp4``). ``output``
        records the result folder written for this session outside the store, which
        `delete_patient` removes with the patient. ``feedback``: what the patient said of
        the session. ``content_sha256``: the analysed recording's sha256 (`recording_sha256`);
        the same recording stored for the patient on the same day is refused
        (`DuplicateSessionError`) unless ``force``.
        """
        self.get_patient(patient_id)
        record = AnalysisRecord.of(analysis, mode)  # type: ignore[arg-type]
        fields = self._record_fields(patient_id, record, started, feedback, content_sha256)
        staged = self._stage_analysis(patient_id, analysis, files or {})
        return self._insert_record(patient_id, record, fields, staged, output, started.date(),
                                   force)

    def record_result(self, patient_id: str, record: AnalysisRecord, started: dt.datetime,
                      files: Mapping[str, str | os.PathLike[str]],
                      output: OutputFolder | None = None,
                      feedback: SessionFeedback | None = None, content_sha256: str = "",
                      force: bool = False) -> int:
        """Store an analysis made elsewhere (a batch worker) from its `AnalysisRecord` and
        the result files it wrote (kind -> path: ``result_json``, ``reps_csv``,
        ``angles_csv``, ``landmarks_npz``; copied in), in one transaction, exactly as
        `record_analysis` stores the same analysis; returns the session id."""
        self.get_patient(patient_id)
        fields = self._record_fields(patient_id, record, started, feedback, content_sha256)
        staged = self._stage_files(patient_id, files) or (self._new_staging(patient_id), {})
        return self._insert_record(patient_id, record, fields, staged, output, started.date(),
                                   force)

    def _record_fields(self, patient_id: str, record: AnalysisRecord, started: dt.datetime,
                       feedback: SessionFeedback | None, content_sha256: str
                       ) -> dict[str, Any]:
        """The ``sessions`` row of a finished analysis."""
        fields = self._session_fields(patient_id, record.header, started)
        fields.update(_feedback_fields(feedback), content_sha256=content_sha256)
        fields.update(
            ended=to_db_time(started + dt.timedelta(seconds=record.duration_s)),
            notes=notes_json(record.notes), start_state=record.start_state,
            low_threshold_deg=encode(record.low_threshold),
            high_threshold_deg=encode(record.high_threshold),
            alternating=int(bool(record.alternating)),
            **_measurement_fields(record.involved, record.view, record.symmetry,
                                  record.swaps))
        return fields

    def _insert_record(self, patient_id: str, record: AnalysisRecord, fields: dict[str, Any],
                       staged: tuple[Path, dict[str, str]], output: OutputFolder | None,
                       day: dt.date, force: bool) -> int:
        """One transaction: the session row, its reps, trace, output folder and files."""
        content_sha256 = fields["content_sha256"]
        try:
            with transaction(self.conn) as conn:
                if content_sha256 and not force:
                    self.refuse_duplicate(patient_id, day, content_sha256)
                sid = _insert_session(conn, **fields)
                for i, rep in enumerate(record.reps, start=1):
                    _insert_rep(conn, sid, i, rep)
                conn.execute("INSERT INTO session_traces VALUES (?, ?, ?)",
                             _trace_values(sid, (record.trace_t, record.trace_deg)))
                if output is not None:
                    conn.execute("INSERT INTO output_folders VALUES (?, ?, ?)",
                                 (sid, str(Path(output.path).resolve()), output.result_sha256))
                self._attach_files(conn, patient_id, sid, staged)
        finally:
            if staged[0].exists():
                shutil.rmtree(staged[0], ignore_errors=True)
        log.debug("stored session %d for %s (%d reps)", sid, patient_id, record.rep_count)
        return sid

    def analysed(self, patient_id: str, content_sha256: str, exercise_id: str,
                 settings_hash: str) -> SessionRecord | None:
        """The patient's session analysed from the recording of sha256 ``content_sha256``
        for ``exercise_id`` with the settings of ``settings_hash``, if any (a batch skips
        it)."""
        row = self.conn.execute(
            "SELECT id FROM sessions WHERE patient_id = ? AND content_sha256 = ? AND "
            "exercise_id = ? AND settings_hash = ? ORDER BY id LIMIT 1",
            (patient_id, content_sha256, exercise_id, settings_hash)).fetchone()
        return None if row is None else self.session(int(row[0]))

    def _session_fields(self, patient_id: str, header: SessionHeader,
                        started: dt.datetime) -> dict[str, Any]:
        """The ``sessions`` row of a new session."""
        from rehab.store.models import check_session_time

        check_session_time(started)
        if header.mode not in MODES:
            raise StoreError(f"session mode must be one of {', '.join(MODES)}, "
                             f"not {header.mode!r}")
        if header.rest not in ("low", "high"):
            raise StoreError(f"rest must be 'low' or 'high', not {header.rest!r}")
        _check_target(header.target_min, header.target_max)
        calibration = encode(header.calibration)
        scale = encode(header.scale)
        return {"patient_id": patient_id, "exercise_id": header.exercise_id,
                "exercise_name": header.exercise_name or header.exercise_id,
                "side": header.side, "angle": header.angle, "rest": header.rest,
                "started": to_db_time(started), "source": str(header.source),
                "mode": header.mode, "model": header.model or "",
                "model_sha256": header.model_sha256 or "",
                "calibration": None if calibration is None else json.dumps(calibration),
                "software_version": __version__, "target_min": header.target_min,
                "target_max": header.target_max, "angle_space": header.angle_space,
                "settings": json.dumps(header.settings.to_dict()),
                "settings_hash": header.settings_hash,
                "scale": None if scale is None else json.dumps(scale)}

    def duplicate_of(self, patient_id: str, day: dt.date, content_sha256: str
                     ) -> SessionRecord | None:
        """The patient's session of ``day`` analysed from the same recording, if any."""
        lo, hi = _day_bounds(day)
        row = self.conn.execute(
            "SELECT id FROM sessions WHERE patient_id = ? AND content_sha256 = ? AND "
            "started >= ? AND started < ? ORDER BY id LIMIT 1",
            (patient_id, content_sha256, lo, hi)).fetchone()
        return None if row is None else self.session(int(row[0]))

    def refuse_duplicate(self, patient_id: str, day: dt.date, content_sha256: str,
                         what: str = "this recording") -> None:
        """`DuplicateSessionError` naming the session when the patient has ``what`` (the
        recording of sha256 ``content_sha256``) stored on ``day``."""
        same = self.duplicate_of(patient_id, day, content_sha256)
        if same is not None:
            raise DuplicateSessionError(
                f"{what} is already stored for {patient_id} on {day} (session "
                f"{same.id}, {same.exercise_id}); pass --force to store it again")

    def set_feedback(self, session_id: int, feedback: SessionFeedback) -> None:
        """Store what the patient said of a session (pain, exertion, note, sets done)."""
        fields = _feedback_fields(feedback)
        with transaction(self.conn) as conn:
            cur = conn.execute(
                f"UPDATE sessions SET {', '.join(f'{k} = ?' for k in fields)} WHERE id = ?",
                (*fields.values(), session_id))
            if cur.rowcount != 1:
                raise StoreError(f"unknown session {session_id}")

    def log_session(self, patient_id: str, exercise_id: str, day: dt.date, sets: int,
                    reps: int, side: str | None = None,
                    feedback: SessionFeedback | None = None,
                    force: bool = False) -> LoggedSession:
        """Log a session done without a camera: ``sets`` x ``reps`` of ``exercise_id`` on
        ``day`` (from `rehab.limits.EARLIEST_DATE` to today), with what the patient said;
        the same sets x reps of the exercise logged that day already is refused
        (`DuplicateSessionError`) unless ``force``."""
        from rehab import limits
        from rehab.errors import ConfigError
        from rehab.exercises import get_exercise

        self.get_patient(patient_id)
        check_session_time(dt.datetime.combine(day, dt.time(0)))
        check_side(side)
        _check_counts(("reps", reps, limits.REPS_PER_SET), ("sets", sets, limits.SETS))
        f = dataclasses.replace(feedback or SessionFeedback(), sets=sets).checked()
        try:
            name = get_exercise(exercise_id).name
        except ConfigError:
            name = exercise_id
        with transaction(self.conn) as conn:
            if not force and conn.execute(
                    "SELECT 1 FROM logged_sessions WHERE patient_id = ? AND exercise_id = ? "
                    "AND day = ? AND sets = ? AND reps = ?",
                    (patient_id, exercise_id, day.isoformat(), int(sets), int(reps))
            ).fetchone():
                raise DuplicateSessionError(
                    f"{patient_id}: {exercise_id} {sets} x {reps} is already logged on "
                    f"{day}; pass --force to log it again")
            cur = conn.execute(
                "INSERT INTO logged_sessions (patient_id, exercise_id, exercise_name, side, "
                "day, sets, reps, pain, exertion, note, created) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (patient_id, exercise_id, name, side, day.isoformat(), int(sets), int(reps),
                 f.pain, f.exertion, f.note, to_db_time(dt.datetime.now())))
            lid = int(cur.lastrowid or 0)
        return self._logged("id = ?", (lid,))[0]

    def logged_sessions(self, patient_id: str, start: dt.date | None = None,
                        end: dt.date | None = None,
                        exercise_id: str | None = None) -> list[LoggedSession]:
        """The patient's sessions logged without a camera, oldest first."""
        where, params = _days_where(patient_id, start, end)
        if exercise_id is not None:
            where.append("exercise_id = ?")
            params.append(exercise_id)
        return self._logged(" AND ".join(where), tuple(params))

    def _logged(self, where: str, params: tuple[Any, ...]) -> list[LoggedSession]:
        rows = self.conn.execute(f"SELECT * FROM logged_sessions WHERE {where} "
                                 f"ORDER BY day, id", params).fetchall()
        return [LoggedSession(
            id=r["id"], patient_id=r["patient_id"], exercise_id=r["exercise_id"],
            exercise_name=r["exercise_name"] or r["exercise_id"], side=r["side"],
            day=from_db_date(r["day"]) or dt.date.min, sets=r["sets"], reps=r["reps"],
            feedback=SessionFeedback(pain=r["pain"], exertion=r["exertion"], note=r["note"],
                                     sets=r["sets"]),
            created=from_db_time(r["created"]) or dt.datetime.min) for r in rows]

    def add_clinician_note(self, patient_id: str, text: str, day: dt.date | None = None,
                           session_id: int | None = None) -> ClinicianNote:
        """Add a clinician's note to the patient's record (default: today), optionally
        about one of their sessions."""
        self.get_patient(patient_id)
        text = check_note(text, "clinician note")
        if not text:
            raise StoreError("the clinician note is empty")
        if session_id is not None:
            s = self.session(session_id)
            if s.patient_id != patient_id:
                raise StoreError(f"session {session_id} is not {patient_id}'s")
            day = day or s.day
        day = day or dt.date.today()
        check_session_time(dt.datetime.combine(day, dt.time(0)))
        with transaction(self.conn) as conn:
            cur = conn.execute(
                "INSERT INTO clinician_notes (patient_id, day, text, session_id, created) "
                "VALUES (?, ?, ?, ?, ?)", (patient_id, day.isoformat(), text, session_id,
                                           to_db_time(dt.datetime.now())))
            nid = int(cur.lastrowid or 0)
        return self._notes("id = ?", (nid,))[0]

    def clinician_notes(self, patient_id: str, start: dt.date | None = None,
                        end: dt.date | None = None) -> list[ClinicianNote]:
        """The clinician's notes on the patient, oldest first."""
        where, params = _days_where(patient_id, start, end)
        return self._notes(" AND ".join(where), tuple(params))

    def _notes(self, where: str, params: tuple[Any, ...]) -> list[ClinicianNote]:
        rows = self.conn.execute(f"SELECT * FROM clinician_notes WHERE {where} "
                                 f"ORDER BY day, id", params).fetchall()
        return [ClinicianNote(id=r["id"], patient_id=r["patient_id"],
                              day=from_db_date(r["day"]) or dt.date.min, text=r["text"],
                              session_id=r["session_id"],
                              created=from_db_time(r["created"]) or dt.datetime.min)
                for r in rows]

    def sessions(self, patient_id: str, start: dt.date | None = None, end: dt.date | None = None,
                 exercise_id: str | None = None) -> list[SessionRecord]:
        """The patient's sessions between ``start`` and ``end`` (inclusive), oldest first."""
        where, params = ["patient_id = ?"], [patient_id]
        if start is not None:
            where.append("started >= ?")
            params.append(start.isoformat())
        if end is not None:
            where.append("started < ?")
            params.append((end + dt.timedelta(days=1)).isoformat())
        if exercise_id is not None:
            where.append("exercise_id = ?")
            params.append(exercise_id)
        rows = self.conn.execute(f"SELECT * FROM sessions WHERE {' AND '.join(where)} "
                                 f"ORDER BY started, id", params).fetchall()
        files: dict[int, dict[str, Path]] = {}
        for f in self.conn.execute(
                "SELECT f.session_id, f.kind, f.path FROM session_files f JOIN sessions s "
                "ON s.id = f.session_id WHERE s.patient_id = ?", (patient_id,)):
            path = self._stored_path(f["path"])
            if path is not None:
                files.setdefault(f["session_id"], {})[f["kind"]] = path
        return [self._session_from_row(r, files.get(r["id"], {})) for r in rows]

    def session(self, session_id: int) -> SessionRecord:
        """One session by id."""
        row = self.conn.execute("SELECT * FROM sessions WHERE id = ?", (session_id,)).fetchone()
        if row is None:
            raise StoreError(f"unknown session {session_id}")
        files = {f["kind"]: p for f in self.conn.execute(
            "SELECT kind, path FROM session_files WHERE session_id = ?", (session_id,))
            if (p := self._stored_path(f["path"])) is not None}
        return self._session_from_row(row, files)

    @staticmethod
    def _session_from_row(r: sqlite3.Row, files: dict[str, Path]) -> SessionRecord:
        return SessionRecord(
            id=r["id"], patient_id=r["patient_id"], exercise_id=r["exercise_id"],
            exercise_name=r["exercise_name"], side=r["side"], angle=r["angle"], rest=r["rest"],
            started=from_db_time(r["started"]) or dt.datetime.min,
            ended=from_db_time(r["ended"]), source=r["source"], mode=r["mode"],
            model=r["model"], model_sha256=r["model_sha256"],
            calibration=_json_model(CalibrationRef, r["calibration"]),
            software_version=r["software_version"], target_min=r["target_min"],
            target_max=r["target_max"], rep_count=r["rep_count"],
            notes=notes_from_json(r["notes"]), files=files, angle_space=r["angle_space"],
            settings=None if r["settings"] is None else
            AnalysisSettings.from_dict(json.loads(r["settings"])),
            settings_hash=r["settings_hash"], scale=_json_model(Scale, r["scale"]),
            start_state=r["start_state"], low_threshold_deg=r["low_threshold_deg"],
            high_threshold_deg=r["high_threshold_deg"], alternating=bool(r["alternating"]),
            involved=r["involved"] or "", view=_json_model(ViewCheck, r["view"]),
            symmetry=_json_model(Symmetry, r["symmetry"]),
            swaps=_json_model(SwapSummary, r["swaps"]), feedback=_feedback_of(r),
            content_sha256=r["content_sha256"])

    def trace(self, session_id: int) -> tuple[np.ndarray, np.ndarray] | None:
        """The session's smoothed primary-angle trace (times in s, degrees), if stored."""
        row = self.conn.execute("SELECT time_s, angle_deg FROM session_traces "
                                "WHERE session_id = ?", (session_id,)).fetchone()
        return None if row is None else (blob_array(row[0]), blob_array(row[1]))

    def reps(self, session_id: int, counted_only: bool = False) -> list[Rep]:
        """The session's repetitions in order (uncounted ones too unless ``counted_only``)."""
        return self.reps_for([session_id], counted_only).get(session_id, [])

    def reps_for(self, session_ids: Iterable[int],
                 counted_only: bool = False) -> dict[int, list[Rep]]:
        """Repetitions of many sessions at once, by session id."""
        ids = list(session_ids)
        out: dict[int, list[Rep]] = {i: [] for i in ids}
        kind = " AND kind = 'complete'" if counted_only else ""
        for k in range(0, len(ids), 500):
            chunk = ids[k:k + 500]
            q = (f"SELECT * FROM reps WHERE session_id IN ({', '.join('?' * len(chunk))}){kind} "
                 f"ORDER BY session_id, seq")
            for row in self.conn.execute(q, chunk):
                out[row["session_id"]].append(rep_from_db(row))
        return out

    # --- files -----------------------------------------------------------------------------

    def _stored_path(self, rel: str) -> Path | None:
        """A stored file's path, if it resolves inside the files root (a symbolic link or
        ``..`` leading elsewhere is refused with a warning, never followed)."""
        path = self.files_root / rel
        root = self.files_root.resolve()
        if root not in path.resolve().parents:
            log.warning("%s: leads outside %s; ignored", path, self.files_root)
            return None
        return path

    def _patient_dir(self, patient_id: str) -> Path:
        """The patient's files folder, which must be a real folder inside the files root
        (a symbolic link there is refused, never followed)."""
        d = self.files_root / check_patient_id(patient_id)
        if d.is_symlink() or (d.exists() and d.resolve().parent != self.files_root.resolve()):
            raise StoreError(f"{d}: is a symbolic link or leads outside {self.files_root}; "
                             f"refusing to write patient files through it")
        return d

    def session_dir(self, patient_id: str, session_id: int) -> Path:
        """Where a session's files live: ``<db name>-files/<patient>/<session id>/``."""
        return self._patient_dir(patient_id) / str(int(session_id))

    def _new_staging(self, patient_id: str) -> Path:
        d = self._patient_dir(patient_id) / f"{STAGING_PREFIX}{os.getpid()}-{uuid.uuid4().hex}"
        try:
            for folder in (self.files_root, d.parent):
                if not folder.is_dir():
                    folder.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
            d.mkdir(mode=PRIVATE_DIR_MODE)
        except OSError as exc:
            raise OutputError(f"{d}: cannot create session folder "
                              f"({describe_os_error(exc)})") from None
        return d

    def _stage_files(self, patient_id: str, files: Mapping[str, str | os.PathLike[str]],
                     staging: Path | None = None) -> tuple[Path, dict[str, str]] | None:
        """Copy ``files`` (owner-only) into a new staging folder (or ``staging``); returns
        (folder, kind -> file name)."""
        if not files and staging is None:
            return None
        staging = staging or self._new_staging(patient_id)
        names: dict[str, str] = {}
        try:
            for kind, src in files.items():
                src = Path(src)
                name = src.name if src.name not in names.values() else f"{kind}_{src.name}"
                shutil.copyfile(src, staging / name)
                os.chmod(staging / name, PRIVATE_FILE_MODE)
                names[kind] = name
        except OSError as exc:
            shutil.rmtree(staging, ignore_errors=True)
            raise OutputError(f"cannot copy session files ({exc.filename}: "
                              f"{describe_os_error(exc)})") from None
        return staging, names

    def _stage_analysis(self, patient_id: str, analysis: "Analysis",
                        files: Mapping[str, str | os.PathLike[str]]
                        ) -> tuple[Path, dict[str, str]]:
        """The analysis files written from ``analysis`` into a new staging folder, plus
        copies of ``files``."""
        from rehab.analysis import write_outputs

        staging = self._new_staging(patient_id)
        try:
            paths = write_outputs(analysis, staging)
            make_private(staging)
            staged = self._stage_files(patient_id, files, staging)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        assert staged is not None
        return staging, {**{k: p.name for k, p in paths.items()}, **staged[1]}

    def _attach_files(self, conn: sqlite3.Connection, patient_id: str, session_id: int,
                      staged: tuple[Path, dict[str, str]] | None) -> None:
        """Inside the session's transaction: move staged files in place and reference them."""
        if staged is None:
            return
        staging, names = staged
        final = self.session_dir(patient_id, session_id)
        if final.exists():  # an unreferenced folder left by a crash before its commit
            shutil.rmtree(final)
        os.replace(staging, final)
        try:
            for kind, name in names.items():
                rel = (final / name).relative_to(self.files_root).as_posix()
                conn.execute("INSERT OR REPLACE INTO session_files (session_id, kind, path) "
                             "VALUES (?, ?, ?)", (session_id, kind, rel))
        except BaseException:
            shutil.rmtree(final, ignore_errors=True)
            raise

    def _adopt_legacy_files(self) -> None:
        """Move a schema-v1 database's session files from the shared ``files/`` folder into
        its own (`files_dir`), once, after the migration asked for it. Only the folders its
        own rows reference move; a crash part-way resumes at the next open."""
        row = self.conn.execute("SELECT value FROM meta WHERE key = 'legacy_files_dir'"
                                ).fetchone()
        if row is None:
            return
        legacy = self.path.parent / str(row[0] or LEGACY_FILES_DIRNAME)
        folders = {Path(r[0]).parent for r in self.conn.execute(
            "SELECT path FROM session_files")}
        for rel in sorted(folders):
            old, new = legacy / rel, self.files_root / rel
            if new.exists() or not old.is_dir() or old.is_symlink():
                continue
            new.parent.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
            os.replace(old, new)
            make_private(new)
        with transaction(self.conn) as conn:
            conn.execute("DELETE FROM meta WHERE key = 'legacy_files_dir'")
        log.info("%s: session files moved from %s to %s", self.path, legacy, self.files_root)

    def _clean_stale_staging(self) -> None:
        """Remove staging folders whose writer is gone (killed before its commit)."""
        if not self.files_root.is_dir():
            return
        now = time.time()
        for d in self.files_root.glob(f"*/{STAGING_PREFIX}*"):
            pid = d.name[len(STAGING_PREFIX):].split("-")[0]
            try:
                stale = not pid_alive(int(pid)) if pid.isdigit() else \
                    now - d.stat().st_mtime > STALE_STAGING_S
                if stale and not d.is_symlink():
                    shutil.rmtree(d, ignore_errors=True)
                    log.info("removed %s, left by an interrupted run", d)
            except OSError:
                continue

    # --- export ----------------------------------------------------------------------------

    def export_patient(self, patient_id: str, out_dir: str | os.PathLike[str]) -> list[Path]:
        """Write everything held about a patient: ``patient.json``, CSV tables and files.

        The export is written in private and appears whole (`rehab.fileio.StagedFolder`),
        readable by its owner only; a previous export in ``out_dir`` is replaced, a folder
        holding anything else is refused.
        """
        patient = self.get_patient(patient_id)
        sessions = self.sessions(patient_id)
        reps = self.reps_for(s.id for s in sessions)
        prescriptions = self.prescriptions(patient_id)
        logged = self.logged_sessions(patient_id)
        notes = self.clinician_notes(patient_id)
        try:
            folder = StagedFolder(out_dir, EXPORT_ENTRIES, private=True)
        except OutputError as exc:
            raise OutputError(f"cannot write the export: {exc}") from None
        out = folder.path
        try:
            with folder:  # published whole on success, discarded on any error
                written, session_docs = [], []
                for s in sessions:
                    copied = self._export_files(s, out)
                    written += [folder.final / p for p in copied.values()]
                    session_docs.append({**encode(s), "status": s.status, "files": copied,
                                         "reps": [encode(r) for r in reps[s.id]]})
                tables = self._export_tables(patient, prescriptions, sessions, reps,
                                             session_docs, out, logged, notes)
                written += [folder.final / p.name for p in tables]
        except OSError as exc:
            raise OutputError(f"{exc.filename or out_dir}: cannot write the export "
                              f"({describe_os_error(exc)})") from None
        return written

    def _export_files(self, s: SessionRecord, out: Path) -> dict[str, str]:
        """Copy one session's stored files into the export; kind -> path inside it."""
        copied: dict[str, str] = {}
        for kind, src in s.files.items():
            if not src.is_file():
                log.warning("session %d: stored file missing: %s", s.id, src)
                continue
            dst = out / "files" / str(s.id) / src.name
            dst.parent.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
            shutil.copyfile(src, dst)
            copied[kind] = dst.relative_to(out).as_posix()
        return copied

    @staticmethod
    def _export_tables(patient: Patient, prescriptions: list[Prescription],
                       sessions: list[SessionRecord], reps: dict[int, list[Rep]],
                       session_docs: list[dict[str, Any]], out: Path,
                       logged: list[LoggedSession], notes: list[ClinicianNote]) -> list[Path]:
        """``patient.json`` and the CSV tables: prescriptions, sessions, reps, sessions
        logged without a camera, clinician notes."""
        document = {
            "format": "rehab patient export", "format_version": 3,
            "rehab_version": __version__,
            "exported": dt.datetime.now().isoformat(timespec="seconds"),
            "patient": encode(patient), "prescriptions": [encode(p) for p in prescriptions],
            "sessions": session_docs, "logged_sessions": [encode(x) for x in logged],
            "clinician_notes": [encode(n) for n in notes],
        }
        s_rows = [flat_row({**{k: v for k, v in encode(s).items() if k != "files"},
                            "status": s.status}) for s in sessions]
        r_rows = [flat_row({"session_id": s.id, "date": s.started, **encode(r)})
                  for s in sessions for r in reps[s.id]]
        p_rows = [flat_row(encode(p)) for p in prescriptions]
        return [
            write_json_atomic(out / "patient.json", document),
            write_text_atomic(out / "prescriptions.csv", csv_text(
                [f.name for f in dataclasses.fields(Prescription)], p_rows)),
            write_text_atomic(out / "sessions.csv", csv_text(
                [f.name for f in dataclasses.fields(SessionRecord) if f.name != "files"]
                + ["status"], s_rows)),
            write_text_atomic(out / "reps.csv", csv_text(
                ["session_id", "date"] + [f.name for f in dataclasses.fields(Rep)], r_rows)),
            write_text_atomic(out / "logged_sessions.csv", csv_text(
                [f.name for f in dataclasses.fields(LoggedSession)], [flat_row(encode(x)) for x in logged])),
            write_text_atomic(out / "clinician_notes.csv", csv_text(
                [f.name for f in dataclasses.fields(ClinicianNote)], [flat_row(encode(n)) for n in notes])),
        ]


def _remove_output(path: Path, result_sha256: str) -> Path | None:
    """Remove a result folder written for a deleted session if it still holds that run's
    results (same ``result.json``, nothing foreign); returns it when left in place."""
    from rehab.analysis import RESULT_FILES

    if not path.exists():
        return None
    try:
        check_replaceable(path, RESULT_FILES)
        same = file_sha256(path / "result.json") == result_sha256
    except (OSError, OutputError):
        same = False
    if not same:
        log.warning("%s: left in place (its results changed since, or it holds other files)",
                    path)
        return path
    shutil.rmtree(path)
    return None


def open_existing_store(path: str | os.PathLike[str] | None = None) -> Store:
    """`open_store` of a database that must already exist (commands that read it, and
    batches storing sessions for patients already added)."""
    p = default_db_path() if path is None else Path(path).expanduser()
    if not p.is_file():
        raise RehabError(f"no patient database at {p} (add a patient first with "
                         f"'rehab patient add', or pass --db)")
    return open_store(p)


def open_store(path: str | os.PathLike[str] | None = None) -> Store:
    """Open the store at ``path`` (default `default_db_path`); creates and migrates it.

    Use as a context manager: ``with open_store(p) as store: ...``.
    """
    return Store(default_db_path() if path is None else path)
