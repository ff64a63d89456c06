"""Live counting as the patient meets it: a busy machine, and alternation kept in the history.

Most frames dropped never pass as fully seen reps.
The camera runs at 30 frames/s; the loop, busy with other work, gets only some of them
(`FrameList` delivers the timestamps it is given, its ``fps`` stays the camera's). A rep's
``tracked_fraction`` counts the frames it spanned at the camera's rate, so the reps say
how little of them was seen, and a rep with a hole long enough to hide another is flagged
``sparse`` instead of passing as one clean rep.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from live_fakes import FrameList

from rehab.exercises import get_exercise
from rehab.live.session import LiveConfig, LiveSession, SessionResult
from rehab.model import PoseSequence
from rehab.pose.estimator import FramePose, PersonPose
from rehab.synthetic import rep_pulses, rep_trajectory, synthetic_sequence


class AtTime:
    """The pose of the recording at each delivered frame's time."""

    model_name = "replay at time"
    model_sha256 = ""

    def __init__(self, seq: PoseSequence) -> None:
        self.seq = seq

    def process(self, image_bgr: np.ndarray, timestamp_s: float) -> FramePose | None:
        i = int(np.argmin(np.abs(self.seq.timestamps - timestamp_s)))
        return FramePose((PersonPose(self.seq.landmarks[i], self.seq.world[i],
                                     self.seq.visibility[i]),))

    def close(self) -> None:
        pass


def knees(n_reps: int, rep_s: float = 2.5, pause_s: float = 1.0) -> PoseSequence:
    t, knee = rep_trajectory(n_reps, 30.0, 90.0, 5.0, rep_s=rep_s, pause_s=pause_s)
    return synthetic_sequence(t, {"right_knee_flexion": knee, "hip_flexion": 90.0},
                              view="side", width=640, height=480, anchor="hips")


def run(seq: PoseSequence, delivered: np.ndarray) -> SessionResult:
    source = FrameList(seq.timestamps[delivered], seq.width, seq.height)
    assert source.fps == 30.0  # the camera's rate, whatever the loop gets
    config = LiveConfig(reps=100, sets=1, mirror=False, camera=False)
    return LiveSession(source, AtTime(seq), get_exercise("knee_extension"),  # type: ignore[arg-type]
                       config).run()


def test_a_loop_getting_one_frame_in_four_flags_every_rep() -> None:
    seq = knees(4)
    every = np.arange(seq.n_frames)
    full = run(seq, every)
    assert full.rep_count == 4
    assert all(r.rep.tracked_fraction > 0.95 for r in full.reps)
    busy = run(seq, every[::4])
    assert busy.rep_count == 4
    for r in busy.reps:
        assert 0.2 < r.rep.tracked_fraction < 0.35, r.rep
        assert "tracking_lost" in r.rep.flags


def test_reps_merged_by_a_long_stall_are_flagged_not_passed_as_one() -> None:
    # three quick reps (1.5 s each, 0.5 s apart); the loop stalls from 1.9 s to 6.6 s and
    # sees only the first rise and the last return: what it counts is flagged sparse
    seq = knees(3, rep_s=1.5, pause_s=0.5)
    t = seq.timestamps
    delivered = np.flatnonzero((t < 1.9) | (t > 6.6))
    busy = run(seq, delivered)
    assert busy.rep_count <= 1
    for r in busy.reps:
        assert "sparse" in r.rep.flags and "tracking_lost" in r.rep.flags
        assert r.rep.tracked_fraction < 0.6


def test_an_alternating_live_session_is_stored_as_alternating(db: Path) -> None:
    """Curls of the left then the right arm in turn: every rep stored with its side and the
    session marked alternating in the patient history, as an offline analysis would be."""
    from rehab.live.writers import StoreWriter
    from rehab.store import open_store

    t = np.arange(int(20 * 30) + 1) / 30.0
    left = rep_pulses(t, [1.0, 7.0, 13.0], 10.0, 130.0)
    right = rep_pulses(t, [4.0, 10.0, 16.0], 10.0, 130.0)
    seq = synthetic_sequence(t, {"left_elbow_flexion": left, "right_elbow_flexion": right,
                                 "shoulder_flexion": 0.0}, view="side", width=640, height=480)
    store = StoreWriter(db)
    store.start()
    result = LiveSession(FrameList(t, seq.width, seq.height), AtTime(seq),  # type: ignore[arg-type]
                         get_exercise("elbow_flexion"),
                         LiveConfig(reps=100, sets=1, mirror=False, camera=False),
                         store=store, patient_id="p1").run()
    assert result.rep_count == 6
    with open_store(db) as s:
        [session] = s.sessions("p1")
        reps = [r for r in s.reps(session.id) if r.counted]
    assert session.alternating
    assert [r.side for r in reps] == ["left", "right"] * 3

