"""Live coaching on a busy machine: most frames dropped never pass as fully seen reps.

The camera runs at 30 frames/s; the loop, busy with other work, gets only some of them
(`FrameList` delivers the timestamps it is given, its ``fps`` stays the camera's). A rep's
``tracked_fraction`` counts the frames it spanned at the camera's rate, so the reps say
how little of them was seen, and a rep with a hole long enough to hide another is flagged
``sparse`` instead of passing as one clean rep.
"""

from __future__ import annotations

import numpy as np
from live_fakes import FrameList

from rehab.exercises import get_exercise
from rehab.live.session import LiveConfig, LiveSession, SessionResult
from rehab.model import PoseSequence
from rehab.pose.estimator import FramePose, PersonPose
from rehab.synthetic import rep_trajectory, synthetic_sequence


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
