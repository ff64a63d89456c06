"""Metamorphic tests on the real development clips (both folders of ../shared/data).

Each test is a property that must hold on any recording, not a tuned number: a transformed
recording whose true count is known from the original's must count that. The originals'
counts are not assumed right here (test_real_data.py checks them against the hand counts).
Skipped with a reason when the shared folder is absent.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest
from transforms import drop_random, mirror, resample, with_pause

from rehab.analysis import analyze_sequence
from rehab.exercises import get_exercise
from rehab.kinematics.angles import angle_landmarks
from rehab.model import LANDMARK_INDEX, Analysis, PoseSequence, Side
from rehab.sequence import load_npz
from rehab.validate import ManifestRow, read_manifest

FOLDERS = ("landmarks", "landmarks_rehab")


def _rows(shared: Path) -> list[ManifestRow]:
    rows: list[ManifestRow] = []
    for folder in FOLDERS:
        manifest = shared / folder / "manifest.csv"
        if manifest.is_file():
            rows += read_manifest(manifest)
    return rows


@functools.lru_cache(maxsize=None)
def _load(path: Path) -> PoseSequence:
    return load_npz(path)


def _analyze(seq: PoseSequence, row: ManifestRow) -> Analysis:
    return analyze_sequence(seq, get_exercise(row.exercise))


@pytest.fixture(scope="module")
def clips(shared_data: Path) -> list[tuple[ManifestRow, PoseSequence, Analysis]]:
    """(row, sequence, analysis) of every development clip."""
    out = []
    for row in _rows(shared_data):
        seq = _load(row.path)
        out.append((row, seq, _analyze(seq, row)))
    assert len(out) >= 10
    return out


def _at_rest_both_ends(a: Analysis) -> bool:
    """Opens at rest and ends at rest: nothing of a rep cut by either edge."""
    return a.segmentation.start_state == "rest" and not a.partial and a.rep_count > 0


def test_mirroring_swaps_the_sides_and_keeps_the_count(clips) -> None:
    for row, seq, a in clips:
        m = _analyze(mirror(seq), row)
        assert m.rep_count == a.rep_count, row.path.name
        if a.side != Side.NONE:
            assert m.side == Side(a.side).other, row.path.name
        assert [r.side for r in m.reps] == [str(Side(r.side).other) if r.side != "none"
                                            else "none" for r in a.reps], row.path.name


@pytest.mark.parametrize("fps", [15.0, 60.0])
def test_resampling_keeps_the_count(clips, fps: float) -> None:
    changed = {row.path.name: (a.rep_count, _analyze(resample(seq, fps), row).rep_count)
               for row, seq, a in clips}
    assert all(x == y for x, y in changed.values()), changed


def test_two_clips_at_rest_concatenated_with_a_pause_count_the_sum(clips) -> None:
    pairs = 0
    for row, seq, a in clips:
        if not _at_rest_both_ends(a):
            continue
        both = _analyze(with_pause(seq, seq, 2.0), row)
        assert both.rep_count == 2 * a.rep_count, row.path.name
        pairs += 1
    assert pairs >= 5


def test_a_one_sided_clip_spliced_with_its_mirror_counts_both_and_says_alternating(
        clips) -> None:
    spliced = 0
    for row, seq, a in clips:
        ex = get_exercise(row.exercise)
        if ex.bilateral or a.side == Side.NONE or not _at_rest_both_ends(a):
            continue
        both = _analyze(with_pause(seq, mirror(seq), 2.0), row)
        assert both.rep_count == 2 * a.rep_count, row.path.name
        assert both.alternating, row.path.name
        # each half credited to its own limb (where both limbs move together, as with two
        # hands on one dumbbell, a rep may go to the limb that went further)
        n = a.rep_count
        first, second = [r.side for r in both.reps[:n]], [r.side for r in both.reps[n:]]
        assert first.count(a.side) > n / 2, (row.path.name, first)
        assert second.count(str(Side(a.side).other)) > n / 2, (row.path.name, second)
        assert [r.index for r in both.reps] == list(range(1, both.rep_count + 1))
        assert any(n.code == "alternating" for n in both.notes)
        spliced += 1
    assert spliced >= 2


def test_removing_frames_at_rest_between_reps_changes_nothing(clips) -> None:
    for row, seq, a in clips:
        keep = np.ones(seq.n_frames, dtype=bool)
        for prev, nxt in zip(a.reps[:-1], a.reps[1:]):
            gap = np.arange(prev.end_frame + 1, nxt.start_frame)
            if gap.size >= 4:  # the middle half of the rest between two reps
                keep[gap[gap.size // 4: gap.size - gap.size // 4]] = False
        if keep.all():
            continue
        shorter = _analyze(seq.frames(keep), row)
        assert shorter.rep_count == a.rep_count, row.path.name


def test_a_limb_hidden_for_a_third_of_the_recording_keeps_the_count(clips) -> None:
    """The counted limb's landmarks fall under the visibility gate for the middle third (the
    model still estimates them, as it does behind the body): the count stays, and the reps
    there are flagged as not seen, or measured on the other limb, seen (a bilateral
    exercise; a lunge bends both knees)."""
    tried = 0
    for row, seq, a in clips:
        if a.side == Side.NONE or not a.reps or any("tracking_lost" in r.flags for r in a.reps):
            continue  # a clip already poorly seen has nothing left to hide
        tried += 1
        vis = seq.visibility.copy()
        third = slice(seq.n_frames // 3, 2 * seq.n_frames // 3)
        limb = [LANDMARK_INDEX[n] for n in angle_landmarks(a.primary_column)]
        vis[third, limb] = np.minimum(vis[third, limb], 0.2)
        hidden = _analyze(seq.replace(visibility=vis), row)
        assert hidden.rep_count == a.rep_count, row.path.name
        t0, t1 = seq.timestamps[third.start], seq.timestamps[third.stop - 1]
        for r in hidden.reps:
            if t0 <= r.start_s and r.end_s <= t1 and r.side == a.side:
                assert ("tracking_lost" in r.flags
                        or get_exercise(row.exercise).bilateral), (row.path.name, r.index)
    assert tried >= 10


@pytest.mark.parametrize("fraction", [0.5, 0.75])
def test_dropping_frames_keeps_the_count_or_flags_the_reps(clips, fraction: float) -> None:
    """A busy machine drops frames: the count stays within one and every rep says how
    little of it was measured (at the source's frame rate), so none passes as fully seen."""
    kept = total = 0
    for row, seq, a in clips:
        for seed in range(3):
            d = _analyze(drop_random(seq, fraction, seed), row)
            total += 1
            kept += d.rep_count == a.rep_count
            assert abs(d.rep_count - a.rep_count) <= 1, (row.path.name, seed)
            for r in d.reps:
                assert "tracking_lost" in r.flags, (row.path.name, seed, r.index)
            if d.reps and a.reps:  # measured: about the share of frames kept
                share = np.mean([r.tracked_fraction for r in d.reps])
                before = np.mean([r.tracked_fraction for r in a.reps])
                assert share <= before * (1.0 - fraction) + 0.15, (row.path.name, seed, share)
    assert kept >= total // 2, (kept, total)
