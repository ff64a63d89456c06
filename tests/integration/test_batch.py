"""Integration: batches on a real Dask `LocalCluster` on loopback (free ports), on landmark
recordings (no pose model, so that they run in seconds): each patient's file stored once,
a resumed batch redoing nothing, one bad file failing alone, ``retry_failed`` re-running
only failures, and worker processes that die on a file (a test worker plugin exits the
process when the file's task starts) replaced with the task retried once.

The same batches on real videos through the pose model, a batch killed and resumed, and a
worker killed from outside mid-task are in tests/faults/test_batch_kills.py."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from rehab.batch.manifest import BatchItem, read_manifest
from rehab.batch.runner import BatchOptions, open_client, run_batch

REPS = {"a": 3, "b": 5, "c": 4}


@pytest.fixture
def clinic(tmp_path: Path, write_squats: Callable[..., dict[str, Path]]
           ) -> tuple[Path, Path]:
    """(manifest, database): patients p1 (a.npz, 3 squats) and p2 (b.npz, 5 squats); c.npz
    (4 squats) for no patient."""
    from rehab.store import open_store

    rec = tmp_path / "recordings"
    write_squats(rec, REPS)
    db = tmp_path / "clinic.sqlite"
    with open_store(db) as store:
        store.add_patient("p1", "Patient One", affected_side="right")
        store.add_patient("p2", "Patient Two")
    manifest = rec / "day.csv"
    manifest.write_text("file,exercise,patient,date\n"
                        "a.npz,squat,p1,2026-11-30T09:00\n"
                        "b.npz,squat,p2,2026-11-30\n"
                        "c.npz,squat,,\n")
    return manifest, db


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    """One local cluster of two single-threaded workers for the module (its start costs
    seconds), as `rehab batch` makes it."""
    with open_client(None, 2) as c:
        yield c


def _options(tmp_path: Path, db: Path, **kw: Any) -> BatchOptions:
    return BatchOptions(out=tmp_path / "out", db=db, progress=False, **kw)


def _sessions(db: Path) -> list[tuple[str, int, str]]:
    from rehab.store import open_store

    with open_store(db) as store:
        return [(p.id, s.rep_count, s.mode) for p in store.list_patients()
                for s in store.sessions(p.id)]


def test_batch_stores_each_patient_file_once_and_a_second_run_redoes_nothing(
        tmp_path: Path, clinic: tuple[Path, Path], client: Any) -> None:
    from rehab.pipeline import analyze

    manifest, db = clinic
    items = read_manifest(manifest)
    report = run_batch(items, _options(tmp_path, db), client=client)
    assert [(r.file.split("/")[-1], r.status, r.reps) for r in report.rows] == \
        [("a.npz", "done", 3), ("b.npz", "done", 5), ("c.npz", "done", 4)]
    assert report.ran == 3 and report.workers == 2
    assert sorted(_sessions(db)) == [("p1", 3, "batch"), ("p2", 5, "batch")]
    # the per-file outputs of rehab analyze, and the same reps as rehab analyze finds
    for r in report.rows:
        out = Path(r.output)
        assert sorted(p.name for p in out.iterdir()) == \
            ["angles.csv", "landmarks.npz", "reps.csv", "result.json"]
        side = "right" if r.patient == "p1" else "auto"
        alone = analyze(r.file, "squat", side=side, progress=False)
        assert r.reps == alone.rep_count
        assert r.mean_rom_deg == pytest.approx(
            sum(x.rom_deg for x in alone.reps) / alone.rep_count, abs=0.01)
    assert (Path(report.rows[0].output).stat().st_mode & 0o777) == 0o700  # a patient's
    from rehab.store import open_store

    with open_store(db) as store:
        s = store.sessions("p1")[0]
        assert s.started == dt.datetime(2026, 11, 30, 9, 0) and s.side == "right"
        assert s.files["result_json"].read_bytes() == \
            (Path(report.rows[0].output) / "result.json").read_bytes()
    summary = (tmp_path / "out" / "summary.csv").read_text().splitlines()
    assert summary[0].startswith("file,patient,exercise,status,reps,mean_rom_deg,seconds,error")
    assert len(summary) == 4

    again = run_batch(items, _options(tmp_path, db), client=client)
    assert [r.status for r in again.rows] == ["skipped"] * 3 and again.ran == 0
    assert [r.reps for r in again.rows] == [3, 5, 4]
    assert sorted(_sessions(db)) == [("p1", 3, "batch"), ("p2", 5, "batch")]
    assert "0 analysed, 3 skipped" in again.line()

    # outputs removed by hand are made again; a patient's stored session is not
    for r in report.rows:
        for p in Path(r.output).iterdir():
            p.unlink()
        Path(r.output).rmdir()
    third = run_batch(items, _options(tmp_path, db), client=client)
    assert [r.status for r in third.rows] == ["skipped", "skipped", "done"]
    assert len(_sessions(db)) == 2


def test_one_bad_file_fails_alone_and_retry_failed_reruns_only_it(
        tmp_path: Path, clinic: tuple[Path, Path], client: Any) -> None:
    manifest, db = clinic
    rec = manifest.parent
    (rec / "corrupt.npz").write_bytes(b"PK\x03\x04 not really a zip")
    blocked = tmp_path / "out" / "c"
    blocked.mkdir(parents=True)
    (blocked / "keep-me.txt").write_text("a file of someone else's")
    items = read_manifest(manifest) + [BatchItem(5, rec / "corrupt.npz", "squat")]
    report = run_batch(items, _options(tmp_path, db), client=client)
    status = {Path(r.file).name: (r.status, r.error) for r in report.rows}
    assert status["a.npz"][0] == status["b.npz"][0] == "done"
    assert status["corrupt.npz"][0] == "failed" and "corrupt.npz" in status["corrupt.npz"][1]
    assert status["c.npz"][0] == "failed" and "keep-me.txt" in status["c.npz"][1]
    assert report.count("failed") == 2 and "2 failed" in report.line()

    again = run_batch(items, _options(tmp_path, db), client=client)
    assert again.ran == 0 and again.count("failed") == 2  # failures stay until asked
    (blocked / "keep-me.txt").unlink()
    retried = run_batch(items, _options(tmp_path, db, retry_failed=True), client=client)
    assert retried.ran == 2  # only the two failures ran again
    status = {Path(r.file).name: r.status for r in retried.rows}
    assert status == {"a.npz": "skipped", "b.npz": "skipped", "c.npz": "done",
                      "corrupt.npz": "failed"}
    assert sorted(_sessions(db)) == [("p1", 3, "batch"), ("p2", 5, "batch")]


class _ExitOn:
    """A test worker plugin: the worker process exits (as a crash would) when the task of
    a file named ``name`` starts, the first ``times`` times (counted in a file, since the
    process dies). Twice: the file (and any beside it on the dying workers) runs again
    alone and is done; four times: it fails alone, the files beside it done."""

    name = "test-exit-on"

    def __init__(self, name: str, times: int, counter: Path) -> None:
        self.file, self.times, self.counter = name, times, counter

    def transition(self, key: Any, start: str, finish: str, **kwargs: Any) -> None:
        if finish != "executing" or f"-{self.file}-" not in str(key):
            return
        n = int(self.counter.read_text()) if self.counter.exists() else 0
        if n < self.times:
            self.counter.write_text(str(n + 1))
            os._exit(1)


@pytest.mark.parametrize("times, status", [(1, "done"), (2, "done"), (4, "failed")])
def test_a_worker_dying_on_a_file_is_replaced_and_the_file_retried_once(
        tmp_path: Path, clinic: tuple[Path, Path], times: int, status: str) -> None:
    from distributed import WorkerPlugin

    manifest, db = clinic
    plugin = type("ExitOn", (_ExitOn, WorkerPlugin), {})("b", times, tmp_path / "exits")
    with open_client(None, 2) as c:  # its own cluster: its workers are killed
        c.register_plugin(plugin)
        report = run_batch(read_manifest(manifest), _options(tmp_path, db), client=c)
        c.wait_for_workers(2, timeout=60)  # the dead ones were replaced
    rows = {Path(r.file).name: r for r in report.rows}
    assert (tmp_path / "exits").read_text() == str(times)
    assert rows["a.npz"].status == rows["c.npz"].status == "done"
    assert rows["b.npz"].status == status, rows["b.npz"]
    if status == "failed":
        assert "worker process died 2 times while analysing it alone" in rows["b.npz"].error
        assert sorted(_sessions(db)) == [("p1", 3, "batch")]
    else:
        assert sorted(_sessions(db)) == [("p1", 3, "batch"), ("p2", 5, "batch")]
