"""Layer 1: repetition counts on synthetic sequences with known reps (exact)."""

from __future__ import annotations

import numpy as np
import pytest

from rehab.analysis import analyze_sequence
from rehab.exercises import get_exercise
from rehab.reps import segment_reps
from rehab.synthetic import rep_trajectory, synthetic_sequence


def squat_sequence(n: int, fps: float = 30.0, peak: float = 100.0, **kw):
    t, knee = rep_trajectory(n, fps, rest=0.0, peak=peak, **kw)
    return synthetic_sequence(t, {"knee_flexion": knee, "hip_flexion": 0.8 * knee}, view="side")


@pytest.mark.parametrize("n", [1, 3, 10])
@pytest.mark.parametrize("fps", [15.0, 30.0, 60.0])
def test_counts_exact_number_of_reps(n: int, fps: float) -> None:
    a = analyze_sequence(squat_sequence(n, fps), get_exercise("squat"))
    assert a.rep_count == n
    assert a.partial == ()
    assert [r.index for r in a.reps] == list(range(1, n + 1))
    for r in a.reps:
        assert r.max_deg == pytest.approx(100.0, abs=1.0)
        assert r.min_deg == pytest.approx(0.0, abs=1.0)
        assert r.target_met


def test_rep_boundaries_match_the_movement() -> None:
    # reps of 2 s with 1 s pauses after a 1 s lead: rep k spans [1 + 3k, 3 + 3k] s
    a = analyze_sequence(squat_sequence(3), get_exercise("squat"))
    for k, r in enumerate(a.reps):
        assert r.peak_s == pytest.approx(2.0 + 3 * k, abs=0.05)
        assert 1.0 + 3 * k <= r.start_s <= 1.4 + 3 * k
        assert 2.6 + 3 * k <= r.end_s <= 3.0 + 3 * k


def test_no_movement_gives_no_reps() -> None:
    t = np.arange(300) / 30.0
    seq = synthetic_sequence(t, {"knee_flexion": 5.0 + np.random.default_rng(1).normal(0, 1, 300)})
    a = analyze_sequence(seq, get_exercise("squat"))
    assert a.rep_count == 0
    assert "no complete repetition found" in a.notes


def test_jitter_at_rest_is_not_counted() -> None:
    t, knee = rep_trajectory(4, 30.0, 0.0, 100.0, pause_s=2.0)
    rng = np.random.default_rng(2)
    noisy = knee + rng.normal(0, 3.0, knee.shape)  # +-3 deg landmark noise
    a = analyze_sequence(synthetic_sequence(t, {"knee_flexion": noisy}), get_exercise("squat"))
    assert a.rep_count == 4


def test_partial_reps_at_the_edges_are_reported_not_counted() -> None:
    t, knee = rep_trajectory(5, 30.0, 0.0, 100.0, lead_s=0.0)
    # open on the way down from the first peak (below high_fraction of the range), stop
    # before the last rep returns
    start = int(1.6 * 30)
    stop = len(t) - int(0.6 * 30)
    seq = synthetic_sequence(t[start:stop] - t[start], {"knee_flexion": knee[start:stop]})
    a = analyze_sequence(seq, get_exercise("squat"))
    assert a.rep_count == 3
    assert sorted(p.kind for p in a.partial) == ["partial_end", "partial_start"]


def test_start_state_is_detected_when_the_clip_opens_in_the_active_position() -> None:
    # elbow held flexed, then 4 extend-flex cycles, ending flexed (rest is 'low' by default):
    # the opening's return counts, the last flexion does not come back
    t, x = rep_trajectory(4, 30.0, rest=140.0, peak=10.0)
    seq = synthetic_sequence(t, {"elbow_flexion": x, "shoulder_flexion": 0.0})
    a = analyze_sequence(seq, get_exercise("elbow_flexion"))
    assert a.rep_count == 4
    assert a.segmentation.start_state == "active"
    assert a.segmentation.rest_position == "low"
    assert [p.kind for p in a.partial] == ["partial_end"]
    assert any(n.code == "active_start" for n in a.notes)


def test_rest_high_exercise_counts_downward_reps() -> None:
    # seated knee extension: knee 90 deg at rest, straightens to ~5 deg
    t, knee = rep_trajectory(6, 30.0, rest=90.0, peak=5.0)
    seq = synthetic_sequence(t, {"knee_flexion": knee, "hip_flexion": 90.0})
    a = analyze_sequence(seq, get_exercise("knee_extension"))
    assert a.rep_count == 6
    assert all(r.peak_deg == pytest.approx(5.0, abs=1.0) for r in a.reps)
    assert all(r.target_met for r in a.reps)


def test_too_short_candidates_are_not_counted() -> None:
    t, knee = rep_trajectory(3, 30.0, 0.0, 100.0, rep_s=0.3, pause_s=1.0)
    a = analyze_sequence(synthetic_sequence(t, {"knee_flexion": knee}), get_exercise("squat"))
    assert a.rep_count == 0
    assert [p.kind for p in a.partial] == ["too_short"] * 3


def test_side_auto_picks_the_moving_side() -> None:
    t, x = rep_trajectory(5, 30.0, 0.0, 130.0)
    seq = synthetic_sequence(t, {"left_elbow_flexion": 10.0, "right_elbow_flexion": x})
    a = analyze_sequence(seq, get_exercise("elbow_flexion"))
    assert a.side == "right" and a.rep_count == 5
    b = analyze_sequence(seq, get_exercise("elbow_flexion"), side="left")
    assert b.side == "left" and b.rep_count == 0


def test_lost_tracking_inside_a_rep_is_flagged() -> None:
    t, knee = rep_trajectory(3, 30.0, 0.0, 100.0)
    seq = synthetic_sequence(t, {"knee_flexion": knee})
    vis = seq.visibility.copy()
    vis[120:140] = 0.0  # ~0.7 s lost inside the 2nd rep (peak at 5 s = frame 150)
    a = analyze_sequence(seq.replace(visibility=vis), get_exercise("squat"))
    assert a.rep_count == 3
    assert "tracking_lost" in a.reps[1].flags
    assert "tracking_lost" not in a.reps[0].flags


def test_thresholds_track_the_observed_range_not_the_target() -> None:
    # a stiff knee reaching only 45 deg still counts, flagged short of target
    a = analyze_sequence(squat_sequence(4, peak=45.0), get_exercise("squat"))
    assert a.rep_count == 4
    assert all("short_of_target" in r.flags and not r.target_met for r in a.reps)


def test_segment_reps_signal_level_api() -> None:
    t, x = rep_trajectory(7, 25.0, 10.0, 80.0)
    seg = segment_reps(x, t, get_exercise("elbow_flexion"))
    assert seg.count == 7
    assert seg.low_threshold < seg.high_threshold
    assert seg.rest_level == pytest.approx(10.0, abs=0.5)


def test_a_rep_whose_rise_is_seen_counts_even_if_the_clip_opens_mid_rise() -> None:
    # opens 0.55 s into the first rep (rising, between the thresholds), like the demo clip
    t, x = rep_trajectory(3, 30.0, rest=10.0, peak=160.0, lead_s=0.0)
    start = int(0.55 * 30)
    seq = synthetic_sequence(t[start:] - t[start], {"shoulder_flexion": x[start:]}, view="front")
    a = analyze_sequence(seq, get_exercise("shoulder_abduction"))
    assert a.segmentation.start_state == "between"
    assert a.rep_count == 3 and a.partial == ()


def test_a_clip_opening_on_the_way_down_does_not_count_that_tail() -> None:
    t, x = rep_trajectory(3, 30.0, rest=10.0, peak=160.0, lead_s=0.0)
    start = int(1.6 * 30)  # descending, already below high_fraction of the range
    seq = synthetic_sequence(t[start:] - t[start], {"shoulder_flexion": x[start:]}, view="front")
    a = analyze_sequence(seq, get_exercise("shoulder_abduction"))
    assert a.rep_count == 2 and [p.kind for p in a.partial] == ["partial_start"]
    assert a.segmentation.start_state == "between"
