"""C3D marker files, written with the maintained ``c3d`` package (py-c3d).

The points are the `rehab.exports.opensim` markers (same names, axes and missing frames) in
millimetres when the analysis has a scale (C3D's usual unit), else pixels (``POINT:UNITS``
``px``). A missing marker has residual -1, C3D's mark of an invalid sample. C3D keeps one
fixed frame rate (``POINT:RATE``, the recording's nominal rate), not a time per frame: when
the recording's timestamps stray from that rate by more than half a frame, a warning says
so and the ``.trc``'s ``Time`` column is the one to trust.
"""

from __future__ import annotations

import io
import logging
import warnings

import numpy as np

from rehab.exports.opensim import MARKER_NAMES, marker_positions
from rehab.model import Analysis

log = logging.getLogger(__name__)

__all__ = ["c3d_bytes", "timing_error_s"]


def timing_error_s(timestamps: np.ndarray, fps: float) -> float:
    """Largest distance (s) of a frame's timestamp from where a fixed ``fps`` puts it."""
    if timestamps.size == 0:
        return 0.0
    nominal = timestamps[0] + np.arange(timestamps.size) / fps
    return float(np.max(np.abs(timestamps - nominal)))


def c3d_bytes(analysis: Analysis) -> bytes:
    """The ``.c3d`` file of ``analysis`` as bytes."""
    import c3d  # the writer is needed only here

    seq = analysis.sequence
    xyz, units = marker_positions(analysis)
    if units == "m":
        xyz, units = xyz * 1000.0, "mm"
    stray = timing_error_s(seq.timestamps, seq.fps)
    if stray > 0.5 / seq.fps:
        log.warning("markers.c3d: C3D keeps one frame rate (%g/s) and this recording's "
                    "frames stray from it by up to %.0f ms: markers.trc has each frame's "
                    "own time", seq.fps, stray * 1000)
    writer = c3d.Writer(point_rate=float(seq.fps), analog_rate=0.0, point_scale=-1.0,
                        point_units=units.ljust(4))
    writer.set_point_labels(list(MARKER_NAMES))
    writer.set_screen_axis("+X", "+Y")
    missing = np.isnan(xyz).any(axis=-1)
    analog = np.zeros((0, 0), dtype=np.float32)
    frames = []
    for i in range(xyz.shape[0]):
        points = np.zeros((xyz.shape[1], 5), dtype=np.float32)
        points[:, :3] = np.where(missing[i, :, None], 0.0, xyz[i])
        points[:, 3] = np.where(missing[i], -1.0, 0.0)
        frames.append((points, analog))
    writer.add_frames(frames)
    buf = io.BytesIO()
    with warnings.catch_warnings():  # "No analog data found": there is none, by design
        warnings.simplefilter("ignore", UserWarning)
        writer.write(buf)
    return buf.getvalue()
