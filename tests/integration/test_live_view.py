"""Integration: live coaching checks the camera view (the turn-to-camera cue) and grades
each rep, on replayed synthetic landmarks (no model)."""

from __future__ import annotations

import numpy as np

from rehab.exercises import get_exercise, view_cue
from rehab.live.audio import AudioCoach
from rehab.live.session import LiveConfig, LiveSession
from rehab.model import Flag
from rehab.pose.estimator import ReplayEstimator
from rehab.synthetic import rep_trajectory, synthetic_sequence

from live_fakes import FrameList


class Speaker:
    name = "test"

    def __init__(self) -> None:
        self.said: list[str] = []

    def speak(self, text: str, kind: str) -> None:
        self.said.append(text)

    def close(self) -> None:
        pass


def _run(yaw: float) -> tuple[object, list[str]]:
    t, knee = rep_trajectory(3, 30.0, 90.0, 5.0, rep_s=2.5, pause_s=1.0)
    seq = synthetic_sequence(t, {"right_knee_flexion": knee, "hip_flexion": 90.0},
                             view="side", width=640, height=480, anchor="hips", yaw_deg=yaw)
    spoken = Speaker()
    audio = AudioCoach(lambda: spoken, max_age_s=60.0, queue_size=50)
    session = LiveSession(FrameList(seq.timestamps, seq.width, seq.height),
                          ReplayEstimator(seq), get_exercise("knee_extension"),
                          LiveConfig(reps=100, sets=1, mirror=False, camera=False),
                          audio=audio)
    result = session.run()
    if audio is not None:
        audio.close()
    return result, spoken.said


def test_turned_away_from_the_side_view_the_patient_is_told_to_turn() -> None:
    result, said = _run(50.0)
    cue = view_cue(get_exercise("knee_extension"))
    assert cue == "Turn your side to the camera"
    assert cue in said
    assert result.rep_count == 3  # still counted
    for r in result.reps:
        assert Flag.WRONG_VIEW in r.rep.flags
        assert r.rep.view_deg is not None and abs(r.rep.view_deg - 40.0) < 0.5
        assert r.rep.quality == "poor"  # 50 deg off: beyond 1.5 x the tolerance
    analysis = result.analysis
    assert analysis is not None and analysis.view is not None and analysis.view.warning
    assert any(n.code == "view" for n in analysis.notes)


def test_filmed_from_the_side_no_turn_cue_and_good_reps() -> None:
    result, said = _run(10.0)
    assert view_cue(get_exercise("knee_extension")) not in said
    assert result.rep_count == 3
    assert all(r.rep.quality == "good" and Flag.WRONG_VIEW not in r.rep.flags
               for r in result.reps)
    analysis = result.analysis
    assert analysis is not None and analysis.view is not None
    assert not analysis.view.warning and abs(analysis.view.deviation_deg - 10.0) < 0.5
    assert np.isfinite(analysis.view.measured_fraction)
