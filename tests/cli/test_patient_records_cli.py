"""What a clinician types to keep a patient's record right, each in a new process:
``rehab log`` (a home session without a camera), ``rehab patient edit`` and ``note``, pain,
exertion and notes on ``analyze`` and ``live`` (asked at the end of ``live`` at a terminal),
a duplicate recording refused unless ``--force``, future dates and targets beyond a joint's
physiological range refused with the range named."""

from __future__ import annotations

import datetime as dt
import json
import os
import pty
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from rehab.store import open_store

Rehab = Callable[..., subprocess.CompletedProcess[str]]  # the `rehab` fixture
OneLineError = Callable[..., None]  # the `assert_one_line_error` fixture
TOMORROW = dt.date.today() + dt.timedelta(days=1)


@pytest.fixture
def env(db: Path) -> dict[str, str]:
    return {"REHAB_DB": str(db)}


@pytest.fixture
def squat_npz(tmp_path: Path) -> Path:
    """Four exact synthetic squats."""
    from rehab.sequence import save_npz
    from rehab.synthetic import rep_trajectory, synthetic_sequence

    t, knee = rep_trajectory(4, 30.0, rest=2.0, peak=95.0)
    seq = synthetic_sequence(t, {"knee_flexion": knee, "hip_flexion": 0.8 * knee})
    return save_npz(seq, tmp_path / "squat4.npz")


def test_log_a_home_session(rehab: Rehab, env: dict[str, str], db: Path) -> None:
    res = rehab("log", "p1", "squat", "--date", "2026-11-20", "--sets", "3", "--reps", "10",
                "--pain", "2", "--exertion", "4", "--note", "stiff in the morning", env=env)
    assert res.stdout.strip() == ('p1: logged squat 3 x 10 on 2026-11-20; pain 2/10, '
                                  'exertion 4/10, "stiff in the morning"')
    with open_store(db) as store:
        [x] = store.logged_sessions("p1")
    assert (x.exercise_id, x.exercise_name, x.day, x.sets, x.reps, x.rep_count) == \
        ("squat", "Squat", dt.date(2026, 11, 20), 3, 10, 30)
    assert (x.feedback.pain, x.feedback.exertion, x.feedback.note, x.feedback.sets) == \
        (2, 4, "stiff in the morning", 3)
    show = rehab("patient", "show", "p1", env=env).stdout
    assert "logged without a camera (1):" in show
    assert 'squat                -     3 x 10  pain 2/10, exertion 4/10, "stiff in the morning"' \
        in show


@pytest.mark.parametrize("argv, message", [
    (["--date", str(TOMORROW)], f"--date: {TOMORROW}T00:00:00 is in the future"),
    (["--date", "2026-11-20", "--pain", "11"], "argument --pain: must be at most 10, got 11"),
    (["--date", "2026-11-20", "--exertion", "-1"],
     "argument --exertion: must be at least 0, got -1"),
    (["--date", "2026-11-20", "--sets", "0"], "argument --sets: must be at least 1, got 0"),
])
def test_log_refuses_bad_input(rehab: Rehab, env: dict[str, str], db: Path,
                               assert_one_line_error: OneLineError, argv: list[str],
                               message: str) -> None:
    base = {"--sets": "3", "--reps": "10"}
    extra = [x for k, v in base.items() if k not in argv for x in (k, v)]
    res = rehab("log", "p1", "squat", *argv, *extra, env=env, check=False)
    assert res.returncode != 0
    if "argument" in message:
        assert message in res.stderr
    else:
        assert_one_line_error(res, message)
    with open_store(db) as store:
        assert store.logged_sessions("p1") == []


def test_log_twice_the_same_day_needs_force(rehab: Rehab, env: dict[str, str], db: Path,
                                            assert_one_line_error: OneLineError) -> None:
    argv = ["log", "p1", "squat", "--date", "2026-11-20", "--sets", "3", "--reps", "10"]
    rehab(*argv, env=env)
    assert_one_line_error(rehab(*argv, env=env, check=False),
                          "squat 3 x 10 is already logged on 2026-11-20; pass --force")
    rehab(*argv, "--force", env=env)
    with open_store(db) as store:
        assert len(store.logged_sessions("p1")) == 2


def test_patient_edit(rehab: Rehab, env: dict[str, str],
                      assert_one_line_error: OneLineError) -> None:
    res = rehab("patient", "edit", "p1", "--name", "Ann Patient", "--side", "left", "--notes",
                "ACL reconstruction, left", env=env)
    assert res.stdout.strip() == ("p1: Ann Patient; affected side left; notes: ACL "
                                  "reconstruction, left")
    show = rehab("patient", "show", "p1", env=env).stdout
    assert "p1: Ann Patient" in show and "affected side: left" in show
    assert rehab("patient", "edit", "p1", "--side", "none", env=env).stdout.startswith(
        "p1: Ann Patient; affected side -;")
    assert_one_line_error(rehab("patient", "edit", "p1", env=env, check=False),
                          "nothing to change")
    assert_one_line_error(rehab("patient", "edit", "p9", "--name", "X", env=env, check=False),
                          "unknown patient 'p9'")
    assert_one_line_error(rehab("patient", "edit", "p1", "--name", " ", env=env, check=False),
                          "the display name must not be empty")


def test_clinician_note(rehab: Rehab, env: dict[str, str], db: Path,
                        assert_one_line_error: OneLineError) -> None:
    res = rehab("patient", "note", "p1", "Quadriceps activation improving", "--date",
                "2026-11-24", env=env)
    assert res.stdout.strip() == "p1: note 1 on 2026-11-24"
    assert "  2026-11-24: Quadriceps activation improving" in \
        rehab("patient", "show", "p1", env=env).stdout
    assert_one_line_error(rehab("patient", "note", "p1", "", env=env, check=False),
                          "the clinician note is empty")
    assert_one_line_error(rehab("patient", "note", "p1", "x", "--session", "7", env=env,
                                check=False), "unknown session 7")
    assert_one_line_error(rehab("patient", "note", "p1", "x", "--date", str(TOMORROW),
                                env=env, check=False), "is in the future")


def test_prescribe_names_the_joint_range(rehab: Rehab, env: dict[str, str],
                                         assert_one_line_error: OneLineError) -> None:
    res = rehab("prescribe", "p1", "shoulder_abduction", "--target-min", "150",
                "--target-max", "200", "--reps", "10", "--sets", "3", env=env, check=False)
    assert_one_line_error(res, "shoulder_abduction: target 150-200 deg is outside the "
                               "physiological range of shoulder abduction (0 to 180 deg)")
    res = rehab("prescribe", "p1", "squat", "--target-min", "90", "--target-max", "120",
                "--reps", "10", "--sets", "3", "--per-week", "3", env=env)
    assert "3 x 10, 3 session(s) a week" in res.stdout
    assert "3 x 10, 3 session(s)/week" in rehab("patient", "show", "p1", env=env).stdout


def test_analyze_stores_feedback_and_refuses_a_duplicate(
        rehab: Rehab, env: dict[str, str], db: Path, squat_npz: Path, tmp_path: Path,
        assert_one_line_error: OneLineError) -> None:
    """The same recording for the same patient on the same day is refused before any work,
    unless --force; on another day it is a new session."""
    base = ["analyze", str(squat_npz), "-e", "squat", "--patient", "p1", "--no-progress"]
    rehab(*base, "--date", "2026-11-24", "--pain", "3", "--exertion", "6", "--note",
          "felt good", "--sets-done", "2", "--out", str(tmp_path / "a"), env=env)
    res = rehab(*base, "--date", "2026-11-24T18:00", "--out", str(tmp_path / "b"), env=env,
                check=False)
    assert_one_line_error(res, f"{squat_npz.name} is already stored for p1 on 2026-11-24 "
                               f"(session 1, squat); pass --force to store it again")
    assert not (tmp_path / "b").exists()
    rehab(*base, "--date", "2026-11-24", "--force", "--out", str(tmp_path / "c"), env=env)
    rehab(*base, "--date", "2026-11-25", "--out", str(tmp_path / "d"), env=env)
    with open_store(db) as store:
        sessions = store.sessions("p1")
    assert [s.day.isoformat() for s in sessions] == ["2026-11-24", "2026-11-24", "2026-11-25"]
    assert len({s.content_sha256 for s in sessions}) == 1 and sessions[0].content_sha256
    f = sessions[0].feedback
    assert (f.pain, f.exertion, f.note, f.sets) == (3, 6, "felt good", 2)
    assert sessions[1].feedback.pain is None
    show = rehab("patient", "show", "p1", env=env).stdout
    assert 'patient: 2 set(s), pain 3/10, exertion 6/10, "felt good"' in show
    assert "2026-11-24        squat" in show  # a date-only session shows no clock time


@pytest.mark.parametrize("argv, message", [
    (["--pain", "3"], "--pain is only used with --patient"),
    (["--force"], "--force is only used with --patient"),
])
def test_feedback_options_need_a_patient(rehab: Rehab, squat_npz: Path, tmp_path: Path,
                                         assert_one_line_error: OneLineError,
                                         argv: list[str], message: str) -> None:
    res = rehab("analyze", str(squat_npz), "-e", "squat", *argv, "--out",
                str(tmp_path / "o"), check=False)
    assert_one_line_error(res, message)


def test_export_holds_logged_sessions_and_notes(rehab: Rehab, env: dict[str, str],
                                                tmp_path: Path) -> None:
    rehab("log", "p1", "squat", "--date", "2026-11-20", "--sets", "2", "--reps", "8",
          "--pain", "1", env=env)
    rehab("patient", "note", "p1", "Progress to 3 x 12", "--date", "2026-11-21", env=env)
    rehab("patient", "export", "p1", "--out", str(tmp_path / "x"), env=env)
    doc = json.loads((tmp_path / "x" / "patient.json").read_text())
    assert doc["format_version"] == 3
    assert [(x["day"], x["sets"], x["reps"], x["feedback"]["pain"])
            for x in doc["logged_sessions"]] == [("2026-11-20", 2, 8, 1)]
    assert [n["text"] for n in doc["clinician_notes"]] == ["Progress to 3 x 12"]
    assert "2026-11-20,2,8" in (tmp_path / "x" / "logged_sessions.csv").read_text()
    assert "Progress to 3 x 12" in (tmp_path / "x" / "clinician_notes.csv").read_text()


# --- rehab live: pain and exertion at the end --------------------------------------------------

def _empty_room(path: Path) -> Path:
    """45 grey frames: a live session that stores a session of 0 reps (exit 3)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), 15.0, (160, 120))
    for _ in range(45):
        writer.write(np.full((120, 160, 3), 128, np.uint8))
    writer.release()
    return path


@pytest.mark.model
def test_live_stores_pain_and_exertion_given(rehab: Rehab, env: dict[str, str], db: Path,
                                             tmp_path: Path) -> None:
    res = rehab("live", "-e", "squat", "--source", str(_empty_room(tmp_path / "e.mp4")),
                "--headless", "--speed", "4", "--patient", "p1", "--pain", "4",
                "--exertion", "7", "--note", "short session", env=env, check=False)
    assert res.returncode == 3, res.stderr  # nobody in view, saved
    with open_store(db) as store:
        [s] = store.sessions("p1")
    assert (s.feedback.pain, s.feedback.exertion, s.feedback.note) == (4, 7, "short session")


@pytest.mark.model
def test_live_asks_at_an_interactive_terminal(db: Path, tmp_path: Path) -> None:
    """At a terminal, ``live`` asks for pain and exertion after the session; an answer out
    of range is asked again."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "rehab", "live", "-e", "squat", "--source",
         str(_empty_room(tmp_path / "e.mp4")), "--headless", "--speed", "4", "--patient",
         "p1"], stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "REHAB_DB": str(db)})
    os.close(slave)
    os.write(master, b"12\n5\n6\n")  # 12 refused, then pain 5, exertion 6
    try:
        _, err = proc.communicate(timeout=300)
    finally:
        os.close(master)
    assert proc.returncode == 3, err
    assert "Pain now, 0 none to 10 worst imaginable (0-10, Enter to skip):" in err
    assert "please type a whole number from 0 to 10, not '12'" in err
    with open_store(db) as store:
        [s] = store.sessions("p1")
    assert (s.feedback.pain, s.feedback.exertion) == (5, 6)


@pytest.mark.model
def test_live_no_ask_never_asks(db: Path, tmp_path: Path) -> None:
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "rehab", "live", "-e", "squat", "--source",
         str(_empty_room(tmp_path / "e.mp4")), "--headless", "--speed", "4", "--patient",
         "p1", "--no-ask"], stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env={**os.environ, "REHAB_DB": str(db)})
    os.close(slave)
    try:
        _, err = proc.communicate(timeout=300)
    finally:
        os.close(master)
    assert proc.returncode == 3, err
    assert "Pain now" not in err
    with open_store(db) as store:
        [s] = store.sessions("p1")
    assert (s.feedback.pain, s.feedback.exertion) == (None, None)


def test_ask_rating_skips_on_enter_or_end_of_input() -> None:
    import io

    from rehab.live.cli import ask_feedback, ask_rating

    err = io.StringIO()
    assert ask_rating("Pain", io.StringIO("\n"), err) is None
    assert ask_rating("Pain", io.StringIO(""), err) is None
    assert ask_rating("Pain", io.StringIO("x\n-1\n11\n"), err) is None  # three tries
    assert ask_rating("Pain", io.StringIO(" 0 \n"), err) == 0
    f = ask_feedback(io.StringIO("3\n\n"), err)
    assert (f.pain, f.exertion) == (3, None)
