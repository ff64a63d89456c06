"""The SQLite file behind the patient store: location, opening, schema and migrations.

One database file holds patients, prescriptions, sessions, repetitions and everything a
report shows (distances, scale, settings, notes, the primary-angle trace); the session's
files (landmarks, angle traces, ``result.json``) live in the database's own folder
``<db name>-files/`` beside it (`files_dir`) and are referenced from ``session_files``. The database is opened in WAL mode with
foreign keys on and ``synchronous=FULL``; it and its ``-wal``/``-shm`` companions are created
readable by their owner only (the process umask is narrowed while they are created, and
SQLite gives the companions the main file's permissions).

The schema version is ``PRAGMA user_version``; `MIGRATIONS` is the ordered list of forward
migrations, migration ``i`` taking a database from version ``i`` to ``i + 1`` inside one
transaction. A database written by a newer rehab (version above ``len(MIGRATIONS)``) is
refused rather than guessed at.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
from pathlib import Path
from typing import Callable, Iterator

from rehab.errors import RehabError
from rehab.fileio import private_umask

log = logging.getLogger(__name__)

DB_ENV = "REHAB_DB"
DB_FILENAME = "rehab.sqlite"
FILES_SUFFIX = "-files"
BUSY_TIMEOUT_S = 30.0


class StoreError(RehabError):
    """The patient store cannot be opened or does not hold what was asked for."""


def files_dir(db_path: str | os.PathLike[str]) -> Path:
    """The folder of one database's session files: ``rehab.sqlite`` -> ``rehab.sqlite-files``
    (like SQLite's own ``-wal`` and ``-shm``: two databases never share it)."""
    p = Path(db_path)
    return p.with_name(p.name + FILES_SUFFIX)


def default_db_path() -> Path:
    """``$REHAB_DB``, else ``<user data dir>/rehab/rehab.sqlite`` (platformdirs)."""
    env = os.environ.get(DB_ENV)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("rehab")) / DB_FILENAME


# --- schema ----------------------------------------------------------------------------------

def _run_script(conn: sqlite3.Connection, script: str) -> None:
    """Run ``;``-separated DDL inside the current transaction (``executescript`` commits)."""
    for statement in script.split(";"):
        if statement.strip():
            conn.execute(statement)


def _m1_initial(conn: sqlite3.Connection, db_path: Path) -> None:
    """Patients, prescriptions, sessions, reps and session files."""
    _run_script(conn, """
        CREATE TABLE patients (
            id            TEXT PRIMARY KEY,
            display_name  TEXT NOT NULL,
            affected_side TEXT CHECK (affected_side IN ('left', 'right', 'both')),
            notes         TEXT NOT NULL DEFAULT '',
            created       TEXT NOT NULL
        );
        CREATE TABLE prescriptions (
            id            INTEGER PRIMARY KEY,
            patient_id    TEXT NOT NULL REFERENCES patients(id) ON DELETE CASCADE,
            exercise_id   TEXT NOT NULL,
            target_min    REAL NOT NULL,
            target_max    REAL NOT NULL,
            reps          INTEGER NOT NULL CHECK (reps > 0),
            sets          INTEGER NOT NULL CHECK (sets > 0),
            days_per_week INTEGER NOT NULL DEFAULT 7 CHECK (days_per_week BETWEEN 1 AND 7),
            side          TEXT CHECK (side IN ('left', 'right', 'both')),
            start_date    TEXT,
            end_date      TEXT,
            created       TEXT NOT NULL,
            CHECK (target_min <= target_max),
            CHECK (start_date IS NULL OR end_date IS NULL OR start_date <= end_date)
        );
        CREATE TABLE sessions (
            id               INTEGER PRIMARY KEY,
            patient_id       TEXT NOT NULL REFERENCES patients(id) ON DELETE CASCADE,
            exercise_id      TEXT NOT NULL,
            exercise_name    TEXT NOT NULL DEFAULT '',
            side             TEXT NOT NULL,
            angle            TEXT NOT NULL DEFAULT '',
            rest             TEXT NOT NULL DEFAULT 'low' CHECK (rest IN ('low', 'high')),
            started          TEXT NOT NULL,
            ended            TEXT,
            source           TEXT NOT NULL DEFAULT '',
            mode             TEXT NOT NULL CHECK (mode IN ('offline', 'live', 'batch')),
            model            TEXT NOT NULL DEFAULT '',
            model_sha256     TEXT NOT NULL DEFAULT '',
            calibration      TEXT,
            software_version TEXT NOT NULL,
            target_min       REAL,
            target_max       REAL,
            rep_count        INTEGER NOT NULL DEFAULT 0,
            notes            TEXT NOT NULL DEFAULT '[]'
        );
        CREATE TABLE reps (
            session_id       INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
            seq              INTEGER NOT NULL,
            rep_index        INTEGER NOT NULL,
            kind             TEXT NOT NULL,
            start_s          REAL NOT NULL,
            peak_s           REAL NOT NULL,
            end_s            REAL NOT NULL,
            start_frame      INTEGER NOT NULL,
            peak_frame       INTEGER NOT NULL,
            end_frame        INTEGER NOT NULL,
            min_deg          REAL,
            max_deg          REAL,
            rom_deg          REAL,
            peak_deg         REAL,
            target_met       INTEGER NOT NULL,
            duration_s       REAL NOT NULL,
            time_to_peak_s   REAL NOT NULL,
            tracked_fraction REAL NOT NULL,
            score            INTEGER NOT NULL,
            flags            TEXT NOT NULL DEFAULT '',
            compensations    TEXT NOT NULL DEFAULT '{}',
            PRIMARY KEY (session_id, seq)
        );
        CREATE TABLE session_files (
            session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
            kind       TEXT NOT NULL,
            path       TEXT NOT NULL,
            PRIMARY KEY (session_id, kind)
        );
        CREATE INDEX sessions_by_patient ON sessions (patient_id, exercise_id, started);
        CREATE INDEX prescriptions_by_patient ON prescriptions (patient_id, exercise_id);
    """)


def _m2(conn: sqlite3.Connection, db_path: Path) -> None:
    """Everything the report shows, in the store (see `rehab.store.migrate_v2`)."""
    from rehab.store.migrate_v2 import m2_results_in_store

    m2_results_in_store(conn, db_path)


def _m3_output_folders(conn: sqlite3.Connection, db_path: Path) -> None:
    """The result folders written for a session outside the store (``analyze --patient
    --out DIR``), with the sha256 of their ``result.json``: ``patient delete`` removes them
    while they still hold that run's results."""
    _run_script(conn, """
        CREATE TABLE output_folders (
            session_id    INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
            path          TEXT NOT NULL,
            result_sha256 TEXT NOT NULL,
            PRIMARY KEY (session_id, path)
        )
    """)


REP_SIDES_FROM_SESSION = ("left", "right", "none")
"""Session sides whose reps were all done on that side (before schema 4 every session was
counted on one side, ``none`` for trunk angles)."""


def _m4_rep_sides(conn: sqlite3.Connection, db_path: Path) -> None:
    """The side of each rep (an alternating session counts both sides and merges them in
    time) and the session's ``alternating`` flag. Every older session was counted on its
    own side: its reps take that side (``''`` where the session's side is none of
    `REP_SIDES_FROM_SESSION`)."""
    _run_script(conn, """
        ALTER TABLE reps ADD COLUMN side TEXT NOT NULL DEFAULT '';
        ALTER TABLE sessions ADD COLUMN alternating INTEGER NOT NULL DEFAULT 0
    """)
    conn.execute(
        f"UPDATE reps SET side = (SELECT s.side FROM sessions s WHERE s.id = reps.session_id) "
        f"WHERE session_id IN (SELECT id FROM sessions WHERE side IN "
        f"({', '.join('?' * len(REP_SIDES_FROM_SESSION))}))", REP_SIDES_FROM_SESSION)


def _m5_measurement(conn: sqlite3.Connection, db_path: Path) -> None:
    """What each rep's number rests on (both sides' peak and range, the limb symmetry index,
    the view, the limb's visibility, swapped frames, the quality grade) and, per session,
    the involved side, the view check, the symmetry and the swap repair (JSON). Older
    sessions keep NULL / empty values: they were measured without these checks."""
    _run_script(conn, """
        ALTER TABLE reps ADD COLUMN left_peak_deg REAL;
        ALTER TABLE reps ADD COLUMN right_peak_deg REAL;
        ALTER TABLE reps ADD COLUMN left_rom_deg REAL;
        ALTER TABLE reps ADD COLUMN right_rom_deg REAL;
        ALTER TABLE reps ADD COLUMN symmetry_pct REAL;
        ALTER TABLE reps ADD COLUMN view_deg REAL;
        ALTER TABLE reps ADD COLUMN visibility REAL;
        ALTER TABLE reps ADD COLUMN rest_frame INTEGER NOT NULL DEFAULT -1;
        ALTER TABLE reps ADD COLUMN swapped_frames INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE reps ADD COLUMN quality TEXT NOT NULL DEFAULT '';
        ALTER TABLE sessions ADD COLUMN involved TEXT NOT NULL DEFAULT '';
        ALTER TABLE sessions ADD COLUMN view TEXT;
        ALTER TABLE sessions ADD COLUMN symmetry TEXT;
        ALTER TABLE sessions ADD COLUMN swaps TEXT
    """)


def _m6_patient_reports(conn: sqlite3.Connection, db_path: Path) -> None:
    """What the patient says of each session (pain, exertion, a note, sets done), the
    analysed recording's sha256 (a duplicate is refused), sessions done without a camera
    (``rehab log``) and the clinician's notes."""
    _run_script(conn, """
        ALTER TABLE sessions ADD COLUMN pain INTEGER CHECK (pain BETWEEN 0 AND 10);
        ALTER TABLE sessions ADD COLUMN exertion INTEGER CHECK (exertion BETWEEN 0 AND 10);
        ALTER TABLE sessions ADD COLUMN patient_note TEXT NOT NULL DEFAULT '';
        ALTER TABLE sessions ADD COLUMN sets_done INTEGER CHECK (sets_done > 0);
        ALTER TABLE sessions ADD COLUMN content_sha256 TEXT NOT NULL DEFAULT '';
        CREATE INDEX sessions_by_content ON sessions (patient_id, content_sha256);
        CREATE TABLE logged_sessions (
            id            INTEGER PRIMARY KEY,
            patient_id    TEXT NOT NULL REFERENCES patients(id) ON DELETE CASCADE,
            exercise_id   TEXT NOT NULL,
            exercise_name TEXT NOT NULL DEFAULT '',
            side          TEXT CHECK (side IN ('left', 'right', 'both')),
            day           TEXT NOT NULL,
            sets          INTEGER NOT NULL CHECK (sets > 0),
            reps          INTEGER NOT NULL CHECK (reps > 0),
            pain          INTEGER CHECK (pain BETWEEN 0 AND 10),
            exertion      INTEGER CHECK (exertion BETWEEN 0 AND 10),
            note          TEXT NOT NULL DEFAULT '',
            created       TEXT NOT NULL
        );
        CREATE INDEX logged_by_patient ON logged_sessions (patient_id, day);
        CREATE TABLE clinician_notes (
            id         INTEGER PRIMARY KEY,
            patient_id TEXT NOT NULL REFERENCES patients(id) ON DELETE CASCADE,
            day        TEXT NOT NULL,
            text       TEXT NOT NULL,
            session_id INTEGER REFERENCES sessions(id) ON DELETE SET NULL,
            created    TEXT NOT NULL
        );
        CREATE INDEX clinician_notes_by_patient ON clinician_notes (patient_id, day)
    """)


Migration = Callable[[sqlite3.Connection, Path], None]
MIGRATIONS: list[Migration] = [_m1_initial, _m2, _m3_output_folders, _m4_rep_sides,
                               _m5_measurement, _m6_patient_reports]
"""Forward migrations in order; index ``i`` upgrades schema version ``i`` to ``i + 1``."""


def schema_version(conn: sqlite3.Connection) -> int:
    """The database's schema version (``PRAGMA user_version``)."""
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection, path: Path | str = "database") -> int:
    """Apply the pending migrations, each in its own transaction; returns the new version."""
    target = len(MIGRATIONS)
    version = schema_version(conn)
    if version > target:
        raise StoreError(f"{path}: written by a newer rehab (schema version {version}, this "
                         f"version knows up to {target}); upgrade rehab to open it")
    for i in range(version, target):
        conn.execute("BEGIN IMMEDIATE")
        try:
            if schema_version(conn) != i:  # another process migrated meanwhile
                conn.execute("ROLLBACK")
                continue
            MIGRATIONS[i](conn, Path(path))
            conn.execute(f"PRAGMA user_version = {i + 1}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        log.debug("%s: migrated schema to version %d", path, i + 1)
    return target


def connect(path: str | os.PathLike[str]) -> sqlite3.Connection:
    """Open (creating and migrating if needed) the database at ``path``.

    The connection is in autocommit mode: callers open transactions explicitly
    (``BEGIN IMMEDIATE`` ... ``COMMIT``), so that a session is written all or nothing.
    """
    p = Path(path).expanduser()
    with private_umask():
        try:
            p.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"{p.parent}: cannot create the database folder "
                             f"({exc.strerror or exc})") from None
        if p.exists() and not p.is_file():
            raise StoreError(f"{p}: is not a database file")
        try:
            conn = sqlite3.connect(p, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(f"{p}: cannot open the database ({exc})") from None
        try:
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA foreign_keys = ON")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                log.warning("%s: WAL journal not available (journal mode %s)", p, mode)
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA secure_delete = ON")
            migrate(conn, p)
        except sqlite3.OperationalError as exc:  # permissions, locks, full disk, migration
            conn.close()
            raise StoreError(f"{p}: cannot open the database ({exc})") from None
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise StoreError(f"{p}: not a rehab database or damaged ({exc})") from None
        except BaseException:
            conn.close()
            raise
    for suffix in ("", "-wal", "-shm"):
        f = Path(str(p) + suffix)
        try:
            if f.exists() and f.stat().st_uid == os.getuid() and f.stat().st_mode & 0o077:
                os.chmod(f, 0o600)
        except OSError as exc:
            log.warning("%s: cannot restrict permissions (%s)", f, exc.strerror or exc)
    return conn


@contextlib.contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``, rolled back on any exception."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
