"""Faults: a result set appears whole or not at all, and is never another run's.

Each case of the issue "patient data is never mixed, half-written or exposed" that concerns
result folders: two patients sharing an output folder (concurrently), a re-run failing
half-way, an input error, foreign files in the folder, and what killed runs leave behind.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from rehab.cli import main
from rehab.errors import OutputError

RESULT = {"result.json", "reps.csv", "angles.csv", "landmarks.npz"}


def _analyze(clinic, pid: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "rehab", "-q", "analyze", str(clinic.inputs[pid]),
            "-e", "squat", "--side", "right", "--patient", pid, "--force", "--db", str(clinic.db), *extra]


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_two_patients_sharing_an_output_folder_never_store_each_others_files(
        clinic, tmp_path: Path, check_store, check_result_folder,
        rounds: Callable[[int], int]) -> None:
    """Both recordings are named ``session.npz``; four runs at a time (two per patient)
    write the same ``--out`` folder. Every stored session holds its own patient's files and
    the folder ends as one whole set."""
    shared = tmp_path / "rehab-out" / "session"
    n = rounds(3)
    for _ in range(n):
        procs = [subprocess.Popen(_analyze(clinic, pid, "--out", str(shared)),
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                 for pid in ("pA", "pB", "pA", "pB")]
        for p in procs:
            _, err = p.communicate(timeout=300)
            assert p.returncode == 0, err
    assert check_store(clinic) == 4 * n
    assert check_result_folder(shared) in {str(p) for p in clinic.inputs.values()}
    assert not [p for p in shared.parent.iterdir() if p.name.startswith(".")]


def test_with_a_patient_and_no_out_nothing_is_written_outside_the_history(
        clinic, tmp_path: Path, check_store) -> None:
    res = subprocess.run(_analyze(clinic, "pA"), cwd=tmp_path, capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stderr
    assert not (tmp_path / "rehab-out").exists()
    assert check_store(clinic) == 1


def test_a_failed_rerun_leaves_the_previous_results_untouched(
        clinic, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    assert main(["-q", "analyze", str(clinic.inputs["pA"]), "-e", "squat", "-o", str(out)]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert set(before) == RESULT

    def full_disk(*args: object, **kwargs: object) -> None:
        raise OutputError("landmarks.npz: cannot write (disk full)")

    monkeypatch.setattr("rehab.analysis.save_npz", full_disk)  # after reps.csv, angles.csv
    assert main(["-q", "analyze", str(clinic.inputs["pB"]), "-e", "squat", "-o", str(out)]) == 4
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize("case", ["missing", "corrupt", "exercise", "fps"])
def test_an_input_error_creates_no_output_folder(case: str, clinic, tmp_path: Path,
                                                 rehab, assert_one_line_error) -> None:
    import numpy as np

    src = clinic.inputs["pA"]
    args = {"missing": [str(tmp_path / "nope.npz"), "-e", "squat"],
            "corrupt": [str(tmp_path / "bad.npz"), "-e", "squat"],
            "exercise": [str(src), "-e", "no_such_exercise"],
            "fps": [str(tmp_path / "fps.npz"), "-e", "squat"]}[case]
    (tmp_path / "bad.npz").write_bytes(os.urandom(4000))
    np.savez(tmp_path / "fps.npz", **{**dict(np.load(src)), "fps": np.float64("nan")})
    work = tmp_path / "work"
    work.mkdir()
    res = rehab("analyze", *args, cwd=work, check=False)
    assert_one_line_error(res)
    assert list(work.iterdir()) == []


def test_a_folder_with_foreign_files_is_refused_before_any_work(
        clinic, tmp_path: Path, rehab, assert_one_line_error) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("my own notes")
    res = rehab("analyze", str(clinic.inputs["pA"]), "-e", "squat", "-o", str(out), check=False)
    assert_one_line_error(res, "notes.txt", "choose a new or empty folder")
    assert res.returncode == 4
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


def test_leftovers_of_killed_runs_are_cleaned_by_the_next_run(clinic, tmp_path: Path) -> None:
    """Temporaries carry their writer's pid: the next writer removes those of processes
    that are gone and keeps those of a running one."""
    from rehab.store import open_store

    dead, alive = _dead_pid(), os.getpid()
    out = tmp_path / "out"
    stale = [tmp_path / f".out.rehab-new-{dead}-0123abcd", tmp_path / "rep" / f".r.html.{dead}-0a0b0c0d.part",
             clinic.db.parent / "rehab.sqlite-files" / "pA" / f".staging-{dead}-00ff"]
    kept = [tmp_path / f".out.rehab-new-{alive}-0123abcd",
            clinic.db.parent / "rehab.sqlite-files" / "pA" / f".staging-{alive}-00ff"]
    for d in stale + kept:
        if d.suffix == ".part":
            d.parent.mkdir(parents=True, exist_ok=True)
            d.write_text("half")
        else:
            d.mkdir(parents=True)
            (d / "reps.csv").write_text("half")
    assert main(["-q", "analyze", str(clinic.inputs["pA"]), "-e", "squat", "-o", str(out),
                 "--patient", "pA", "--db", str(clinic.db)]) == 0
    assert main(["-q", "report", "pA", "--db", str(clinic.db), "-o",
                 str(tmp_path / "rep" / "r.html")]) == 0
    with open_store(clinic.db):
        pass
    assert [p for p in stale if p.exists()] == []
    assert all(p.exists() for p in kept)


def test_a_kill_between_the_two_renames_is_undone(tmp_path: Path) -> None:
    """`StagedFolder.publish` moves the old set aside, then the new one in: killed in
    between, the next run puts the old set back before anything else."""
    from rehab.analysis import result_folder

    final = tmp_path / "out"
    aside = tmp_path / f".out.rehab-old-{_dead_pid()}-deadbeef"
    aside.mkdir()
    (aside / "result.json").write_text("{}")
    folder = result_folder(final)
    assert (final / "result.json").read_text() == "{}"
    (folder.path / "result.json").write_text('{"new": 1}')
    folder.publish()
    assert (final / "result.json").read_text() == '{"new": 1}'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_the_patient_history_keeps_no_video(clinic, tmp_path: Path, rehab,
                                            assert_one_line_error) -> None:
    """``--overlay`` with ``--patient`` needs ``--out``: the history stores no video, and
    the refusal comes before any work."""
    res = rehab("analyze", str(clinic.inputs["pA"]).replace(".npz", ".mp4"), "-e", "squat",
                "--patient", "pA", "--db", str(clinic.db), "--overlay", cwd=tmp_path,
                check=False)
    assert_one_line_error(res, "--overlay with --patient needs --out DIR")
    assert not (tmp_path / "rehab-out").exists()
