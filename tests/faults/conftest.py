"""Fixtures of the fault-injection suite: two patients with recordings of the same file name,
and `check_store`, the invariants every fault must leave intact.

The suite kills processes at random moments and runs writers concurrently; ``--soak``
multiplies its rounds (``pytest tests/faults --soak 20``) for a longer run than CI's.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest


@dataclasses.dataclass(frozen=True)
class Clinic:
    """A patient database with two patients, each with a landmarks recording named
    ``session.npz`` (3 and 5 squats: their files tell them apart)."""

    root: Path
    db: Path
    inputs: dict[str, Path]
    reps: dict[str, int]

    @property
    def env(self) -> dict[str, str]:
        return {"REHAB_DB": str(self.db)}


def _make_clinic(root: Path) -> Clinic:
    from rehab.sequence import save_npz
    from rehab.store import open_store
    from rehab.synthetic import rep_trajectory, synthetic_sequence

    db = root / "clinic" / "rehab.sqlite"
    inputs, reps = {}, {"pA": 3, "pB": 5}
    with open_store(db) as store:
        for pid, n in reps.items():
            store.add_patient(pid, f"Patient {pid}")
            t, knee = rep_trajectory(n, 30.0, rest=0.0, peak=100.0)
            seq = synthetic_sequence(t, {"knee_flexion": knee, "hip_flexion": 0.8 * knee})
            path = root / "recordings" / pid / "session.npz"
            path.parent.mkdir(parents=True)
            save_npz(seq.replace(source=str(path)), path)
            inputs[pid] = path
    return Clinic(root, db, inputs, reps)


@pytest.fixture
def clinic(tmp_path: Path) -> Clinic:
    """Two patients ``pA`` (3 reps) and ``pB`` (5 reps) in a fresh database."""
    return _make_clinic(tmp_path)


def _check_store(clinic: Clinic) -> int:
    """Every invariant of the patient data; returns the number of sessions checked.

    - the database passes SQLite's integrity check and its foreign keys hold;
    - every finished session has its reps, its trace and all four result files, and every
      file is this session's own: its ``result.json`` names this patient's recording and
      this session's rep count, its ``reps.csv`` has one row per counted rep, its
      ``landmarks.npz`` has the frames of this patient's recording;
    - no staging folder or temporary file is left once no writer runs, and no files folder
      of a patient no longer in the database (a delete killed part-way is finished).
    """
    from rehab.store import open_store

    conn = sqlite3.connect(clinic.db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    finally:
        conn.close()
    n = 0
    frames = {pid: len(np.load(p)["timestamps"]) for pid, p in clinic.inputs.items()}
    with open_store(clinic.db) as store:
        for patient in store.list_patients():
            for s in store.sessions(patient.id):
                n += 1
                if s.interrupted:
                    continue
                assert set(s.files) >= {"result_json", "reps_csv", "angles_csv",
                                        "landmarks_npz"}, (s.id, s.files)
                doc = json.loads(s.files["result_json"].read_text())
                if patient.id in clinic.inputs:
                    assert Path(doc["source"]) == clinic.inputs[patient.id], (s.id, doc["source"])
                    assert s.rep_count == clinic.reps[patient.id]
                    with np.load(s.files["landmarks_npz"]) as lm:
                        assert len(lm["timestamps"]) == frames[patient.id]
                assert doc["rep_count"] == s.rep_count
                rows = s.files["reps_csv"].read_text().strip().splitlines()[1:]
                assert len(rows) == s.rep_count, s.id
                assert len(store.reps(s.id, counted_only=True)) == s.rep_count
                assert store.trace(s.id) is not None
        leftovers = [p for p in store.files_root.rglob("*")
                     if p.name.startswith(".staging-") or ".part" in p.name]
        assert not leftovers, leftovers
        patients = {p.id for p in store.list_patients()}
        orphans = [d.name for d in store.files_root.iterdir()] \
            if store.files_root.is_dir() else []
        assert set(orphans) <= patients, orphans  # a deleted patient's files are gone
    return n


@pytest.fixture
def check_store() -> Callable[[Clinic], int]:
    """``check_store(clinic)``: assert every invariant of the patient data (see
    `_check_store`); returns the number of sessions."""
    return _check_store


def _check_result_folder(out: Path) -> str | None:
    """A result folder is absent or one complete, consistent set; returns the recording
    it was made from (None when absent)."""
    if not out.exists():
        return None
    names = {p.name for p in out.iterdir()}
    assert names == {"result.json", "reps.csv", "angles.csv", "landmarks.npz"}, names
    doc = json.loads((out / "result.json").read_text())
    rows = (out / "reps.csv").read_text().strip().splitlines()[1:]
    assert len(rows) == doc["rep_count"]
    with np.load(out / "landmarks.npz") as lm:
        assert len(lm["timestamps"]) == doc["frames"]
    return str(doc["source"])


@pytest.fixture
def check_result_folder() -> Callable[[Path], str | None]:
    """``check_result_folder(out)``: ``out`` is absent or one whole result set; returns
    the recording it describes."""
    return _check_result_folder


@pytest.fixture
def rounds(request: pytest.FixtureRequest) -> Callable[[int], int]:
    """``rounds(n)``: ``n`` in CI, ``n * --soak`` for a soak run."""
    factor = int(request.config.getoption("--soak"))
    return lambda n: n * max(1, factor)
