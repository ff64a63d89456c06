"""OpenSim text files: marker trajectories (``.trc``) and joint angles (``.mot``).

Markers are the 33 MediaPipe landmarks, named as Pose2Sim's BlazePose marker set names
them (``Markers_BlazePose.xml``: ``LShoulder``, ``RKnee``, ``LBigToe`` ...) and in the same
style where that set has no marker (``LEyeInner``, ``LEar``, ``LMouth`` ...). They lie in
the image plane, as Sports2D writes them: X to the image's right, Y up (the image's rows
flipped, origin at its bottom-left corner), Z = 0 (one camera measures no depth). Units:
metres when the analysis has a scale (``--height-cm``, a board or a calibration), else
pixels (``Units px`` in the header). A marker is ``nan`` (as OpenSim itself writes a missing
marker) in a frame without a person and where the model saw it less than the analysis's
``min_visibility``. Times are the recording's own timestamps.

The ``.mot`` holds the 16 raw joint angles the analysis measured (degrees, clinical
neutral-zero convention, ``left_knee_flexion`` ...; these are rehab's angles, not the
coordinates of an OpenSim model), NaN where an angle could not be measured, under a
``version=3`` header that both OpenSim readers (``Storage`` and ``TimeSeriesTable``) read
with NaN values.
"""

from __future__ import annotations

import io
import math

import numpy as np

from rehab.model import ANGLE_COLUMNS, LANDMARK_NAMES, Analysis

__all__ = ["MARKER_NAMES", "marker_positions", "mot_text", "trc_text"]

MARKER_NAMES: tuple[str, ...] = (
    "Nose",
    "LEyeInner", "LEye", "LEyeOuter",
    "REyeInner", "REye", "REyeOuter",
    "LEar", "REar",
    "LMouth", "RMouth",
    "LShoulder", "RShoulder",
    "LElbow", "RElbow",
    "LWrist", "RWrist",
    "LPinky", "RPinky",
    "LIndex", "RIndex",
    "LThumb", "RThumb",
    "LHip", "RHip",
    "LKnee", "RKnee",
    "LAnkle", "RAnkle",
    "LHeel", "RHeel",
    "LBigToe", "RBigToe",
)
"""The marker name of each MediaPipe landmark, in landmark order (`LANDMARK_NAMES`)."""

assert len(MARKER_NAMES) == len(LANDMARK_NAMES)


def _rate(fps: float) -> str:
    return f"{fps:.6g}"


def marker_positions(analysis: Analysis) -> tuple[np.ndarray, str]:
    """The markers of every frame, float64 (T, 33, 3) in the image plane (X right, Y up,
    Z = 0), NaN where missing; and their unit, ``m`` or ``px``."""
    seq = analysis.sequence
    px = seq.pixels()
    xyz = np.zeros((seq.n_frames, len(LANDMARK_NAMES), 3))
    xyz[..., 0] = px[..., 0]
    xyz[..., 1] = seq.height - px[..., 1]
    seen = (seq.visibility >= analysis.settings.min_visibility) & np.isfinite(px).all(axis=-1)
    xyz[~seen] = np.nan
    if analysis.scale is None:
        return xyz, "px"
    return xyz * (analysis.scale.cm_per_px / 100.0), "m"


def trc_text(analysis: Analysis, file_name: str = "markers.trc") -> str:
    """The ``.trc`` file of ``analysis`` (OpenSim's PathFileType 4, tab-separated)."""
    seq = analysis.sequence
    xyz, units = marker_positions(analysis)
    n, m = xyz.shape[0], xyz.shape[1]
    rate = _rate(seq.fps)
    digits = 5 if units == "m" else 2
    buf = io.StringIO()
    buf.write(f"PathFileType\t4\t(X/Y/Z)\t{file_name}\n")
    buf.write("DataRate\tCameraRate\tNumFrames\tNumMarkers\tUnits\tOrigDataRate\t"
              "OrigDataStartFrame\tOrigNumFrames\n")
    buf.write(f"{rate}\t{rate}\t{n}\t{m}\t{units}\t{rate}\t1\t{n}\n")
    buf.write("Frame#\tTime\t" + "\t\t\t".join(MARKER_NAMES) + "\t\t\n")
    buf.write("\t\t" + "\t".join(f"X{k}\tY{k}\tZ{k}" for k in range(1, m + 1)) + "\n")
    flat = xyz.reshape(n, m * 3)
    for i in range(n):
        cells = ["nan" if math.isnan(v) else f"{v:.{digits}f}" for v in flat[i]]
        buf.write(f"{i + 1}\t{seq.timestamps[i]:.6f}\t" + "\t".join(cells) + "\n")
    return buf.getvalue()


def mot_text(analysis: Analysis) -> str:
    """The ``.mot`` file of ``analysis``: time and the 16 raw joint angles in degrees."""
    values = analysis.angles.values
    t = analysis.sequence.timestamps
    buf = io.StringIO()
    buf.write(f"rehab joint angles ({analysis.angles.space} space)\n")
    buf.write("version=3\n")
    buf.write(f"nRows={values.shape[0]}\n")
    buf.write(f"nColumns={len(ANGLE_COLUMNS) + 1}\n")
    buf.write("inDegrees=yes\n")
    buf.write("endheader\n")
    buf.write("time\t" + "\t".join(ANGLE_COLUMNS) + "\n")
    for i in range(values.shape[0]):
        cells = ["nan" if math.isnan(v) else f"{v:.3f}" for v in values[i]]
        buf.write(f"{t[i]:.6f}\t" + "\t".join(cells) + "\n")
    return buf.getvalue()
