"""Integration: the settings that decided a result are recorded with it, and offline and
live analysis take the same ones."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from rehab.analysis import analyze_sequence, write_outputs
from rehab.counter import LiveRepCounter
from rehab.exercises import get_exercise
from rehab.model import PoseSequence
from rehab.settings import DEFAULT_SETTINGS
from rehab.store import open_store
from rehab.synthetic import rep_trajectory, synthetic_sequence


def squats(peaks: list[float]) -> PoseSequence:
    """Squats of alternating depth: some reps reach 100 deg, others only 70."""
    import numpy as np

    parts_t, parts_k, t0 = [], [], 0.0
    for peak in peaks:
        t, knee = rep_trajectory(1, 30.0, rest=0.0, peak=peak)
        parts_t.append(t + t0)
        parts_k.append(knee)
        t0 += float(t[-1]) + 1 / 30.0
    t = np.concatenate(parts_t)
    knee = np.concatenate(parts_k)
    return synthetic_sequence(t, {"knee_flexion": knee, "hip_flexion": 0.8 * knee})


def live_count(seq: PoseSequence, exercise, settings=None) -> int:
    counter = LiveRepCounter(exercise, side="right", settings=settings)
    for i in range(seq.n_frames):
        counter.update(float(seq.timestamps[i]), seq.landmarks[i], seq.world[i],
                       seq.visibility[i], seq.width, seq.height)
    return counter.count


def test_a_threshold_setting_changes_offline_and_live_counts_alike() -> None:
    seq = squats([100.0, 70.0, 100.0, 70.0, 100.0])
    ex = get_exercise("squat")
    assert analyze_sequence(seq, ex, side="right").rep_count == live_count(seq, ex) == 5
    # a rep must move 85% of the median rep: the shallow (70 deg) ones are too small
    strict = DEFAULT_SETTINGS.replace(min_rep_fraction=0.85)
    offline = analyze_sequence(seq, ex, side="right", settings=strict)
    assert offline.rep_count == live_count(seq, ex, strict) == 3
    assert offline.settings == strict


def test_result_json_and_the_store_record_the_settings(tmp_path: Path) -> None:
    ex = get_exercise("squat")
    custom = DEFAULT_SETTINGS.replace(max_gap_s=0.5)
    a = analyze_sequence(squats([100.0, 100.0]), ex, side="right", settings=custom)
    write_outputs(a, tmp_path / "out")
    doc = json.loads((tmp_path / "out" / "result.json").read_text())
    assert doc["schema_version"] == 3
    assert doc["settings"]["max_gap_s"] == 0.5 and doc["settings_hash"] == custom.short_hash()
    assert doc["settings_hash"] != DEFAULT_SETTINGS.short_hash()
    with open_store(tmp_path / "db.sqlite") as store:
        store.add_patient("p01", "Ada")
        sid = store.record_analysis("p01", a, dt.datetime(2024, 3, 4, 9))
        s = store.session(sid)
    assert s.settings == custom and s.settings_hash == custom.short_hash()


@pytest.mark.parametrize("exercise", ["squat", "shoulder_abduction"])
def test_exercise_settings_are_the_default_for_both(exercise: str) -> None:
    ex = get_exercise(exercise)
    counter = LiveRepCounter(ex)
    assert counter.settings is ex.settings
