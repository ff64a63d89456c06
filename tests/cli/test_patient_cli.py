"""``rehab patient|prescribe|report`` run as a user would, and the ``analyze --patient`` hooks."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from rehab.analysis import write_outputs
from rehab.cli import build_parser, main
from rehab.errors import RehabError
from rehab.store import open_store
from rehab.analysis import Analysis
from rehab.store.cli import (PatientPlan, add_analyze_options, after_analyze, check_patient,
                             patient_plan, prescribed_target)


SquatAnalysis = Callable[..., Analysis]  # the `squat_analysis` fixture (tests/conftest.py)


@pytest.fixture()
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "clinic" / "rehab.sqlite"
    monkeypatch.setenv("REHAB_DB", str(path))
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_patient_lifecycle(db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                           squat_analysis: SquatAnalysis) -> None:
    code, _, err = run(capsys, "patient", "list")
    assert code != 0 and "no patient database" in err and err.count("\n") == 1
    assert run(capsys, "patient", "add", "p01", "--name", "Ada <L>", "--side", "left",
               "--notes", "ACL")[0] == 0
    assert db.is_file() and db.stat().st_mode & 0o777 == 0o600
    code, out, _ = run(capsys, "patient", "list")
    assert code == 0 and "p01" in out and "Ada <L>" in out
    code, out, _ = run(capsys, "prescribe", "p01", "squat", "--target-min", "85",
                       "--target-max", "115", "--reps", "10", "--sets", "3", "--start",
                       "2024-01-01")
    assert code == 0 and "85-115" in out
    with open_store(db) as store:
        store.record_analysis("p01", squat_analysis(3), dt.datetime(2024, 1, 5, 9))
    code, out, _ = run(capsys, "patient", "show", "p01")
    assert code == 0
    assert "squat: target 85-115 deg, 3 x 10" in out
    assert "2024-01-05 09:00  squat" in out and "3 reps" in out and "complete" in out
    code, out, _ = run(capsys, "patient", "export", "p01", "--out", str(tmp_path / "exp"))
    assert code == 0 and out.strip() == str(tmp_path / "exp" / "patient.json")
    doc = json.loads((tmp_path / "exp" / "patient.json").read_text())
    assert doc["patient"]["display_name"] == "Ada <L>" and len(doc["sessions"]) == 1
    # delete: refused without --yes when not interactive (pytest's stdin is not a terminal)
    code, _, err = run(capsys, "patient", "delete", "p01")
    assert code != 0 and "without --yes" in err and err.count("\n") == 1
    with open_store(db) as store:
        assert store.get_patient("p01")
    assert run(capsys, "patient", "delete", "p01", "--yes")[0] == 0
    code, out, _ = run(capsys, "patient", "list")
    assert out.strip() == "(no patients)"
    assert not (db.parent / "files" / "p01").exists()


def test_report_command(db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                        squat_analysis: SquatAnalysis) -> None:
    run(capsys, "patient", "add", "p01", "--name", "Ada")
    with open_store(db) as store:
        store.record_analysis("p01", squat_analysis(3, peak=95),
                              dt.datetime.combine(dt.date.today(), dt.time(9)))
    for suffix in ("pdf", "html"):
        out_file = tmp_path / f"report.{suffix}"
        code, out, err = run(capsys, "report", "p01", "--out", str(out_file), "--no-progress")
        assert code == 0, err
        assert out.strip() == str(out_file)
        assert out_file.stat().st_size > 10_000
        assert out_file.stat().st_mode & 0o077 == 0  # health data: owner only
    assert (tmp_path / "report.pdf").read_bytes()[:4] == b"%PDF"
    assert "Squat" in (tmp_path / "report.html").read_text()


@pytest.mark.parametrize("argv, message", [
    (["report", "nobody", "--out", "{tmp}/r.pdf"], "unknown patient 'nobody'"),
    (["report", "p01", "--out", "{tmp}/r.docx"], "must end in .pdf or .html"),
    (["report", "p01", "--out", "{tmp}/missing/r.pdf"], "does not exist"),
    (["report", "p01", "--from", "2024-02-30", "--out", "{tmp}/r.pdf"], "not an ISO date"),
    (["report", "p01", "--from", "2024-03-01", "--to", "2024-02-01", "--out", "{tmp}/r.pdf"],
     "after --to"),
    (["report", "p01", "--exercise", "no_such", "--out", "{tmp}/r.pdf"], "unknown exercise"),
    (["prescribe", "p01", "no_such", "--target-min", "1", "--target-max", "2", "--reps", "1",
      "--sets", "1"], "unknown exercise"),
    (["prescribe", "p01", "squat", "--target-min", "120", "--target-max", "90", "--reps", "10",
      "--sets", "3"], "greater than target max"),
    (["prescribe", "p01", "squat", "--target-min", "x", "--target-max", "90", "--reps", "10",
      "--sets", "3"], "not a number"),
    (["prescribe", "p01", "squat", "--target-min", "80", "--target-max", "90", "--reps", "0",
      "--sets", "3"], "at least 1"),
    (["prescribe", "p01", "squat", "--target-min", "nan", "--target-max", "90", "--reps", "10",
      "--sets", "3"], "--target-min: must be a finite number, got nan"),
    (["prescribe", "p01", "squat", "--target-min", "80", "--target-max", "inf", "--reps", "10",
      "--sets", "3"], "--target-max: must be a finite number, got inf"),
    (["prescribe", "p01", "squat", "--target-min", "80", "--target-max", "90", "--reps", "10",
      "--sets", "2.5"], "--sets: '2.5' is not a whole number"),
    (["prescribe", "p01", "squat", "--target-min", "80", "--target-max", "90", "--reps", "10",
      "--sets", "3", "--days-per-week", "8"], "--per-week: must be at most 7, got 8"),
    (["prescribe", "p01", "squat", "--target-min", "80", "--target-max", "90", "--reps", "10",
      "--sets", "3", "--start", "2024-13-01"], "--start: '2024-13-01' is not an ISO date"),
    (["prescribe", "p01", "squat", "--target-min", "80", "--target-max", "90", "--reps", "10",
      "--sets", "3", "--end", "31/01/2024"], "not an ISO date"),
    (["prescribe", "ghost", "squat", "--target-min", "80", "--target-max", "90", "--reps", "10",
      "--sets", "3"], "unknown patient 'ghost'"),
    (["patient", "add", "../p", "--name", "X"], "invalid patient id"),
    (["patient", "add", "p01", "--name", "X"], "already exists"),
    (["patient", "show", "ghost"], "unknown patient"),
    (["patient", "export", "p01", "--out", "{tmp}/file.txt/sub"], "cannot write the export"),
])
def test_bad_input_is_one_line(db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                               argv: list[str], message: str) -> None:
    run(capsys, "patient", "add", "p01", "--name", "Ada")
    (tmp_path / "file.txt").write_text("x")
    code, out, err = run(capsys, *[a.replace("{tmp}", str(tmp_path)) for a in argv])
    assert code != 0
    assert err.startswith("rehab: error: ") and err.count("\n") == 1, err
    assert message in err
    assert not list(tmp_path.glob("r.*"))


def test_report_command_lives_with_reports() -> None:
    """``rehab report`` is registered by `rehab.reports.cli`; the store imports no reports."""
    import ast

    import rehab.store
    from rehab.reports.cli import cmd_report

    parser = build_parser()
    sub = next(a for a in parser._subparsers._group_actions  # type: ignore[union-attr]
               if isinstance(a, argparse._SubParsersAction))
    assert sub.choices["report"].get_default("func") is cmd_report
    assert {"patient", "prescribe"} <= set(sub.choices)
    for path in Path(rehab.store.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):  # from rehab import reports, too
                names = [f"{node.module}.{a.name}" for a in node.names]
            else:
                continue
            assert not [n for n in names if n.split(".")[:2] == ["rehab", "reports"]], path


def test_corrupt_database_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"\x00garbage" * 512)
    code, _, err = run(capsys, "patient", "list", "--db", str(bad))
    assert code != 0 and "not a rehab database or damaged" in err and err.count("\n") == 1


def test_delete_refusal_in_a_real_process(db: Path) -> None:
    with open_store(db) as store:
        store.add_patient("p01", "Ada")
    proc = subprocess.run([sys.executable, "-m", "rehab", "patient", "delete", "p01"],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          env={**os.environ, "REHAB_DB": str(db)})
    assert proc.returncode != 0
    assert proc.stderr.strip() == ("rehab: error: refusing to delete patient 'p01' "
                                   "(0 session(s)) without --yes (not an interactive terminal)")


# --- rehab analyze hooks ----------------------------------------------------------------------

def analyze_parser() -> argparse.ArgumentParser:
    """The part of ``rehab analyze``'s parser the hooks rely on."""
    p = argparse.ArgumentParser()
    p.add_argument("input")
    p.add_argument("--target-min", type=float)
    p.add_argument("--target-max", type=float)
    add_analyze_options(p)
    return p


def test_analyze_hooks(db: Path, tmp_path: Path, squat_analysis: SquatAnalysis) -> None:
    with open_store(db) as store:
        store.add_patient("p01", "Ada")
        store.prescribe("p01", "squat", 85, 115, reps=10, sets=3, start=dt.date(2024, 2, 1))
    args = analyze_parser().parse_args(["x.npz", "--patient", "p01", "--date", "2024-03-01",
                                        "--db", str(db)])
    check_patient(args)
    assert prescribed_target(args, "squat") == (85.0, 115.0)
    assert prescribed_target(args, "lunge") is None
    args.target_max = 125.0  # the command line wins
    assert prescribed_target(args, "squat") == (85.0, 125.0)
    early = analyze_parser().parse_args(["x", "--patient", "p01", "--date", "2024-01-15"])
    assert prescribed_target(early, "squat") is None  # not yet prescribed on that day
    analysis = squat_analysis(3)
    out = tmp_path / "out"
    write_outputs(analysis, out)
    sid = after_analyze(args, analysis)
    assert sid is not None
    with open_store(db) as store:
        s = store.session(sid)
    assert s.started == dt.datetime(2024, 3, 1) and s.rep_count == 3
    assert s.files["result_json"].read_text() == (out / "result.json").read_text()
    no_patient = analyze_parser().parse_args(["x.npz"])
    check_patient(no_patient)
    assert prescribed_target(no_patient, "squat") is None
    assert after_analyze(no_patient, analysis) is None


def test_patient_plan_side_reps_and_sets(db: Path) -> None:
    """Side: the command line, else the prescription's, else the affected side, of a
    bilateral exercise as of a one-sided one; reps and sets from the prescription."""
    with open_store(db) as store:
        store.add_patient("p01", "Ada", affected_side="left")
        store.prescribe("p01", "squat", 85, 115, reps=8, sets=2, side="right",
                        start=dt.date(2024, 2, 1))
    parser = analyze_parser()
    parser.add_argument("--side")
    args = parser.parse_args(["x", "--patient", "p01", "--date", "2024-03-01", "--db", str(db)])
    assert patient_plan(args, "squat", bilateral=True) == PatientPlan((85.0, 115.0), 8, 2,
                                                                      "right")
    assert patient_plan(args, "knee_extension") == PatientPlan(None, None, None, "left")
    assert patient_plan(args, "hip_abduction", bilateral=True).side == "left"
    args.side = "left"
    assert patient_plan(args, "squat", bilateral=True).side == "left"
    args.side = "auto"  # asked for explicitly: the side that moves
    assert patient_plan(args, "squat", bilateral=True).side == "auto"
    nobody = parser.parse_args(["x"])
    assert patient_plan(nobody, "squat") == PatientPlan(None, None, None, None)


@pytest.mark.parametrize("extra, message", [
    (["--patient", "ghost"], "unknown patient 'ghost'"),
    (["--patient", "p01", "--date", "yesterday"], "not an ISO date"),
    (["--date", "2024-01-01"], "only used with --patient"),
])
def test_analyze_hooks_fail_early(db: Path, extra: list[str], message: str) -> None:
    with open_store(db) as store:
        store.add_patient("p01", "Ada")
    args = analyze_parser().parse_args(["x.npz", *extra])
    with pytest.raises(RehabError, match=message):
        check_patient(args)


def test_rehab_analyze_patient_end_to_end(db: Path, shared_data: Path,
                                          capsys: pytest.CaptureFixture[str],
                                          tmp_path: Path) -> None:
    parser = build_parser()
    analyze_action = next(a for a in parser._subparsers._group_actions  # type: ignore[union-attr]
                          if isinstance(a, argparse._SubParsersAction))
    assert "--patient" in analyze_action.choices["analyze"].format_help()
    run(capsys, "patient", "add", "p01", "--name", "Ada")
    run(capsys, "prescribe", "p01", "squat", "--target-min", "85", "--target-max", "115",
        "--reps", "10", "--sets", "3", "--side", "left")
    code, out, err = run(capsys, "analyze", str(shared_data / "landmarks" / "squat_02.npz"),
                         "-e", "squat", "--patient", "p01", "--date", "2024-05-01",
                         "--out", str(tmp_path / "out"))
    assert code == 0, err
    with open_store(db) as store:
        (s,) = store.sessions("p01")
    # the prescription's target and side (auto would have chosen the right knee)
    assert s.rep_count == 5 and (s.target_min, s.target_max) == (85.0, 115.0)
    assert s.side == "left" and s.involved == "left"
    assert "side left (affected side): 5 repetition(s)" in out
    code, _, err = run(capsys, "analyze", str(shared_data / "landmarks" / "squat_02.npz"),
                       "-e", "squat", "--patient", "ghost", "--out", str(tmp_path / "o2"))
    assert code != 0 and "unknown patient 'ghost'" in err
