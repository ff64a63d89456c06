"""`Store`: patients, prescriptions and sessions in one SQLite file plus a files folder.

Every way a session arrives (offline analysis, live coaching, batch runs) goes through the
same two internal writers: `_insert_session` and `_insert_rep`. `Store.record_analysis`
writes a finished analysis (session, reps, file references) in one transaction;
`Store.begin_session` returns a `SessionWriter` that commits each rep as it completes, so a
live session killed mid-way keeps its session row (``ended`` NULL: "interrupted") and the
reps written so far.

Session files are first written to a staging folder, then renamed into
``files/<patient>/<session id>/`` inside the transaction that references them. A crash can
leave an unreferenced folder behind, never a reference to a missing or half-written file.
"""

from __future__ import annotations

import csv
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
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from rehab import __version__
from rehab.errors import OutputError
from rehab.scoring import RepScore
from rehab.store.db import (
    FILES_DIRNAME,
    StoreError,
    connect,
    default_db_path,
    private_umask,
    transaction,
)
from rehab.store.models import (
    MODES,
    Patient,
    Prescription,
    SessionRecord,
    check_patient_id,
    check_side,
    from_db_date,
    from_db_time,
    to_db_time,
)

if TYPE_CHECKING:
    from rehab.analysis import Analysis

log = logging.getLogger(__name__)

ANALYSIS_FILES = {"result_json": "result.json", "reps_csv": "reps.csv",
                  "angles_csv": "angles.csv", "landmarks_npz": "landmarks.npz"}
"""Files of an analysis kept with its session (no video unless the caller passes one)."""
STAGING_PREFIX = ".staging-"
STALE_STAGING_S = 24 * 3600.0

_REP_COLUMNS = ("session_id", "seq", "rep_index", "kind", "start_s", "peak_s", "end_s",
                "start_frame", "peak_frame", "end_frame", "min_deg", "max_deg", "rom_deg",
                "peak_deg", "target_met", "duration_s", "time_to_peak_s", "tracked_fraction",
                "score", "flags", "compensations")


def _num(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def _nan(x: float | None) -> float:
    return math.nan if x is None else float(x)


def _rep_row(session_id: int, seq: int, r: RepScore) -> tuple[Any, ...]:
    comps = {k: (_num(v) if v is not None else None) for k, v in r.compensations.items()}
    return (session_id, seq, r.index, r.kind, r.start_s, r.peak_s, r.end_s, r.start_frame,
            r.peak_frame, r.end_frame, _num(r.min_deg), _num(r.max_deg), _num(r.rom_deg),
            _num(r.peak_deg), int(r.target_met), r.duration_s, r.time_to_peak_s,
            r.tracked_fraction, int(r.score), json.dumps(list(r.flags)),
            json.dumps(comps, allow_nan=False))


def _rep_from_row(row: sqlite3.Row) -> RepScore:
    comps = json.loads(row["compensations"])
    return RepScore(
        index=row["rep_index"], kind=row["kind"], start_frame=row["start_frame"],
        peak_frame=row["peak_frame"], end_frame=row["end_frame"], start_s=row["start_s"],
        peak_s=row["peak_s"], end_s=row["end_s"], min_deg=_nan(row["min_deg"]),
        max_deg=_nan(row["max_deg"]), rom_deg=_nan(row["rom_deg"]),
        peak_deg=_nan(row["peak_deg"]), target_met=bool(row["target_met"]),
        duration_s=row["duration_s"], time_to_peak_s=row["time_to_peak_s"],
        tracked_fraction=row["tracked_fraction"],
        compensations={k: (None if v is None else float(v)) for k, v in comps.items()},
        score=row["score"], flags=tuple(json.loads(row["flags"])),
    )


def _insert_rep(conn: sqlite3.Connection, session_id: int, seq: int, rep: RepScore) -> None:
    conn.execute(f"INSERT INTO reps ({', '.join(_REP_COLUMNS)}) "
                 f"VALUES ({', '.join('?' * len(_REP_COLUMNS))})", _rep_row(session_id, seq, rep))
    if rep.counted:
        conn.execute("UPDATE sessions SET rep_count = rep_count + 1 WHERE id = ?", (session_id,))


def _insert_session(conn: sqlite3.Connection, **fields: Any) -> int:
    cols = ", ".join(fields)
    cur = conn.execute(f"INSERT INTO sessions ({cols}) VALUES ({', '.join('?' * len(fields))})",
                       tuple(fields.values()))
    assert cur.lastrowid is not None
    return int(cur.lastrowid)


def _describe(exercise_id: str, side: str, name: str, angle: str,
              rest: str) -> tuple[str, str, str]:
    """Fill in an exercise's name, primary angle column and rest from the library."""
    from rehab.errors import ConfigError
    from rehab.exercises import TRUNK_ANGLES, get_exercise

    try:
        ex = get_exercise(exercise_id)
    except ConfigError:
        return name or exercise_id, angle, rest
    column = ex.counting.angle
    if column not in TRUNK_ANGLES and side in ("left", "right"):
        column = f"{side}_{column}"
    return name or ex.name, angle or column, ex.counting.rest


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

    def add_rep(self, rep: RepScore) -> None:
        """Store one repetition (counted or not) and commit."""
        if self.finished:
            raise StoreError(f"session {self.session_id} is finished; no more reps can be added")
        with transaction(self._store.conn) as conn:
            _insert_rep(conn, self.session_id, self._seq + 1, rep)
        self._seq += 1

    def finish(self, ended: dt.datetime, notes: Iterable[str] = (),
               files: Mapping[str, str | os.PathLike[str]] | None = None) -> None:
        """Mark the session complete; copy ``files`` (kind -> path) next to the database."""
        if self.finished:
            raise StoreError(f"session {self.session_id} is already finished")
        staged = self._store._stage_files(self.patient_id, files or {})
        try:
            with transaction(self._store.conn) as conn:
                conn.execute("UPDATE sessions SET ended = ?, notes = ? WHERE id = ?",
                             (to_db_time(ended), json.dumps(list(notes)), self.session_id))
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
        self.files_root = self.path.parent / FILES_DIRNAME
        self._clean_stale_staging()

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
        leftover = self._patient_dir(patient_id)
        if leftover.exists():  # files of a deleted patient whose removal was interrupted
            shutil.rmtree(leftover, ignore_errors=True)
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

    def list_patients(self) -> list[Patient]:
        """All patients, by id."""
        rows = self.conn.execute("SELECT id FROM patients ORDER BY id").fetchall()
        return [self.get_patient(r["id"]) for r in rows]

    def delete_patient(self, patient_id: str) -> None:
        """Remove the patient, their prescriptions, sessions, reps and files."""
        self.get_patient(patient_id)
        with transaction(self.conn) as conn:
            conn.execute("DELETE FROM patients WHERE id = ?", (patient_id,))
        # deleted pages are zeroed (secure_delete); move them out of the WAL as well
        self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        folder = self._patient_dir(patient_id)
        if folder.exists():
            shutil.rmtree(folder)
        log.debug("deleted patient %s", patient_id)

    # --- prescriptions ---------------------------------------------------------------------

    def prescribe(self, patient_id: str, exercise_id: str, target_min: float, target_max: float,
                  reps: int, sets: int, side: str | None = None, start: dt.date | None = None,
                  end: dt.date | None = None, days_per_week: int = 7) -> Prescription:
        """Prescribe an exercise: target band of the peak angle, sets x reps a day."""
        self.get_patient(patient_id)
        _check_target(float(target_min), float(target_max))
        check_side(side)
        if int(reps) < 1 or int(sets) < 1:
            raise StoreError(f"reps and sets must be at least 1 (got {reps} x {sets})")
        if not 1 <= int(days_per_week) <= 7:
            raise StoreError(f"days per week must be 1-7, not {days_per_week}")
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
                      calibration: str | None = None, target_min: float | None = None,
                      target_max: float | None = None, *, exercise_name: str = "",
                      angle: str = "", rest: str = "low") -> SessionWriter:
        """Open a session now (committed, ``ended`` NULL) and return its rep writer.

        ``exercise_name``, ``angle`` (primary angle column) and ``rest`` default to what the
        exercise library says for ``exercise_id`` and ``side``.
        """
        self.get_patient(patient_id)
        if not (exercise_name and angle):
            exercise_name, angle, rest = _describe(exercise_id, side, exercise_name, angle,
                                                   rest)
        fields = self._session_fields(patient_id, exercise_id, side, started, source, mode,
                                      model, model_sha256, calibration, target_min, target_max,
                                      exercise_name, angle, rest)
        with transaction(self.conn) as conn:
            sid = _insert_session(conn, **fields)
        return SessionWriter(self, sid, patient_id)

    def record_analysis(self, patient_id: str, analysis: "Analysis", started: dt.datetime,
                        out_dir: str | os.PathLike[str] | None = None,
                        mode: str = "offline") -> int:
        """Store a finished analysis: session, all reps and its files, in one transaction.

        The analysis files (landmarks, angle trace, reps, result.json) are copied from
        ``out_dir`` when it holds them, else written from ``analysis``. Returns the session id.
        """
        self.get_patient(patient_id)
        seq = analysis.sequence
        ex = analysis.exercise
        calibration = analysis.extra.get("calibration")
        fields = self._session_fields(
            patient_id, ex.id, analysis.side, started, seq.source, mode, seq.model,
            seq.model_sha256,
            None if calibration is None else json.dumps(calibration, default=str),
            ex.target.min_deg, ex.target.max_deg, ex.name, analysis.primary_column,
            ex.counting.rest)
        fields["ended"] = to_db_time(started + dt.timedelta(seconds=seq.duration))
        fields["notes"] = json.dumps(list(analysis.notes))
        staged = self._stage_analysis(patient_id, analysis, out_dir)
        reps = sorted(list(analysis.reps) + list(analysis.partial), key=lambda r: r.start_frame)
        try:
            with transaction(self.conn) as conn:
                sid = _insert_session(conn, **fields)
                for i, rep in enumerate(reps, start=1):
                    _insert_rep(conn, sid, i, rep)
                self._attach_files(conn, patient_id, sid, staged)
        finally:
            if staged[0].exists():
                shutil.rmtree(staged[0], ignore_errors=True)
        log.debug("stored session %d for %s (%d reps)", sid, patient_id, analysis.rep_count)
        return sid

    def _session_fields(self, patient_id: str, exercise_id: str, side: str,
                        started: dt.datetime, source: str, mode: str, model: str,
                        model_sha256: str, calibration: str | None, target_min: float | None,
                        target_max: float | None, exercise_name: str, angle: str,
                        rest: str) -> dict[str, Any]:
        if mode not in MODES:
            raise StoreError(f"session mode must be one of {', '.join(MODES)}, not {mode!r}")
        if rest not in ("low", "high"):
            raise StoreError(f"rest must be 'low' or 'high', not {rest!r}")
        _check_target(target_min, target_max)
        return {"patient_id": patient_id, "exercise_id": exercise_id,
                "exercise_name": exercise_name or exercise_id, "side": side, "angle": angle,
                "rest": rest, "started": to_db_time(started), "source": str(source),
                "mode": mode, "model": model or "", "model_sha256": model_sha256 or "",
                "calibration": calibration, "software_version": __version__,
                "target_min": target_min, "target_max": target_max}

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
            files.setdefault(f["session_id"], {})[f["kind"]] = self.files_root / f["path"]
        return [self._session_from_row(r, files.get(r["id"], {})) for r in rows]

    def session(self, session_id: int) -> SessionRecord:
        """One session by id."""
        row = self.conn.execute("SELECT * FROM sessions WHERE id = ?", (session_id,)).fetchone()
        if row is None:
            raise StoreError(f"unknown session {session_id}")
        files = {f["kind"]: self.files_root / f["path"] for f in self.conn.execute(
            "SELECT kind, path FROM session_files WHERE session_id = ?", (session_id,))}
        return self._session_from_row(row, files)

    @staticmethod
    def _session_from_row(r: sqlite3.Row, files: dict[str, Path]) -> SessionRecord:
        return SessionRecord(
            id=r["id"], patient_id=r["patient_id"], exercise_id=r["exercise_id"],
            exercise_name=r["exercise_name"], side=r["side"], angle=r["angle"], rest=r["rest"],
            started=from_db_time(r["started"]) or dt.datetime.min,
            ended=from_db_time(r["ended"]), source=r["source"], mode=r["mode"],
            model=r["model"], model_sha256=r["model_sha256"], calibration=r["calibration"],
            software_version=r["software_version"], target_min=r["target_min"],
            target_max=r["target_max"], rep_count=r["rep_count"],
            notes=tuple(json.loads(r["notes"])), files=files)

    def reps(self, session_id: int, counted_only: bool = False) -> list[RepScore]:
        """The session's repetitions in order (uncounted ones too unless ``counted_only``)."""
        return self.reps_for([session_id], counted_only).get(session_id, [])

    def reps_for(self, session_ids: Iterable[int],
                 counted_only: bool = False) -> dict[int, list[RepScore]]:
        """Repetitions of many sessions at once, by session id."""
        ids = list(session_ids)
        out: dict[int, list[RepScore]] = {i: [] for i in ids}
        kind = " AND kind = 'complete'" if counted_only else ""
        for k in range(0, len(ids), 500):
            chunk = ids[k:k + 500]
            q = (f"SELECT * FROM reps WHERE session_id IN ({', '.join('?' * len(chunk))}){kind} "
                 f"ORDER BY session_id, seq")
            for row in self.conn.execute(q, chunk):
                out[row["session_id"]].append(_rep_from_row(row))
        return out

    # --- files -----------------------------------------------------------------------------

    def _patient_dir(self, patient_id: str) -> Path:
        return self.files_root / check_patient_id(patient_id)

    def session_dir(self, patient_id: str, session_id: int) -> Path:
        """Where a session's files live: ``<db dir>/files/<patient>/<session id>/``."""
        return self._patient_dir(patient_id) / str(int(session_id))

    def _new_staging(self, patient_id: str) -> Path:
        with private_umask():
            d = self._patient_dir(patient_id) / f"{STAGING_PREFIX}{uuid.uuid4().hex}"
            try:
                d.mkdir(parents=True)
            except OSError as exc:
                raise OutputError(f"{d}: cannot create session folder "
                                  f"({exc.strerror or exc})") from None
        return d

    def _stage_files(self, patient_id: str, files: Mapping[str, str | os.PathLike[str]]
                     ) -> tuple[Path, dict[str, str]] | None:
        """Copy ``files`` into a new staging folder; returns (folder, kind -> file name)."""
        if not files:
            return None
        staging = self._new_staging(patient_id)
        names: dict[str, str] = {}
        try:
            with private_umask():
                for kind, src in files.items():
                    src = Path(src)
                    name = src.name if src.name not in names.values() else f"{kind}_{src.name}"
                    shutil.copy2(src, staging / name)
                    names[kind] = name
        except OSError as exc:
            shutil.rmtree(staging, ignore_errors=True)
            raise OutputError(f"cannot copy session files ({exc.filename}: "
                              f"{exc.strerror or exc})") from None
        return staging, names

    def _stage_analysis(self, patient_id: str, analysis: "Analysis",
                        out_dir: str | os.PathLike[str] | None) -> tuple[Path, dict[str, str]]:
        if out_dir is not None:
            src = Path(out_dir)
            found = {k: src / n for k, n in ANALYSIS_FILES.items() if (src / n).is_file()}
            if len(found) == len(ANALYSIS_FILES):
                staged = self._stage_files(patient_id, found)
                assert staged is not None
                return staged
            log.debug("%s lacks some analysis files; writing them from the analysis", src)
        from rehab.analysis import write_outputs

        staging = self._new_staging(patient_id)
        try:
            with private_umask():
                paths = write_outputs(analysis, staging)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return staging, {k: p.name for k, p in paths.items()}

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

    def _clean_stale_staging(self) -> None:
        if not self.files_root.is_dir():
            return
        now = time.time()
        for d in self.files_root.glob(f"*/{STAGING_PREFIX}*"):
            try:
                if now - d.stat().st_mtime > STALE_STAGING_S:
                    shutil.rmtree(d, ignore_errors=True)
            except OSError:
                continue

    # --- export ----------------------------------------------------------------------------

    def export_patient(self, patient_id: str, out_dir: str | os.PathLike[str]) -> list[Path]:
        """Write everything held about a patient: ``patient.json``, CSV tables and files."""
        patient = self.get_patient(patient_id)
        out = Path(out_dir)
        sessions = self.sessions(patient_id)
        reps = self.reps_for(s.id for s in sessions)
        prescriptions = self.prescriptions(patient_id)
        written: list[Path] = []
        try:
            with private_umask():
                out.mkdir(parents=True, exist_ok=True)
                files_out = out / "files"
                session_docs = []
                for s in sessions:
                    copied: dict[str, str] = {}
                    for kind, src in s.files.items():
                        if not src.is_file():
                            log.warning("session %d: stored file missing: %s", s.id, src)
                            continue
                        dst = files_out / str(s.id) / src.name
                        dst.parent.mkdir(parents=True, exist_ok=True)
                        shutil.copy2(src, dst)
                        written.append(dst)
                        copied[kind] = dst.relative_to(out).as_posix()
                    doc = _jsonable(dataclasses.asdict(s))
                    doc.update(status=s.status, files=copied,
                               reps=[_jsonable(dataclasses.asdict(r)) for r in reps[s.id]])
                    session_docs.append(doc)
                document = {
                    "format": "rehab patient export", "format_version": 1,
                    "rehab_version": __version__,
                    "exported": dt.datetime.now().isoformat(timespec="seconds"),
                    "patient": _jsonable(dataclasses.asdict(patient)),
                    "prescriptions": [_jsonable(dataclasses.asdict(p)) for p in prescriptions],
                    "sessions": session_docs,
                }
                written.append(_write_text(out / "patient.json",
                                           json.dumps(document, indent=2, allow_nan=False)))
                written.append(_write_csv(out / "prescriptions.csv",
                                          [_flat(dataclasses.asdict(p)) for p in prescriptions],
                                          [f.name for f in dataclasses.fields(Prescription)]))
                s_cols = [f.name for f in dataclasses.fields(SessionRecord) if f.name != "files"]
                written.append(_write_csv(
                    out / "sessions.csv",
                    [_flat({**{c: getattr(s, c) for c in s_cols}, "status": s.status})
                     for s in sessions], s_cols + ["status"]))
                r_cols = ["session_id", "date"] + [f.name for f in dataclasses.fields(RepScore)]
                written.append(_write_csv(
                    out / "reps.csv",
                    [_flat({"session_id": s.id, "date": s.started, **dataclasses.asdict(r)})
                     for s in sessions for r in reps[s.id]], r_cols))
        except OSError as exc:
            raise OutputError(f"{exc.filename or out}: cannot write the export "
                              f"({exc.strerror or exc})") from None
        return written


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (dt.date, dt.datetime)):
        return x.isoformat()
    if isinstance(x, Path):
        return str(x)
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def _flat(d: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in d.items():
        v = _jsonable(v)
        if v is None:
            out[k] = ""
        elif isinstance(v, (list, dict)):
            out[k] = json.dumps(v)
        elif isinstance(v, bool):
            out[k] = "true" if v else "false"
        elif isinstance(v, float):
            out[k] = f"{v:.3f}"
        else:
            out[k] = str(v)
    return out


def _write_text(path: Path, text: str) -> Path:
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(text + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def _write_csv(path: Path, rows: list[dict[str, str]], columns: list[str]) -> Path:
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=columns, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    os.replace(tmp, path)
    return path


def open_store(path: str | os.PathLike[str] | None = None) -> Store:
    """Open the store at ``path`` (default `default_db_path`); creates and migrates it.

    Use as a context manager: ``with open_store(p) as store: ...``.
    """
    return Store(default_db_path() if path is None else path)
