"""CLI: ``rehab batch`` as a clinic's IT person runs it: a manifest of landmark recordings
(no model, so that it runs in seconds) on local worker processes, run again, a bad row, a
bad file, and the errors found before any work (one line per problem)."""

from __future__ import annotations

import csv
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def recordings(tmp_path: Path, write_squats: Callable[..., dict[str, Path]]) -> Path:
    """``a.npz`` (3 squats) and ``b.npz`` (5 squats) in ``tmp_path/rec``."""
    write_squats(tmp_path / "rec", {"a": 3, "b": 5})
    return tmp_path / "rec"


def test_batch_a_manifest_then_run_it_again(tmp_path: Path, recordings: Path, db: Path,
                                            rehab: Run) -> None:
    (recordings / "broken.npz").write_text("not a landmarks file")
    manifest = recordings / "day.csv"
    manifest.write_text("file,exercise,patient,date\n"
                        "a.npz,squat,p1,2026-11-30\n"
                        "b.npz,,,\n"
                        "broken.npz,squat,,\n")
    out = tmp_path / "out"
    res = rehab("batch", str(manifest), "--exercise", "squat", "--db", str(db), "--out",
                str(out), "--jobs", "2", "--no-progress", check=False)
    assert res.returncode == 1, res.stderr  # a file failed; the others were analysed
    assert res.stdout.startswith("batch: 3 file(s): 2 analysed, 0 skipped (done before), "
                                 "1 failed, in "), res.stdout
    assert "files/hour on 2 worker(s)); summary" in res.stdout
    assert "row 4 (broken.npz): failed:" in res.stderr
    with open(out / "summary.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(Path(r["file"]).name, r["patient"], r["status"], r["reps"]) for r in rows] == \
        [("a.npz", "p1", "done", "3"), ("b.npz", "", "done", "5"),
         ("broken.npz", "", "failed", "")]
    assert float(rows[0]["mean_rom_deg"]) > 90 and float(rows[0]["seconds"]) > 0
    assert rows[0]["session"] and "broken.npz" in rows[2]["error"]
    assert sorted(p.name for p in (out / "a").iterdir()) == \
        ["angles.csv", "landmarks.npz", "reps.csv", "result.json"]
    shown = rehab("patient", "show", "p1", "--db", str(db)).stdout
    assert "sessions (1):" in shown and "batch" in shown and "3 reps" in shown

    again = rehab("batch", str(manifest), "-e", "squat", "--db", str(db), "--out", str(out),
                  "--no-progress", check=False)
    assert again.returncode == 1  # the failure is still there, not retried
    assert again.stdout.startswith("batch: 3 file(s): 0 analysed, 2 skipped (done before), "
                                   "1 failed"), again.stdout
    assert "files/hour" not in again.stdout
    shown = rehab("patient", "show", "p1", "--db", str(db)).stdout
    assert "sessions (1):" in shown
    # --retry-failed runs the failure alone; without a terminal, progress is a log line
    res = rehab("batch", str(manifest), "-e", "squat", "--db", str(db), "--out", str(out),
                "--retry-failed", check=False)
    assert res.returncode == 1 and "1 analysed" not in res.stdout
    assert "rehab: batch: 1/1 file(s) done, 1 failed, about 0.0s left" in res.stderr


def test_every_bad_row_is_one_error_line_and_nothing_runs(
        tmp_path: Path, recordings: Path, db: Path, rehab: Run) -> None:
    manifest = recordings / "day.csv"
    manifest.write_text("file,exercise,patient,date\n"
                        "a.npz,squat,p1,2026-11-30\n"
                        "gone.npz,squat,,\n"
                        "b.npz,squatt,,\n"
                        "b.npz,squat,nobody,\n"
                        "a.npz,squat,p1,30/11/2026\n")
    out = tmp_path / "out"
    res = rehab("batch", str(manifest), "--db", str(db), "--out", str(out), check=False)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    errors = [ln for ln in res.stderr.splitlines() if ln.startswith("rehab: error:")]
    assert len(errors) == 2, res.stderr  # the rows' own checks come first
    assert "day.csv row 3 (gone.npz): no such file" in errors[0]
    assert "day.csv row 6 (a.npz): date '30/11/2026'" in errors[1]
    assert not out.exists()
    manifest.write_text("file,exercise,patient\n"
                        "a.npz,squat,p1\n"
                        "b.npz,squatt,\n"
                        "b.npz,squat,nobody\n")
    res = rehab("batch", str(manifest), "--db", str(db), "--out", str(out), check=False)
    errors = [ln for ln in res.stderr.splitlines() if ln.startswith("rehab: error:")]
    assert res.returncode == 2 and len(errors) == 2, res.stderr
    assert errors[0].startswith("rehab: error: row 3 (b.npz): ") and "squatt" in errors[0]
    assert errors[1].startswith("rehab: error: row 4 (b.npz): ") and "nobody" in errors[1]
    assert not out.exists()


@pytest.mark.parametrize("args, needle", [
    (["{rec}"], "a folder of videos needs --exercise"),
    (["{rec}", "-e", "squat"], "no video files in this folder"),
    (["{rec}/none.csv", "-e", "squat"], "no such manifest file"),
    (["{rec}/a.npz", "-e", "squat"], "not a readable CSV file"),
    (["{rec}", "-e", "squat", "--jobs", "2", "--scheduler", "tcp://127.0.0.1:1"],
     "--jobs sets local workers"),
])
def test_batch_refuses_with_one_line(recordings: Path, rehab: Run,
                                     assert_one_line_error: Callable[..., None],
                                     args: list[str], needle: str) -> None:
    res = rehab("batch", *[a.format(rec=recordings) for a in args], check=False)
    assert_one_line_error(res, needle)


def test_an_unreachable_scheduler_is_one_line(tmp_path: Path, recordings: Path, rehab: Run,
                                              assert_one_line_error: Callable[..., None]
                                              ) -> None:
    manifest = recordings / "day.csv"
    manifest.write_text("file,exercise\na.npz,squat\n")
    res = rehab("batch", str(manifest), "--scheduler", "tcp://127.0.0.1:9",
                "--out", str(tmp_path / "out"), check=False,
                env={"DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "1s"})
    assert_one_line_error(res, "cannot reach the Dask scheduler at tcp://127.0.0.1:9")


@pytest.mark.parametrize("option, value", [("--max-fps", "0"), ("--max-fps", "nan"),
                                           ("--jobs", "0"), ("--jobs", "1000")])
def test_batch_bounds(recordings: Path, rehab: Run, option: str, value: str) -> None:
    res = rehab("batch", str(recordings), "-e", "squat", option, value, check=False)
    assert res.returncode == 2 and option in res.stderr


@pytest.mark.parametrize("sig, code", [("SIGTERM", 143), ("SIGINT", 130)])
def test_a_signal_stops_the_batch_keeping_what_finished(
        tmp_path: Path, write_squats: Callable[..., dict[str, Path]], sig: str,
        code: int) -> None:
    import os
    import signal
    import sys
    import time

    rec = tmp_path / "rec"
    names = [f"s{i:02d}" for i in range(40)]
    for i, n in enumerate(names):  # distinct recordings (a repeat would be refused)
        write_squats(rec, {n: 3 + i % 3}, peak=90.0 + i)
    lines = ["file,exercise"] + [f"{n}.npz,squat" for n in names]
    (rec / "day.csv").write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "rehab", "batch", str(rec / "day.csv"), "--out", str(out),
           "--jobs", "1", "--no-progress"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    journal = out / "batch-journal.jsonl"
    while not (journal.exists() and journal.read_text().count("\n") >= 2):
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.01)
    os.kill(proc.pid, getattr(signal, sig))
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == code, stderr
    assert "Traceback" not in stderr
    assert ("stopped by signal 15" if sig == "SIGTERM" else "rehab: interrupted") in stderr
    done = journal.read_text().count("\n")
    assert 2 <= done < 40
    with open(out / "summary.csv", newline="") as f:
        assert len(list(csv.DictReader(f))) == done  # written on the way out
    if sig == "SIGINT":
        return
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert f"{40 - done} analysed, {done} skipped (done before), 0 failed" in res.stdout
