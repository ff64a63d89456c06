"""Schema v1 -> v2: the store keeps everything the report shows.

Version 2 adds to each session its angle space, analysis settings (with their hash), scale,
start state and thresholds; to each rep its distances in cm; structured notes (a code, the
sentence, its data); the primary-angle trace (`session_traces`); and a `meta` table.
Version 1 kept the scale, the distances and the trace only in the session's files
(``result.json``, ``angles.csv``): they are read from there into the new columns. Sessions
written by 0.1.0 used the settings that are today's defaults (0.1.0 had them as module
constants with these values), so they are recorded as such. The files themselves move to
the database's own folder (``<db name>-files/``, see `rehab.store.db.files_dir`) when the
store is next opened (`rehab.store.store.Store`), which `meta.legacy_files_dir` asks for.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np

from rehab.codec import DISTANCE_FIELDS, array_blob, notes_json
from rehab.model import Note, NoteCode
from rehab.settings import DEFAULT_SETTINGS

log = logging.getLogger(__name__)

LEGACY_FILES_DIRNAME = "files"
"""Where schema v1 kept session files: ``files/`` beside the database (shared by every
database in that folder)."""

_LEGACY_PREFIXES: tuple[tuple[str, NoteCode], ...] = (
    ("side auto:", NoteCode.SIDE_CHOSEN),
    ("not counted:", NoteCode.NOT_COUNTED),
    ("no complete repetition", NoteCode.NO_REPS),
    ("recording opens in the", NoteCode.SETTLED_START),
    ("no person detected in", NoteCode.NO_PERSON),
    ("live capture:", NoteCode.FRAMES_DROPPED),
    ("live session:", NoteCode.LIVE_END),
    ("landmarks undistorted", NoteCode.UNDISTORTED),
    ("video rotated", NoteCode.ROTATED),
)


def legacy_note(text: str) -> Note:
    """A schema-v1 note (plain text) with the code its sentence shows."""
    for prefix, code in _LEGACY_PREFIXES:
        if text.startswith(prefix):
            return Note(code, text)
    if " people in view in " in text or " people seen at " in text:
        return Note(NoteCode.SEVERAL_PEOPLE, text)
    if " measured in " in text and "of frames with a person" in text:
        return Note(NoteCode.PARTLY_MEASURED, text)
    return Note(NoteCode.TEXT, text)


_DDL = """
    ALTER TABLE sessions ADD COLUMN angle_space TEXT NOT NULL DEFAULT 'image';
    ALTER TABLE sessions ADD COLUMN settings TEXT;
    ALTER TABLE sessions ADD COLUMN settings_hash TEXT NOT NULL DEFAULT '';
    ALTER TABLE sessions ADD COLUMN scale TEXT;
    ALTER TABLE sessions ADD COLUMN start_state TEXT NOT NULL DEFAULT '';
    ALTER TABLE sessions ADD COLUMN low_threshold_deg REAL;
    ALTER TABLE sessions ADD COLUMN high_threshold_deg REAL;
    CREATE TABLE session_traces (
        session_id INTEGER PRIMARY KEY REFERENCES sessions(id) ON DELETE CASCADE,
        time_s     BLOB NOT NULL,
        angle_deg  BLOB NOT NULL
    );
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )
"""


def m2_results_in_store(conn: sqlite3.Connection, db_path: Path) -> None:
    """The v2 columns and tables, filled from each v1 session's notes and files."""
    for statement in _DDL.split(";"):
        conn.execute(statement)
    for f in DISTANCE_FIELDS:
        conn.execute(f"ALTER TABLE reps ADD COLUMN {f} REAL")
    legacy_root = Path(db_path).parent / LEGACY_FILES_DIRNAME
    settings = DEFAULT_SETTINGS
    conn.execute("UPDATE sessions SET settings = ?, settings_hash = ?",
                 (json.dumps(settings.to_dict()), settings.short_hash()))
    for row in conn.execute("SELECT id, notes FROM sessions").fetchall():
        notes = [legacy_note(str(n)) for n in json.loads(row[1] or "[]")]
        conn.execute("UPDATE sessions SET notes = ? WHERE id = ?", (notes_json(notes), row[0]))
    files: dict[int, dict[str, str]] = {}
    for sid, kind, rel in conn.execute("SELECT session_id, kind, path FROM session_files"):
        files.setdefault(int(sid), {})[kind] = rel
    for sid, kinds in files.items():
        _from_result_json(conn, sid, legacy_root / kinds["result_json"]
                          if "result_json" in kinds else None)
        if "angles_csv" in kinds:
            _trace_from_csv(conn, sid, legacy_root / kinds["angles_csv"])
    if legacy_root.is_dir() and files:
        conn.execute("INSERT INTO meta (key, value) VALUES ('legacy_files_dir', ?)",
                     (LEGACY_FILES_DIRNAME,))


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        log.warning("%s: cannot read it to migrate its session (%s)", path, exc)
        return None
    return doc if isinstance(doc, dict) else None


def _number(x: Any) -> float | None:
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
        return None
    return float(x)


def _from_result_json(conn: sqlite3.Connection, sid: int, path: Path | None) -> None:
    """Angle space, scale, start state, thresholds and per-rep distances of one session."""
    doc = _read_json(path) if path is not None else None
    if doc is None:
        return
    seg: dict[str, Any] = doc.get("segmentation") or {}
    scale: dict[str, Any] | None = doc.get("scale")
    if not isinstance(seg, dict):
        seg = {}
    if not isinstance(scale, dict):
        scale = None
    conn.execute(
        "UPDATE sessions SET angle_space = ?, scale = ?, start_state = ?, "
        "low_threshold_deg = ?, high_threshold_deg = ? WHERE id = ?",
        (str(doc.get("angle_space") or "image"), None if scale is None else json.dumps(
            {k: scale.get(k) for k in ("cm_per_px", "source", "detail")}),
         str(seg.get("start_state") or ""), _number(seg.get("low_threshold_deg")),
         _number(seg.get("high_threshold_deg")), sid))
    for rep in doc.get("reps") or ():
        d = rep.get("distances_cm") if isinstance(rep, dict) else None
        if not isinstance(d, dict) or not isinstance(rep.get("start_frame"), int):
            continue
        values = [_number(d.get(f)) for f in DISTANCE_FIELDS]
        conn.execute(f"UPDATE reps SET {', '.join(f'{f} = ?' for f in DISTANCE_FIELDS)} "
                     f"WHERE session_id = ? AND start_frame = ? AND kind = 'complete'",
                     (*values, sid, rep["start_frame"]))


def _trace_from_csv(conn: sqlite3.Connection, sid: int, path: Path) -> None:
    """The smoothed primary angle of one session from its ``angles.csv``."""
    angle = conn.execute("SELECT angle FROM sessions WHERE id = ?", (sid,)).fetchone()[0]
    column = f"{angle}_smoothed"
    t: list[float] = []
    a: list[float] = []
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            reader = csv.reader(fh)
            header = next(reader)
            if column not in header or "time_s" not in header:
                return
            it, ia = header.index("time_s"), header.index(column)
            for row in reader:
                t.append(float(row[it]))
                a.append(float(row[ia]) if row[ia] else math.nan)
    except (OSError, StopIteration, ValueError, IndexError) as exc:
        log.warning("%s: cannot read it to migrate its trace (%s)", path, exc)
        return
    conn.execute("INSERT OR REPLACE INTO session_traces (session_id, time_s, angle_deg) "
                 "VALUES (?, ?, ?)", (sid, array_blob(np.asarray(t)), array_blob(np.asarray(a))))
