"""Layer 3: every CLI subcommand run as a user would, outputs checked for content.

``rehab`` runs in a new process through the `rehab` fixture; `assert_one_line_error` checks
a failure (both in tests/conftest.py)."""

from __future__ import annotations

import csv
import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from rehab.sequence import load_npz
from rehab.synthetic import rep_trajectory, synthetic_sequence
from rehab.sequence import save_npz


REPO = Path(__file__).resolve().parents[2]
Rehab = Callable[..., subprocess.CompletedProcess[str]]  # the `rehab` fixture
OneLineError = Callable[..., None]  # the `assert_one_line_error` fixture


@pytest.fixture()
def squat_npz(tmp_path: Path) -> Path:
    t, knee = rep_trajectory(4, 30.0, rest=2.0, peak=95.0)
    seq = synthetic_sequence(t, {"knee_flexion": knee, "hip_flexion": 0.8 * knee})
    return save_npz(seq, tmp_path / "squat4.npz")


def test_version_and_help(rehab: Rehab) -> None:
    assert rehab("--version").stdout.startswith("rehab ")
    out = rehab("--help").stdout
    for cmd in ("exercises", "analyze", "validate", "info"):
        assert cmd in out


def test_exercises_lists_the_library(rehab: Rehab) -> None:
    out = rehab("exercises").stdout
    lines = out.strip().splitlines()
    assert lines[0].split()[:3] == ["id", "joint", "angle"]
    ids = {ln.split()[0] for ln in lines[1:]}
    assert {"squat", "sit_to_stand", "lunge", "side_lunge", "knee_extension",
            "straight_leg_raise", "heel_raise", "hip_abduction", "bridge", "hip_hinge",
            "shoulder_flexion", "shoulder_abduction", "shoulder_press", "elbow_flexion",
            "elbow_extension", "push_up", "jumping_jack"} <= ids
    squat = next(ln for ln in lines if ln.startswith("squat "))
    assert "knee_flexion" in squat and "80-130" in squat


def test_analyze_landmarks_file_writes_all_outputs(squat_npz: Path, tmp_path: Path, rehab: Rehab
                                                  ) -> None:
    out = tmp_path / "out"
    res = rehab("analyze", str(squat_npz), "--exercise", "squat", "--out", str(out))
    assert "4 repetition(s)" in res.stdout
    doc = json.loads((out / "result.json").read_text())
    for key in ("exercise", "side", "rep_count", "fps", "frames", "frames_with_pose", "model",
                "reps"):
        assert key in doc
    assert doc["exercise"] == "squat" and doc["rep_count"] == 4 and len(doc["reps"]) == 4
    assert doc["frames"] == doc["frames_with_pose"] == load_npz(squat_npz).n_frames
    rep = doc["reps"][0]
    for key in ("index", "start_s", "end_s", "peak_s", "min_deg", "max_deg", "rom_deg",
                "target_met", "score", "flags"):
        assert key in rep
    assert rep["max_deg"] == pytest.approx(95.0, abs=1.0) and rep["target_met"] is True
    rows = list(csv.DictReader((out / "reps.csv").open()))
    assert [int(r["index"]) for r in rows] == [1, 2, 3, 4]
    angles = list(csv.DictReader((out / "angles.csv").open()))
    assert len(angles) == doc["frames"]
    assert {"time_s", "rep", "left_knee_flexion_raw", "right_knee_flexion_raw"} <= set(angles[0])
    # the landmarks written back re-score identically without the model
    res2 = rehab("analyze", str(out / "landmarks.npz"), "--exercise", "squat",
                 "--out", str(tmp_path / "again"))
    doc2 = json.loads((tmp_path / "again" / "result.json").read_text())
    assert doc2["reps"] == doc["reps"]
    assert res2.returncode == 0
    assert not list(out.glob("*.part*"))


def test_analyze_target_override_and_side(squat_npz: Path, tmp_path: Path, rehab: Rehab) -> None:
    rehab("analyze", str(squat_npz), "-e", "squat", "--side", "right", "--target-min", "100",
          "--target-max", "140", "--out", str(tmp_path / "o"))
    doc = json.loads((tmp_path / "o" / "result.json").read_text())
    assert doc["side"] == "right" and doc["target"] == {"min_deg": 100.0, "max_deg": 140.0}
    assert all(not r["target_met"] and "short_of_target" in r["flags"] for r in doc["reps"])


def test_analyze_default_output_folder(squat_npz: Path, tmp_path: Path, rehab: Rehab) -> None:
    rehab("analyze", str(squat_npz), "-e", "squat", cwd=tmp_path)
    assert (tmp_path / "rehab-out" / "squat4" / "result.json").is_file()


def test_custom_exercise_file_without_touching_code(squat_npz: Path, tmp_path: Path, rehab: Rehab
                                                   ) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    text = REPO.joinpath("exercises", "squat.toml").read_text()
    (folder / "mini_squat.toml").write_text(
        text.replace('id = "squat"', 'id = "mini_squat"').replace("min_deg = 80", "min_deg = 40"))
    out = rehab("exercises", "--exercises-dir", str(folder)).stdout
    assert "mini_squat" in out
    rehab("analyze", str(squat_npz), "-e", "mini_squat", "--exercises-dir", str(folder),
          "--out", str(tmp_path / "o"))
    assert json.loads((tmp_path / "o" / "result.json").read_text())["exercise"] == "mini_squat"


# --- bad input: one clear line, non-zero exit, nothing half-written ----------------------

def test_missing_file(tmp_path: Path, rehab: Rehab, assert_one_line_error: OneLineError) -> None:
    res = rehab("analyze", str(tmp_path / "nope.mp4"), "-e", "squat", "--out", str(tmp_path / "o"),
                check=False)
    assert_one_line_error(res, "nope.mp4")
    assert not (tmp_path / "o" / "result.json").exists()


def test_not_a_video(tmp_path: Path, rehab: Rehab, assert_one_line_error: OneLineError) -> None:
    fake = tmp_path / "notes.mp4"
    fake.write_text("this is not a video\n")
    res = rehab("analyze", str(fake), "-e", "squat", "--out", str(tmp_path / "o"), check=False)
    assert_one_line_error(res, "notes.mp4")
    assert not (tmp_path / "o" / "result.json").exists()


def test_zero_length_video(tmp_path: Path, rehab: Rehab, assert_one_line_error: OneLineError
                          ) -> None:
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    assert_one_line_error(rehab("analyze", str(empty), "-e", "squat", check=False), "empty.mp4")


def test_unknown_exercise(squat_npz: Path, rehab: Rehab, assert_one_line_error: OneLineError
                         ) -> None:
    res = rehab("analyze", str(squat_npz), "-e", "moonwalk", check=False)
    assert_one_line_error(res, "unknown exercise 'moonwalk'", "squat")


def test_malformed_exercise_toml(squat_npz: Path, tmp_path: Path, rehab: Rehab,
                                 assert_one_line_error: OneLineError) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('id = "bad"\nname = [unclosed\n')
    assert_one_line_error(rehab("analyze", str(squat_npz), "-e", str(bad), check=False),
                          "bad.toml", "malformed TOML")
    bad.write_text(REPO.joinpath("exercises", "squat.toml")
                   .read_text().replace('id = "squat"', 'id = "bad"\ncolour = "red"'))
    assert_one_line_error(rehab("analyze", str(squat_npz), "-e", str(bad), check=False),
                          "bad.toml", "colour")


def test_target_min_greater_than_max(squat_npz: Path, rehab: Rehab,
                                     assert_one_line_error: OneLineError) -> None:
    res = rehab("analyze", str(squat_npz), "-e", "squat", "--target-min", "120",
                "--target-max", "90", check=False)
    assert_one_line_error(res, "target min 120", "greater than")


def test_unwritable_output(squat_npz: Path, tmp_path: Path, rehab: Rehab,
                           assert_one_line_error: OneLineError) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    res = rehab("analyze", str(squat_npz), "-e", "squat", "--out", str(blocker / "sub"),
                check=False)
    assert_one_line_error(res, "cannot create the output folder", "is not a writable folder")


def test_no_person_in_landmarks(tmp_path: Path, rehab: Rehab, assert_one_line_error: OneLineError
                               ) -> None:
    seq = synthetic_sequence(np.arange(30) / 30.0, {})
    empty = seq.replace(landmarks=np.full_like(seq.landmarks, np.nan),
                        world=np.full_like(seq.world, np.nan),
                        visibility=np.zeros_like(seq.visibility))
    path = save_npz(empty, tmp_path / "nobody.npz")
    res = rehab("analyze", str(path), "-e", "squat", "--out", str(tmp_path / "o"), check=False)
    assert_one_line_error(res, "no person detected")
    assert not (tmp_path / "o" / "result.json").exists()


def test_limb_out_of_view_in_landmarks(tmp_path: Path, rehab: Rehab,
                                       assert_one_line_error: OneLineError) -> None:
    t, x = rep_trajectory(3, 30.0, 0.0, 100.0)
    seq = synthetic_sequence(t, {"knee_flexion": x})
    vis = seq.visibility.copy()
    vis[:, 25:] = 0.0  # knees and below out of frame
    path = save_npz(seq.replace(visibility=vis), tmp_path / "legs_out.npz")
    res = rehab("analyze", str(path), "-e", "squat", check=False)
    assert_one_line_error(res, "knee flexion could be measured in only 0%", "out of view")


def test_overlay_needs_a_video(squat_npz: Path, rehab: Rehab, assert_one_line_error: OneLineError
                              ) -> None:
    assert_one_line_error(rehab("analyze", str(squat_npz), "-e", "squat", "--overlay",
                                check=False), "--overlay needs the video")


def test_corrupt_landmarks_file(tmp_path: Path, rehab: Rehab, assert_one_line_error: OneLineError
                               ) -> None:
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04garbage")
    assert_one_line_error(rehab("analyze", str(bad), "-e", "squat", check=False), "bad.npz")


# --- validate, info, sample -------------------------------------------------------------

def test_validate_synthetic_manifest(tmp_path: Path, rehab: Rehab) -> None:
    for n in (2, 5):
        t, knee = rep_trajectory(n, 30.0, 0.0, 100.0)
        save_npz(synthetic_sequence(t, {"knee_flexion": knee}), tmp_path / f"sq{n}.npz")
    (tmp_path / "m.csv").write_text("file,exercise,reps_true\nsq2.npz,squat,2\nsq5.npz,squat,6\n")
    res = rehab("validate", str(tmp_path / "m.csv"), "--out", str(tmp_path / "v"))
    assert "exact: 1/2" in res.stdout and "within one: 2/2" in res.stdout
    doc = json.loads((tmp_path / "v" / "validation.json").read_text())
    assert doc["exact"] == 1 and doc["within_one"] == 2
    assert doc["normalised_mae"] == pytest.approx((0 + 1 / 6) / 2)


def test_validate_reports_broken_rows_and_fails(tmp_path: Path, rehab: Rehab,
                                                assert_one_line_error: OneLineError) -> None:
    (tmp_path / "m.csv").write_text("file,exercise,reps_true\nmissing.npz,squat,3\n")
    res = rehab("validate", str(tmp_path / "m.csv"), check=False)
    assert res.returncode == 1 and "error" in res.stdout and "failed: 1" in res.stdout
    (tmp_path / "bad.csv").write_text("name,count\na,1\n")
    assert_one_line_error(rehab("validate", str(tmp_path / "bad.csv"), check=False),
                          "lacks column")


def test_info_reports_versions_and_model(tmp_path: Path, rehab: Rehab) -> None:
    out = rehab("info", env={"REHAB_CACHE_DIR": str(tmp_path)}).stdout
    for key in ("rehab:", "mediapipe:", "opencv:", "numba:", "numpy:", "model:",
                "model sha256:"):
        assert key in out
    assert "0.10.21" in out


def test_sample_from_offline_mirror(shared_videos: Path, tmp_path: Path, rehab: Rehab,
                                    assert_one_line_error: OneLineError) -> None:
    res = rehab("sample", env={"REHAB_DATA_DIR": str(shared_videos)})
    assert Path(res.stdout.strip()) == shared_videos / "shoulder_abduction.mp4"
    bad = tmp_path / "mirror"
    bad.mkdir()
    (bad / "shoulder_abduction.mp4").write_bytes(b"corrupt")
    assert_one_line_error(rehab("sample", env={"REHAB_DATA_DIR": str(bad)}, check=False),
                          "sha256")


# --- calibration and real-world units in analyze ------------------------------------------

def _calibration_file(path: Path, width: int, height: int, k1: float = 0.0) -> Path:
    from rehab.calibration import CameraCalibration, save_calibration

    calib = CameraCalibration(name="test", width=width, height=height, fx=1000.0, fy=1000.0,
                              cx=width / 2, cy=height / 2, dist=(k1, 0.0, 0.0, 0.0, 0.0),
                              rms_px=0.2, images_used=12, created="2026-11-25T00:00:00Z")
    save_calibration(calib, path)
    return path


def test_analyze_with_calibration_and_height(squat_npz: Path, tmp_path: Path, rehab: Rehab) -> None:
    calib = _calibration_file(tmp_path / "cam.toml", 1280, 720)
    out = tmp_path / "o"
    rehab("analyze", str(squat_npz), "-e", "squat", "--calibration", str(calib),
          "--height-cm", "175", "--out", str(out))
    doc = json.loads((out / "result.json").read_text())
    assert doc["calibration"]["name"] == "test" and doc["rep_count"] == 4
    assert doc["scale"]["source"] == "patient height 175 cm"
    # synthetic squat: hips drop by THIGH * (1 - cos) ... just check plausible centimetres
    depth = doc["reps"][0]["distances_cm"]["hip_excursion_cm"]
    assert 10.0 < depth < 80.0
    # zero distortion leaves the angles as they were
    plain = tmp_path / "p"
    rehab("analyze", str(squat_npz), "-e", "squat", "--out", str(plain))
    doc0 = json.loads((plain / "result.json").read_text())
    assert [r["max_deg"] for r in doc["reps"]] == pytest.approx(
        [r["max_deg"] for r in doc0["reps"]], abs=0.01)


def test_calibration_for_another_resolution_is_refused(squat_npz: Path, tmp_path: Path,
                                                       rehab: Rehab,
                                                       assert_one_line_error: OneLineError) -> None:
    calib = _calibration_file(tmp_path / "cam.toml", 1920, 1080)
    res = rehab("analyze", str(squat_npz), "-e", "squat", "--calibration", str(calib),
                "--out", str(tmp_path / "o"), check=False)
    assert_one_line_error(res, "1920x1080", "1280x720")
    assert not (tmp_path / "o" / "result.json").exists()


def test_board_subcommand_writes_a_printable_board(tmp_path: Path, rehab: Rehab) -> None:
    rehab("board", "--board", "7x4", "--square-mm", "30", "--out", str(tmp_path / "b.svg"))
    assert (tmp_path / "b.svg").read_text().lstrip().startswith("<")
