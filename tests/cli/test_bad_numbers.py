"""Layer 3: a number, date or id out of its bounds (`rehab.limits`) is refused where it enters
``rehab``: one clear error line, a non-zero exit, no traceback and nothing written.

``rehab`` runs in a new process through the `rehab` fixture; `assert_one_line_error` checks
a failure (both in tests/conftest.py). A value argparse refuses is reported as argparse does
(``rehab CMD: error: argument --opt: ...``, exit 2), checked by `assert_usage_error`.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from rehab.limits import latest_plan_date
from rehab.sequence import save_npz
from rehab.synthetic import rep_trajectory, synthetic_sequence

Rehab = Callable[..., subprocess.CompletedProcess[str]]  # the `rehab` fixture
OneLineError = Callable[..., None]  # the `assert_one_line_error` fixture
TODAY = dt.date.today()


def assert_usage_error(res: subprocess.CompletedProcess[str], command: str, message: str
                       ) -> None:
    """argparse refused a value: exit 2, its one error line, no traceback."""
    assert res.returncode == 2, res.stderr
    assert "Traceback" not in res.stderr
    errors = [ln for ln in res.stderr.splitlines() if ": error: " in ln]
    assert errors == [f"rehab {command}: error: {message}"], res.stderr


@pytest.fixture()
def db(tmp_path: Path, rehab: Rehab) -> dict[str, str]:
    """A patient database holding ``p01``: the environment that names it."""
    env = {"REHAB_DB": str(tmp_path / "clinic" / "rehab.sqlite")}
    rehab("patient", "add", "p01", "--name", "Ada", env=env)
    return env


@pytest.fixture()
def squat_npz(tmp_path: Path) -> Path:
    t, knee = rep_trajectory(3, 30.0, rest=1.0, peak=95.0)
    seq = synthetic_sequence(t, {"knee_flexion": knee, "hip_flexion": 0.8 * knee})
    return save_npz(seq, tmp_path / "squat3.npz")


# --- rehab prescribe, rehab patient add ------------------------------------------------------

PRESCRIPTION = {"--target-min": "80", "--target-max": "120", "--reps": "10", "--sets": "3"}


@pytest.mark.parametrize("option, value, message", [
    ("--sets", "99999999999999999999", "--sets: must be at most 100, got 99999999999999999999"),
    ("--reps", "1001", "--reps: must be at most 1000, got 1001"),
    ("--target-max", "1e6", "squat: target 80-1e+06 deg is outside the physiological range "
                            "of knee flexion (0 to 160 deg)"),
    ("--target-max", "400", "squat: target 80-400 deg is outside the physiological range "
                            "of knee flexion (0 to 160 deg)"),
    ("--target-min", "-200", "squat: target -200-120 deg is outside the physiological range"),
    ("--target-min", "nan", "--target-min: must be a finite number, got nan"),
    ("--per-week", "8", "--per-week: must be at most 7, got 8"),
    ("--start", "0001-01-01", "--start: 0001-01-01 is before 1990-01-01"),
    ("--end", "9999-12-31", "--end: 9999-12-31 is more than 10 years ahead (latest "),
])
def test_prescribe_refuses_a_value_out_of_bounds(rehab: Rehab, db: dict[str, str],
                                                 assert_one_line_error: OneLineError,
                                                 option: str, value: str, message: str) -> None:
    argv = [f"{k}={v}" for k, v in {**PRESCRIPTION, option: value}.items()]
    res = rehab("prescribe", "p01", "squat", *argv, env=db, check=False)
    assert_one_line_error(res, message)
    assert "prescriptions (0)" in rehab("patient", "show", "p01", env=db).stdout


def test_prescribe_accepts_the_bounds(rehab: Rehab, db: dict[str, str]) -> None:
    latest = latest_plan_date()
    res = rehab("prescribe", "p01", "squat", "--target-min=0", "--target-max", "160",
                "--reps", "1000", "--sets", "100", "--per-week", "7",
                "--start", "1990-01-01", "--end", str(latest), env=db)
    assert f"from 1990-01-01 to {latest}" in res.stdout


@pytest.mark.parametrize("bad", ["p02\n", "p02\r", " p02"])
def test_patient_add_matches_the_whole_id(rehab: Rehab, db: dict[str, str],
                                          assert_one_line_error: OneLineError, bad: str) -> None:
    res = rehab("patient", "add", bad, "--name", "Bob", env=db, check=False)
    assert_one_line_error(res, "invalid patient id")
    out = rehab("patient", "list", env=db).stdout
    assert "p02" not in out and "p01" in out


# --- rehab analyze ---------------------------------------------------------------------------

@pytest.mark.parametrize("date, message", [
    ("9999-12-31", "--date: 9999-12-31T00:00:00 is in the future (today is "),
    (str(TODAY + dt.timedelta(days=1)), "is in the future"),
    ("1989-12-31T10:00", "--date: 1989-12-31T10:00:00 is before 1990-01-01"),
])
def test_analyze_refuses_a_session_date_out_of_bounds(rehab: Rehab, db: dict[str, str],
                                                      squat_npz: Path, tmp_path: Path,
                                                      assert_one_line_error: OneLineError,
                                                      date: str, message: str) -> None:
    out = tmp_path / "out"
    res = rehab("analyze", str(squat_npz), "-e", "squat", "--patient", "p01", "--date", date,
                "--out", str(out), env=db, check=False)
    assert_one_line_error(res, message)
    assert not out.exists()
    assert "sessions (0)" in rehab("patient", "show", "p01", env=db).stdout


@pytest.mark.parametrize("option, value, message", [
    ("--target-min", "500", "squat: target 500-130 deg is outside the physiological range of "
                            "knee flexion (0 to 160 deg)"),
    ("--target-max", "-1e6", "squat: target 80--1e+06 deg is outside the physiological "
                             "range of knee flexion (0 to 160 deg)"),
])
def test_analyze_refuses_a_target_beyond_the_joint(rehab: Rehab, squat_npz: Path,
                                                   tmp_path: Path,
                                                   assert_one_line_error: OneLineError,
                                                   option: str, value: str, message: str
                                                   ) -> None:
    out = tmp_path / "out"
    res = rehab("analyze", str(squat_npz), "-e", "squat", f"{option}={value}", "--out",
                str(out), check=False)
    assert_one_line_error(res, message)
    assert not out.exists()


@pytest.mark.parametrize("option, value, message", [
    ("--fps", "1e9", "argument --fps: must be at most 1000, got 1e9"),
    ("--fps", "0", "argument --fps: must be a positive number, got 0"),
    ("--target-min", "nan", "argument --target-min: must be a finite number, got nan"),
    ("--height-cm", "1e6", "argument --height-cm: must be at most 250, got 1e6"),
    ("--scale-square-mm", "5000", "argument --scale-square-mm: must be at most 1000, got 5000"),
])
def test_analyze_refuses_a_number_out_of_bounds(rehab: Rehab, squat_npz: Path, tmp_path: Path,
                                                option: str, value: str, message: str) -> None:
    out = tmp_path / "out"
    res = rehab("analyze", str(squat_npz), "-e", "squat", f"{option}={value}", "--out",
                str(out), check=False)
    assert_usage_error(res, "analyze", message)
    assert not out.exists()


# --- rehab live, rehab calibrate, rehab board ------------------------------------------------

@pytest.mark.parametrize("argv, message", [
    (["--camera", "99999999999999999999"],
     "argument --camera: must be at most 99, got 99999999999999999999"),
    (["--camera=-1"], "argument --camera: must be at least 0, got -1"),
    (["--speed", "100"], "argument --speed: must be at most 16, got 100"),
    (["--max-seconds", "1e9"], "argument --max-seconds: must be at most 86400, got 1e9"),
    (["--rest", "1e9"], "argument --rest: must be at most 3600, got 1e9"),
    (["--reps", "1001"], "argument --reps: must be at most 1000, got 1001"),
    (["--sets", "99999999999999999999"],
     "argument --sets: must be at most 100, got 99999999999999999999"),
    (["--target-max", "inf"], "argument --target-max: must be a finite number, got inf"),
])
def test_live_refuses_a_number_out_of_bounds(rehab: Rehab, argv: list[str], message: str
                                             ) -> None:
    assert_usage_error(rehab("live", "-e", "squat", "--headless", *argv, check=False), "live",
                       message)


@pytest.mark.parametrize("command, argv, message", [
    ("calibrate", ["a.mp4", "--board", "7x4", "--square-mm", "30", "--max-frames", "0"],
     "argument --max-frames: must be at least 1, got 0"),
    ("calibrate", ["a.mp4", "--board", "7x4", "--square-mm", "30", "--max-frames", "99999"],
     "argument --max-frames: must be at most 10000, got 99999"),
    ("calibrate", ["a.png", "--board", "7x4", "--square-mm", "5000"],
     "argument --square-mm: must be at most 1000, got 5000"),
    ("board", ["--square-mm", "1e9"], "argument --square-mm: must be at most 1000, got 1e9"),
])
def test_calibration_refuses_a_number_out_of_bounds(rehab: Rehab, tmp_path: Path, command: str,
                                                    argv: list[str], message: str) -> None:
    out = tmp_path / ("c.toml" if command == "calibrate" else "b.pdf")
    res = rehab(command, *argv, "--out", str(out), cwd=tmp_path, check=False)
    assert_usage_error(res, command, message)
    assert not out.exists()


# --- an exercise TOML and a landmarks file from ../shared/data -------------------------------

@pytest.mark.parametrize("old, new, key, message", [
    ("min_deg = 80", "min_deg = nan", "target.min_deg", "must be a finite number, not nan"),
    ("max_deg = 130", "max_deg = nan", "target.max_deg", "must be a finite number, not nan"),
    ("min_amplitude_deg = 30", "min_amplitude_deg = nan", "counting.min_amplitude_deg",
     "must be a finite number, not nan"),
    ("max_deg = 45", "max_deg = inf", "compensations[0].max_deg",
     "must be a finite number, not inf"),
    ("min_rep_s = 1.5", "min_rep_s = nan", "tempo.min_rep_s", "must be a finite number, not nan"),
    ("max_deg = 130", "max_deg = 400", "target.max_deg",
     "must be at most 180 (range [-180, 180]), not 400"),
    ("max_deg = 130", "max_deg = 170", "target",
     "target 80-170 deg is outside the physiological range of knee flexion (0 to 160 deg)"),
])
def test_exercise_toml_numbers(rehab: Rehab, shared_data: Path, tmp_path: Path,
                               assert_one_line_error: OneLineError, old: str, new: str,
                               key: str, message: str) -> None:
    from rehab.exercises import builtin_exercises_dir

    text = (builtin_exercises_dir() / "squat.toml").read_text(encoding="utf-8")
    assert text.count(old) == 1
    (tmp_path / "ex").mkdir()
    toml = tmp_path / "ex" / "squat.toml"
    toml.write_text(text.replace(old, new), encoding="utf-8")
    out = tmp_path / "out"
    res = rehab("analyze", str(shared_data / "landmarks" / "squat_01.npz"), "-e", str(toml),
                "-o", str(out), check=False)
    assert_one_line_error(res, f"squat.toml: key '{key}': {message}")
    assert not out.exists()


def _changed(real: Path, path: Path, **changes: np.ndarray) -> Path:
    arrays = dict(np.load(real))
    arrays.update(changes)
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize("change, message", [
    ({"fps": np.float64("nan")}, "fps is nan; the frame rate must be a finite number in "
                                 "(0, 1000] frames per second"),
    ({"fps": np.float64("inf")}, "fps is inf; the frame rate must be a finite number"),
    ({"fps": np.float64(0)}, "fps is 0; the frame rate must be a finite number"),
    ({"fps": np.float64(-30)}, "fps is -30; the frame rate must be a finite number"),
    ({"timestamps": "nan at 10"}, "timestamp 10 is nan; timestamps must be finite seconds"),
    ({"timestamps": "3 fewer"}, "252 timestamps for 255 frames (the timestamps count differs "
                                "from the frame count)"),
    ({"width": np.int64(0)}, "width is 0; the image size must be positive whole numbers"),
])
def test_landmarks_file_numbers(rehab: Rehab, shared_data: Path, tmp_path: Path,
                                assert_one_line_error: OneLineError, change: dict,
                                message: str) -> None:
    real = shared_data / "landmarks" / "squat_01.npz"
    ts = np.load(real)["timestamps"]
    assert ts.size == 255
    if change.get("timestamps") == "nan at 10":
        ts = ts.copy()
        ts[10] = np.nan
        change = {"timestamps": ts}
    elif change.get("timestamps") == "3 fewer":
        change = {"timestamps": ts[:-3]}
    path = _changed(real, tmp_path / "squat.npz", **change)
    out = tmp_path / "out"
    res = rehab("analyze", str(path), "-e", "squat", "-o", str(out), check=False)
    assert_one_line_error(res, f"{path}: {message}")
    assert not out.exists()


def test_random_bytes_named_npz(rehab: Rehab, tmp_path: Path,
                                assert_one_line_error: OneLineError) -> None:
    path = tmp_path / "x.npz"
    path.write_bytes(np.random.default_rng(1).bytes(5000))
    res = rehab("analyze", str(path), "-e", "squat", "-o", str(tmp_path / "out"), check=False)
    assert_one_line_error(res, f"{path}: not a NumPy .npz archive (not a landmarks file)")
    assert "pickle" not in res.stderr


# --- rehab report ----------------------------------------------------------------------------

def _dated_session(db: dict[str, str], squat_analysis: Callable, started: str) -> None:
    """A session stored today, then dated ``started`` as an older rehab could have."""
    from rehab.store import open_store

    with open_store(db["REHAB_DB"]) as store:
        store.record_analysis("p01", squat_analysis(3), dt.datetime.now())
        store.conn.execute("UPDATE sessions SET started = ? WHERE patient_id = 'p01'",
                           (started,))
        store.conn.commit()


@pytest.mark.parametrize("started", ["9999-12-31T00:00:00", "3026-01-01T00:00:00"])
def test_report_with_a_session_dated_far_ahead(rehab: Rehab, db: dict[str, str],
                                               tmp_path: Path, squat_analysis: Callable,
                                               started: str) -> None:
    _dated_session(db, squat_analysis, started)
    t0 = time.monotonic()
    res = rehab("report", "p01", "-o", str(tmp_path / "r.html"), env=db)
    assert time.monotonic() - t0 < 60
    assert res.stdout.strip() == str(tmp_path / "r.html")
    assert f"1 session(s) dated after {TODAY} left out of the report (--to shows those up " \
           f"to {latest_plan_date()})" in res.stderr
    assert "Traceback" not in res.stderr


@pytest.mark.parametrize("option, value, message", [
    ("--to", "3026-01-01", "--to: 3026-01-01 is more than 10 years ahead (latest "),
    ("--from", "0001-01-01", "--from: 0001-01-01 is before 1990-01-01"),
])
def test_report_period_out_of_bounds(rehab: Rehab, db: dict[str, str], tmp_path: Path,
                                     squat_analysis: Callable,
                                     assert_one_line_error: OneLineError, option: str,
                                     value: str, message: str) -> None:
    _dated_session(db, squat_analysis, "3026-01-01T00:00:00")
    res = rehab("report", "p01", option, value, "-o", str(tmp_path / "r.html"), env=db,
                check=False)
    assert_one_line_error(res, message)
    assert not (tmp_path / "r.html").exists()
