"""Unit: left/right label swaps injected into synthetic sequences are repaired exactly, and
nothing is touched where there is no swap (`rehab.kinematics.swaps`)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from rehab.kinematics.swaps import (
    MAX_LINK_S,
    MIN_CONFIDENCE,
    MIN_SEPARATION,
    SWAP_FRAME_COST,
    SWAP_GROUPS,
    repair_swaps,
    swap_pass,
    torso_scale,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import numpy_reference as ref  # noqa: E402
from rehab.model import PoseSequence
from rehab.sequence import load_npz, save_npz
from rehab.synthetic import rep_trajectory, synthetic_sequence


def _walk(view: str = "front", fps: float = 30.0) -> PoseSequence:
    """Both sides in different poses (left knee and right elbow move, out of phase), so that
    left and right landmarks are apart."""
    t, k = rep_trajectory(3, fps, 0.0, 90.0)
    return synthetic_sequence(t, {"left_knee_flexion": k, "right_knee_flexion": 10.0,
                                  "left_hip_flexion": 0.5 * k, "right_elbow_flexion": k,
                                  "left_shoulder_flexion": 20.0, "right_shoulder_flexion": 60.0},
                              view=view)  # type: ignore[arg-type]


def _swapped(seq: PoseSequence, frames: np.ndarray, groups: tuple[str, ...]) -> PoseSequence:
    lm, w, v = seq.landmarks.copy(), seq.world.copy(), seq.visibility.copy()
    for g in groups:
        for li, ri in SWAP_GROUPS[g]:
            for arr in (lm, w, v):
                arr[frames, li], arr[frames, ri] = arr[frames, ri].copy(), arr[frames, li].copy()
    return seq.replace(landmarks=lm, world=w, visibility=v)


@pytest.mark.parametrize("view", ["front", "side"])
@pytest.mark.parametrize("groups", [("upper",), ("lower",), ("upper", "lower")])
def test_an_injected_swap_is_repaired_exactly(view: str, groups: tuple[str, ...]) -> None:
    seq = _walk(view)
    frames = np.arange(40, 75)
    bad = _swapped(seq, frames, groups)
    fixed, report = repair_swaps(bad)
    np.testing.assert_array_equal(fixed.landmarks, seq.landmarks)
    np.testing.assert_array_equal(fixed.world, seq.world)
    np.testing.assert_array_equal(fixed.visibility, seq.visibility)
    expected = np.zeros(seq.n_frames, bool)
    expected[frames] = True
    assert fixed.swap_repaired is not None and fixed.swap_gated is not None
    np.testing.assert_array_equal(fixed.swap_repaired, expected)
    assert not fixed.swap_gated.any()
    for g in SWAP_GROUPS:
        assert report.by_group[g] == ((frames.size, 0) if g in groups else (0, 0))


def test_single_frame_and_several_swaps() -> None:
    seq = _walk()
    frames = np.r_[12, 30:34, 80:120]
    fixed, report = repair_swaps(_swapped(seq, frames, ("upper", "lower")))
    np.testing.assert_array_equal(fixed.landmarks, seq.landmarks)
    assert report.n_repaired == frames.size


def test_a_swap_holding_most_of_the_recording_is_the_one_repaired_back() -> None:
    """Continuity cannot tell a recording from its mirror: the labels the model gave most
    frames win, so a swap over the minority of frames is the one exchanged."""
    seq = _walk()
    n = seq.n_frames
    frames = np.arange(0, n // 3)  # a swap at the very start
    fixed, report = repair_swaps(_swapped(seq, frames, ("upper", "lower")))
    np.testing.assert_array_equal(fixed.landmarks, seq.landmarks)
    assert report.n_repaired == frames.size


def test_no_swap_no_change() -> None:
    for view in ("front", "side"):
        seq = _walk(view)
        fixed, report = repair_swaps(seq)
        np.testing.assert_array_equal(fixed.landmarks, seq.landmarks)
        assert report.n_repaired == 0 and report.n_gated == 0


def test_repair_is_idempotent_and_masks_accumulate() -> None:
    seq = _walk()
    bad = _swapped(seq, np.arange(50, 60), ("upper",))
    once, _ = repair_swaps(bad)
    twice, report = repair_swaps(once)
    assert report.n_repaired == 0
    np.testing.assert_array_equal(twice.landmarks, once.landmarks)
    assert twice.swap_repaired is not None and twice.swap_repaired.sum() == 10


def test_a_frame_that_cannot_be_resolved_is_gated_not_guessed() -> None:
    """A frame where the model mixed the labels of one group (shoulders and elbows swapped,
    hands not) fits neither labelling: the joints that contradict their group are gated
    (missing, visibility 0), and whatever is not gated is right: never a wrong label."""
    seq = _walk()
    lm, w = seq.landmarks.copy(), seq.world.copy()
    f = 60
    for arr in (lm, w):
        (li, ri) = SWAP_GROUPS["upper"][0]  # shoulders only
        arr[f, li], arr[f, ri] = arr[f, ri].copy(), arr[f, li].copy()
        (li, ri) = SWAP_GROUPS["upper"][1]  # and elbows
        arr[f, li], arr[f, ri] = arr[f, ri].copy(), arr[f, li].copy()
    fixed, report = repair_swaps(seq.replace(landmarks=lm, world=w))
    assert fixed.swap_gated is not None and fixed.swap_gated[f]
    assert report.by_group["upper"][1] >= 1
    mixed = [i for pair in SWAP_GROUPS["upper"][:2] for i in pair]
    assert np.isnan(fixed.landmarks[f, mixed]).all()
    assert (fixed.visibility[f, mixed] == 0).all()
    upper = [i for pair in SWAP_GROUPS["upper"] for i in pair]
    kept = [i for i in upper if np.isfinite(fixed.landmarks[f, i]).all()]
    np.testing.assert_array_equal(fixed.landmarks[f, kept], seq.landmarks[f, kept])
    assert not fixed.swap_gated[[f - 1, f + 1]].any()
    # the legs of that frame are untouched
    leg_points = [i for pair in SWAP_GROUPS["lower"] for i in pair]
    np.testing.assert_array_equal(fixed.landmarks[f, leg_points], seq.landmarks[f, leg_points])


def test_frames_without_a_person_and_long_gaps() -> None:
    """Frames without a person are skipped; a swap that starts after a gap longer than
    `MAX_LINK_S` cannot be told from continuity and is left as the model gave it."""
    seq = _walk()
    lm, w, v = seq.landmarks.copy(), seq.world.copy(), seq.visibility.copy()
    lm[20:23], w[20:23], v[20:23] = np.nan, np.nan, 0.0  # 0.1 s without a person
    gappy = seq.replace(landmarks=lm, world=w, visibility=v)
    frames = np.arange(23, 60)  # the swap begins right after the short gap
    fixed, report = repair_swaps(_swapped(gappy, frames, ("upper",)))
    assert report.by_group["upper"] == (frames.size, 0)
    np.testing.assert_array_equal(fixed.landmarks[23:], gappy.landmarks[23:])


def test_the_masks_are_kept_in_the_landmarks_file(tmp_path: Path) -> None:
    seq = _walk()
    fixed, _ = repair_swaps(_swapped(seq, np.arange(30, 40), ("lower",)))
    path = save_npz(fixed, tmp_path / "landmarks.npz")
    back = load_npz(path)
    assert back.swap_repaired is not None and back.swap_gated is not None
    np.testing.assert_array_equal(back.swap_repaired, fixed.swap_repaired)
    np.testing.assert_array_equal(back.swap_gated, fixed.swap_gated)
    assert load_npz(save_npz(seq, tmp_path / "plain.npz")).swap_repaired is None
    sub = fixed.slice(25, 45)
    assert sub.swap_repaired is not None and sub.swap_repaired.sum() == 10


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_kernel_agrees_with_a_numpy_implementation(seed: int) -> None:
    """Noisy landmarks, dropouts, a gap and injected swaps: the numba pass and the plain
    NumPy one (bench/numpy_reference.py) label every frame alike, with the same confidence (to float32 rounding)."""
    rng = np.random.default_rng(seed)
    seq = _walk()
    frames = np.sort(rng.choice(seq.n_frames, size=3, replace=False))
    bad = _swapped(seq, np.arange(frames[0], frames[0] + 20), ("upper",))
    lm, w, v = bad.landmarks.copy(), bad.world.copy(), bad.visibility.copy()
    lm[:, :, :2] += rng.normal(0, 0.01, lm[:, :, :2].shape).astype(np.float32)
    w += rng.normal(0, 0.02, w.shape).astype(np.float32)
    lm[frames[1]:frames[1] + 12], w[frames[1]:frames[1] + 12] = np.nan, np.nan
    lm[frames[2], 13] = np.nan  # one joint missing in one frame
    seq = bad.replace(landmarks=lm, world=w, visibility=v)
    scale = torso_scale(seq)
    for pairs in SWAP_GROUPS.values():
        left = np.array([p[0] for p in pairs])
        right = np.array([p[1] for p in pairs])
        state, conf, *_ = swap_pass(seq.landmarks, seq.world, scale, left, right,
                                    seq.timestamps, seq.detected, MAX_LINK_S, SWAP_FRAME_COST,
                                    MIN_CONFIDENCE, MIN_SEPARATION)
        want_state, want_conf = ref.swap_states(seq.landmarks, seq.world, scale, left, right,
                                                seq.timestamps, seq.detected, MAX_LINK_S,
                                                SWAP_FRAME_COST)
        np.testing.assert_array_equal(state, want_state)
        np.testing.assert_allclose(conf, want_conf, rtol=1e-6, atol=1e-6, equal_nan=True)
