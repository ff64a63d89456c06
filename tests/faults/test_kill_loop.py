"""Faults: SIGKILL at random moments, and concurrent writers across two patients.

Each round starts a real ``rehab`` process (``analyze --patient`` into a folder both
patients share, ``report``, ``patient delete``, and ``live`` when the demo video is there)
and kills it after a random delay within its run time. After every kill the patient data
must hold every invariant of `check_store` (integrity, each session complete with its own
patient's files, no leftovers once the next process has run), the shared result folder must
be one whole set, and a report must be a whole file or absent. CI runs a bounded number of
rounds; ``--soak N`` multiplies them.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from rehab.fileio import recover_staged


def _popen(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "rehab", "-q", *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **env})


def _add_throwaway(clinic, squat_analysis) -> None:
    """Patient ``pD`` with two sessions, to be deleted (written in-process: fast)."""
    from rehab.store import open_store

    with open_store(clinic.db) as store:
        if not any(p.id == "pD" for p in store.list_patients()):
            store.add_patient("pD", "Throwaway")
        for day in (1, 2):
            store.record_analysis("pD", squat_analysis(2), dt.datetime(2024, 5, day, 9))


def _analyze_args(clinic, pid: str, out: Path, db: list[str]) -> list[str]:
    """``analyze`` of the patient's own recording into ``out`` and their history."""
    return ["analyze", str(clinic.inputs[pid]), "-e", "squat", "--side", "right", "--patient",
            pid, "--force", "--out", str(out), *db]  # the same recording, again and again


def _check_report(path: Path) -> None:
    """A report is absent or whole (the HTML is closed)."""
    if path.exists():
        assert path.read_text(encoding="utf-8").rstrip().endswith("</html>")


def test_sigkill_at_random_moments_loses_or_mixes_nothing(
        clinic, tmp_path: Path, check_store, check_result_folder, squat_analysis,
        shared_dir: Path, rounds: Callable[[int], int]) -> None:
    rng = random.Random(20261201)
    shared = tmp_path / "rehab-out" / "session"
    report = tmp_path / "reports" / "pA.html"
    report.parent.mkdir()
    db = ["--db", str(clinic.db)]
    demo = shared_dir / "videos" / "shoulder_abduction.mp4"
    record = tmp_path / "live-record"
    ops: dict[str, Callable[[], list[str]]] = {
        "report": lambda: ["report", "pA", "-o", str(report), "--no-progress", *db],
        "delete": lambda: ["patient", "delete", "pD", "--yes", *db],
    }
    if demo.is_file():
        ops["live"] = lambda: ["live", "-e", "shoulder_abduction", "--source", str(demo),
                               "--headless", "--patient", "pL", "--reps", "3", "--sets", "1",
                               "--speed", "4", "--record", str(record), *db]
        from rehab.store import open_store

        with open_store(clinic.db) as store:
            store.add_patient("pL", "Live patient")
    ops["analyze"] = lambda: _analyze_args(clinic, rng.choice(["pA", "pB"]), shared, db)
    kills = {name: 0 for name in ops}
    names = sorted(ops)
    took: dict[str, float] = {}
    wanted = rounds(1)  # kills of each operation (--soak N for N times as many)
    for i in range(8 * wanted * len(ops)):  # a kill comes too late when the run was quick
        name = names[i % len(names)]
        if name in took and kills[name] >= wanted:
            continue
        if name == "delete":
            _add_throwaway(clinic, squat_analysis)
        started = time.monotonic()
        proc = _popen(ops[name](), clinic.env)
        if name in took:  # the first run of each measures how long it takes
            time.sleep(rng.uniform(0.05, 0.98) * took[name])
            if proc.poll() is None:
                proc.kill()
                kills[name] += 1
        _, err = proc.communicate(timeout=120)
        took.setdefault(name, time.monotonic() - started)
        assert "Traceback" not in err, err
        recover_staged(shared)  # what the next run into the folder does first
        check_result_folder(shared)
        recover_staged(record)
        if record.exists():
            assert {"result.json", "session.json"} <= {p.name for p in record.iterdir()}
        check_store(clinic)
        _check_report(report)
        if min(kills.values()) >= wanted:
            break
    # each killed operation, run again to its end, cleans up and succeeds
    for args in (ops["analyze"](), ops["report"]()):
        res = subprocess.run([sys.executable, "-m", "rehab", "-q", *args], capture_output=True,
                             text=True, env={**os.environ, **clinic.env}, timeout=300)
        assert res.returncode == 0, res.stderr
    assert sorted(p.name for p in report.parent.iterdir()) == ["pA.html"]
    assert sorted(p.name for p in shared.parent.iterdir()) == ["session"]
    assert check_store(clinic) > 0
    assert min(kills.values()) >= wanted, kills  # the loop did kill each, not just wait
    print(f"kills by operation: {kills}")


def test_concurrent_writers_across_two_patients(clinic, tmp_path: Path, check_store,
                                                rounds: Callable[[int], int]) -> None:
    """Two writers per patient at a time, each into its own default folder and the history,
    plus a report and an export reading meanwhile: every session is its patient's own."""
    db = ["--db", str(clinic.db)]
    n = rounds(2)
    for r in range(n):
        procs = [_popen(["analyze", str(clinic.inputs[pid]), "-e", "squat", "--side", "right",
                         "--patient", pid, "--force", *db], clinic.env) for pid in ("pA", "pB", "pB", "pA")]
        procs.append(_popen(["report", "pB", "-o", str(tmp_path / f"r{r}.html"),
                             "--no-progress", *db], clinic.env))
        procs.append(_popen(["patient", "export", "pA", "--out", str(tmp_path / "export"), *db],
                            clinic.env))
        for p in procs:
            _, err = p.communicate(timeout=300)
            assert p.returncode == 0, err
    assert check_store(clinic) == 4 * n
