"""Integration: the OpenSim and C3D exports of development-set recordings, read back by
software nobody on the team wrote: OpenSim 4.6's own readers (``TimeSeriesTableVec3`` for
``.trc``; ``TimeSeriesTable`` and the GUI's legacy ``Storage`` for ``.mot``), ezc3d for
``.c3d``, and Pose2Sim's BlazePose marker set for the names (the `read_exports` fixture).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

import rehab
from rehab.exports import write_exports
from rehab.exports.opensim import MARKER_NAMES, marker_positions
from rehab.model import ANGLE_COLUMNS, LANDMARK_INDEX, Analysis

Reader = Callable[..., dict[str, Any]]


def _arr(x: Any) -> np.ndarray:
    return np.array(x, dtype=np.float64)  # None (NaN in the files) -> nan


@pytest.fixture(scope="module")
def squat_01(shared_data: Path) -> Analysis:
    seq = rehab.load(shared_data / "landmarks" / "squat_01.npz")
    return rehab.analyze(seq, "squat")


@pytest.mark.parametrize("height_cm", [None, 175.0], ids=["pixels", "metres"])
def test_opensim_and_ezc3d_read_back_a_development_set_recording(
        squat_01: Analysis, height_cm: float | None, tmp_path: Path,
        read_exports: Reader) -> None:
    a = squat_01 if height_cm is None else rehab.analyze(squat_01.sequence, "squat",
                                                         height_cm=height_cm)
    assert (a.scale is None) == (height_cm is None)
    paths = write_exports(a, tmp_path, ("trc", "mot", "c3d"))
    got = read_exports(trc=paths["trc"], mot=paths["mot"], c3d=paths["c3d"])
    seq = a.sequence
    n = seq.n_frames
    xyz, units = marker_positions(a)
    assert np.isnan(xyz).any() and not np.isnan(xyz).all()  # hidden markers on this clip

    trc = got["trc"]
    assert trc["labels"] == list(MARKER_NAMES)
    assert {k: trc["meta"][k] for k in ("Units", "DataRate", "NumFrames", "NumMarkers")} == {
        "Units": units, "DataRate": "30", "NumFrames": str(n), "NumMarkers": "33"}
    assert np.allclose(trc["time"], seq.timestamps, atol=1e-6, rtol=0)
    markers = _arr(trc["markers"])
    assert np.array_equal(np.isnan(markers), np.isnan(xyz))
    tol = 5e-6 if units == "m" else 5e-3
    assert np.allclose(markers, xyz, atol=tol, rtol=0, equal_nan=True)

    mot = got["mot"]
    assert mot["labels"] == list(ANGLE_COLUMNS) and mot["meta"]["inDegrees"] == "yes"
    values = _arr(mot["values"])
    assert np.array_equal(np.isnan(values), np.isnan(a.angles.values))
    assert np.isnan(values).any()  # NaN rows too: the legacy reader must not stop at them
    assert np.allclose(values, a.angles.values, atol=5e-4, rtol=0, equal_nan=True)
    assert mot["storage_rows"] == n and mot["storage_in_degrees"] is True
    assert mot["storage_labels"] == ["time", *ANGLE_COLUMNS]

    c3d = got["c3d"]
    assert c3d["labels"] == list(MARKER_NAMES) and c3d["rate"] == 30.0
    assert c3d["units"] == ("mm" if units == "m" else "px")
    points = _arr(c3d["points"])
    want = xyz * (1000.0 if units == "m" else 1.0)
    assert np.array_equal(np.isnan(points), np.isnan(want))  # ezc3d: residual -1 -> NaN
    scale = np.nanmax(np.abs(want))
    assert np.allclose(points, want, atol=scale * 1e-6, rtol=0, equal_nan=True)
    residuals = _arr(c3d["residuals"])
    assert np.array_equal(residuals < 0, np.isnan(xyz).any(axis=-1))


def test_marker_names_and_landmarks_match_pose2sims_blazepose_marker_set(
        read_exports: Reader) -> None:
    """Every marker of Pose2Sim's OpenSim marker set for BlazePose is one of ours, on the
    same MediaPipe landmark as Pose2Sim's skeleton puts it (its ``Lknee`` spelled as its
    marker set spells it, ``LKnee``)."""
    p2s = read_exports(pose2sim=True)["pose2sim"]
    skeleton = {name.lower(): idx for name, idx in p2s["skeleton"].items()}
    assert len(p2s["markerset"]) == 25
    for name in p2s["markerset"]:
        assert name in MARKER_NAMES, name
        assert MARKER_NAMES.index(name) == skeleton[name.lower()], name
    assert MARKER_NAMES[LANDMARK_INDEX["left_knee"]] == "LKnee"


def test_why_the_mot_says_version_3(squat_01: Analysis, tmp_path: Path,
                                    read_exports: Reader) -> None:
    """The same angles under the ``version=1`` header Sports2D writes: OpenSim's legacy
    ``Storage`` stops at the first row holding a NaN, its ``TimeSeriesTable`` does not;
    under ``version=3`` both read every row (the test above)."""
    paths = write_exports(squat_01, tmp_path, ("mot",))
    old = tmp_path / "v1.mot"
    old.write_text(paths["mot"].read_text().replace("version=3", "version=1", 1))
    got = read_exports(mot=old)["mot"]
    n = squat_01.sequence.n_frames
    first_nan = int(np.flatnonzero(np.isnan(squat_01.angles.values).any(axis=1))[0])
    assert len(got["time"]) == n
    assert got["storage_rows"] < n and got["storage_rows"] <= first_nan + 1
