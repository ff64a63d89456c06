"""Unit: what a batch is asked to do, checked before any work (`rehab.batch.manifest`,
`rehab.batch.runner.plan_batch`), its resume keys, folder names and journal."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from rehab.batch.manifest import BatchItem, folder_items, read_manifest
from rehab.batch.runner import (
    BatchOptions,
    FileRow,
    Journal,
    _folder_names,
    plan_batch,
    task_key,
)
from rehab.errors import ProblemsError


@pytest.fixture
def recordings(tmp_path: Path, write_squats: Callable[..., dict[str, Path]]) -> Path:
    """Two landmark recordings (3 and 5 squats) and a text file, in ``tmp_path/rec``."""
    d = tmp_path / "rec"
    write_squats(d, {"a": 3, "b": 5})
    (d / "notes.txt").write_text("not a recording\n")
    return d


def _manifest(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_every_problem_of_a_manifest_is_listed_with_its_row(recordings: Path) -> None:
    m = _manifest(recordings / "m.csv",
                  "file,exercise,patient,date,side,target_min,target_max\n"
                  "a.npz,squat,,,,,\n"
                  "missing.npz,squat,,,,,\n"
                  "b.npz,,,2026-13-01,,,\n"
                  "a.npz,squat,,,sideways,abc,\n"
                  "notes.txt,squat,,,,,\n"
                  ",squat,,,,,\n")
    with pytest.raises(ProblemsError) as err:
        read_manifest(m)
    problems = err.value.problems
    assert len(problems) == 7, problems
    assert "row 3 (missing.npz): no such file" in problems[0]
    assert problems[1].startswith("m.csv row 4 (b.npz): no exercise")
    assert "row 4" in problems[2] and "2026-13-01" in problems[2]
    assert "row 5" in problems[3] and "sideways" in problems[3]
    assert "row 5" in problems[4] and "'abc' is not a number" in problems[4]
    assert problems[5].startswith("m.csv row 6 (notes.txt):") and "not a video" in problems[5]
    assert problems[6] == "m.csv row 7: no file named"


def test_manifest_defaults_and_relative_paths(recordings: Path) -> None:
    m = _manifest(recordings / "m.csv", "file,reps_true\na.npz,3\nb.npz,5\n")
    items = read_manifest(m, default_exercise="squat")
    assert [i.path for i in items] == [recordings / "a.npz", recordings / "b.npz"]
    assert all(i.exercise == "squat" and i.patient is None for i in items)
    assert [i.row for i in items] == [2, 3]


@pytest.mark.parametrize("text, needle", [
    ("", "no 'file' column"),
    ("file\n", "no rows"),
    ("name,exercise\na.npz,squat\n", "no 'file' column"),
])
def test_unusable_manifest(recordings: Path, text: str, needle: str) -> None:
    with pytest.raises(ProblemsError, match=needle):
        read_manifest(_manifest(recordings / "m.csv", text), "squat")


def test_folder_means_every_video_in_it(tmp_path: Path) -> None:
    for name in ("b.mp4", "a.MOV", "c.txt", ".hidden.mp4"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "sub.mp4").mkdir()
    items = folder_items(tmp_path, "squat")
    assert [i.path.name for i in items] == ["a.MOV", "b.mp4"]
    with pytest.raises(ProblemsError, match="needs --exercise"):
        folder_items(tmp_path, None)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ProblemsError, match="no video files"):
        folder_items(empty, "squat")


def test_plan_refuses_unknown_exercise_patient_and_target(recordings: Path, db: Path) -> None:
    from rehab.store import open_store

    items = [BatchItem(2, recordings / "a.npz", "squatt"),
             BatchItem(3, recordings / "a.npz", "squat", patient="nobody"),
             BatchItem(4, recordings / "b.npz", "squat", target_min=10, target_max=400)]
    with open_store(db) as store, pytest.raises(ProblemsError) as err:
        plan_batch(items, BatchOptions(out=recordings / "out", progress=False), store)
    p = err.value.problems
    assert len(p) == 3, p
    assert p[0].startswith("row 2 (a.npz):") and "squatt" in p[0]
    assert p[1].startswith("row 3 (a.npz):") and "nobody" in p[1]
    assert p[2].startswith("row 4 (b.npz):") and "400" in p[2]
    with pytest.raises(ProblemsError, match="no patient database"):
        plan_batch([BatchItem(2, recordings / "a.npz", "squat", patient="p1")],
                   BatchOptions(out=recordings / "out", progress=False), None)


def test_plan_takes_the_prescription_and_refuses_the_same_recording_twice(
        recordings: Path, db: Path) -> None:
    from rehab.store import open_store

    shutil.copyfile(recordings / "a.npz", recordings / "a_copy.npz")
    day = dt.datetime(2026, 11, 2, 9, 30)
    with open_store(db) as store:
        store.edit_patient("p1", affected_side="left")
        store.prescribe("p1", "squat", 80, 110, 10, 3, start=dt.date(2026, 11, 1))
        plan = plan_batch([BatchItem(2, recordings / "a.npz", "squat", patient="p1", date=day),
                           BatchItem(3, recordings / "b.npz", "squat", target_max=120)],
                          BatchOptions(out=recordings / "out", progress=False), store)
        assert plan[0].task.side == "left" and plan[0].task.private
        t = plan[0].task.exercise.target
        assert (t.min_deg, t.max_deg) == (80, 110)
        assert plan[0].started == day
        assert plan[1].task.side == "auto" and not plan[1].task.private
        assert plan[1].task.exercise.target.max_deg == 120
        assert plan[1].started == dt.datetime.fromtimestamp(
            int(os.stat(recordings / "b.npz").st_mtime))
        with pytest.raises(ProblemsError, match="row 3 .*same recording, exercise and "
                                                "patient as row 2"):
            plan_batch([BatchItem(2, recordings / "a.npz", "squat"),
                        BatchItem(3, recordings / "a_copy.npz", "squat")],
                       BatchOptions(out=recordings / "out", progress=False), store)


def test_task_key_changes_with_each_part_and_only_then() -> None:
    base = dict(sha256="ab" * 32, exercise_id="squat", target=(80.0, 110.0),
                settings_hash="0123456789ab", side="left", max_fps=None, model=None,
                patient="p1", day=dt.date(2026, 11, 2))
    key = task_key(**base)  # type: ignore[arg-type]
    assert key == task_key(**base)  # type: ignore[arg-type]
    changes = dict(sha256="cd" * 32, exercise_id="lunge", target=(80.0, 100.0),
                   settings_hash="ba9876543210", side="right", max_fps=10.0,
                   model="m.task", patient="p2", day=dt.date(2026, 11, 3))
    for name, value in changes.items():
        assert task_key(**{**base, name: value}) != key, name  # type: ignore[arg-type]


def test_folder_names_are_distinct_and_stable(tmp_path: Path) -> None:
    items = [BatchItem(2, tmp_path / "x" / "s.mp4", "squat"),
             BatchItem(3, tmp_path / "y" / "s.mp4", "lunge"),
             BatchItem(4, tmp_path / "y" / "s.mp4", "squat"),
             BatchItem(5, tmp_path / "summary.mp4", "squat"),
             BatchItem(6, tmp_path / "a b#.mp4", "squat")]
    names = _folder_names(items, [i.exercise for i in items])
    assert names == ["s-squat", "s-lunge", "s-squat-4", "summary-squat", "a_b"]
    assert names == _folder_names(items, [i.exercise for i in items])


def test_journal_keeps_the_last_line_of_a_key_and_ignores_a_cut_line(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.jsonl", private=True)
    assert j.read() == {}
    j.append(FileRow("k1", "a.mp4", "", "squat", "failed", error="corrupt"))
    j.append(FileRow("k2", "b.mp4", "p1", "squat", "done", reps=3, session=7))
    j.append(FileRow("k1", "a.mp4", "", "squat", "done", reps=5))
    with open(j.path, "a") as f:
        f.write(json.dumps({"key": "k3", "file": "c.mp4"})[:20])  # killed mid-line
    rows = j.read()
    assert set(rows) == {"k1", "k2"}
    assert rows["k1"].status == "done" and rows["k1"].reps == 5
    assert rows["k2"].session == 7
    assert (j.path.stat().st_mode & 0o777) == 0o600


def test_tune_malloc_takes_on_glibc() -> None:
    import platform

    from rehab.batch.tasks import tune_malloc

    if platform.libc_ver()[0] != "glibc":
        pytest.skip("glibc's mallopt only")
    assert tune_malloc() is True
