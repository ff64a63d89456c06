"""Faults: patient data is owner-only whatever the umask, stays inside the data folder, and
text from users cannot drive the terminal."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path


def _run(*args: str, env: dict[str, str] | None = None, umask: int = 0,
         cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``rehab ARGS`` in a new process started with ``umask`` (0: everything world-writable
    unless rehab says otherwise)."""
    return subprocess.run([sys.executable, "-m", "rehab", *args], capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, timeout=300, cwd=cwd,
                          preexec_fn=lambda: os.umask(umask))


def _modes(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root.parent)): stat.S_IMODE(p.lstat().st_mode)
            for p in [root, *root.rglob("*")]}


def _assert_private(root: Path) -> None:
    for name, mode in _modes(root).items():
        assert mode & 0o077 == 0, f"{name} is {oct(mode)}"


def test_everything_holding_patient_data_is_owner_only_whatever_the_umask(
        clinic, tmp_path: Path) -> None:
    out, export, report = tmp_path / "out", tmp_path / "export", tmp_path / "r" / "report.html"
    report.parent.mkdir()
    db = ["--db", str(clinic.db)]
    for args in (["analyze", str(clinic.inputs["pA"]), "-e", "squat", "--patient", "pA",
                  "--out", str(out), *db],
                 ["patient", "export", "pA", "--out", str(export), *db],
                 ["report", "pA", "-o", str(report), *db]):
        res = _run(*args)
        assert res.returncode == 0, res.stderr
    _assert_private(out)
    _assert_private(export)
    _assert_private(clinic.db.parent / "rehab.sqlite-files")
    assert stat.S_IMODE(report.stat().st_mode) & 0o077 == 0
    for suffix in ("", "-wal", "-shm"):
        f = Path(str(clinic.db) + suffix)
        if f.exists():
            assert stat.S_IMODE(f.stat().st_mode) & 0o077 == 0, f


def test_patient_delete_removes_the_result_folders_written_for_them(
        clinic, tmp_path: Path) -> None:
    """Folders written with ``--patient --out`` go with the patient while they hold that
    run's results; one changed since (here, a file added) is left with a warning."""
    db = ["--db", str(clinic.db)]
    ours, changed = tmp_path / "ours", tmp_path / "changed"
    for out in (ours, changed):
        res = _run("analyze", str(clinic.inputs["pA"]), "-e", "squat", "--patient", "pA",
                   "--force", "--out", str(out), *db)
        assert res.returncode == 0, res.stderr
    (changed / "my notes.txt").write_text("kept")
    res = _run("patient", "delete", "pA", "--yes", *db)
    assert res.returncode == 0, res.stderr
    assert not ours.exists()
    assert (changed / "my notes.txt").read_text() == "kept"
    assert str(changed) in res.stderr
    assert not (clinic.db.parent / "rehab.sqlite-files" / "pA").exists()


def test_a_symlink_at_a_patients_folder_is_never_followed(clinic, tmp_path: Path,
                                                          assert_one_line_error) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    files = clinic.db.parent / "rehab.sqlite-files"
    files.mkdir(exist_ok=True)
    (files / "pA").symlink_to(outside, target_is_directory=True)
    db = ["--db", str(clinic.db)]
    res = _run("analyze", str(clinic.inputs["pA"]), "-e", "squat", "--patient", "pA", *db)
    assert_one_line_error(res, "symbolic link")
    assert list(outside.iterdir()) == []
    res = _run("patient", "delete", "pA", "--yes", *db)
    assert res.returncode == 0, res.stderr
    assert not (files / "pA").is_symlink() and outside.is_dir()


def test_a_stored_path_leading_outside_the_data_folder_is_not_followed(
        clinic, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("not patient data")
    db = ["--db", str(clinic.db)]
    assert _run("analyze", str(clinic.inputs["pA"]), "-e", "squat", "--patient", "pA",
                *db).returncode == 0
    conn = sqlite3.connect(clinic.db)
    with conn:
        conn.execute("UPDATE session_files SET path = ? WHERE kind = 'reps_csv'",
                     (os.path.relpath(secret, clinic.db.parent / "rehab.sqlite-files"),))
    conn.close()
    export = tmp_path / "export"
    res = _run("patient", "export", "pA", "--out", str(export), *db)
    assert res.returncode == 0, res.stderr
    assert "leads outside" in res.stderr
    assert not [p for p in export.rglob("*") if p.is_file() and p.read_bytes()
                == secret.read_bytes()]


def test_names_with_terminal_escapes_are_printed_harmless(clinic) -> None:
    evil = "\x1b]0;owned\x07Eve\x1b[2J\rpB\u202e"
    db = ["--db", str(clinic.db)]
    assert _run("patient", "add", "pE", "--name", evil, "--notes", "\x1b[31mred", *db
                ).returncode == 0
    for args in (["patient", "list"], ["patient", "show", "pE"]):
        res = _run(*args, *db)
        assert res.returncode == 0, res.stderr
        assert "\x1b" not in res.stdout and "\r" not in res.stdout and "\u202e" not in res.stdout
        assert "\\x1b]0;owned\\x07Eve" in res.stdout
    res = _run("report", "pE", "-o", "/nonexistent-dir/x.html", *db)
    assert "\x1b" not in res.stderr
