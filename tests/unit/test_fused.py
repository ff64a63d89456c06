"""Unit: the fused angle space (image positions, world depth, constant segment lengths),
`rehab.kinematics.fused`, measured against the image and world spaces in the README."""

from __future__ import annotations

import numpy as np
import pytest

from rehab.kinematics import compute_angles
from rehab.synthetic import rep_trajectory, synthetic_sequence


@pytest.mark.parametrize("view", ["side", "front"])
def test_fused_angles_of_an_exact_figure_are_exact(view: str) -> None:
    t, k = rep_trajectory(2, 30.0, 0.0, 90.0)
    seq = synthetic_sequence(t, {"knee_flexion": k, "hip_flexion": 0.8 * k,
                                 "elbow_flexion": 0.5 * k}, view=view)  # type: ignore[arg-type]
    world = compute_angles(seq, space="world")
    fused = compute_angles(seq, space="fused")
    for col in ("left_knee_flexion", "right_knee_flexion", "left_elbow_flexion"):
        np.testing.assert_allclose(fused[col], world[col], atol=0.05)


def test_fused_depth_follows_the_world_when_the_image_foreshortens() -> None:
    """Turned 40 deg: the image alone foreshortens the knee; lengths and world depth
    bring the fused angle back to within a degree or two of the true one."""
    t, k = rep_trajectory(2, 30.0, 0.0, 90.0)
    seq = synthetic_sequence(t, {"knee_flexion": k, "hip_flexion": 0.8 * k}, yaw_deg=40.0)
    image = compute_angles(seq, space="image")["right_knee_flexion"]
    fused = compute_angles(seq, space="fused")["right_knee_flexion"]
    peak = np.argmax(k)
    assert abs(image[peak] - 90.0) > 5.0
    assert abs(fused[peak] - 90.0) < abs(image[peak] - 90.0)
