"""Unit: the body's orientation to the camera and the view check (`rehab.kinematics.view`),
on synthetic figures turned away from the plane their exercise names."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rehab.kinematics.view import (
    VIEW_TOLERANCE_DEG,
    ViewMonitor,
    body_orientation,
    projection_error_deg,
    view_deviation,
)
from rehab.live.cues import CueScheduler
from rehab.synthetic import rep_trajectory, synthetic_sequence


@pytest.mark.parametrize("view", ["side", "front"])
@pytest.mark.parametrize("yaw", [0.0, 10.0, 25.0, 35.0, 60.0])
def test_orientation_of_a_turned_figure(view: str, yaw: float) -> None:
    t, k = rep_trajectory(2, 30.0, 0.0, 90.0)
    seq = synthetic_sequence(t, {"knee_flexion": k, "hip_flexion": 0.8 * k}, view=view,  # type: ignore[arg-type]
                             yaw_deg=yaw)
    o = body_orientation(seq)
    assert np.isfinite(o).all()
    expected = 90.0 - yaw if view == "side" else yaw
    np.testing.assert_allclose(o, expected, atol=1e-3)
    np.testing.assert_allclose(view_deviation(o, view), yaw, atol=1e-3)
    assert np.isnan(view_deviation(o, "any")).all()


def test_frames_without_a_person_or_hidden_trunk_are_not_measured() -> None:
    t, k = rep_trajectory(1, 30.0, 0.0, 90.0)
    seq = synthetic_sequence(t, {"knee_flexion": k})
    lm, w, v = seq.landmarks.copy(), seq.world.copy(), seq.visibility.copy()
    lm[:5], w[:5], v[:5] = np.nan, np.nan, 0.0
    v[10:15, 11] = 0.1  # left shoulder hidden
    o = body_orientation(seq.replace(landmarks=lm, world=w, visibility=v))
    assert np.isnan(o[:5]).all() and np.isnan(o[10:15]).all() and np.isfinite(o[20:]).all()


def test_image_and_world_that_disagree_are_not_trusted() -> None:
    """World says side on, the image shows the full shoulder width: not trusted."""
    t, k = rep_trajectory(1, 30.0, 0.0, 90.0)
    front = synthetic_sequence(t, {"knee_flexion": k}, view="front")
    side = synthetic_sequence(t, {"knee_flexion": k}, view="side")
    mixed = front.replace(world=side.world)
    assert np.isnan(body_orientation(mixed)).all()


def test_projection_error_matches_a_brute_force_maximum() -> None:
    for delta in (0.0, 15.0, 25.0, 30.0, 45.0, 60.0):
        c = math.cos(math.radians(delta))
        brute = max(a - math.degrees(math.atan(math.tan(math.radians(a)) * c))
                    for a in np.linspace(0.0, 89.99, 20000))
        assert projection_error_deg(delta) == pytest.approx(brute, abs=1e-3)
    # the numbers the README and the view module quote
    assert [round(projection_error_deg(d), 1) for d in (15, 25, 30, 35, 45)] == \
        [1.0, 2.8, 4.1, 5.7, 9.9]
    assert VIEW_TOLERANCE_DEG == 30.0


def test_live_monitor_matches_offline_and_warns_after_its_window() -> None:
    t = np.arange(0, 6, 1 / 30)
    yaw = np.where(t < 3.0, 10.0, 50.0)  # turns away from the side view at 3 s
    frames = [synthetic_sequence(t[i:i + 1], {"knee_flexion": 30.0}, yaw_deg=float(yaw[i]))
              for i in range(t.size)]
    mon = ViewMonitor("side", tolerance_deg=30.0, window_s=2.0)
    off = []
    for i, f in enumerate(frames):
        mon.update(float(t[i]), f.landmarks[0], f.world[0], f.visibility[0], f.width, f.height)
        off.append(mon.off)
    np.testing.assert_allclose(mon.deviation, yaw, atol=1e-3)
    off_a = np.array(off)
    assert not off_a[t < 4.0].any()  # the median of the last 2 s is still within tolerance
    assert off_a[t > 5.1].all()


def test_turn_cue_is_shown_spoken_and_cleared() -> None:
    said: list[str] = []
    cues = CueScheduler("Good", "Step back", lost_after_s=1.0, repeat_lost_cue_s=5.0,
                        speak=lambda text, kind: said.append(text))
    text = "Turn your side to the camera"
    for step in range(0, 40):  # 4 s turned away
        cues.view(True, text, step / 10)
    shown = cues.on_screen(3.9, visible=True)
    assert shown is not None and shown.text == text and shown.tone == "warn"
    assert said == [text]  # once within repeat_lost_cue_s
    cues.view(False, text, 4.0)
    assert cues.on_screen(4.1, visible=True) is None
    cues.view(True, text, 5.0)
    assert cues.on_screen(5.5, visible=True) is None  # not before lost_after_s
