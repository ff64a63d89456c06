"""Layer 2: real recordings from ../shared/data, through the real model (tolerances).

Skipped with a reason when the shared folder is absent. The model version is recorded in
every result and checked here. ``rehab`` runs through the `rehab` and
`assert_one_line_error` fixtures (tests/conftest.py).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from rehab.overlay import summary_frames
from rehab.pipeline import analyze
from rehab.validate import read_manifest

Rehab = Callable[..., subprocess.CompletedProcess[str]]  # the `rehab` fixture


def _development_manifests(shared_data: Path) -> list[Path]:
    """Both folders of the development set (the rehabilitation one when present)."""
    rehab_manifest = shared_data / "landmarks_rehab" / "manifest.csv"
    return [shared_data / "landmarks" / "manifest.csv"] + (
        [rehab_manifest] if rehab_manifest.is_file() else [])


def _development_rows(shared_data: Path) -> list:
    return [r for m in _development_manifests(shared_data) for r in read_manifest(m)]


def test_counts_on_the_landmark_development_set(shared_data: Path, tmp_path: Path,
                                                 rehab: Rehab) -> None:
    """The issue's bar on both folders (17 clips): at least 16 exact, all within one."""
    manifests = _development_manifests(shared_data)
    res = rehab("validate", *map(str, manifests), "--out", str(tmp_path))
    doc = json.loads((tmp_path / "validation.json").read_text())
    n = len(_development_rows(shared_data))
    assert doc["n"] == n and doc["failed"] == 0
    assert doc["exact"] >= n - 1, res.stdout
    assert doc["within_one"] == n, res.stdout


@pytest.mark.parametrize("row", range(17))
def test_each_development_clip_gives_plausible_angles(shared_data: Path, row: int) -> None:
    rows = _development_rows(shared_data)
    if row >= len(rows):
        pytest.skip(f"the development set here has {len(rows)} clips")
    r = rows[row]
    a = analyze(r.path, r.exercise)
    # a rep counted, or the result says where the clip was not measured (the supine leg
    # raise is lost by the detector from 5.3 to 7.5 s, just when the leg comes down)
    assert a.rep_count >= 1 or any(n.code == "sparse" for n in a.notes)
    for rep in a.reps:
        assert 0.0 <= rep.rom_deg <= 180.0
        assert rep.start_s <= rep.peak_s < rep.end_s  # a recording may open at the peak
        assert 0 <= rep.score <= 100
    # reps do not overlap and are in time order
    ends = [rep.end_s for rep in a.reps]
    starts = [rep.start_s for rep in a.reps]
    assert all(e <= s for e, s in zip(ends[:-1], starts[1:]))


@pytest.mark.model
def test_demo_video_end_to_end_with_overlay(shared_videos: Path, tmp_path: Path,
                                            rehab: Rehab) -> None:
    video = shared_videos / "shoulder_abduction.mp4"
    out = tmp_path / "demo"
    res = rehab("analyze", str(video), "--exercise", "shoulder_abduction", "--overlay",
                "--out", str(out), env={"REHAB_CACHE_DIR": str(tmp_path / "cache")})
    doc = json.loads((out / "result.json").read_text())
    assert doc["rep_count"] == 7, res.stdout
    assert doc["frames"] == 492 and doc["frames_with_pose"] >= 480
    assert doc["fps"] == pytest.approx(27.9, abs=0.1)
    assert "mediapipe 0.10.21" in doc["model"] and len(doc["model_sha256"]) == 64
    # every rep raises the arm well above horizontal; all but the first (the recording
    # opens mid-raise) start with the arm down
    assert all(120 <= r["max_deg"] <= 180 for r in doc["reps"])
    assert all(r["min_deg"] < 45 for r in doc["reps"][1:])
    assert all(r["end_s"] <= nxt["start_s"] for r, nxt in zip(doc["reps"], doc["reps"][1:]))
    cap = cv2.VideoCapture(str(out / "overlay.mp4"))
    n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    ok, frame = cap.read()
    cap.release()
    assert ok and n == 492 + summary_frames(doc["fps"]) and frame.shape[1] == 1280
    # the landmarks file re-scores to the same count without the model
    again = analyze(out / "landmarks.npz", "shoulder_abduction")
    assert again.rep_count == 7


def _write_clip(frames: list[np.ndarray], path: Path, fps: float = 25.0) -> Path:
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    for f in frames:
        writer.write(f)
    writer.release()
    return path


@pytest.mark.model
def test_no_person_in_a_real_video(tmp_path: Path, rehab: Rehab,
                                   assert_one_line_error: Callable[..., None]) -> None:
    clip = _write_clip([np.full((360, 640, 3), 90, np.uint8)] * 20, tmp_path / "empty_room.mp4")
    res = rehab("analyze", str(clip), "-e", "squat", "--out", str(tmp_path / "o"), check=False,
                env={"REHAB_CACHE_DIR": str(tmp_path / "cache")})
    assert_one_line_error(res, "no person detected")
    assert not (tmp_path / "o" / "result.json").exists()


@pytest.mark.model
def test_person_partly_out_of_frame(shared_videos: Path, tmp_path: Path, rehab: Rehab,
                                    assert_one_line_error: Callable[..., None]) -> None:
    """The demo patient is filmed waist-up: a squat cannot be measured, and we say why."""
    cap = cv2.VideoCapture(str(shared_videos / "shoulder_abduction.mp4"))
    frames = []
    while len(frames) < 40:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(cv2.resize(f, (640, 360)))
    cap.release()
    clip = _write_clip(frames, tmp_path / "waist_up.mp4")
    res = rehab("analyze", str(clip), "-e", "squat", check=False,
                env={"REHAB_CACHE_DIR": str(tmp_path / "cache")})
    assert_one_line_error(res, "knee flexion", "out of view")


@pytest.mark.model
def test_two_people_in_view_follows_the_patient_and_says_so(shared_videos: Path,
                                                             tmp_path: Path,
                                                             rehab: Rehab) -> None:
    out = tmp_path / "two"
    rehab("analyze", str(shared_videos / "pose2sim_two_people_cam02.mp4"), "-e", "hip_hinge",
          "--out", str(out), env={"REHAB_CACHE_DIR": str(tmp_path / "cache")})
    doc = json.loads((out / "result.json").read_text())
    texts = [n["text"] for n in doc["notes"]]  # result schema 2: notes carry a code
    assert any("people" in n or "person" in n for n in texts), doc["notes"]
    lm = np.load(out / "landmarks.npz")["landmarks"]
    seen = np.isfinite(lm[:, 0, 0])
    assert seen.sum() >= 90
    hips_x = lm[seen][:, [23, 24], 0].mean(axis=1)
    # frames whose left/right labels could not be resolved are gated (NaN limbs)
    assert np.nanmedian(hips_x) > 0.35  # the man on the platform, not the onlooker on the left


def _perturb(seq, kind: str, rng: np.random.Generator):
    if kind == "half_frame_rate":
        return seq.frames(slice(None, None, 2)).replace(fps=seq.fps / 2)
    if kind == "landmark_noise":
        lm = seq.landmarks.copy()
        lm[:, :, :2] += rng.normal(0, 0.004, lm[:, :, :2].shape).astype(np.float32)
        return seq.replace(landmarks=lm)
    if kind == "dropped_detections":
        vis = seq.visibility.copy()
        vis[rng.choice(seq.n_frames, seq.n_frames // 10, replace=False)] = 0.0
        return seq.replace(visibility=vis)
    if kind == "variable_frame_rate":
        dt = np.diff(seq.timestamps) * rng.uniform(0.7, 1.3, seq.n_frames - 1)
        return seq.replace(timestamps=seq.timestamps[0] + np.r_[0.0, np.cumsum(dt)])
    raise ValueError(kind)


@pytest.mark.parametrize("kind", ["half_frame_rate", "landmark_noise", "dropped_detections",
                                  "variable_frame_rate", "world_space"])
def test_counts_are_robust_to_degraded_recordings(shared_data: Path, kind: str) -> None:
    """The same clips, degraded as other cameras would: counts stay within one, mostly exact."""
    from rehab.analysis import analyze_sequence
    from rehab.exercises import get_exercise
    from rehab.sequence import load_npz

    rng = np.random.default_rng(7)
    errors = []
    # world space is another measurement, not a degradation: on the rehabilitation clips
    # with a change of camera angle (and the heel raise's small ankle motion) the model's
    # 3D estimate does not hold the count, so it is checked on the first folder only
    rows = (read_manifest(shared_data / "landmarks" / "manifest.csv") if kind == "world_space"
            else _development_rows(shared_data))
    for r in rows:
        seq = load_npz(r.path)
        if kind != "world_space":
            seq = _perturb(seq, kind, rng)
        a = analyze_sequence(seq, get_exercise(r.exercise),
                             space="world" if kind == "world_space" else None)
        errors.append(abs(a.rep_count - r.reps_true))
    assert max(errors) <= 1, errors
    assert sum(e == 0 for e in errors) >= len(errors) - 2, errors
