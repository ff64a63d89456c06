"""``rehab analyze`` on curls done with the left and the right arm in turn, as a user runs
it: the result says alternating, every rep its side, reps.csv has the side column, and the
patient history keeps both (``rehab patient show``)."""

from __future__ import annotations

import csv
import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np

from rehab.sequence import save_npz
from rehab.synthetic import rep_pulses, synthetic_sequence

Rehab = Callable[..., subprocess.CompletedProcess[str]]


def alternating_curls(path: Path) -> Path:
    t = np.arange(int(20 * 30) + 1) / 30.0
    left, right = (rep_pulses(t, starts, 10.0, 130.0) for starts in ([1.0, 7.0, 13.0],
                                                                     [4.0, 10.0, 16.0]))
    seq = synthetic_sequence(t, {"left_elbow_flexion": left, "right_elbow_flexion": right,
                                 "shoulder_flexion": 0.0}, view="side")
    save_npz(seq, path)
    return path


def test_analyze_says_alternating_and_gives_each_rep_its_side(tmp_path: Path, rehab: Rehab,
                                                              db: Path) -> None:
    clip = alternating_curls(tmp_path / "curls.npz")
    out = tmp_path / "out"
    res = rehab("analyze", str(clip), "--exercise", "elbow_flexion", "--out", str(out))
    assert "6" in res.stdout
    doc = json.loads((out / "result.json").read_text())
    assert doc["alternating"] is True and doc["rep_count"] == 6
    assert doc["reps_by_side"] == {"left": 3, "right": 3}
    assert [r["side"] for r in doc["reps"]] == ["left", "right"] * 3
    with open(out / "reps.csv", newline="") as fh:
        assert [r["side"] for r in csv.DictReader(fh)] == ["left", "right"] * 3
    one = rehab("analyze", str(clip), "--exercise", "elbow_flexion", "--side", "left",
                "--out", str(tmp_path / "left"))
    left = json.loads((tmp_path / "left" / "result.json").read_text())
    assert left["alternating"] is False and left["rep_count"] == 3, one.stdout
    rehab("analyze", str(clip), "--exercise", "elbow_flexion", "--patient", "p1", "--db",
          str(db))
    shown = rehab("patient", "show", "p1", "--db", str(db))
    assert "alternating (left 3, right 3)" in shown.stdout
