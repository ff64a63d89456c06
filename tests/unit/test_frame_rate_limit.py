"""Unit: the ``--max-fps`` rule (`rehab.sequence.FrameRateLimit`, `keep_times`) and
`limit_frame_rate` on synthetic sequences with known repetitions (`rehab.synthetic`)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rehab.analysis import analyze_sequence
from rehab.errors import InputError
from rehab.exercises import get_exercise
from rehab.model import NoteCode
from rehab.sequence import FrameRateLimit, check_max_fps, keep_times, limit_frame_rate
from rehab.synthetic import rep_trajectory, synthetic_sequence


def kept_indices(t: np.ndarray, max_fps: float, source_fps: float | None = None) -> np.ndarray:
    return np.flatnonzero(keep_times(t, max_fps, source_fps))


def assert_bounds(t: np.ndarray, mask: np.ndarray, max_fps: float) -> None:
    """At most ceil(F) + 1 kept frames in any 1 s window; no gap between kept frames over
    1/F plus the longest source step (every frame ends up in a slot's reach)."""
    kept = t[mask]
    assert mask[0]
    # the most kept frames in a window [kept[i], kept[i] + 1 s]: windows starting elsewhere
    # hold no more than the one starting at their first kept frame
    last = np.searchsorted(kept, kept + 1.0, side="right")
    assert int((last - np.arange(kept.size)).max()) <= math.ceil(max_fps) + 1
    if kept.size > 1:
        step = float(np.diff(t).max())
        assert float(np.diff(kept).max()) <= 1.0 / max_fps + step + 1e-9
    # every frame after the last kept one is within one slot of it (nothing left at the end)
    assert float(t[-1] - kept[-1]) <= 1.0 / max_fps + 1e-9


# --- the rule ------------------------------------------------------------------------------

def test_30_to_15_keeps_every_second_frame() -> None:
    t = np.arange(300) / 30.0
    np.testing.assert_array_equal(kept_indices(t, 15), np.arange(0, 300, 2))


def test_30_to_10_keeps_every_third_frame() -> None:
    t = np.arange(300) / 30.0
    np.testing.assert_array_equal(kept_indices(t, 10), np.arange(0, 300, 3))


def test_27_9_to_15_keeps_15_a_second_on_the_grid() -> None:
    fps = 27.926  # shoulder_abduction.mp4
    t = np.arange(492) / fps
    mask = keep_times(t, 15)
    idx = np.flatnonzero(mask)
    # mostly every 2nd frame, a neighbour where the grid catches up: never drifts
    assert set(np.diff(idx).tolist()) == {1, 2}
    assert idx.size == math.floor(t[-1] * 15 + 1e-9) + 1
    slot = np.floor((t[idx] + 0.25 / fps) * 15)
    np.testing.assert_array_equal(slot, np.arange(idx.size))  # one kept frame per slot
    assert_bounds(t, mask, 15)


@pytest.mark.parametrize("fps, max_fps, every", [(30.0, 15, 2), (30.0, 10, 3), (60.0, 15, 4),
                                                 (59.94, 29.97, 2)])
def test_jittered_container_timestamps_keep_the_cadence(fps: float, max_fps: float,
                                                        every: int) -> None:
    rng = np.random.default_rng(7)
    exact = np.arange(600) / fps
    # millisecond rounding plus up to 3 ms of jitter either way (< a quarter period)
    t = np.round(exact + rng.uniform(-0.003, 0.003, exact.size), 3)
    t[0] = 0.0
    assert np.all(np.diff(t) > 0)
    np.testing.assert_array_equal(kept_indices(t, max_fps, fps), np.arange(0, 600, every))


@pytest.mark.parametrize("fps, max_fps", [(30.0, 30), (30.0, 60), (24.0, 25), (29.97, 30),
                                          (10.0, 15)])
def test_a_source_at_or_below_the_limit_keeps_every_frame(fps: float, max_fps: float) -> None:
    t = np.arange(500) / fps
    assert keep_times(t, max_fps).all()
    seq = synthetic_sequence(t, {"knee_flexion": 10.0})
    assert limit_frame_rate(seq, max_fps) is seq


def test_the_grid_is_anchored_at_the_first_frame_not_at_zero() -> None:
    t = 12.34 + np.arange(90) / 30.0
    np.testing.assert_array_equal(kept_indices(t, 10), np.arange(0, 90, 3))


def test_the_incremental_keeper_and_the_mask_agree_and_count() -> None:
    rng = np.random.default_rng(3)
    t = np.cumsum(rng.uniform(0.01, 0.06, 400))
    limit = FrameRateLimit(12, source_fps=30)
    decided = [limit.keep(x) for x in t]
    np.testing.assert_array_equal(decided, keep_times(t, 12, 30))
    assert (limit.seen, limit.kept) == (400, sum(decided))
    note = limit.note()
    assert note is not None and note.code == NoteCode.FRAME_RATE_LIMITED
    assert note == f"analysed at most 12 frames/s: {sum(decided)} of 400 frames"
    assert note.data == {"max_fps": 12.0, "kept": sum(decided), "frames": 400}
    limit.reset()
    assert (limit.seen, limit.kept, limit.note()) == (0, 0, None)
    assert limit.rate(30.0) == 12.0 and limit.rate(8.0) == 8.0 and limit.rate(0.0) == 0.0


@pytest.mark.parametrize("seed", range(6))
def test_window_and_gap_bounds_hold_on_random_timestamps(seed: int) -> None:
    """Seeded property check: steady, jittered, bursty and variable-rate streams."""
    rng = np.random.default_rng(seed)
    for _ in range(20):
        n = int(rng.integers(2, 400))
        kind = rng.integers(4)
        if kind == 0:  # steady at a random rate
            steps = np.full(n - 1, 1.0 / rng.uniform(5, 240))
        elif kind == 1:  # jittered
            steps = (1.0 / rng.uniform(5, 240)) * rng.uniform(0.5, 1.5, n - 1)
        elif kind == 2:  # bursts of fast frames between long pauses
            steps = np.where(rng.random(n - 1) < 0.1, rng.uniform(0.2, 1.0, n - 1),
                             rng.uniform(0.001, 0.01, n - 1))
        else:  # any positive steps
            steps = rng.exponential(rng.uniform(0.005, 0.2), n - 1) + 1e-6
        t = rng.uniform(-5, 5) + np.concatenate([[0.0], np.cumsum(steps)])
        max_fps = float(rng.uniform(1, 60))
        mask = keep_times(t, max_fps, source_fps=rng.choice([None, 0.0, 1.0 / steps.mean()]))
        assert_bounds(t, mask, max_fps)


@pytest.mark.parametrize("bad", [0, 0.5, -3, 241, math.nan, math.inf, True, "15"])
def test_max_fps_is_checked(bad: object) -> None:
    with pytest.raises(InputError, match="--max-fps"):
        check_max_fps(bad)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="--max-fps"):
        FrameRateLimit(bad)  # type: ignore[arg-type]


def test_max_fps_bounds_come_from_limits() -> None:
    from rehab.limits import MAX_FPS

    assert check_max_fps(MAX_FPS.low) == MAX_FPS.low
    assert check_max_fps(int(MAX_FPS.high)) == MAX_FPS.high


# --- limit_frame_rate ----------------------------------------------------------------------

def squat_sequence(n: int, fps: float = 30.0):
    t, knee = rep_trajectory(n, fps, rest=0.0, peak=100.0)
    return synthetic_sequence(t, {"knee_flexion": knee, "hip_flexion": 0.8 * knee})


@pytest.mark.parametrize("max_fps, every", [(15, 2), (10, 3)])
def test_limit_frame_rate_keeps_the_frames_the_rule_keeps(max_fps: float, every: int) -> None:
    seq = squat_sequence(3)
    out = limit_frame_rate(seq, max_fps)
    assert out.fps == max_fps and seq.fps == 30.0
    np.testing.assert_array_equal(out.timestamps, seq.timestamps[::every])
    np.testing.assert_array_equal(out.landmarks, seq.landmarks[::every])
    assert (out.width, out.height, out.source) == (seq.width, seq.height, seq.source)
    note = out.notes[-1]
    assert note.code == NoteCode.FRAME_RATE_LIMITED
    assert note.data == {"max_fps": float(max_fps), "kept": out.n_frames,
                         "frames": seq.n_frames}
    assert note == f"analysed at most {max_fps} frames/s: {out.n_frames} of {seq.n_frames} frames"


@pytest.mark.parametrize("n", [1, 4, 8])
@pytest.mark.parametrize("fps", [30.0, 27.926, 60.0])
@pytest.mark.parametrize("max_fps", [15, 10])
def test_limit_frame_rate_keeps_the_exact_rep_count(n: int, fps: float, max_fps: float) -> None:
    squat = get_exercise("squat")
    seq = squat_sequence(n, fps)
    full = analyze_sequence(seq, squat)
    limited = analyze_sequence(limit_frame_rate(seq, max_fps), squat)
    assert full.rep_count == limited.rep_count == n
    for a, b in zip(full.reps, limited.reps):
        assert b.peak_deg == pytest.approx(a.peak_deg, abs=1.0)
        assert b.rom_deg == pytest.approx(a.rom_deg, abs=1.0)
        assert b.peak_s == pytest.approx(a.peak_s, abs=1.5 / max_fps)
        assert b.tracked_fraction == pytest.approx(1.0, abs=0.05)
    assert any(note.code == NoteCode.FRAME_RATE_LIMITED for note in limited.notes)
