"""Layer 1: joint angles, filters and velocities on synthetic geometry (exact)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from rehab.kinematics import ANGLE_COLUMNS, compute_angles, smooth_signal
from rehab.kinematics import _kernels as K
from rehab.reps import _kernels as RK
from rehab.kinematics.angles import _GATE_INDEX
from rehab.kinematics.filters import butter_lowpass_coeffs
from rehab.sequence import LANDMARK_INDEX as I
from rehab.synthetic import synthetic_sequence

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench"))
import numpy_reference as ref  # noqa: E402

T5 = np.arange(5) / 30.0
POSE = {
    "knee_flexion": np.array([0.0, 30.0, 60.0, 90.0, 120.0]),
    "hip_flexion": np.array([0.0, 10.0, 45.0, 90.0, 100.0]),
    "shoulder_flexion": np.array([0.0, 45.0, 90.0, 135.0, 170.0]),
    "elbow_flexion": np.array([0.0, 20.0, 90.0, 140.0, 5.0]),
    "ankle_plantarflexion": np.array([-10.0, 0.0, 20.0, 40.0, 5.0]),
}
LEAN = np.array([0.0, 10.0, 20.0, 5.0, 0.0])


@pytest.mark.parametrize("view", ["side", "front"])
@pytest.mark.parametrize("space", ["image", "world"])
def test_known_angles_are_recovered(view: str, space: str) -> None:
    seq = synthetic_sequence(T5, POSE, view=view, trunk_lean=LEAN)
    a = compute_angles(seq, space=space)
    for side in ("left", "right"):
        for name in ("knee_flexion", "elbow_flexion", "ankle_plantarflexion"):
            np.testing.assert_allclose(a.column(name, side), POSE[name], atol=1e-3)
        plane = "flexion" if view == "side" else "abduction"
        np.testing.assert_allclose(a.column(f"hip_{plane}", side), POSE["hip_flexion"], atol=1e-3)
        np.testing.assert_allclose(a.column(f"shoulder_{plane}", side), POSE["shoulder_flexion"],
                                   atol=1e-3)
    np.testing.assert_allclose(a["trunk_lean"], LEAN, atol=1e-3)


def test_front_view_pelvic_obliquity_follows_trunk_tilt() -> None:
    seq = synthetic_sequence(T5, {}, view="front", trunk_lean=LEAN)
    np.testing.assert_allclose(compute_angles(seq)["pelvic_obliquity"], LEAN, atol=1e-3)


def _single_frame(points: dict[str, tuple[float, float]], width: int = 100, height: int = 100):
    seq = synthetic_sequence(np.array([0.0]), {}, view="side", width=width, height=height)
    lm = seq.landmarks.copy()
    for name, (x, y) in points.items():
        lm[0, I[name], 0] = x / width
        lm[0, I[name], 1] = y / height
    return seq.replace(landmarks=lm)


def test_right_angles_and_straight_limbs_are_exact() -> None:
    # knee straight: hip, knee, ankle on a vertical line -> 0; thigh horizontal, shank down -> 90
    seq = _single_frame({"left_hip": (50, 20), "left_knee": (50, 50), "left_ankle": (50, 80)})
    assert compute_angles(seq)["left_knee_flexion"][0] == pytest.approx(0.0, abs=1e-4)
    seq = _single_frame({"left_hip": (20, 50), "left_knee": (50, 50), "left_ankle": (50, 80)})
    assert compute_angles(seq)["left_knee_flexion"][0] == pytest.approx(90.0, abs=1e-4)
    # elbow fully folded back onto the upper arm -> 180
    seq = _single_frame({"left_shoulder": (50, 20), "left_elbow": (50, 50), "left_wrist": (50, 30)})
    assert compute_angles(seq)["left_elbow_flexion"][0] == pytest.approx(180.0, abs=1e-4)


def test_left_right_mirror_images_give_equal_angles() -> None:
    t = np.linspace(0, 1, 11)
    ang = {"left_shoulder_flexion": np.linspace(0, 170, 11),
           "right_shoulder_flexion": np.linspace(0, 170, 11),
           "left_knee_flexion": np.linspace(0, 90, 11), "right_knee_flexion": np.linspace(0, 90, 11)}
    seq = synthetic_sequence(t, ang, view="front")
    mirrored = seq.landmarks.copy()
    mirrored[:, :, 0] = 1.0 - mirrored[:, :, 0]
    a = compute_angles(seq)
    b = compute_angles(seq.replace(landmarks=mirrored))
    np.testing.assert_allclose(a.values, b.values, atol=1e-4, equal_nan=True)
    np.testing.assert_allclose(a["left_shoulder_abduction"], a["right_shoulder_abduction"],
                               atol=1e-3)


def test_aspect_ratio_is_respected() -> None:
    # 45 deg in pixels on a non-square image must stay 45 deg
    seq = _single_frame({"left_shoulder": (50, 20), "left_elbow": (50, 60), "left_wrist": (90, 100)},
                        width=400, height=200)
    assert compute_angles(seq)["left_elbow_flexion"][0] == pytest.approx(45.0, abs=1e-3)


def test_low_visibility_and_missing_landmarks_give_nan() -> None:
    seq = synthetic_sequence(T5, POSE)
    vis = seq.visibility.copy()
    vis[2, I["left_knee"]] = 0.1
    lm = seq.landmarks.copy()
    lm[3, I["right_elbow"]] = np.nan
    a = compute_angles(seq.replace(visibility=vis, landmarks=lm))
    assert np.isnan(a["left_knee_flexion"][2]) and np.isnan(a["left_hip_flexion"][2])
    assert np.isfinite(a["right_knee_flexion"][2])
    assert np.isnan(a["right_elbow_flexion"][3]) and np.isnan(a["right_shoulder_flexion"][3])
    assert np.isfinite(a["left_elbow_flexion"][3])


def test_kernels_match_numpy_reference() -> None:
    rng = np.random.default_rng(0)
    lm = rng.uniform(0, 1, size=(200, 33, 3))
    lm[5, 25] = np.nan
    pts = lm[:, :, :2] * np.array([640.0, 480.0])
    np.testing.assert_allclose(K.joint_angles_image(lm, 640.0, 480.0),
                               ref.joint_angles_image(pts), atol=1e-9, equal_nan=True)
    vis = rng.uniform(0, 1, size=(200, 33))
    raw = K.joint_angles_image(lm, 640.0, 480.0)
    expected = np.isnan(ref.gate(raw, vis, _GATE_INDEX, 0.5))
    np.testing.assert_array_equal(np.isnan(K.gate_columns(raw.copy(), vis, _GATE_INDEX, 0.5)),
                                  expected)
    t = np.arange(300) / 30.0
    x = np.sin(t) + rng.normal(0, 0.1, 300)
    x[[10, 11, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64]] = np.nan
    np.testing.assert_allclose(K.interpolate_gaps(x, t, 0.3), ref.interpolate_gaps(x, t, 0.3),
                               equal_nan=True)
    c = butter_lowpass_coeffs(3.0, 30.0)
    y = K.interpolate_gaps(x, t, 0.3)
    np.testing.assert_allclose(K.filtfilt_lowpass(y, *c, 10), ref.filtfilt(y, c, 10),
                               atol=1e-9, equal_nan=True)
    sig = 60 + 50 * np.sin(2 * np.pi * t / 3.0) + 10 * np.sin(2 * np.pi * t / 0.7)
    sig[[40, 41, 90, 200, 201, 202]] = np.nan
    rise = np.full(300, 30.0)
    for opening, resume in ((65.0, False), (200.0, False), (65.0, True)):
        got = RK.swing_reps(sig, t, rise, 0.65, opening, 20.0, 0.5, 20.0, resume)
        assert got.shape[0] >= 3
        np.testing.assert_array_equal(
            got, ref.swing_reps(sig, t, rise, 0.65, opening, 20.0, 0.5, 20.0, resume))


def test_interpolation_fills_short_gaps_only() -> None:
    t = np.arange(20) / 10.0
    x = t * 10.0
    x[3:5] = np.nan     # 0.3 s between neighbours: filled
    x[10:16] = np.nan   # 0.7 s: left as a gap
    y = K.interpolate_gaps(x, t, 0.3)
    np.testing.assert_allclose(y[3:5], [3.0, 4.0])
    assert np.isnan(y[10:16]).all()


def test_filter_keeps_constant_and_slow_signals_removes_fast_noise() -> None:
    t = np.arange(600) / 30.0
    np.testing.assert_allclose(smooth_signal(np.full(600, 42.0), t), 42.0, atol=1e-9)
    slow = 50 * np.sin(2 * np.pi * 0.3 * t)
    fast = 5 * np.sin(2 * np.pi * 10.0 * t)
    y = smooth_signal(slow + fast, t)
    assert np.max(np.abs(y - slow)[30:-30]) < 0.5
    # zero phase: the peaks do not move
    assert abs(int(np.argmax(y[:100])) - int(np.argmax(slow[:100]))) <= 1


def test_filter_keeps_long_gaps_as_nan() -> None:
    t = np.arange(300) / 30.0
    x = np.sin(t)
    x[100:160] = np.nan
    y = smooth_signal(x, t)
    assert np.isnan(y[100:160]).all() and np.isfinite(y[:100]).all() and np.isfinite(y[160:]).all()


def test_velocity_of_a_ramp_uses_real_timestamps() -> None:
    t = np.cumsum(np.r_[0.0, np.full(9, 0.05), np.full(10, 0.02)])  # variable frame rate
    x = 30.0 * t
    np.testing.assert_allclose(K.velocity(x, t), 30.0)


def test_columns_are_documented() -> None:
    assert len(ANGLE_COLUMNS) == K.N_ANGLE_COLUMNS == 16
    from rehab.kinematics import angles

    for name in ("knee_flexion", "hip_flexion", "hip_abduction", "shoulder_flexion",
                 "shoulder_abduction", "elbow_flexion", "trunk_lean", "pelvic_obliquity"):
        assert name in (angles.__doc__ or "")
