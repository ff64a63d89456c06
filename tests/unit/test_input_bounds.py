"""Unit: every number and date is checked for being finite and in range where it enters
(`rehab.limits`, the bounded converters of `rehab.argtypes`, the store's and the exercise
library's own checks, landmarks files), and every id is matched whole."""

from __future__ import annotations

import argparse
import datetime as dt
import math
import re

import pytest

from rehab import limits
from rehab.argtypes import int_in, number_in, plan_date, session_datetime

TODAY = dt.date.today()


def refused(convert, text: str) -> str:
    """The message ``convert`` refuses ``text`` with."""
    with pytest.raises(argparse.ArgumentTypeError) as exc:
        convert(text)
    return str(exc.value)


# --- rehab.limits ----------------------------------------------------------------------------

def test_named_bounds() -> None:
    assert str(limits.DEGREES) == "[-180, 180]" and str(limits.SECONDS) == "(0, 3600]"
    assert (limits.REPS_PER_SET.high, limits.SETS.high, limits.DAYS_PER_WEEK.high) == (
        1000, 100, 7)
    assert limits.FPS == (0, 1000, True) and limits.HEIGHT_CM == (50, 250, False)
    assert limits.SQUARE_MM.high == 1000 and limits.LIVE_SECONDS.high == 86400
    assert limits.SPEED.high == 16 and limits.CAMERA_INDEX == (0, 99, False)
    assert limits.EARLIEST_DATE == dt.date(1990, 1, 1)


def test_range_problem() -> None:
    assert limits.DEGREES.problem(-180) is None and limits.DEGREES.problem(180) is None
    assert limits.DEGREES.problem(180.5) == "must be at most 180"
    assert limits.DEGREES.problem(-181) == "must be at least -180"
    assert limits.DEGREES.problem(float("nan")) == "must be a finite number"
    assert limits.FPS.problem(float("inf")) == "must be a finite number"
    assert limits.FPS.problem(0) == "must be a positive number"
    assert limits.FPS.problem(1000) is None and limits.FPS.problem(1000.1) is not None
    assert limits.Range(1, 2, low_open=True).problem(1) == "must be greater than 1"


def test_dates_between_a_plausible_past_and_today() -> None:
    assert limits.session_time_problem(dt.datetime(1990, 1, 1)) is None
    assert limits.session_time_problem(dt.datetime.combine(TODAY, dt.time(23, 59))) is None
    assert limits.session_time_problem(dt.date(1989, 12, 31)) == \
        "1989-12-31 is before 1990-01-01"
    tomorrow = dt.datetime.combine(TODAY + dt.timedelta(days=1), dt.time(9))
    assert limits.session_time_problem(tomorrow) == \
        f"{tomorrow.isoformat()} is in the future (today is {TODAY})"
    assert limits.session_time_problem(dt.datetime(9999, 12, 31)) is not None
    aware = dt.datetime(2024, 5, 1, 9, tzinfo=dt.timezone.utc)
    assert limits.session_time_problem(aware) is None
    latest = limits.latest_plan_date(dt.date(2024, 2, 29))
    assert latest == dt.date(2034, 2, 28)
    assert limits.plan_date_problem(dt.date(2034, 2, 28), dt.date(2024, 2, 29)) is None
    assert limits.plan_date_problem(dt.date(2034, 3, 1), dt.date(2024, 2, 29)) == \
        "2034-03-01 is more than 10 years ahead (latest 2034-02-28)"
    assert limits.plan_date_problem(dt.date(1, 1, 1)) == "0001-01-01 is before 1990-01-01"


# --- rehab.argtypes --------------------------------------------------------------------------

def test_number_in() -> None:
    deg = number_in(*limits.DEGREES)
    assert deg("-180") == -180.0 and deg(" 90.5 ") == 90.5
    assert refused(deg, "180.01") == "must be at most 180, got 180.01"
    assert refused(deg, "-1e6") == "must be at least -180, got -1e6"
    assert refused(deg, "nan") == "must be a finite number, got nan"
    assert refused(deg, "x") == "'x' is not a number"
    fps = number_in(*limits.FPS)
    assert fps("1000") == 1000.0
    assert refused(fps, "0") == "must be a positive number, got 0"
    assert refused(fps, "1e9") == "must be at most 1000, got 1e9"


def test_int_in_refuses_numbers_of_any_length_with_the_bound() -> None:
    sets = int_in(*limits.SETS)
    assert sets("1") == 1 and sets("100") == 100
    assert refused(sets, "99999999999999999999") == \
        "must be at most 100, got 99999999999999999999"
    assert refused(sets, "0") == "must be at least 1, got 0"
    assert refused(sets, "-99999999999999999999") == \
        "must be at least 1, got -99999999999999999999"
    assert refused(sets, "2.5") == "'2.5' is not a whole number"
    camera = int_in(*limits.CAMERA_INDEX)
    assert camera("0") == 0 and refused(camera, "100") == "must be at most 99, got 100"


def test_session_datetime_and_plan_date() -> None:
    assert session_datetime("2024-05-01T09:30") == dt.datetime(2024, 5, 1, 9, 30)
    assert refused(session_datetime, "9999-12-31") == \
        f"9999-12-31T00:00:00 is in the future (today is {TODAY})"
    assert refused(session_datetime, "1900-01-01") == \
        "1900-01-01T00:00:00 is before 1990-01-01"
    assert "is not an ISO date" in refused(session_datetime, "yesterday")
    assert plan_date("2024-01-01") == dt.date(2024, 1, 1)
    assert plan_date(str(limits.latest_plan_date())) == limits.latest_plan_date()
    assert refused(plan_date, "3026-01-01") == (
        f"3026-01-01 is more than 10 years ahead (latest {limits.latest_plan_date()})")
    assert refused(plan_date, "0001-01-01") == "0001-01-01 is before 1990-01-01"


# --- the store (the Python API and batch bypass the command line) ----------------------------

@pytest.fixture()
def store(tmp_path):
    from rehab.store import open_store

    with open_store(tmp_path / "rehab.sqlite") as s:
        s.add_patient("p01", "Ada")
        yield s


@pytest.mark.parametrize("bad", ["p01\n", "p01\r\n", "\np01", "p01 ", ""])
def test_patient_id_is_matched_whole(store, bad: str) -> None:
    from rehab.store.db import StoreError
    from rehab.store.models import check_patient_id

    with pytest.raises(StoreError, match="invalid patient id"):
        check_patient_id(bad)
    with pytest.raises(StoreError, match="invalid patient id"):
        store.add_patient(bad, "Bob")
    assert [p.id for p in store.list_patients()] == ["p01"]


@pytest.mark.parametrize("when, message", [
    (dt.datetime(9999, 12, 31), "session time 9999-12-31T00:00:00 is in the future"),
    (dt.datetime.combine(TODAY + dt.timedelta(days=1), dt.time(8)), "is in the future"),
    (dt.datetime(1989, 12, 31, 23, 59), "session time 1989-12-31T23:59:00 is before 1990-01-01"),
])
def test_store_refuses_a_session_time_out_of_range(store, squat_analysis, when: dt.datetime,
                                                   message: str) -> None:
    from rehab.store.db import StoreError

    with pytest.raises(StoreError, match=message):
        store.record_analysis("p01", squat_analysis(2), when)
    assert store.sessions("p01") == []
    store.record_analysis("p01", squat_analysis(2), dt.datetime(1990, 1, 1))  # the bound
    assert len(store.sessions("p01")) == 1


@pytest.mark.parametrize("changes, message", [
    ({"reps": 10**20}, "reps must be at most 1000, not 100000000000000000000"),
    ({"reps": 0}, "reps must be at least 1, not 0"),
    ({"sets": 101}, "sets must be at most 100, not 101"),
    ({"sets": 2.5}, "sets must be a whole number, not 2.5"),
    ({"days_per_week": 8}, "days per week must be at most 7, not 8"),
    ({"target_max": 1e6}, "squat: target 80-1e\\+06 deg is outside the physiological "
                          "range of knee flexion \\(0 to 160 deg\\)"),
    ({"target_min": -181.0}, "target -181-120 deg is outside the physiological range of "
                             "knee flexion \\(0 to 160 deg\\)"),
    ({"target_max": 161.0}, "outside the physiological range of knee flexion"),
    ({"target_min": -0.5}, "outside the physiological range of knee flexion"),
    ({"target_min": float("nan")}, "target min must be a finite number"),
    ({"start": dt.date(1, 1, 1)}, "start date 0001-01-01 is before 1990-01-01"),
    ({"end": dt.date(9999, 12, 31)}, "end date 9999-12-31 is more than 10 years ahead"),
])
def test_store_prescribe_bounds(store, changes: dict, message: str) -> None:
    from rehab.store.db import StoreError

    kwargs = {"target_min": 80.0, "target_max": 120.0, "reps": 10, "sets": 3, **changes}
    with pytest.raises(StoreError, match=message):
        store.prescribe("p01", "squat", **kwargs)
    assert store.prescriptions("p01") == []


def test_store_prescribe_accepts_the_bounds(store) -> None:
    rx = store.prescribe("p01", "squat", 0, 160, reps=1000, sets=100, days_per_week=7,
                         start=limits.EARLIEST_DATE, end=limits.latest_plan_date())
    assert (rx.reps, rx.sets, rx.start, rx.end) == (1000, 100, limits.EARLIEST_DATE,
                                                    limits.latest_plan_date())


# --- exercise TOML files ---------------------------------------------------------------------

def _squat_copy(tmp_path, old: str, new: str):
    """exercises/squat.toml copied to ``tmp_path/squat.toml`` with ``old`` replaced."""
    from rehab.exercises import builtin_exercises_dir

    text = (builtin_exercises_dir() / "squat.toml").read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    path = tmp_path / "squat.toml"
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


@pytest.mark.parametrize("old, new, key, message", [
    ("min_deg = 80", "min_deg = nan", "target.min_deg", "must be a finite number, not nan"),
    ("max_deg = 130", "max_deg = nan", "target.max_deg", "must be a finite number, not nan"),
    ("max_deg = 130", "max_deg = inf", "target.max_deg", "must be a finite number, not inf"),
    ("min_amplitude_deg = 30", "min_amplitude_deg = nan", "counting.min_amplitude_deg",
     "must be a finite number, not nan"),
    ("max_deg = 45", "max_deg = inf", "compensations[0].max_deg",
     "must be a finite number, not inf"),
    ("max_deg = 45", "max_deg = -inf", "compensations[0].max_deg",
     "must be a finite number, not -inf"),
    ("min_rep_s = 1.5", "min_rep_s = nan", "tempo.min_rep_s", "must be a finite number, not nan"),
    ("max_duration_s = 20", "max_duration_s = 1" + "0" * 400, "counting.max_duration_s",
     "must be a finite number, not 1" + "0" * 400),
    ("max_deg = 130", "max_deg = 1000", "target.max_deg",
     "must be at most 180 (range [-180, 180]), not 1000"),
    ("min_deg = 80", "min_deg = -200", "target.min_deg",
     "must be at least -180 (range [-180, 180]), not -200"),
    ("min_amplitude_deg = 30", "min_amplitude_deg = 200", "counting.min_amplitude_deg",
     "must be at most 180 (range (0, 180]), not 200"),
    ("max_deg = 45", "max_deg = -1", "compensations[0].max_deg",
     "must be at least 0 (range [0, 180]), not -1"),
    ("min_duration_s = 0.6", "min_duration_s = 0", "counting.min_duration_s",
     "must be a positive number (range (0, 3600]), not 0"),
    ("max_rep_s = 10", "max_rep_s = 7200", "tempo.max_rep_s",
     "must be at most 3600 (range (0, 3600]), not 7200"),
    ("min_to_peak_s = 0.6", "min_to_peak_s = -0.5", "tempo.min_to_peak_s",
     "must be at least 0 (range [0, 3600]), not -0.5"),
    ("[tempo]", "[settings]\ncutoff_hz = 1" + "0" * 400 + "\n\n[tempo]", "settings.cutoff_hz",
     "must be a finite number, not 1" + "0" * 400),
])
def test_exercise_numbers_are_finite_and_in_range(tmp_path, old: str, new: str, key: str,
                                                  message: str) -> None:
    from rehab.errors import ConfigError
    from rehab.exercises import load_exercise_file

    path = _squat_copy(tmp_path, old, new)
    with pytest.raises(ConfigError) as exc:
        load_exercise_file(path)
    assert str(exc.value) == f"{path}: key '{key}': {message}"


def test_exercise_durations_that_may_be_zero(tmp_path) -> None:
    from rehab.exercises import load_exercise_file

    path = _squat_copy(tmp_path, "min_rep_s = 1.5", "min_rep_s = 0")
    path.write_text(path.read_text().replace("min_to_peak_s = 0.6", "min_to_peak_s = 0"))
    ex = load_exercise_file(path)
    assert (ex.tempo.min_rep_s, ex.tempo.min_to_peak_s) == (0.0, 0.0)


@pytest.mark.parametrize("bad_id", ["squat\u00b2", "squat\u0663", "sq\uff41t", "squat\n", "123"])
def test_exercise_id_is_matched_whole_in_ascii(bad_id: str) -> None:
    from pathlib import Path

    from rehab.errors import ConfigError
    from rehab.exercises import builtin_exercises_dir, parse_exercise

    import tomllib

    data = tomllib.loads((builtin_exercises_dir() / "squat.toml").read_text(encoding="utf-8"))
    assert parse_exercise(dict(data), Path("squat.toml")).id == "squat"
    with pytest.raises(ConfigError, match="key 'id': .* must be lower-case letters"):
        parse_exercise({**data, "id": bad_id}, Path("x.toml"))


@pytest.mark.parametrize("lo, hi, message", [
    (float("nan"), None, "target min must be a finite number"),
    (None, float("inf"), "target max must be a finite number"),
    (None, 181.0, "squat: target 80-181 deg is outside the physiological range of knee "
                  "flexion \\(0 to 160 deg\\)"),
    (-1e6, None, "target -1e\\+06-130 deg is outside the physiological range"),
    (None, 160.5, "outside the physiological range of knee flexion"),
])
def test_with_target_refuses_bad_degrees(lo, hi, message: str) -> None:
    from rehab.errors import ConfigError
    from rehab.exercises import get_exercise

    with pytest.raises(ConfigError, match=message):
        get_exercise("squat").with_target(lo, hi)
    assert get_exercise("squat").with_target(0, 160).target.max_deg == 160.0


# --- camera calibration TOML -----------------------------------------------------------------

CAMERA = """[camera]
name = "c"
width = 640
height = 480
fx = 600.0
fy = 598.0
cx = 320.0
cy = 240.0
dist = [0.1, -0.2, 0.0, 0.0, 0.05]
rms_px = {rms}
"""


@pytest.mark.parametrize("old, new, where", [
    ("fx = 600.0", "fx = nan", "camera.fx"),
    ("cx = 320.0", "cx = inf", "camera.cx"),
    ("dist = [0.1,", "dist = [nan,", "camera.dist[0]"),
    ("width = 640", "width = inf", "camera.width"),
    ("width = 640", "width = 1" + "0" * 400, "camera.width"),
    ("rms_px = 0.3", "rms_px = inf", "camera.rms_px"),
])
def test_calibration_numbers_are_finite(tmp_path, old: str, new: str, where: str) -> None:
    from rehab.calibration.camera import load_calibration
    from rehab.errors import ConfigError

    text = CAMERA.format(rms=0.3)
    path = tmp_path / "c.toml"
    path.write_text(text.replace(old, new))
    with pytest.raises(ConfigError, match=f"^{path}: {re.escape(where)} must be a finite "
                                          f"number, got "):
        load_calibration(path)
    path.write_text(text)
    assert load_calibration(path).fx == 600.0
    path.write_text(CAMERA.format(rms="nan"))  # an unknown RMS error is written as nan
    assert math.isnan(load_calibration(path).rms_px)


def test_pose2sim_calibration_numbers_are_finite(tmp_path) -> None:
    from rehab.calibration.camera import load_calibration
    from rehab.errors import ConfigError

    path = tmp_path / "Calib.toml"
    path.write_text('[cam_1]\nname = "cam_1"\nsize = [640.0, 480.0]\n'
                    'matrix = [[600.0, 0.0, 320.0], [0.0, nan, 240.0], [0.0, 0.0, 1.0]]\n'
                    'distortions = [0.0, 0.0, 0.0, 0.0]\nfisheye = false\n')
    with pytest.raises(ConfigError, match=r"\[cam_1\] matrix\[1\]\[1\] must be a finite number"):
        load_calibration(path)


# --- landmarks files and pose sequences ------------------------------------------------------

@pytest.fixture()
def npz_file(tmp_path):
    """``npz_file(**changes)``: a synthetic landmarks .npz with some of its keys replaced."""
    import numpy as np

    from rehab.sequence import save_npz
    from rehab.synthetic import rep_trajectory, synthetic_sequence

    t, knee = rep_trajectory(2, 30.0, rest=0.5, peak=95.0)
    good = save_npz(synthetic_sequence(t, {"knee_flexion": knee}), tmp_path / "good.npz")

    def make(**changes):
        arrays = dict(np.load(good))
        arrays.update(changes)
        path = tmp_path / "x.npz"
        np.savez(path, **arrays)
        return path

    return make


def _npz_error(path) -> str:
    from rehab.errors import InputError
    from rehab.sequence import load_npz

    with pytest.raises(InputError) as exc:
        load_npz(path)
    return str(exc.value)


@pytest.mark.parametrize("fps", [float("nan"), float("inf"), -float("inf"), 0.0, -30.0, 1e6])
def test_npz_fps_must_be_a_frame_rate(npz_file, fps: float) -> None:
    import numpy as np

    path = npz_file(fps=np.float64(fps))
    assert _npz_error(path) == (f"{path}: fps is {fps:g}; the frame rate must be a finite "
                                f"number in (0, 1000] frames per second")


def test_npz_fps_in_range_is_kept(npz_file) -> None:
    import numpy as np

    from rehab.sequence import load_npz

    assert load_npz(npz_file(fps=np.float64(1000.0))).fps == 1000.0
    assert load_npz(npz_file(fps=np.float64(0.5))).fps == 0.5


def test_npz_timestamps_finite_increasing_and_one_per_frame(npz_file) -> None:
    import numpy as np

    from rehab.sequence import load_npz

    ts = load_npz(npz_file()).timestamps
    n = ts.size
    for bad, where in ((np.nan, 10), (np.inf, n - 1)):
        t = ts.copy()
        t[where] = bad
        path = npz_file(timestamps=t)
        assert _npz_error(path) == (f"{path}: timestamp {where} is {bad}; timestamps must be "
                                    f"finite seconds")
    t = ts.copy()
    t[5] = t[4]
    assert _npz_error(npz_file(timestamps=t)).endswith("timestamps must be strictly increasing")
    path = npz_file(timestamps=ts[:-3])
    assert _npz_error(path) == (f"{path}: {n - 3} timestamps for {n} frames (the timestamps "
                                f"count differs from the frame count)")
    path = npz_file(timestamps=np.array(["a"] * n))
    assert "timestamps holds" in _npz_error(path) and "not numbers" in _npz_error(path)


@pytest.mark.parametrize("key, value", [("width", 0), ("height", -720), ("width", 620.5),
                                        ("height", float("nan"))])
def test_npz_image_size_positive_whole_numbers(npz_file, key: str, value: float) -> None:
    import numpy as np

    path = npz_file(**{key: np.float64(value) if isinstance(value, float) else np.int64(value)})
    assert _npz_error(path) == (f"{path}: {key} is {value:g}; the image size must be positive "
                                f"whole numbers of pixels")


def test_random_bytes_are_not_a_landmarks_file(tmp_path) -> None:
    import numpy as np

    path = tmp_path / "x.npz"
    path.write_bytes(np.random.default_rng(0).bytes(4000))
    assert _npz_error(path) == f"{path}: not a NumPy .npz archive (not a landmarks file)"
    np.save(tmp_path / "a.npy", np.zeros(3))
    (tmp_path / "a.npy").rename(path)
    assert _npz_error(path) == f"{path}: not a NumPy .npz archive (not a landmarks file)"


def test_pose_sequence_checks_its_own_numbers() -> None:
    """The Python API builds sequences without a file: the same rules hold."""
    import numpy as np

    from rehab.errors import InputError
    from rehab.synthetic import rep_trajectory, synthetic_sequence

    t, knee = rep_trajectory(2, 30.0, rest=0.5, peak=95.0)
    seq = synthetic_sequence(t, {"knee_flexion": knee})
    for fps in (float("nan"), 0.0, 2000.0):
        with pytest.raises(InputError, match="^pose sequence: fps is .* frame rate must be"):
            seq.replace(fps=fps)
    ts = seq.timestamps.copy()
    ts[3] = np.nan
    with pytest.raises(InputError, match="^pose sequence: timestamp 3 is nan"):
        seq.replace(timestamps=ts)
    with pytest.raises(InputError, match="timestamps count differs from the frame count"):
        seq.replace(timestamps=seq.timestamps[:-1])
    with pytest.raises(InputError, match="bad image size 620.5x720 .*positive whole numbers"):
        seq.replace(width=620.5)


# --- report periods --------------------------------------------------------------------------

@pytest.mark.parametrize("started, warning", [
    ("9999-12-31T00:00:00", f"1 session(s) dated after {TODAY} left out of the report"),
    ("3026-01-01T00:00:00", f"1 session(s) dated after {TODAY} left out of the report"),
    ("0001-01-01T00:00:00", "1 session(s) dated before 1990-01-01 left out of the report"),
])
def test_report_leaves_out_sessions_dated_out_of_bounds(store, squat_analysis, caplog,
                                                        started: str, warning: str) -> None:
    """A database written by an older rehab may hold such dates: the default report is of
    the plausible period (today at the latest), quickly, and says what it left out."""
    import time

    from rehab.reports import build_report_data

    store.record_analysis("p01", squat_analysis(3), dt.datetime(2024, 5, 1, 9))
    store.record_analysis("p01", squat_analysis(2), dt.datetime(2024, 5, 2, 9))
    store.conn.execute("UPDATE sessions SET started = ? WHERE id = (SELECT MAX(id) FROM "
                       "sessions)", (started,))
    store.conn.commit()
    t0 = time.monotonic()
    data = build_report_data(store, "p01")
    assert time.monotonic() - t0 < 20
    assert (data.start, data.end) == (dt.date(2024, 5, 1), TODAY)
    assert [s.session.day for s in data.sessions] == [dt.date(2024, 5, 1)]
    assert warning in caplog.text


@pytest.mark.parametrize("start, end, message", [
    (None, dt.date(3026, 1, 1), "the period's end 3026-01-01 is more than 10 years ahead"),
    (dt.date(1, 1, 1), None, "the period's start 0001-01-01 is before 1990-01-01"),
    (dt.date(1989, 12, 31), TODAY, "the period's start 1989-12-31 is before 1990-01-01"),
])
def test_report_period_is_bounded(start, end, message: str) -> None:
    from rehab.reports.data import report_period
    from rehab.store.db import StoreError

    with pytest.raises(StoreError, match=message):
        report_period([], start, end, TODAY)
    latest = limits.latest_plan_date(TODAY)
    assert report_period([], limits.EARLIEST_DATE, latest, TODAY) == (limits.EARLIEST_DATE,
                                                                      latest)
