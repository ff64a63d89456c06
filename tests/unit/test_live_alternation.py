"""Layer 1: the live counter on one-sided exercises done alternately (synthetic, exact).

The causal counter keeps following the other limb after choosing its side and merges the
two as the offline analysis does (`rehab.analysis.merge_sides`); every sequence is built
here from `rehab.synthetic`.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from rehab.analysis import analyze_sequence
from rehab.counter import LiveRepCounter
from rehab.exercises import get_exercise
from rehab.model import PoseSequence, Rep
from rehab.synthetic import rep_pulses as pulses
from rehab.synthetic import synthetic_sequence

FPS = 30.0
T19 = np.arange(int(19 * FPS) + 1) / FPS
EARLY, LATE = [1.0, 7.0, 13.0], [4.0, 10.0, 16.0]
ANGLES = {"lunge": ("knee_flexion", 0.0, 95.0), "elbow_flexion": ("elbow_flexion", 10.0, 130.0),
          "squat": ("knee_flexion", 0.0, 100.0),
          "elbow_extension": ("elbow_flexion", 120.0, 20.0)}
"""Exercise -> (angle, rest, peak) of its reps."""


def two_sided(name: str, left: list[float], right: list[float]) -> PoseSequence:
    """Exercise ``name``'s angle doing reps at ``left`` / ``right`` times on each side (the
    other side at rest meanwhile)."""
    key, rest, peak = ANGLES[name]
    return synthetic_sequence(T19, {f"left_{key}": pulses(T19, left, rest, peak),
                                    f"right_{key}": pulses(T19, right, rest, peak)})


def feed(counter: LiveRepCounter, seq: PoseSequence) -> list[tuple[float, Rep]]:
    """Every frame through ``counter``; (time returned, rep) of each rep it returned."""
    done = []
    for i in range(seq.n_frames):
        t = float(seq.timestamps[i])
        done += [(t, r) for r in counter.update(t, seq.landmarks[i], seq.world[i],
                                                seq.visibility[i], seq.width, seq.height)]
    return done + [(float(seq.timestamps[-1]), r) for r in counter.finish()]


def live(name: str, seq: PoseSequence, side: str = "auto") -> tuple[LiveRepCounter, list[Rep]]:
    counter = LiveRepCounter(get_exercise(name), side=side)
    return counter, [r for _, r in feed(counter, seq)]


@pytest.mark.parametrize("first", ["left", "right"])
@pytest.mark.parametrize("name", ["lunge", "elbow_flexion"])
def test_alternating_sides_are_both_counted_live_as_offline(name: str, first: str) -> None:
    """(1) left reps at 1, 7, 13 s and right ones at 4, 10, 16 s (or the other way round):
    6 reps, sides taking turns, alternating, numbered in order; the same as offline."""
    left, right = (EARLY, LATE) if first == "left" else (LATE, EARLY)
    seq = two_sided(name, left, right)
    counter, reps = live(name, seq)
    second = "right" if first == "left" else "left"
    assert counter.count == 6 and len(reps) == 6
    assert [r.side for r in reps] == [first, second] * 3
    assert [r.index for r in reps] == [1, 2, 3, 4, 5, 6] == [r.index for r in counter.reps]
    assert counter.alternating and counter.side == first
    assert [round(r.peak_s) for r in reps] == [2, 5, 8, 11, 14, 17]
    offline = analyze_sequence(seq, get_exercise(name))
    assert offline.rep_count == counter.count and offline.alternating
    assert [r.side for r in offline.reps] == [r.side for r in reps]


def test_each_rep_is_returned_when_it_completes() -> None:
    """Each limb's rep is returned as it ends, before the other limb's next one starts, and
    scored on its own limb (its peak is that limb's)."""
    seq = two_sided("elbow_flexion", EARLY, LATE)
    for t, r in feed(LiveRepCounter(get_exercise("elbow_flexion")), seq):
        assert t == r.end_s and r.peak_s + 0.4 < r.end_s < r.peak_s + 1.0
        assert r.peak_deg == pytest.approx(130.0, abs=2.0)


@pytest.mark.parametrize("lag_s", [0.0, 0.2])
@pytest.mark.parametrize("name", ["lunge", "elbow_flexion"])
def test_both_limbs_together_count_once(name: str, lag_s: float) -> None:
    """(2) both limbs doing each rep together (the right one ``lag_s`` later): one limb's
    count, not alternating."""
    seq = two_sided(name, EARLY, [t + lag_s for t in EARLY])
    counter, reps = live(name, seq)
    assert counter.count == 3 and [r.index for r in reps] == [1, 2, 3]
    assert {r.side for r in reps} == {counter.side} and not counter.alternating


@pytest.mark.parametrize("lead_s", [0.1, 0.5])
@pytest.mark.parametrize("name", ["lunge", "elbow_flexion"])
def test_the_other_limb_ahead_waits_for_the_chosen_one(name: str, lead_s: float) -> None:
    """Both limbs together, the right one ``lead_s`` ahead and moving less: its reps end
    while the left (chosen) one's are in progress and wait for them, which then count;
    3 reps, all left, each returned as it ends."""
    key, rest, peak = ANGLES[name]
    less = rest + 0.85 * (peak - rest)
    seq = synthetic_sequence(T19, {f"left_{key}": pulses(T19, EARLY, rest, peak),
                                   f"right_{key}": pulses(T19, [t - lead_s for t in EARLY],
                                                          rest, less)})
    counter = LiveRepCounter(get_exercise(name))
    returned = feed(counter, seq)
    assert counter.count == 3 and counter.side == "left" and not counter.alternating
    assert [r.side for _, r in returned] == ["left"] * 3
    assert all(when == r.end_s for when, r in returned)


@pytest.mark.parametrize("side", ["left", "right"])
def test_a_side_asked_for_counts_that_side_only(side: str) -> None:
    """(3) the alternating recording of (1) with the side given: that side's 3 reps."""
    counter, reps = live("lunge", two_sided("lunge", EARLY, LATE), side=side)
    assert counter.count == 3 and counter.side == side and not counter.alternating
    assert all(r.side == side for r in reps)
    assert [round(r.peak_s) for r in reps] == ([2, 8, 14] if side == "left" else [5, 11, 17])


def test_a_bilateral_exercise_is_never_counted_on_both_sides() -> None:
    """(4) a squat (bilateral) with the legs moving at different times: never more than
    the chosen side's count, all on that side."""
    seq = two_sided("squat", EARLY, LATE)
    counter, reps = live("squat", seq)
    _, chosen = live("squat", seq, side=counter.side)
    assert counter.count == len(chosen) == 3 and not counter.alternating
    assert all(r.side == counter.side for r in reps)


def test_alternation_none_counts_the_chosen_side_only() -> None:
    """An exercise whose file says ``alternation = "none"``: the chosen side only."""
    ex = get_exercise("lunge")
    ex = dataclasses.replace(ex, counting=dataclasses.replace(ex.counting, alternation="none"))
    counter = LiveRepCounter(ex)
    feed(counter, two_sided("lunge", EARLY, LATE))
    assert counter.count == 3 and not counter.alternating


def test_one_rep_of_the_other_side_counts_but_alternates_only_when_expected() -> None:
    """One rep of the other side alone in time: counted as it completes (live cannot know
    whether a second will follow; offline drops it unless the exercise expects alternation),
    alternating only when the exercise says ``alternation = "expected"``."""
    seq = two_sided("elbow_flexion", EARLY, [4.0])
    ex = get_exercise("elbow_flexion")
    counter = LiveRepCounter(ex)
    feed(counter, seq)
    assert counter.count == 4 and not counter.alternating
    expected = dataclasses.replace(ex, counting=dataclasses.replace(ex.counting,
                                                                   alternation="expected"))
    counter = LiveRepCounter(expected)
    reps = [r for _, r in feed(counter, seq)]
    assert counter.alternating and [r.side for r in reps] == ["left", "right", "left", "left"]


def test_a_small_movement_of_the_other_side_is_not_a_rep() -> None:
    """A rep of the other side under ``min_rep_fraction`` of the chosen side's median
    (a 40-degree curl beside 120-degree ones) is not counted."""
    key, rest, _ = ANGLES["elbow_flexion"]
    seq = synthetic_sequence(T19, {f"left_{key}": pulses(T19, EARLY, rest, 130.0),
                                   f"right_{key}": pulses(T19, LATE, rest, 50.0)})
    counter, reps = live("elbow_flexion", seq)
    assert counter.count == 3 and {r.side for r in reps} == {"left"}


@pytest.mark.parametrize("name", ["lunge", "elbow_flexion"])
def test_a_one_sided_clip_spliced_with_its_mirror_counts_twice(name: str) -> None:
    """(5) 4 reps of the left limb, a pause, then the mirror image (the right limb does the
    same 4): twice the count, alternating, each half credited to its limb."""
    t = np.arange(int(14 * FPS) + 1) / FPS
    key, rest, peak = ANGLES[name]
    one = pulses(t, [1.0, 4.0, 7.0, 10.0], rest, peak)
    still = np.full(t.shape, rest)
    half = synthetic_sequence(t, {f"left_{key}": one, f"right_{key}": still})
    mirrored = synthetic_sequence(t, {f"left_{key}": still, f"right_{key}": one})
    spliced = half.replace(
        landmarks=np.concatenate([half.landmarks, mirrored.landmarks]),
        world=np.concatenate([half.world, mirrored.world]),
        visibility=np.concatenate([half.visibility, mirrored.visibility]),
        timestamps=np.concatenate([t, t + t[-1] + 1.0 / FPS]))
    alone, _ = live(name, half)
    counter, reps = live(name, spliced)
    assert alone.count == 4 and counter.count == 8 and counter.alternating
    assert [r.side for r in reps] == ["left"] * 4 + ["right"] * 4
    assert [r.index for r in reps] == list(range(1, 9))
    offline = analyze_sequence(spliced, get_exercise(name))
    assert [r.side for r in offline.reps] == [r.side for r in reps]


def ramp(t: np.ndarray, t0: float, a: float, b: float, s: float = 0.5) -> np.ndarray:
    """From ``a`` to ``b`` in ``s`` seconds from ``t0`` (raised cosine)."""
    u = np.clip((t - t0) / s, 0.0, 1.0)
    return a + (b - a) * 0.5 * (1 - np.cos(np.pi * u))


def arm_switch(hang_s: float) -> PoseSequence:
    """Triceps extensions (rest: elbow flexed): the left arm does 3 reps while the right
    hangs straight, then the right arm does 3 (from 12 s) while the left, from ``hang_s``,
    hangs straight: the idle arm sits in the active position."""
    t = np.arange(int(24 * FPS) + 1) / FPS
    key, rest, peak = ANGLES["elbow_extension"]
    left = np.where(t < 11.0, pulses(t, [1.0, 4.0, 7.0], rest, peak), ramp(t, hang_s, rest, peak))
    right = np.where(t < 5.0, ramp(t, 0.0, rest, peak), ramp(t, 10.0, peak, rest))
    right = np.where(t < 11.5, right, pulses(t, [12.0, 15.0, 18.0], rest, peak))
    return synthetic_sequence(t, {f"left_{key}": left, f"right_{key}": right})


def test_an_idle_limb_held_in_the_active_position_does_not_hide_the_other() -> None:
    """The left arm hangs before the right one starts: the right arm's reps count as they
    complete. Offline, the right arm's first hang (spanning the left arm's three reps) is
    that arm held still, not a rep: the same six reps."""
    counter = LiveRepCounter(get_exercise("elbow_extension"))
    returned = feed(counter, arm_switch(11.0))
    assert counter.count == 6 and counter.side == "left" and counter.alternating
    assert [r.side for _, r in returned] == ["left"] * 3 + ["right"] * 3
    assert all(when == r.end_s for when, r in returned)
    offline = analyze_sequence(arm_switch(11.0), get_exercise("elbow_extension"))
    assert offline.alternating and [r.side for r in offline.reps] == ["left"] * 3 + ["right"] * 3
    assert [p.kind for p in offline.partial] == ["held"]


def test_a_rep_waiting_for_a_limb_that_does_not_come_back_counts_late() -> None:
    """The left arm drops to hang during the right arm's first rep (as if moving with it):
    that rep waits for the left arm's return, at most its own length (under 2 s), then
    counts; the next ones count as they complete."""
    counter = LiveRepCounter(get_exercise("elbow_extension"))
    returned = feed(counter, arm_switch(12.4))
    assert counter.count == 6 and [r.side for _, r in returned] == ["left"] * 3 + ["right"] * 3
    late = [when - r.end_s for when, r in returned]
    assert late[:3] == [0.0] * 3 and 0.5 < late[3] < 2.0 and late[4:] == [0.0] * 2


def test_both_sides_asked_for_expects_alternation_live_as_offline() -> None:
    """``--side both``: one rep of the other limb is enough to count both limbs (as
    ``alternation = "expected"``), live as offline."""
    seq = two_sided("elbow_flexion", [1.0, 7.0, 13.0], [10.0])
    counter, reps = live("elbow_flexion", seq, side="both")
    offline = analyze_sequence(seq, get_exercise("elbow_flexion"), side="both")
    assert offline.alternating and offline.rep_count == 4
    assert counter.alternating and len(reps) == 4
    assert sorted(r.side for r in reps) == sorted(r.side for r in offline.reps)
    auto_counter, auto_reps = live("elbow_flexion", seq, side="auto")
    assert not auto_counter.alternating  # one rep of the other limb is not enough for auto
