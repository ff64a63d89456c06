"""Integration: the README's Python example runs as written, and databases keep their own
files."""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

import pytest

from rehab.analysis import analyze_sequence
from rehab.exercises import get_exercise
from rehab.sequence import save_npz
from rehab.store import open_store
from rehab.synthetic import rep_trajectory, synthetic_sequence

README = Path(__file__).resolve().parents[2] / "README.md"


def squat_sequence(n: int = 3):
    t, knee = rep_trajectory(n, 30.0, rest=0.0, peak=100.0)
    return synthetic_sequence(t, {"knee_flexion": knee, "hip_flexion": 0.8 * knee})


def test_readme_python_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str]) -> None:
    block = re.search(r"## Python\n.*?```python\n(.*?)```", README.read_text(), re.S)
    assert block is not None, "README has no Python example"
    monkeypatch.chdir(tmp_path)
    save_npz(squat_sequence(3), tmp_path / "squat.npz")
    exec(compile(block.group(1), "README.md", "exec"), {})  # noqa: S102
    lines = capsys.readouterr().out.splitlines()
    assert [ln.split()[:3] for ln in lines[:3]] == [["1", "100", "True"], ["2", "100", "True"],
                                                   ["3", "100", "True"]]
    assert {"result.json", "reps.csv", "angles.csv", "landmarks.npz"} <= set(
        os.listdir(tmp_path / "out"))


def test_two_databases_in_one_folder_keep_their_own_files(tmp_path: Path) -> None:
    a = analyze_sequence(squat_sequence(3), get_exercise("squat"), side="right")
    day = dt.datetime(2024, 3, 4, 9)
    with open_store(tmp_path / "one.sqlite") as one, open_store(tmp_path / "two.sqlite") as two:
        for store in (one, two):
            store.add_patient("p01", "Ada")
        s1 = one.session(one.record_analysis("p01", a, day))
        s2 = two.session(two.record_analysis("p01", a, day))
        assert s1.id == s2.id == 1  # the same patient and session ids in both
        assert s1.files["result_json"] != s2.files["result_json"]
        before = {k: p.read_bytes() for k, p in s1.files.items()}
        two.record_analysis("p01", a, day + dt.timedelta(days=1))
        two.delete_patient("p01")
        assert {k: p.read_bytes() for k, p in s1.files.items()} == before
        assert one.files_root != two.files_root
