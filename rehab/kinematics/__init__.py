"""Kinematics: joint angles (clinical neutral-zero), gap filling, filtering, velocities."""

from rehab.kinematics.angles import (
    ANGLE_COLUMNS,
    AngleSet,
    compute_angles,
    compute_angles_and_estimates,
    frame_angles,
)
from rehab.kinematics.filters import OneEuroFilter, butter_lowpass_coeffs, smooth_signal

__all__ = ["ANGLE_COLUMNS", "AngleSet", "OneEuroFilter", "butter_lowpass_coeffs",
           "compute_angles", "compute_angles_and_estimates", "frame_angles", "smooth_signal"]
