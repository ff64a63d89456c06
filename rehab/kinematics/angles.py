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

import dataclasses
from typing import Literal

import numpy as np

from rehab.kinematics import _kernels as K
from rehab.sequence import LANDMARK_INDEX, PoseSequence

_SIDED = ("knee_flexion", "hip_flexion", "hip_abduction", "shoulder_flexion",
          "shoulder_abduction", "elbow_flexion", "ankle_plantarflexion")

ANGLE_COLUMNS: tuple[str, ...] = tuple(
    f"{side}_{name}" for side in ("left", "right") for name in _SIDED
) + ("trunk_lean", "pelvic_obliquity")
"""Column names of the (T, 16) angle matrix, in kernel order."""

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
    side, name = column.split("_", 1)
    return tuple(f"{side}_{part}" for part in _LANDMARKS_OF[name])


def _gate_index() -> np.ndarray:
    idx = np.full((len(ANGLE_COLUMNS), 4), -1, dtype=np.int64)
    for c, col in enumerate(ANGLE_COLUMNS):
        for k, name in enumerate(angle_landmarks(col)):
            idx[c, k] = LANDMARK_INDEX[name]
    return idx


_GATE_INDEX = _gate_index()

DEFAULT_MIN_VISIBILITY = 0.5


@dataclasses.dataclass(frozen=True)
class AngleSet:
    """Raw joint angles of a sequence: ``values`` (T, 16) degrees, NaN where not measurable."""

    values: np.ndarray
    timestamps: np.ndarray
    space: Literal["image", "world"]

    def __getitem__(self, column: str) -> np.ndarray:
        return self.values[:, ANGLE_COLUMNS.index(column)]

    def column(self, name: str, side: str | None = None) -> np.ndarray:
        """One angle by its exercise name (``knee_flexion``) and side (None for trunk)."""
        return self[name if side is None or name in ("trunk_lean", "pelvic_obliquity")
                    else f"{side}_{name}"]


def compute_angles(seq: PoseSequence, space: Literal["image", "world"] = "image",
                   min_visibility: float = DEFAULT_MIN_VISIBILITY) -> AngleSet:
    """All joint angles of ``seq`` (see module docstring), visibility-gated."""
    if space == "image":
        raw = K.joint_angles_image(np.ascontiguousarray(seq.landmarks), float(seq.width),
                                   float(seq.height))
    elif space == "world":
        raw = K.joint_angles_world(np.ascontiguousarray(seq.world))
    else:
        raise ValueError(f"unknown angle space {space!r}")
    vis = np.ascontiguousarray(seq.visibility)
    gated = K.gate_columns(raw, vis, _GATE_INDEX, float(min_visibility))
    return AngleSet(values=gated, timestamps=seq.timestamps, space=space)
