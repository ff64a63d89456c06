"""Faults: ``rehab batch`` on copies of the shared videos through the real pose model, killed
from outside: a worker process killed mid-task (replaced, its file retried), and the whole
batch killed (client and workers) then started again, which finishes the rest without
redoing or duplicating anything in the store. Videos are analysed at 10 frames/s
(``--max-fps``) to keep these runs short."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path

import pytest

pytestmark = pytest.mark.model

CLIPS = ("pose2sim_single_cam01.mp4", "pose2sim_single_cam02.mp4",
         "pose2sim_single_cam03.mp4", "pose2sim_single_cam04.mp4")


def _setup(tmp_path: Path, shared_video: Callable[[str], Path]) -> tuple[Path, Path]:
    """(manifest, database): copies of four lab clips, two for each of two patients."""
    from rehab.store import open_store

    rec = tmp_path / "recordings"
    rec.mkdir()
    for name in CLIPS:
        shutil.copyfile(shared_video(name), rec / name)
    db = tmp_path / "clinic" / "rehab.sqlite"
    with open_store(db) as store:
        store.add_patient("pA", "Patient A")
        store.add_patient("pB", "Patient B")
    manifest = rec / "day.csv"
    manifest.write_text("file,exercise,patient,date\n" + "".join(
        f"{name},squat,{'pA' if i < 2 else 'pB'},2026-11-30\n" for i, name in enumerate(CLIPS)))
    return manifest, db


def _batch(manifest: Path, db: Path, out: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "rehab", "batch", str(manifest), "--db", str(db), "--out",
         str(out), "--jobs", "2", "--max-fps", "10", "--no-progress"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def _wait_for_lines(journal: Path, n: int, proc: subprocess.Popen[str],
                    timeout: float = 120.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if journal.exists() and journal.read_text().count("\n") >= n:
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.02)
    raise AssertionError(f"no {n} journal line(s) in {timeout} s")


def _started(tmp_path: Path, shared_video: Callable[[str], Path]
             ) -> tuple[Path, Path, Path, subprocess.Popen[str]]:
    """(manifest, database, out, process) of a batch that has finished its first file."""
    manifest, db = _setup(tmp_path, shared_video)
    out = tmp_path / "out"
    proc = _batch(manifest, db, out)
    _wait_for_lines(out / "batch-journal.jsonl", 1, proc)
    return manifest, db, out, proc


def _worker_processes(pid: int) -> list[object]:
    import psutil

    return [c for c in psutil.Process(pid).children(recursive=True)
            if "spawn_main" in " ".join(c.cmdline())]


def _stored(db: Path) -> list[tuple[str, str, int]]:
    from rehab.store import open_store

    with open_store(db) as store:
        return sorted((p.id, Path(s.source).name, s.rep_count) for p in store.list_patients()
                      for s in store.sessions(p.id))


def _check(tmp_path: Path, db: Path, out: Path, check_store: Callable[..., int]) -> None:
    """Every clip stored exactly once for its patient, the store's invariants hold, every
    output folder is a whole result set, nothing half-written is left."""
    stored = _stored(db)
    assert [(p, f) for p, f, _ in stored] == sorted(
        ("pA" if i < 2 else "pB", name) for i, name in enumerate(CLIPS)), stored
    clinic = types.SimpleNamespace(root=tmp_path, db=db, inputs={}, reps={})  # a Clinic
    assert check_store(clinic) == len(CLIPS)
    for name in CLIPS:
        folder = out / Path(name).stem
        assert sorted(p.name for p in folder.iterdir()) == \
            ["angles.csv", "landmarks.npz", "reps.csv", "result.json"], folder
    assert not [p for p in out.iterdir() if p.name.startswith(".")], list(out.iterdir())


def test_a_worker_killed_mid_task_is_replaced_and_its_file_retried(
        tmp_path: Path, shared_video: Callable[[str], Path],
        check_store: Callable[..., int]) -> None:
    manifest, db, out, proc = _started(tmp_path, shared_video)
    workers = _worker_processes(proc.pid)
    assert len(workers) == 2
    victim = workers[0].pid  # type: ignore[attr-defined]
    os.kill(victim, signal.SIGKILL)  # both workers are busy: it dies mid-task
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    assert "4 analysed, 0 skipped (done before), 0 failed" in stdout
    rows = [json.loads(x) for x in (out / "batch-journal.jsonl").read_text().splitlines()]
    assert len(rows) == len({r["key"] for r in rows}) == len(CLIPS)
    assert all(r["status"] == "done" for r in rows)
    assert not any(r["worker"].endswith(f":{victim}") for r in rows[1:])
    _check(tmp_path, db, out, check_store)


def test_a_batch_killed_and_started_again_finishes_the_rest_without_duplicates(
        tmp_path: Path, shared_video: Callable[[str], Path],
        check_store: Callable[..., int]) -> None:
    manifest, db, out, proc = _started(tmp_path, shared_video)
    os.killpg(proc.pid, signal.SIGKILL)  # the client and its workers, mid-batch
    proc.communicate(timeout=60)
    done_before = len(_stored(db))
    assert 1 <= done_before < len(CLIPS)
    again = _batch(manifest, db, out)
    stdout, stderr = again.communicate(timeout=300)
    assert again.returncode == 0, stderr
    assert f"{len(CLIPS) - done_before} analysed, {done_before} skipped (done before), " \
           f"0 failed" in stdout, stdout
    _check(tmp_path, db, out, check_store)
    summary = (out / "summary.csv").read_text().splitlines()[1:]
    assert len(summary) == len(CLIPS)
