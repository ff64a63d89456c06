"""Layer 1: the repetition counting rules, one exact synthetic test per case of the edge
diagram (README "How repetitions are counted"; `rehab.reps.segment`'s module docstring).

Every sequence is built here from `rehab.synthetic` (no shared data). Each case asserts the
exact count, the kinds of the reps not counted (``analysis.partial``) and how the
recording opens (``analysis.segmentation.start_state``):

- opening edge (a-d), closing edge (e-g), symmetry of the rest position (h), a rest level
  that shifts (i), one-sided exercises done alternately (j-o), dropped frames and sparse
  reps (p-s), and the state machine kernel against its plain NumPy reference.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rehab.analysis import analyze_sequence
from rehab.exercises import Exercise, get_exercise
from rehab.model import Analysis, Flag, NoteCode, PoseSequence
from rehab.reps import _kernels as RK
from rehab.settings import DEFAULT_SETTINGS
from rehab.synthetic import rep_pulses as pulses
from rehab.synthetic import rep_trajectory, synthetic_sequence

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench"))
import numpy_reference as ref  # noqa: E402

FPS = 30.0
LOW = DEFAULT_SETTINGS.low_fraction     # 0.35: a rep ends once back (1 - LOW) of its excursion
HIGH = DEFAULT_SETTINGS.high_fraction   # 0.65: an opening this far above its low is active

LEFT_LEG = (23, 25, 27)                 # hip, knee, ankle landmark indices
RIGHT_LEG = (24, 26, 28)


# --- helpers ------------------------------------------------------------------------------

def squat_seq(t: np.ndarray, knee: np.ndarray) -> PoseSequence:
    """A side-view squat whose knee flexion is ``knee`` (both legs), time from 0."""
    return synthetic_sequence(t - t[0], {"knee_flexion": knee, "hip_flexion": 0.8 * knee})


def summary(a: Analysis) -> tuple[int, list[str], str]:
    """(count, kinds of the reps not counted in time order, start state)."""
    return a.rep_count, [str(p.kind) for p in a.partial], a.segmentation.start_state


def codes(a: Analysis) -> list[str]:
    return [n.code for n in a.notes]


def with_counting(ex: Exercise, **changes: Any) -> Exercise:
    """The exercise with some `Counting` fields replaced."""
    return dataclasses.replace(ex, counting=dataclasses.replace(ex.counting, **changes))


def opening_at_bottom(hold_s: float, n_reps: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """A squat that opens at the bottom (knee 100 deg) held ``hold_s``, stands up in 1 s,
    then does ``n_reps`` ordinary reps (rest 0, peak 100) and ends at rest."""
    t, k = rep_trajectory(n_reps, FPS, 0.0, 100.0)
    th = np.arange(int(round(hold_s * FPS)) + int(FPS)) / FPS
    kh = np.where(th < hold_s, 100.0, 50.0 * (1 + np.cos(np.pi * (th - hold_s))))
    return np.concatenate([th, th[-1] + 1 / FPS + t]), np.concatenate([kh, k])


def source_fraction(source: np.ndarray, kept: np.ndarray, t0: float, t1: float) -> float:
    """Frames kept over the source's frames in [t0, t1] (timestamps, independently counted)."""
    eps = 1e-9
    n_src = int(np.sum((source >= t0 - eps) & (source <= t1 + eps)))
    n_kept = int(np.sum((kept >= t0 - eps) & (kept <= t1 + eps)))
    return n_kept / n_src


# Four squat reps (rest 0, peak 100, 2 s each, 1 s pauses, 1 s lead): rep k in [1+3k, 3+3k] s.
LAST_REP_START_S = 10.0


# --- opening edge -------------------------------------------------------------------------

def test_a_opening_at_rest_counts_every_rep() -> None:
    """(a) opens at rest -> all reps count."""
    t, k = rep_trajectory(4, FPS, 0.0, 100.0)
    a = analyze_sequence(squat_seq(t, k), get_exercise("squat"))
    assert summary(a) == (4, [], "rest")
    assert NoteCode.ACTIVE_START not in codes(a)
    assert [r.index for r in a.reps] == [1, 2, 3, 4]


@pytest.mark.parametrize("offset_s", [
    0.45,
    0.55,  # the rep cut by the start is not judged too small: its size is not known
])
def test_b_opening_mid_rise_counts_that_rep(offset_s: float) -> None:
    """(b) opens rising mid-rep, between low and high fraction -> that rep counts."""
    t, k = rep_trajectory(4, FPS, 0.0, 100.0, lead_s=0.0)
    s = int(round(offset_s * FPS))
    assert LOW * 100 < k[s] < HIGH * 100 and k[s + 1] > k[s]   # rising, below the active zone
    a = analyze_sequence(squat_seq(t[s:], k[s:]), get_exercise("squat"))
    assert summary(a) == (4, [], "between")
    assert NoteCode.ACTIVE_START not in codes(a)


@pytest.mark.parametrize("hold_s", [0.0, 0.3, 2.0])
def test_c_opening_in_the_active_position_counts_its_return(hold_s: float) -> None:
    """(c) opens at the bottom of a squat, held 0 / 0.3 / 2 s -> its return is rep 1,
    whatever the hold."""
    t, k = opening_at_bottom(hold_s)
    a = analyze_sequence(squat_seq(t, k), get_exercise("squat"))
    assert summary(a) == (5, [], "active")
    assert NoteCode.ACTIVE_START in codes(a)
    first = a.reps[0]
    assert first.index == 1 and first.start_s < hold_s + 1.0 and first.end_s <= hold_s + 1.2


def test_d_opening_on_the_way_back_is_a_partial_start() -> None:
    """(d) opens on the way back, below high_fraction of the range -> partial_start."""
    t, k = rep_trajectory(4, FPS, 0.0, 100.0, lead_s=0.0)
    s = int(round(1.45 * FPS))
    assert LOW * 100 < k[s] < HIGH * 100 and k[s + 1] < k[s]   # descending, not active
    a = analyze_sequence(squat_seq(t[s:], k[s:]), get_exercise("squat"))
    assert summary(a) == (3, ["partial_start"], "between")
    assert NoteCode.ACTIVE_START not in codes(a)
    assert all(r.start_s > 1.0 for r in a.reps)


# --- closing edge -------------------------------------------------------------------------

@pytest.mark.parametrize("tail_s", [1.0, 0.0])
def test_e_ending_at_rest_counts_every_rep(tail_s: float) -> None:
    """(e) ends at rest (after a pause, or exactly on the last return) -> all reps count."""
    t, k = rep_trajectory(4, FPS, 0.0, 100.0)
    e = int(round((LAST_REP_START_S + 2.0 + tail_s) * FPS)) + 1
    a = analyze_sequence(squat_seq(t[:e], k[:e]), get_exercise("squat"))
    assert summary(a) == (4, [], "rest")


@pytest.mark.parametrize("ending", ["mid_rise", "at_peak", "held_at_bottom_3s"])
def test_f_ending_before_the_return_is_a_partial_end(ending: str) -> None:
    """(f) ends mid-rise, in the active position, or held at the bottom for 3 s (the person
    goes down and stays) -> partial_end, not counted."""
    t, k = rep_trajectory(4, FPS, 0.0, 100.0)
    cut_s = {"mid_rise": 0.55, "at_peak": 1.0, "held_at_bottom_3s": 1.0}[ending]
    e = int(round((LAST_REP_START_S + cut_s) * FPS)) + 1
    t, k = t[:e], k[:e]
    if ending == "held_at_bottom_3s":
        n = int(3 * FPS)
        t = np.concatenate([t, t[-1] + np.arange(1, n + 1) / FPS])
        k = np.concatenate([k, np.full(n, 100.0)])
    a = analyze_sequence(squat_seq(t, k), get_exercise("squat"))
    assert summary(a) == (3, ["partial_end"], "rest")
    assert a.partial[0].start_s >= LAST_REP_START_S


@pytest.mark.parametrize(("back", "counted"), [(1 - LOW + 0.15, True), (1 - LOW + 0.05, True),
                                               (1 - LOW - 0.05, False), (1 - LOW - 0.15, False)])
def test_g_ending_on_the_way_back(back: float, counted: bool) -> None:
    """(g) ends on the way back: back more than (1 - low_fraction) of the excursion ->
    counted; less -> partial_end."""
    t, k = rep_trajectory(4, FPS, 0.0, 100.0)
    # descent of the last rep: k = 50 (1 + cos(pi s)), s in [0, 1] from its peak at 11 s
    s = math.acos(1 - 2 * back) / math.pi
    e = int(round((LAST_REP_START_S + 1.0 + s) * FPS)) + 1
    assert k[e - 1] == pytest.approx(100 * (1 - back), abs=3.0)
    a = analyze_sequence(squat_seq(t[:e], k[:e]), get_exercise("squat"))
    assert summary(a) == ((4, [], "rest") if counted else (3, ["partial_end"], "rest"))


# --- symmetry -----------------------------------------------------------------------------

@pytest.mark.parametrize("lead_s", [0.0, 1.0, 2.0])
def test_h_count_does_not_depend_on_which_end_is_rest(lead_s: float) -> None:
    """(h) elbow held flexed at both ends (elbow_flexion, rest 'low'): the same count with
    rest flipped to 'high'."""
    t, x = rep_trajectory(4, FPS, rest=140.0, peak=10.0, lead_s=lead_s)
    seq = synthetic_sequence(t, {"elbow_flexion": x, "shoulder_flexion": 0.0})
    ex = get_exercise("elbow_flexion")
    assert ex.counting.rest == "low"
    flipped = with_counting(ex, rest="high")
    a, b = analyze_sequence(seq, ex), analyze_sequence(seq, flipped)
    assert a.rep_count == b.rep_count == 4
    assert summary(a) == (4, ["partial_end"], "active")
    assert summary(b) == (4, [], "rest")
    assert NoteCode.ACTIVE_START in codes(a) and NoteCode.ACTIVE_START not in codes(b)


# --- shifted rest -------------------------------------------------------------------------

@pytest.mark.parametrize(("rest0", "rest1"), [(0.0, 15.0), (15.0, 0.0)])
def test_i_rest_level_jump_and_halved_amplitude_lose_no_rep(rest0: float, rest1: float) -> None:
    """(i) halfway the rest level jumps by 15 deg (a camera change) and the amplitude halves
    -> all reps count."""
    t, first = rep_trajectory(8, FPS, rest0, rest0 + 100.0)
    _, second = rep_trajectory(8, FPS, rest1, rest1 + 50.0)
    jump = int(round((1.0 + 4 * 3.0 - 0.5) * FPS))   # in the pause after the 4th rep
    k = np.concatenate([first[:jump], second[jump:]])
    a = analyze_sequence(squat_seq(t, k), get_exercise("squat"))
    assert summary(a) == (8, [], "rest")
    assert [round(r.rom_deg / 50) for r in a.reps[5:]] == [1, 1, 1]   # the halved reps


# --- alternation --------------------------------------------------------------------------

T19 = np.arange(int(19 * FPS) + 1) / FPS
EARLY, LATE = [1.0, 7.0, 13.0], [4.0, 10.0, 16.0]
ONE_SIDED = {"lunge": ("knee_flexion", 0.0, 95.0), "elbow_flexion": ("elbow_flexion", 10.0, 130.0)}


def two_sided(name: str, left: list[float], right: list[float]) -> PoseSequence:
    """Exercise ``name``'s angle doing reps at ``left`` / ``right`` times on each side (the
    other side at rest meanwhile)."""
    key, rest, peak = ONE_SIDED.get(name, ("knee_flexion", 0.0, 100.0))
    return synthetic_sequence(T19, {f"left_{key}": pulses(T19, left, rest, peak),
                                    f"right_{key}": pulses(T19, right, rest, peak)})


@pytest.mark.parametrize("first", ["left", "right"])
@pytest.mark.parametrize("name", ["lunge", "elbow_flexion"])
def test_j_alternating_sides_are_counted_and_merged(name: str, first: str) -> None:
    """(j) one-sided exercise, sides taking turns -> 6 reps, alternating, in time order."""
    left, right = (EARLY, LATE) if first == "left" else (LATE, EARLY)
    a = analyze_sequence(two_sided(name, left, right), get_exercise(name))
    assert summary(a) == (6, [], "rest")
    assert a.alternating
    second = "right" if first == "left" else "left"
    assert [r.side for r in a.reps] == [first, second] * 3
    assert [r.index for r in a.reps] == [1, 2, 3, 4, 5, 6]
    starts = [r.start_s for r in a.reps]
    assert starts == sorted(starts)
    assert [round(s) for s in starts] == [1, 4, 7, 10, 13, 16]
    notes = [n for n in a.notes if n.code == NoteCode.ALTERNATING]
    assert len(notes) == 1 and notes[0].data == {"left": 3, "right": 3}


@pytest.mark.parametrize("side", ["left", "right"])
def test_k_a_side_asked_for_counts_that_side_only(side: str) -> None:
    """(k) the alternating recording of (j) with ``side`` given -> 3 reps, not alternating."""
    a = analyze_sequence(two_sided("lunge", EARLY, LATE), get_exercise("lunge"), side=side)
    assert summary(a) == (3, [], "rest")
    assert not a.alternating and NoteCode.ALTERNATING not in codes(a)
    assert a.side == side and all(r.side == side for r in a.reps)
    assert [round(r.start_s) for r in a.reps] == ([1, 7, 13] if side == "left" else [4, 10, 16])


@pytest.mark.parametrize("name", ["lunge", "elbow_flexion"])
def test_l_both_sides_together_count_once(name: str) -> None:
    """(l) both sides moving together -> one side's count, not alternating."""
    a = analyze_sequence(two_sided(name, EARLY, EARLY), get_exercise(name))
    assert summary(a) == (3, [], "rest")
    assert not a.alternating and NoteCode.ALTERNATING not in codes(a)
    assert [r.index for r in a.reps] == [1, 2, 3]


@pytest.mark.parametrize("name", ["lunge", "elbow_flexion"])
def test_m_one_extra_rep_alternates_only_when_expected(name: str) -> None:
    """(m) one extra rep on the other side: not alternating (detection needs two), but
    alternating when the exercise says ``alternation = "expected"``."""
    seq = two_sided(name, EARLY, [4.0])
    ex = get_exercise(name)
    assert ex.counting.alternation == "detect"
    a = analyze_sequence(seq, ex)
    assert summary(a) == (3, [], "rest")
    assert not a.alternating and NoteCode.ALTERNATING not in codes(a)
    b = analyze_sequence(seq, with_counting(ex, alternation="expected"))
    assert summary(b) == (4, [], "rest")
    assert b.alternating
    assert [r.side for r in b.reps] == ["left", "right", "left", "left"]
    assert [r.index for r in b.reps] == [1, 2, 3, 4]
    assert NoteCode.ALTERNATING in codes(b)


@pytest.mark.parametrize("alternation", ["detect", "expected"])
def test_n_a_bilateral_exercise_never_alternates(alternation: str) -> None:
    """(n) squat (bilateral) with the legs moving at different times -> never alternating."""
    ex = get_exercise("squat")
    assert ex.bilateral
    a = analyze_sequence(two_sided("squat", EARLY, LATE),
                         with_counting(ex, alternation=alternation))
    assert summary(a) == (3, [], "rest")
    assert not a.alternating and NoteCode.ALTERNATING not in codes(a)
    assert all(r.side == a.side for r in a.reps)


@pytest.mark.parametrize("name", ["lunge", "elbow_flexion"])
def test_o_alternation_none_is_never_alternating(name: str) -> None:
    """(o) the alternating recording of (j) for an exercise with ``alternation = "none"``
    -> the chosen side's reps only."""
    a = analyze_sequence(two_sided(name, EARLY, LATE),
                         with_counting(get_exercise(name), alternation="none"))
    assert summary(a) == (3, [], "rest")
    assert not a.alternating and NoteCode.ALTERNATING not in codes(a)
    assert all(r.side == a.side for r in a.reps)


# --- dropped frames, sparse reps ----------------------------------------------------------

@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_p_three_quarters_of_frames_dropped(seed: int) -> None:
    """(p) 75% of the frames removed at random -> each rep counted as before and flagged
    tracking_lost, its tracked_fraction about 0.25 (of the frames it spanned at the source's
    frame rate)."""
    t, k = rep_trajectory(5, FPS, 0.0, 100.0)
    base = squat_seq(t, k)
    ex = get_exercise("squat")
    before = analyze_sequence(base, ex)
    assert summary(before) == (5, [], "rest")
    idx = np.sort(np.random.default_rng(seed).choice(t.size, size=t.size // 4, replace=False))
    sparse = base.frames(idx)
    assert sparse.fps == base.fps
    a = analyze_sequence(sparse, ex)
    assert summary(a) == (5, [], "rest")
    fractions = []
    for r, r0 in zip(a.reps, before.reps):
        assert r.peak_s == pytest.approx(r0.peak_s, abs=0.35)
        assert Flag.TRACKING_LOST in r.flags
        assert 0.1 < r.tracked_fraction < 0.45
        assert r.tracked_fraction == pytest.approx(
            source_fraction(t, sparse.timestamps, r.start_s, r.end_s), abs=0.1)
        fractions.append(r.tracked_fraction)
    assert float(np.mean(fractions)) == pytest.approx(0.25, abs=0.06)


@pytest.mark.parametrize("shape", ["held_at_bottom", "slow_raised_cosine"])
def test_q_a_long_hole_at_a_peak_flags_that_rep_sparse(shape: str) -> None:
    """(q) 2.5 s of frames removed inside one rep's peak -> that rep flagged sparse, with a
    sparse note; the others not."""
    if shape == "held_at_bottom":
        # reps of 1 s down, a hold at 100 deg (3 s in the 2nd rep), 1 s up, 1 s at rest
        d = np.arange(int(FPS)) / FPS
        down = 50 * (1 - np.cos(np.pi * d))
        parts = [np.zeros(int(FPS))]
        for hold in (0.0, 3.0, 0.0):
            parts += [down, np.full(int(round(hold * FPS)), 100.0), down[::-1],
                      np.zeros(int(FPS))]
        k = np.concatenate(parts)
        t = np.arange(k.size) / FPS
        peak_s = 1.0 + 2.0 + 1.0 + 1.0 + 1.5     # middle of the 3 s hold
    else:
        # 8 s reps: the hole leaves 3/4 of the 2nd rep's excursion seen (not too_small)
        t, k = rep_trajectory(3, FPS, 0.0, 100.0, rep_s=8.0)
        peak_s = 1.0 + 8.0 + 1.0 + 4.0
    base = squat_seq(t, k)
    keep = np.flatnonzero(np.abs(t - peak_s) >= 1.25)
    a = analyze_sequence(base.frames(keep), get_exercise("squat"))
    assert summary(a) == (3, [], "rest")
    assert [Flag.SPARSE in r.flags for r in a.reps] == [False, True, False]
    notes = [n for n in a.notes if n.code == NoteCode.SPARSE]
    assert [n.data["rep"] for n in notes if "rep" in n.data] == [2]
    stretch = [n.data for n in notes if "rep" not in n.data]  # and the hole itself
    assert len(stretch) == 1
    assert stretch[0]["start_s"] < peak_s - 1.2 and stretch[0]["end_s"] > peak_s + 1.2


@pytest.mark.parametrize(("noise_deg", "leave_s"), [
    (0.0, 0.5),
    (0.0, 0.2),  # tracking is judged from the rep's own onset, not the pause before it
    (1.0, 1.0),
])
def test_r_a_shortened_pause_changes_nothing(noise_deg: float, leave_s: float) -> None:
    """(r) frames removed at rest between reps (each 4 s pause shortened to 2 x leave_s)
    -> the same count, rep times and tracked fractions, no rep sparse."""
    t, k = rep_trajectory(4, FPS, 0.0, 100.0, pause_s=4.0)   # reps at 1, 7, 13, 19 s
    k = k + np.random.default_rng(3).normal(0.0, noise_deg, k.size)
    base = squat_seq(t, k)
    drop = np.zeros(t.size, dtype=bool)
    for p0 in (3.0, 9.0, 15.0):
        drop |= (t > p0 + leave_s) & (t < p0 + 4.0 - leave_s)
    ex = get_exercise("squat")
    before = analyze_sequence(base, ex)
    a = analyze_sequence(base.frames(np.flatnonzero(~drop)), ex)
    assert summary(before) == summary(a) == (4, [], "rest")
    assert [r.start_s for r in a.reps] == pytest.approx([r.start_s for r in before.reps])
    assert [r.end_s for r in a.reps] == pytest.approx([r.end_s for r in before.reps])
    assert [r.tracked_fraction for r in a.reps] == pytest.approx(
        [r.tracked_fraction for r in before.reps])
    assert not any(Flag.SPARSE in r.flags or Flag.TRACKING_LOST in r.flags for r in a.reps)
    # no rep is said to be sparse; the removed stretch itself is reported as not measured
    assert not [n for n in a.notes if n.code == NoteCode.SPARSE and "rep" in n.data]


@pytest.mark.parametrize(("hidden", "amp_left", "amp_right"), [
    ("left", 1.0, 1.0), ("right", 1.0, 1.0),     # the visible leg is chosen
    ("left", 1.1, 0.6), ("right", 0.6, 1.1),     # the hidden leg moves more: still chosen
])
def test_s_a_hidden_leg_of_a_bilateral_exercise_is_filled_from_the_other(
        hidden: str, amp_left: float, amp_right: float) -> None:
    """(s) squat whose leg is hidden (visibility 0 on hip/knee/ankle) for a third of the
    recording, over two whole reps, the other leg visible -> all reps count."""
    t, k = rep_trajectory(6, FPS, 0.0, 100.0)          # reps at 1, 4, ..., 16 s; 19 s long
    seq = synthetic_sequence(t, {"left_knee_flexion": amp_left * k,
                                 "right_knee_flexion": amp_right * k, "hip_flexion": 0.8 * k})
    vis = seq.visibility.copy()
    hid = (t >= 6.0) & (t < 6.0 + t[-1] / 3)            # reps 3 and 4 (7-9 s, 10-12 s)
    vis[np.ix_(hid, LEFT_LEG if hidden == "left" else RIGHT_LEG)] = 0.0
    a = analyze_sequence(seq.replace(visibility=vis), get_exercise("squat"))
    assert summary(a) == (6, [], "rest")
    assert [round(r.start_s) for r in a.reps] == [1, 4, 7, 10, 13, 16]
    filled = any("filled_fraction" in n.data for n in a.notes)
    if max(amp_left, amp_right) > 1.0:
        assert a.side == hidden and filled
    else:
        assert a.side != hidden and not filled


# --- the kernel against its NumPy reference -----------------------------------------------

@pytest.mark.parametrize("resume", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4, 5])
def test_swing_reps_kernel_matches_numpy_reference(seed: int, resume: bool) -> None:
    """The numba state machine equals bench/numpy_reference.py's on mean-reverting random
    walks with NaN runs and jittered timestamps (opening high for seeds 0 and 3; constant
    rise for even seeds, per-sample rise and a leading NaN run for odd ones)."""
    rng = np.random.default_rng(seed)
    n = 3000
    t = np.cumsum(rng.uniform(0.5, 1.5, n)) / FPS
    steps = rng.normal(0.0, 4.0, n)
    x = np.empty(n)
    level = 130.0 if seed % 3 == 0 else 60.0
    for i in range(n):
        level = 60.0 + 0.98 * (level - 60.0) + steps[i]
        x[i] = level
    for start in rng.integers(0, n - 50, 25):
        x[start:start + int(rng.integers(1, 40))] = np.nan
    if seed % 2:
        x[:5] = np.nan
        rise = rng.uniform(15.0, 35.0, n)
    else:
        rise = np.full(n, 25.0)
    args = (0.65, 40.0, 20.0, 0.5, 4.0, resume)   # back, opening, min_amp, min/max dur
    got = RK.swing_reps(x, t, rise, *args)
    want = ref.swing_reps(x, t, rise, *args)
    assert got.dtype == np.int64 and got.shape[1] == 4
    assert got.shape[0] >= 10 and len(set(got[:, 3].tolist())) >= 3   # not a trivial stream
    if resume:   # continuing a signal: there is no opening
        assert not np.isin(got[:, 3], [RK.KIND_OPENING, RK.KIND_PARTIAL_START]).any()
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("pattern", ["alternating_from_low", "alternating_from_high", "all_nan",
                                     "single_sample"])
def test_swing_reps_kernel_matches_reference_on_degenerate_signals(pattern: str) -> None:
    """Kernel = reference on the densest possible event stream and on empty ones."""
    n = 41
    t = np.arange(n) / FPS
    if pattern == "alternating_from_low":
        x = np.where(np.arange(n) % 2 == 0, 0.0, 100.0)
    elif pattern == "alternating_from_high":
        x = np.where(np.arange(n) % 2 == 0, 100.0, 0.0)
    elif pattern == "all_nan":
        x = np.full(n, np.nan)
    else:
        x, t = np.array([5.0]), np.array([0.0])
    rise = np.full(x.size, 30.0)
    for resume in (False, True):
        args = (0.65, 65.0, 20.0, 0.0, 20.0, resume)
        got = RK.swing_reps(x, t, rise, *args)
        np.testing.assert_array_equal(got, ref.swing_reps(x, t, rise, *args))
        if pattern.startswith("alternating"):
            assert got.shape[0] >= n // 2 - 1
        else:
            assert got.shape == (0, 4)


# --- too small, glimpses -------------------------------------------------------------------

def test_a_bump_between_reps_under_half_the_median_rep_is_too_small() -> None:
    """Four 100 deg squats with a 40 deg bump (a patient shifting) in the pause after the
    second: the bump rises more than 30% of the range but is under half the median rep, so
    it is reported too_small, not counted; at 60 deg it would be a (shallow) rep."""
    for bump, counted in ((40.0, 4), (60.0, 5)):
        t, k = rep_trajectory(4, FPS, 0.0, 100.0, pause_s=3.0)
        m = (t >= 9.0) & (t <= 10.0)  # in the pause between the 2nd (6-8 s) and 3rd rep
        k[m] = bump * 0.5 * (1 - np.cos(2 * np.pi * (t[m] - 9.0)))
        a = analyze_sequence(squat_seq(t, k), get_exercise("squat"))
        assert a.rep_count == counted, bump
        assert [p.kind for p in a.partial] == (["too_small"] if counted == 4 else [])


def test_glimpses_of_a_person_between_frames_without_one_are_not_measured() -> None:
    """The detector finds a (wrong) pose for a moment twice before the patient is tracked:
    0.4 s and 0.6 s runs between empty frames, held at 100 deg as if mid-squat. They are
    not measured: the count is the recording's own (3), with a note; the same runs of wrong
    poses measured would open the recording in the active position."""
    t, k = rep_trajectory(3, FPS, 0.0, 100.0, lead_s=3.0)
    k[: int(2.5 * FPS)] = 100.0
    seq = squat_seq(t, k)
    present = np.zeros(seq.n_frames, dtype=bool)
    present[int(0.3 * FPS): int(0.7 * FPS)] = True
    present[int(1.2 * FPS): int(1.8 * FPS)] = True
    present[int(2.6 * FPS):] = True
    lm, world, vis = seq.landmarks.copy(), seq.world.copy(), seq.visibility.copy()
    lm[~present], world[~present], vis[~present] = np.nan, np.nan, 0.0
    flicker = seq.replace(landmarks=lm, world=world, visibility=vis)
    a = analyze_sequence(flicker, get_exercise("squat"))
    assert summary(a) == (3, [], "rest")
    [note] = [n for n in a.notes if "glimpse_frames" in n.data]
    assert note.data["glimpse_frames"] == int(0.4 * FPS) + int(0.6 * FPS)
    measured = analyze_sequence(flicker, get_exercise("squat"),
                                settings=DEFAULT_SETTINGS.replace(min_track_s=0.0))
    assert measured.segmentation.start_state == "active" and measured.rep_count == 4
