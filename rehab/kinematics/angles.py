"""Joint angles in the clinical neutral-zero convention (degrees).

0 deg is the anatomical position. Per side (``left_``/``right_`` prefix):

================== =============================================================== ==========
angle              definition (landmarks)                                          normal
================== =============================================================== ==========
knee_flexion       180 - angle(hip, knee, ankle); 0 = straight knee                0-135
hip_flexion        thigh (hip->knee) vs trunk midline, down; 0 = standing          0-120
hip_abduction      as hip_flexion, frontal plane (front view); 0 = leg down        0-45
shoulder_flexion   upper arm (shoulder->elbow) vs trunk midline; 0 = arm by side   0-180
shoulder_abduction as shoulder_flexion, frontal plane; 90 = arm horizontal         0-180
elbow_flexion      180 - angle(shoulder, elbow, wrist); 0 = straight elbow         0-150
ankle_plantarflex. angle(ankle->knee, heel->toe) - 90; + plantar, - dorsiflexion   -20-50
================== =============================================================== ==========

The trunk midline runs from mid-shoulder to mid-hip. For the trunk: ``trunk_lean`` (mid-hip->mid-shoulder from vertical; 0 = upright) and
``pelvic_obliquity`` (hip line from horizontal; 0 = level).

Two spaces: ``image`` uses pixel coordinates (aspect-correct) in the image plane, where
flexion and abduction of hip and shoulder coincide and the camera view decides which plane
is measured; ``world`` uses MediaPipe's 3D world landmarks with a per-frame body frame, so
flexion is measured in the sagittal and abduction in the frontal plane. All angles are
unsigned except the ankle. An angle is NaN in frames where any of its landmarks is missing
or less visible than ``min_visibility`` (the limb's own landmarks; see `angle_landmarks`).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from rehab.kinematics import _kernels as K
from rehab.model import ANGLE_COLUMNS, LANDMARK_INDEX, AngleSet, PoseSequence, column_side
from rehab.settings import DEFAULT_SETTINGS

__all__ = ["ANGLE_COLUMNS", "AngleSet", "angle_landmarks", "compute_angles", "frame_angles"]

# Landmarks whose visibility gates each angle: the limb's own joints. The trunk midline that
# hip and shoulder angles are measured from is not gated, because MediaPipe's estimate of
# hips below the frame edge (seated, waist-up recordings) still gives its direction well.
_LANDMARKS_OF: dict[str, tuple[str, ...]] = {
    "knee_flexion": ("hip", "knee", "ankle"),
    "hip_flexion": ("hip", "knee"),
    "hip_abduction": ("hip", "knee"),
    "shoulder_flexion": ("shoulder", "elbow"),
    "shoulder_abduction": ("shoulder", "elbow"),
    "elbow_flexion": ("shoulder", "elbow", "wrist"),
    "ankle_plantarflexion": ("knee", "ankle", "heel", "foot_index"),
}


def angle_landmarks(column: str) -> tuple[str, ...]:
    """Landmark names an angle column depends on."""
    if column == "trunk_lean":
        return ("left_shoulder", "right_shoulder", "left_hip", "right_hip")
    if column == "pelvic_obliquity":
        return ("left_hip", "right_hip")
    name, side = column_side(column)
    return tuple(f"{side}_{part}" for part in _LANDMARKS_OF[name])


def _gate_index() -> np.ndarray:
    idx = np.full((len(ANGLE_COLUMNS), 4), -1, dtype=np.int64)
    for c, col in enumerate(ANGLE_COLUMNS):
        for k, name in enumerate(angle_landmarks(col)):
            idx[c, k] = LANDMARK_INDEX[name]
    return idx


_GATE_INDEX = _gate_index()

DEFAULT_MIN_VISIBILITY = DEFAULT_SETTINGS.min_visibility


def compute_angles(seq: PoseSequence, space: Literal["image", "world", "fused"] = "image",
                   min_visibility: float = DEFAULT_MIN_VISIBILITY) -> AngleSet:
    """All joint angles of ``seq`` (see module docstring), visibility-gated. ``fused``:
    image positions with world depth and constant segment lengths
    (`rehab.kinematics.fused`; measured, not a default: see the README)."""
    gated = _gated_angles(seq.landmarks, seq.world, seq.visibility, seq.width, seq.height,
                          space, min_visibility)
    return AngleSet(values=gated, timestamps=seq.timestamps, space=space)


def compute_angles_and_estimates(seq: PoseSequence,
                                 space: Literal["image", "world"] = "image",
                                 min_visibility: float = DEFAULT_MIN_VISIBILITY
                                 ) -> tuple[AngleSet, AngleSet]:
    """`compute_angles` and the same angles without the visibility gate (the pose model's
    estimate of hidden limbs), computed once."""
    raw = _raw_angles(seq.landmarks, seq.world, seq.width, seq.height, space)
    estimates = AngleSet(values=raw.copy(), timestamps=seq.timestamps, space=space)
    gated = K.gate_columns(raw, np.ascontiguousarray(seq.visibility), _GATE_INDEX,
                           float(min_visibility))
    return AngleSet(values=gated, timestamps=seq.timestamps, space=space), estimates


def frame_angles(landmarks: np.ndarray, world: np.ndarray, visibility: np.ndarray, width: int,
                 height: int, space: Literal["image", "world"] = "image",
                 min_visibility: float = DEFAULT_MIN_VISIBILITY) -> np.ndarray:
    """The (16,) angle row of one frame (33x3 landmarks, 33x3 world, 33 visibility), as
    `compute_angles` computes it for a whole sequence."""
    lm, w, vis = (np.asarray(x[None], dtype=np.float32) for x in (landmarks, world, visibility))
    return _gated_angles(lm, w, vis, width, height, space, min_visibility)[0]


def _gated_angles(landmarks: np.ndarray, world: np.ndarray, visibility: np.ndarray,
                  width: int, height: int, space: str, min_visibility: float) -> np.ndarray:
    """(T, 16) angles of (T, 33, 3) landmarks in ``space``, NaN where not visible enough."""
    raw = _raw_angles(landmarks, world, width, height, space)
    vis = np.ascontiguousarray(visibility)
    return K.gate_columns(raw, vis, _GATE_INDEX, float(min_visibility))


def _raw_angles(landmarks: np.ndarray, world: np.ndarray, width: int, height: int,
                space: str) -> np.ndarray:
    """(T, 16) angles in ``space`` whatever the landmarks' visibility."""
    if space == "image":
        return K.joint_angles_image(np.ascontiguousarray(landmarks), float(width), float(height))
    if space == "world":
        return K.joint_angles_world(np.ascontiguousarray(world))
    if space == "fused":
        from rehab.kinematics.fused import fused_landmarks

        return K.joint_angles_world(np.ascontiguousarray(
            fused_landmarks(landmarks, world, width, height)))
    raise ValueError(f"unknown angle space {space!r}")
