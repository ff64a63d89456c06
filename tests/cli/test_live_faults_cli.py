"""``rehab live`` faults as a user meets them, each in a new process: a session killed
(SIGKILL) mid-way, Ctrl-C twice, a record folder of someone else's files, an impossible
``--stats`` path, no camera to list, nobody in view.

The sessions play the demo recording (``../shared/data/videos/shoulder_abduction.mp4``,
read in place) through the real model; they skip when it is absent."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from rehab.store import open_store

Rehab = Callable[..., subprocess.CompletedProcess[str]]  # the `rehab` fixture
OneLineError = Callable[..., None]  # the `assert_one_line_error` fixture

DEMO = "shoulder_abduction.mp4"
ALL_FILES = {"overlay.mp4", "result.json", "reps.csv", "angles.csv", "landmarks.npz",
             "session.json"}
OLD = {name: f"old {name}\n" for name in ("result.json", "reps.csv", "session.json")}


def old_record(path: Path) -> Path:
    """A record folder holding an earlier session's (fake) files."""
    path.mkdir(parents=True)
    for name, text in OLD.items():
        (path / name).write_text(text)
    return path


def contents(folder: Path) -> dict[str, str]:
    return {p.name: p.read_bytes().decode(errors="replace") for p in folder.iterdir()}


def staged(folder: Path) -> list[Path]:
    return sorted(folder.parent.glob(f".{folder.name}.rehab-*"))


def leftovers(root: Path) -> list[str]:
    """Staging folders and temporaries anywhere under ``root``."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")
                  if ".rehab-new-" in p.name or ".rehab-old-" in p.name or ".part" in p.name)


def start_live(video: Path, rec: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "rehab", "live", "--exercise", "shoulder_abduction",
         "--source", str(video), "--headless", "--record", str(rec), "--speed", "1", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=rec.parent)


def wait_until_recording(proc: subprocess.Popen[str], rec: Path, min_bytes: int = 20_000,
                         timeout: float = 60.0) -> None:
    """Until the overlay video (staged beside ``rec``, or in it) holds ``min_bytes``: the
    session runs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[1]
        for folder in [*staged(rec), rec]:
            try:
                if (folder / "overlay.mp4").stat().st_size >= min_bytes:
                    return
            except OSError:
                pass
        time.sleep(0.02)
    proc.kill()
    pytest.fail(f"the session did not start recording within {timeout:g} s")


# --- killed, interrupted ---------------------------------------------------------------------

@pytest.mark.model
@pytest.mark.parametrize("after_s", [0.0, 2.5])
def test_sigkill_mid_session_keeps_the_old_record_and_the_next_run_cleans_up(
        shared_video: Callable[[str], Path], tmp_path: Path, rehab: Rehab,
        after_s: float) -> None:
    """A session killed with SIGKILL leaves DIR as it was (plus a hidden staging folder
    beside it); the next run into DIR removes that folder and publishes its own set."""
    video = shared_video(DEMO)
    rec = old_record(tmp_path / "rec")
    proc = start_live(video, rec)
    try:
        wait_until_recording(proc, rec)
        time.sleep(after_s)
        assert proc.poll() is None, "the session ended before it was killed"
    finally:
        proc.kill()
        proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert contents(rec) == OLD
    [left] = staged(rec)
    assert (left / "overlay.mp4").is_file()
    res = rehab("-q", "live", "--exercise", "shoulder_abduction", "--source", str(video),
                "--headless", "--record", str(rec), "--speed", "4", "--max-seconds", "2",
                cwd=tmp_path)
    assert "time limit reached" in res.stdout
    assert {p.name for p in rec.iterdir()} == ALL_FILES
    assert json.loads((rec / "session.json").read_text())["end_reason"] == "time_limit"
    assert leftovers(tmp_path) == []


@pytest.mark.model
def test_ctrl_c_twice_saves_the_session_whole(shared_video: Callable[[str], Path],
                                              tmp_path: Path, db: Path) -> None:
    """Ctrl-C, then Ctrl-C again a few ms later (while the session is being saved): no
    traceback, exit 130, the record folder holds the whole set and the stored session is
    finished, each time."""
    video = shared_video(DEMO)
    delays = [0.0, 0.02, 0.05]
    for round_no, delay in enumerate(delays, 1):
        rec = tmp_path / f"rec{round_no}"
        proc = start_live(video, rec, "--patient", "p1", "--db", str(db))
        try:
            wait_until_recording(proc, rec)
            time.sleep(0.3)
            proc.send_signal(signal.SIGINT)
            time.sleep(delay)
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        where = f"round {round_no} (second SIGINT after {1000 * delay:.0f} ms)"
        assert "Traceback" not in err and "Exception ignored" not in err, f"{where}:\n{err}"
        assert "rehab: error" not in err, f"{where}:\n{err}"
        assert proc.returncode == 130, f"{where}: exit {proc.returncode}\n{err}"
        assert "interrupted (Ctrl-C)" in out, where
        assert {p.name for p in rec.iterdir()} == ALL_FILES, where
        doc = json.loads((rec / "session.json").read_text())
        assert doc["end_reason"] == "interrupted", where
        with open_store(db) as store:
            s = store.session(doc["session_id"])
            assert s.ended is not None and len(store.reps(s.id)) == doc["rep_count"], where
        assert leftovers(tmp_path) == [], where


# --- refused before the session --------------------------------------------------------------

def test_a_record_folder_of_other_files_is_refused_at_once(tmp_path: Path, rehab: Rehab,
                                                           assert_one_line_error: OneLineError
                                                           ) -> None:
    """Refused before the recording (here missing) or the model is opened."""
    rec = tmp_path / "rec"
    rec.mkdir()
    (rec / "thesis.docx").write_text("mine")
    res = rehab("live", "--exercise", "squat", "--headless", "--source",
                str(tmp_path / "missing.mp4"), "--record", str(rec), check=False)
    assert res.returncode == 4
    assert_one_line_error(res, str(rec), "holds files rehab did not write (thesis.docx)")
    assert contents(rec) == {"thesis.docx": "mine"} and staged(rec) == []


@pytest.mark.parametrize("stats", ["/proc/x/stats.json", "a_file/stats.json"])
def test_an_impossible_stats_path_is_refused_at_once(tmp_path: Path, rehab: Rehab,
                                                     assert_one_line_error: OneLineError,
                                                     stats: str) -> None:
    (tmp_path / "a_file").write_text("")
    res = rehab("live", "--exercise", "squat", "--headless", "--source",
                str(tmp_path / "missing.mp4"), "--stats", stats, cwd=tmp_path, check=False)
    assert res.returncode == 4
    assert_one_line_error(res, stats, "cannot write the stats")


def test_list_cameras(rehab: Rehab, assert_one_line_error: OneLineError) -> None:
    """Only the camera list goes to stdout; none found is an error (exit 1)."""
    res = rehab("live", "--list-cameras", check=False)
    if res.returncode == 0:  # a machine with a camera
        assert res.stdout and all(ln.startswith("camera ") for ln in res.stdout.splitlines())
        return
    assert res.returncode == 1 and res.stdout == ""
    assert_one_line_error(res, "no camera found", "--source VIDEO")


# --- nobody in view ---------------------------------------------------------------------------

@pytest.mark.model
def test_nobody_in_view_exits_3_after_saving(tmp_path: Path, rehab: Rehab, db: Path,
                                             assert_one_line_error: OneLineError) -> None:
    """As ``rehab analyze`` exits 3 on a video without a person, so does ``rehab live``,
    once the session is saved: the record folder and the stored session with 0 reps."""
    video = tmp_path / "empty_room.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter.fourcc(*"mp4v"), 15.0, (160, 120))
    for _ in range(45):
        writer.write(np.full((120, 160, 3), 128, np.uint8))
    writer.release()
    rec = tmp_path / "rec"
    res = rehab("live", "--exercise", "squat", "--source", str(video), "--headless",
                "--record", str(rec), "--speed", "4", "--patient", "p1", "--db", str(db),
                check=False)
    assert res.returncode == 3, res.stderr
    assert_one_line_error(res, "nobody was seen in", "frames", "0 rep(s) stored as session 1",
                          f"the overlay video and result files are in {rec}")
    assert {p.name for p in rec.iterdir()} == ALL_FILES
    with open_store(db) as store:
        [s] = store.sessions("p1")
        assert s.ended is not None and store.reps(s.id) == []
    offline = rehab("analyze", str(video), "--exercise", "squat", "--out",
                    str(tmp_path / "offline"), "--no-progress", check=False)
    assert offline.returncode == 3
