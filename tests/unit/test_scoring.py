"""Layer 1: scores and flags of synthetic repetitions against the prescription (exact)."""

from __future__ import annotations

import numpy as np
import pytest

from rehab.analysis import analyze_sequence
from rehab.exercises import get_exercise
from rehab.scoring import cue_for
from rehab.synthetic import rep_trajectory, synthetic_sequence


def squats(peak: float, rep_s: float = 3.0, lean: float | np.ndarray = 5.0, n: int = 3):
    t, knee = rep_trajectory(n, 30.0, rest=0.0, peak=peak, rep_s=rep_s)
    return synthetic_sequence(t, {"knee_flexion": knee, "hip_flexion": 0.8 * knee},
                              trunk_lean=lean)


def test_a_good_rep_scores_100_with_no_flags() -> None:
    a = analyze_sequence(squats(100.0), get_exercise("squat"))
    assert [r.score for r in a.reps] == [100, 100, 100]
    assert all(r.flags == () and r.target_met for r in a.reps)
    assert cue_for(a.exercise, a.reps[0]) == a.exercise.cues.good


def test_short_of_target_loses_points_in_proportion() -> None:
    ex = get_exercise("squat")  # target 80-130
    a = analyze_sequence(squats(60.0), ex)
    r = a.reps[0]
    assert not r.target_met and "short_of_target" in r.flags
    # 60 of the 80 deg needed: ROM part 60 * 60/80 = 45, tempo 20, compensation 20
    assert r.score == pytest.approx(85, abs=1)
    assert cue_for(ex, r) == ex.cues.too_shallow


def test_beyond_target_costs_one_point_per_degree() -> None:
    ex = get_exercise("squat").with_target(60.0, 90.0)
    r = analyze_sequence(squats(100.0), ex).reps[0]
    assert "beyond_target" in r.flags and not r.target_met
    assert r.score == pytest.approx(90, abs=1)


def test_prescription_override_changes_target_met() -> None:
    ex = get_exercise("squat").with_target(110.0, 140.0)
    a = analyze_sequence(squats(100.0), ex)
    assert all(not r.target_met for r in a.reps)
    with pytest.raises(Exception, match="greater than"):
        get_exercise("squat").with_target(120.0, 90.0)


def test_too_fast_rep_is_flagged() -> None:
    ex = get_exercise("squat")  # min_rep_s 1.5
    a = analyze_sequence(squats(100.0, rep_s=1.0), ex)
    assert a.rep_count == 3
    assert all("too_fast" in r.flags for r in a.reps)
    assert all(r.score < 100 for r in a.reps)
    assert cue_for(ex, a.reps[0]) == ex.cues.too_fast


def test_trunk_lean_compensation_is_measured_and_flagged() -> None:
    ex = get_exercise("squat")
    comp = next(c for c in ex.compensations if c.angle == "trunk_lean")
    t, knee = rep_trajectory(3, 30.0, rest=0.0, peak=100.0, rep_s=3.0)
    lean = 5.0 + 0.5 * knee  # 55 deg at the bottom, over the 45 deg limit
    seq = synthetic_sequence(t, {"knee_flexion": knee, "hip_flexion": 0.8 * knee}, trunk_lean=lean)
    a = analyze_sequence(seq, ex)
    r = a.reps[0]
    assert r.compensations[comp.id] == pytest.approx(55.0, abs=0.5)
    assert comp.id in r.flags
    assert cue_for(ex, r) == comp.cue
    assert r.score < 100


def test_change_measure_compares_with_the_rep_start() -> None:
    ex = get_exercise("elbow_flexion")
    comp = next(c for c in ex.compensations if c.measure == "change" and c.side == "same")
    t, elbow = rep_trajectory(3, 30.0, rest=5.0, peak=135.0, rep_s=3.0)
    drift = 10.0 + 0.3 * (elbow - 5.0)  # shoulder swings 39 deg forward at the top
    seq = synthetic_sequence(t, {"elbow_flexion": elbow, "shoulder_flexion": drift})
    r = analyze_sequence(seq, ex).reps[0]
    assert r.compensations[comp.id] == pytest.approx(39.0, abs=1.0)
    assert comp.id in r.flags


def test_unmeasurable_compensation_is_null_and_costs_nothing() -> None:
    seq = squats(100.0)
    vis = seq.visibility.copy()
    vis[:, [11, 12]] = 0.0  # shoulders never visible: trunk lean cannot be measured
    a = analyze_sequence(seq.replace(visibility=vis), get_exercise("squat"))
    assert all(r.compensations["trunk_lean"] is None for r in a.reps)
    assert all(r.score == 100 for r in a.reps)
