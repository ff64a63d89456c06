"""Pose estimation: per-frame inference behind `PoseEstimator`, accumulated into a
`rehab.sequence.PoseSequence` by `estimate_sequence`.

`MediaPipePoseEstimator` lives in `rehab.pose.mediapipe_estimator` and imports mediapipe
only when created, so importing this package stays light.
"""

from __future__ import annotations

from rehab.pose.estimator import (
    FramePose,
    PersonPose,
    PoseEstimator,
    ReplayEstimator,
    estimate_sequence,
)
from rehab.pose.model import resolve_model
from rehab.pose.select import Selection, SelectionWeights, select_person

__all__ = [
    "FramePose",
    "PersonPose",
    "PoseEstimator",
    "ReplayEstimator",
    "Selection",
    "SelectionWeights",
    "estimate_sequence",
    "resolve_model",
    "select_person",
]
