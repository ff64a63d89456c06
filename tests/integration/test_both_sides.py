"""Integration: every analysis measures both sides; the affected side is scored and
headlined; the limb symmetry index; the view check; the peak taken inside the rep; the
per-rep quality grade (synthetic sequences with known angles)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rehab.analysis import analyze_sequence, write_outputs
from rehab.exercises import get_exercise
from rehab.model import Flag, NoteCode, PoseSequence
from rehab.synthetic import rep_pulses, rep_trajectory, synthetic_sequence


def _squat(left_peak: float = 90.0, right_peak: float = 100.0, yaw: float = 0.0,
           view: str = "side") -> PoseSequence:
    t, right = rep_trajectory(3, 30.0, 0.0, right_peak)
    _, left = rep_trajectory(3, 30.0, 0.0, left_peak)
    return synthetic_sequence(t, {"left_knee_flexion": left, "right_knee_flexion": right,
                                  "hip_flexion": 0.8 * right}, yaw_deg=yaw,
                              view=view)  # type: ignore[arg-type]


def test_both_sides_are_measured_in_every_rep_and_the_index_is_exact() -> None:
    a = analyze_sequence(_squat(90.0, 100.0), get_exercise("squat"), side="left")
    assert a.side == "left" and a.involved == "left" and a.rep_count == 3
    for r in a.reps:
        assert r.left_peak_deg == pytest.approx(90.0, abs=0.1)
        assert r.right_peak_deg == pytest.approx(100.0, abs=0.1)
        assert r.peak_deg == r.left_peak_deg  # the affected side is the one scored
        assert r.left_rom_deg is not None and r.right_rom_deg is not None
        # involved / uninvolved range of motion x 100: the same rest and the same shape,
        # so exactly the ratio of the peaks
        assert r.symmetry_pct == pytest.approx(90.0, abs=1e-3)
    assert a.symmetry is not None
    assert a.symmetry.involved == "left" and a.symmetry.index_pct == pytest.approx(90.0, abs=1e-3)
    assert any(n.code == NoteCode.SYMMETRY and "90%" in n for n in a.notes)


def test_the_affected_side_wins_over_the_side_that_moves_most() -> None:
    """The ACL patient: the left (affected) knee bends less; auto would pick the right."""
    seq = _squat(70.0, 110.0)
    auto = analyze_sequence(seq, get_exercise("squat"), side="auto")
    assert auto.side == "right" and auto.involved == ""
    assert any(n.code == NoteCode.SIDE_CHOSEN and "no affected side given" in n
               for n in auto.notes)
    # without an affected side the weaker side is taken as involved: the index is <= 100
    assert auto.symmetry is not None and auto.symmetry.involved == "left"
    assert auto.symmetry.index_pct == pytest.approx(100 * 70 / 110, abs=1e-2)
    left = analyze_sequence(seq, get_exercise("squat"), side="left")
    assert left.side == "left" and left.primary_column == "left_knee_flexion"
    assert [r.peak_deg for r in left.reps] == pytest.approx([70.0] * 3, abs=0.1)
    assert any(n.code == NoteCode.SIDE_CHOSEN and "affected side" in n for n in left.notes)


def test_both_sides_prescribed_scores_both() -> None:
    ex = get_exercise("squat").with_target(80.0, 130.0)
    one = analyze_sequence(_squat(70.0, 100.0), ex, side="right")
    both = analyze_sequence(_squat(70.0, 100.0), ex, side="both")
    assert all(r.target_met for r in one.reps)  # the right knee alone reaches the target
    assert both.involved == "both" and both.rep_count == 3
    assert not any(r.target_met for r in both.reps)  # the left knee does not
    assert all(Flag.SHORT_OF_TARGET in r.flags for r in both.reps)
    assert all(b.score < o.score for b, o in zip(both.reps, one.reps))


def test_a_one_sided_exercise_prescribed_on_both_sides_counts_each_limb() -> None:
    t = np.arange(0, 16, 1 / 30)
    left = rep_pulses(t, [1.0, 9.0], 0.0, 120.0, 2.5)
    right = rep_pulses(t, [5.0, 12.5], 0.0, 120.0, 2.5)
    seq = synthetic_sequence(t, {"left_elbow_flexion": left, "right_elbow_flexion": right})
    a = analyze_sequence(seq, get_exercise("elbow_flexion"), side="both")
    assert a.rep_count == 4 and a.alternating
    assert [r.side for r in a.reps] == ["left", "right", "left", "right"]
    assert a.symmetry is not None and a.symmetry.basis == "alternating"
    assert a.symmetry.index_pct == pytest.approx(100.0, abs=0.5)


def test_a_one_sided_session_has_no_symmetry_index() -> None:
    t, k = rep_trajectory(3, 30.0, 0.0, 120.0)
    seq = synthetic_sequence(t, {"right_elbow_flexion": k})
    a = analyze_sequence(seq, get_exercise("elbow_flexion"), side="right")
    assert a.symmetry is None and all(r.symmetry_pct is None for r in a.reps)
    # the resting arm is still measured beside it
    assert all(r.left_peak_deg == pytest.approx(0.0, abs=0.5) for r in a.reps)


@pytest.mark.parametrize("yaw, warned", [(0.0, False), (20.0, False), (29.0, False),
                                         (32.0, True), (45.0, True)])
def test_a_view_turned_beyond_the_tolerance_is_flagged(yaw: float, warned: bool) -> None:
    a = analyze_sequence(_squat(100.0, 100.0, yaw=yaw), get_exercise("squat"), side="right")
    assert a.view is not None and a.view.expected == "side"
    assert a.view.deviation_deg == pytest.approx(yaw, abs=0.01)
    assert a.view.warning is warned
    assert any(n.code == NoteCode.VIEW for n in a.notes) is warned
    for r in a.reps:
        assert r.view_deg == pytest.approx(90.0 - yaw, abs=0.01)
        assert (Flag.WRONG_VIEW in r.flags) is warned
        assert r.quality == ("fair" if warned else "good") or yaw > 45.0


def test_a_front_view_squat_is_flagged_and_a_front_view_exercise_is_not() -> None:
    a = analyze_sequence(_squat(view="front"), get_exercise("squat"), side="right")
    assert a.view is not None and a.view.warning and a.view.deviation_deg == pytest.approx(90.0)
    assert all(r.quality == "poor" for r in a.reps)
    t, k = rep_trajectory(3, 30.0, 0.0, 90.0)
    raise_ = synthetic_sequence(t, {"shoulder_flexion": k}, view="front")
    b = analyze_sequence(raise_, get_exercise("shoulder_abduction"), side="right")
    assert b.view is not None and not b.view.warning
    assert not any(n.code == NoteCode.VIEW for n in b.notes)


def test_the_peak_and_time_to_peak_come_from_the_same_frame_inside_the_rep() -> None:
    """A clip opening with the elbow flexed (150 deg) going down, then a rep to 120 deg:
    the rep's peak is its own 120, not the 150 before it began."""
    t = np.arange(0, 10, 1 / 30)
    x = rep_pulses(t, [4.0], 5.0, 120.0, 3.0)
    x[t < 1.5] = 150.0 - (150.0 - 5.0) * np.clip(t[t < 1.5] / 1.5, 0, 1)
    seq = synthetic_sequence(t, {"right_elbow_flexion": x})
    a = analyze_sequence(seq, get_exercise("elbow_flexion"), side="right")
    for r in a.reps + a.partial:
        assert r.start_frame <= r.peak_frame <= r.end_frame
        assert r.peak_s == pytest.approx(t[r.peak_frame])
        assert r.time_to_peak_s == pytest.approx(t[r.peak_frame] - t[r.start_frame])
        assert r.peak_deg == pytest.approx(a.smoothed["primary"][r.peak_frame])
    last = max(a.reps, key=lambda r: r.start_s)
    assert last.peak_deg == pytest.approx(120.0, abs=0.5)
    assert last.peak_s == pytest.approx(5.5, abs=0.05)


def test_result_files_carry_both_sides_view_swaps_and_quality(tmp_path: Path) -> None:
    a = analyze_sequence(_squat(90.0, 100.0, yaw=40.0), get_exercise("squat"), side="left")
    write_outputs(a, tmp_path)
    doc = json.loads((tmp_path / "result.json").read_text())
    assert doc["involved"] == "left"
    assert doc["view"]["expected"] == "side" and doc["view"]["deviation_deg"] == 40.0
    assert a.symmetry is not None  # (foreshortened at 40 deg: no longer exactly 90%)
    assert doc["symmetry"]["index_pct"] == pytest.approx(a.symmetry.index_pct, abs=0.01)
    assert doc["swaps"] == {"repaired_frames": 0, "gated_frames": 0,
                            "by_group": {"upper": [0, 0], "lower": [0, 0]}}
    rep = doc["reps"][0]
    for key in ("left_peak_deg", "right_peak_deg", "left_rom_deg", "right_rom_deg",
                "symmetry_pct", "view_deg", "visibility", "swapped_frames", "quality"):
        assert key in rep
    assert rep["quality"] == "fair" and "wrong_view" in rep["flags"]
    header = (tmp_path / "reps.csv").read_text().splitlines()[0].split(",")
    assert {"left_peak_deg", "right_peak_deg", "symmetry_pct", "quality"} <= set(header)


def test_the_overlay_panel_shows_the_grade_and_the_view_warning() -> None:
    from rehab.overlay import GREY, panel_lines

    turned = analyze_sequence(_squat(yaw=50.0), get_exercise("squat"), side="right")
    lines = panel_lines(turned, 1, 42.0, turned.reps[0])
    texts = [t for t, _ in lines]
    assert texts[2].endswith("poor") and lines[2][1] == GREY
    assert texts[3] == "view 50 deg off side"
    straight = analyze_sequence(_squat(), get_exercise("squat"), side="right")
    texts = [t for t, _ in panel_lines(straight, 1, 42.0, straight.reps[0])]
    assert texts[2].endswith("good") and len(texts) == 3
