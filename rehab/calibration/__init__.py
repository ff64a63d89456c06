"""Camera calibration (intrinsics, lens distortion) and real-world scale.

- `calibrate_from_images` / `calibrate_from_video`: intrinsics from a printed checkerboard
- `load_calibration` / `save_calibration` / `save_pose2sim_toml`: our TOML and Pose2Sim's
- `undistort_sequence`: remove lens distortion from a `PoseSequence`
- `scale_from_height` / `scale_from_board` and `distances_cm`: centimetres per repetition
- `write_board`: the printable board (PDF/SVG)

See ``calibration/README.md`` for the clinic procedure and both file formats.
"""

from __future__ import annotations

from rehab.calibration.board import write_board
from rehab.calibration.camera import (
    CameraCalibration,
    load_calibration,
    load_pose2sim_cameras,
    save_calibration,
    save_pose2sim_toml,
)
from rehab.calibration.checkerboard import (
    CalibrationReport,
    ImageResult,
    calibrate_from_images,
    calibrate_from_video,
    detect_board,
    parse_board,
)
from rehab.calibration.scale import Scale, distances_cm, scale_from_board, scale_from_height
from rehab.calibration.undistort import undistort_pixels, undistort_sequence

__all__ = [
    "CalibrationReport",
    "CameraCalibration",
    "ImageResult",
    "Scale",
    "calibrate_from_images",
    "calibrate_from_video",
    "detect_board",
    "distances_cm",
    "load_calibration",
    "load_pose2sim_cameras",
    "parse_board",
    "save_calibration",
    "save_pose2sim_toml",
    "scale_from_board",
    "scale_from_height",
    "undistort_pixels",
    "undistort_sequence",
    "write_board",
]
