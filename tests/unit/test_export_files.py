"""Unit: the OpenSim and C3D files of one analysis, on synthetic recordings whose every
landmark, timestamp and angle is known (the files are read back by OpenSim and ezc3d in
tests/integration/test_exports.py).
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
import pytest

from rehab.analysis import analyze_sequence
from rehab.errors import RehabError
from rehab.exercises import get_exercise
from rehab.exports import EXPORT_FILES, parse_formats, write_exports
from rehab.exports.c3dfile import c3d_bytes, timing_error_s
from rehab.exports.opensim import MARKER_NAMES, marker_positions, mot_text, trc_text
from rehab.model import ANGLE_COLUMNS, LANDMARK_INDEX, LANDMARK_NAMES, Analysis, Scale
from rehab.synthetic import rep_trajectory, synthetic_sequence


def _squats(n_reps: int = 2, drop_every: int = 0) -> Analysis:
    t, knee = rep_trajectory(n_reps, 30.0, rest=0.0, peak=95.0)
    seq = synthetic_sequence(t, {"knee_flexion": knee, "hip_flexion": 0.8 * knee})
    if drop_every:  # frames lost on the way: the container's timestamps keep the gaps
        seq = seq.frames(np.arange(seq.n_frames) % drop_every != 0)
    return analyze_sequence(seq, get_exercise("squat"), side="right")


def _rows(text: str, header: int) -> list[list[str]]:
    return [ln.split("\t") for ln in text.splitlines()[header:]]


def test_marker_names_are_one_per_landmark_in_landmark_order() -> None:
    assert len(MARKER_NAMES) == len(set(MARKER_NAMES)) == len(LANDMARK_NAMES)
    for landmark, marker in zip(LANDMARK_NAMES, MARKER_NAMES):
        side = {"left": "L", "right": "R"}.get(landmark.split("_")[0], "")
        assert marker.startswith(side), (landmark, marker)


def test_trc_header_has_the_fields_opensim_checks() -> None:
    a = _squats()
    lines = trc_text(a, "knee.trc").splitlines()
    assert lines[0].split("\t") == ["PathFileType", "4", "(X/Y/Z)", "knee.trc"]
    keys, values = lines[1].split("\t"), lines[2].split("\t")
    meta = dict(zip(keys, values))
    n = a.sequence.n_frames
    assert meta == {"DataRate": "30", "CameraRate": "30", "NumFrames": str(n),
                    "NumMarkers": "33", "Units": "px", "OrigDataRate": "30",
                    "OrigDataStartFrame": "1", "OrigNumFrames": str(n)}
    names = lines[3].split("\t")
    assert names[:2] == ["Frame#", "Time"] and len(names) == 2 + 3 * 33
    assert names[2::3] == list(MARKER_NAMES) and not any(names[3::3] + names[4::3])
    assert lines[4].split("\t")[2:5] == ["X1", "Y1", "Z1"]
    assert lines[4].split("\t")[-1] == "Z33"
    rows = _rows("\n".join(lines), 5)
    assert len(rows) == n and all(len(r) == 2 + 99 for r in rows)
    assert [int(r[0]) for r in rows] == list(range(1, n + 1))


def test_trc_times_are_the_recordings_own_timestamps_with_their_gaps() -> None:
    a = _squats(drop_every=7)
    t = a.sequence.timestamps
    assert np.diff(t).max() > 1.5 / 30  # the gaps are there
    rows = _rows(trc_text(a), 5)
    assert np.allclose([float(r[1]) for r in rows], t, atol=1e-6, rtol=0)


def test_markers_lie_in_the_image_plane_x_right_y_up_in_pixels_or_metres() -> None:
    a = _squats()
    seq = a.sequence
    px = seq.pixels()
    xyz, units = marker_positions(a)
    assert units == "px"
    assert np.allclose(xyz[..., 0], px[..., 0]) and np.allclose(xyz[..., 1], seq.height - px[..., 1])
    assert np.all(xyz[..., 2] == 0)
    head, toe = LANDMARK_INDEX["nose"], LANDMARK_INDEX["right_foot_index"]
    assert np.all(xyz[:, head, 1] > xyz[:, toe, 1])  # the head is above the toes: Y up
    scaled = a.replace(scale=Scale(0.25, "test"))
    xyz_m, units_m = marker_positions(scaled)
    assert units_m == "m" and np.allclose(xyz_m, xyz * 0.0025)
    rows = _rows(trc_text(scaled), 5)
    assert "\tm\t" in trc_text(scaled).splitlines()[2]
    first = np.array([float(v) for v in rows[0][2:]]).reshape(33, 3)
    assert np.allclose(first, xyz_m[0], atol=5e-6, rtol=0)


def test_unseen_markers_and_frames_without_a_person_are_nan() -> None:
    a = _squats()
    seq = a.sequence
    vis = seq.visibility.copy()
    wrist = LANDMARK_INDEX["left_wrist"]
    vis[10:20, wrist] = a.settings.min_visibility / 2  # the model hardly saw it
    lm, world = seq.landmarks.copy(), seq.world.copy()
    lm[30], world[30], vis[30] = np.nan, np.nan, 0.0  # nobody in frame 30
    b = a.replace(sequence=seq.replace(landmarks=lm, world=world, visibility=vis))
    rows = _rows(trc_text(b), 5)
    col = 2 + 3 * wrist
    assert all(rows[i][col:col + 3] == ["nan"] * 3 for i in range(10, 20))
    assert rows[9][col] != "nan" and rows[20][col] != "nan"
    assert rows[30][2:] == ["nan"] * 99
    assert sum(v == "nan" for r in rows for v in r) == 10 * 3 + 99


def test_mot_holds_every_raw_angle_in_degrees_under_the_header_opensim_reads() -> None:
    a = _squats()
    text = mot_text(a)
    lines = text.splitlines()
    end = lines.index("endheader")
    header = dict(ln.split("=", 1) for ln in lines[1:end])
    n = a.sequence.n_frames
    assert header == {"version": "3", "nRows": str(n), "nColumns": "17", "inDegrees": "yes"}
    assert lines[end + 1].split("\t") == ["time", *ANGLE_COLUMNS]
    rows = _rows(text, end + 2)
    assert len(rows) == n
    got = np.array([[float(v) for v in r[1:]] for r in rows])
    want = a.angles.values
    assert np.array_equal(np.isnan(got), np.isnan(want))
    assert np.allclose(got, want, atol=5e-4, rtol=0, equal_nan=True)
    knee = ANGLE_COLUMNS.index("right_knee_flexion")
    assert math.isclose(np.nanmax(got[:, knee]), 95.0, abs_tol=0.5)  # the synthetic peak


def test_write_exports_writes_the_files_asked_for_and_only_those(tmp_path: Path) -> None:
    a = _squats()
    paths = write_exports(a, tmp_path, ("mot", "trc"))
    assert set(paths) == {"trc", "mot"} and sorted(p.name for p in tmp_path.iterdir()) == [
        EXPORT_FILES["mot"], EXPORT_FILES["trc"]]
    assert paths["trc"].read_text() == trc_text(a, "markers.trc")
    paths = write_exports(a, tmp_path, ("c3d",))
    assert paths["c3d"].read_bytes() == c3d_bytes(a)
    assert paths["c3d"].read_bytes()[1] == 0x50  # C3D's key byte


def test_c3d_warns_when_the_frames_stray_from_its_one_rate(caplog: pytest.LogCaptureFixture
                                                           ) -> None:
    regular, gaps = _squats(), _squats(drop_every=7)
    assert timing_error_s(regular.sequence.timestamps, 30.0) < 1e-9
    assert timing_error_s(gaps.sequence.timestamps, 30.0) > 0.5 / 30
    with caplog.at_level(logging.WARNING, logger="rehab.exports.c3dfile"):
        c3d_bytes(regular)
        assert not caplog.records
        c3d_bytes(gaps)
    assert len(caplog.records) == 1 and "markers.trc" in caplog.records[0].getMessage()


@pytest.mark.parametrize(("text", "formats"), [
    ("trc", ("trc",)), ("mot,trc", ("trc", "mot")), (" TRC , .c3d ", ("trc", "c3d")),
    ("c3d,c3d,mot", ("mot", "c3d")), ("trc,mot,c3d", ("trc", "mot", "c3d")),
])
def test_export_formats_parse_in_one_order(text: str, formats: tuple[str, ...]) -> None:
    assert parse_formats(text) == formats


@pytest.mark.parametrize(("text", "message"), [
    ("", "no format"), (",", "no format"), ("trc,osim", "unknown format 'osim'"),
    ("csv", "unknown format 'csv'"),
])
def test_unknown_export_formats_are_refused(text: str, message: str) -> None:
    with pytest.raises(RehabError, match=message):
        parse_formats(text)
