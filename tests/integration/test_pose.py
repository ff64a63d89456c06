"""Pose estimation: replay round trip, person selection, model files (no inference).

Landmarks come from the `synthetic_person` and `pose_frames` fixtures
(tests/integration/conftest.py); the real model is tested in tests/model/test_pose_model.py."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from rehab.capture import ImageFolderSource
from rehab.errors import InputError, NoPoseError
from rehab.pose import (
    FramePose,
    PersonPose,
    PoseEstimator,
    ReplayEstimator,
    estimate_sequence,
    resolve_model,
    select_person,
)
from rehab.pose import model as model_mod
from rehab.pose.select import SELECTION_RULE, SelectionWeights, count_people, frame_scores
from rehab.sequence import N_LANDMARKS, PoseSequence


def _image_folder(folder: Path, n: int, width: int = 64, height: int = 48) -> Path:
    folder.mkdir()
    for i in range(n):
        cv2.imwrite(str(folder / f"{i:04d}.png"), np.full((height, width, 3), i, np.uint8))
    return folder


@pytest.fixture
def person(synthetic_person: Callable[..., tuple]) -> Callable[..., tuple[np.ndarray, np.ndarray]]:
    """``person(cx, cy=0.5, height=0.5, vis=0.9, wave=0.0)``: a candidate's landmarks and
    visibility (a `synthetic_person`)."""

    def make(cx: float, cy: float = 0.5, height: float = 0.5, vis: float = 0.9,
             wave: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        lm, _, v = synthetic_person(cx, cy, height, vis, wave)
        return lm, v

    return make


def _frames(*people_per_frame: list[tuple[np.ndarray, np.ndarray]]
            ) -> tuple[list[np.ndarray], list[np.ndarray]]:
    lms = [np.stack([p[0] for p in f]) if f else np.zeros((0, N_LANDMARKS, 3))
           for f in people_per_frame]
    vis = [np.stack([p[1] for p in f]) if f else np.zeros((0, N_LANDMARKS))
           for f in people_per_frame]
    return lms, vis


# --- replay and accumulation ------------------------------------------------------------

def test_replay_round_trip(tmp_path: Path, pose_frames: Callable[..., PoseSequence]) -> None:
    truth = pose_frames(12, fps=30.0, missing=(3, 4))
    source = ImageFolderSource(_image_folder(tmp_path / "imgs", 12), fps=30.0)
    estimator = ReplayEstimator(truth)
    assert isinstance(estimator, PoseEstimator)
    seq = estimate_sequence(source, estimator, progress=False)
    np.testing.assert_array_equal(seq.landmarks, truth.landmarks)
    np.testing.assert_array_equal(seq.world, truth.world)
    np.testing.assert_array_equal(seq.visibility, truth.visibility)
    np.testing.assert_array_equal(seq.timestamps, truth.timestamps)
    assert (seq.fps, seq.width, seq.height) == (30.0, 64, 48)
    assert (seq.model, seq.model_sha256, seq.source) == ("synthetic", "0" * 64, str(tmp_path / "imgs"))
    assert seq.frames_with_pose == 10
    assert seq.notes == ("no person detected in 2 of 12 frames",)
    assert seq.landmarks.dtype == np.float32 and seq.timestamps.dtype == np.float64


def test_replay_max_frames(tmp_path: Path, pose_frames: Callable[..., PoseSequence]) -> None:
    truth = pose_frames(12)
    source = ImageFolderSource(_image_folder(tmp_path / "imgs", 12), fps=30.0)
    seq = estimate_sequence(source, ReplayEstimator(truth), progress=False, max_frames=5)
    assert seq.n_frames == 5
    np.testing.assert_array_equal(seq.landmarks, truth.landmarks[:5])


def test_replay_past_the_end(tmp_path: Path, pose_frames: Callable[..., PoseSequence]) -> None:
    source = ImageFolderSource(_image_folder(tmp_path / "imgs", 4), fps=30.0)
    with pytest.raises(InputError, match="replay: asked for frame 4, the recording has 3"):
        estimate_sequence(source, ReplayEstimator(pose_frames(3)), progress=False)


def test_nobody_detected_is_a_no_pose_error(tmp_path: Path,
                                            pose_frames: Callable[..., PoseSequence]) -> None:
    source = ImageFolderSource(_image_folder(tmp_path / "imgs", 3), fps=30.0)
    empty = pose_frames(3, missing=(0, 1, 2))
    with pytest.raises(NoPoseError) as exc:
        estimate_sequence(source, ReplayEstimator(empty), progress=False)
    assert str(exc.value) == (f"{tmp_path / 'imgs'}: no person detected in 3 frames; check "
                              "that the whole body is in view and well lit")
    assert exc.value.exit_code == 3


def test_bystander_is_ignored_end_to_end(tmp_path: Path, pose_frames: Callable[..., PoseSequence],
                                         synthetic_person: Callable[..., tuple]) -> None:
    patient = pose_frames(20, cx=0.5, height=0.6)
    lm, world, vis = synthetic_person(0.12, 0.5, 0.5, 0.9)
    bystander = patient.replace(landmarks=np.repeat(lm[None], 20, 0),
                                world=np.repeat(world[None], 20, 0),
                                visibility=np.repeat(vis[None], 20, 0))
    source = ImageFolderSource(_image_folder(tmp_path / "imgs", 20), fps=30.0)
    # The bystander is listed first: the selection, not the order, decides.
    seq = estimate_sequence(source, ReplayEstimator(bystander, others=[patient]),
                            progress=False)
    np.testing.assert_array_equal(seq.landmarks, patient.landmarks)
    assert seq.notes == (f"2 people in view in 20 frames; {SELECTION_RULE}",)


class _RevisingEstimator:
    """Sees one person per frame; on the third frame revises the first two (two people in
    frame 0, nobody in frame 1), like `MediaPipePoseEstimator` after switching modes."""

    model_name, model_sha256 = "fake", "0" * 64
    notes = ("fake: frames 0-1 run again",)

    def __init__(self, synthetic_person: Callable[..., tuple]) -> None:
        self.calls = 0
        self.pending: dict[int, FramePose | None] = {}
        self.patient = PersonPose(*synthetic_person(0.5, 0.5, 0.6))
        self.other = PersonPose(*synthetic_person(0.15, 0.5, 0.5))

    def process(self, image_bgr: np.ndarray, timestamp_s: float) -> FramePose | None:
        self.calls += 1
        if self.calls == 3:
            self.pending = {0: FramePose((self.other, self.patient)), 1: None}
        return FramePose((self.patient,))

    def take_revisions(self) -> dict[int, FramePose | None]:
        pending, self.pending = self.pending, {}
        return pending

    def close(self) -> None:
        pass


def test_revisions_and_estimator_notes_are_applied(tmp_path: Path,
                                                    synthetic_person: Callable[..., tuple]) -> None:
    source = ImageFolderSource(_image_folder(tmp_path / "imgs", 4), fps=30.0)
    estimator = _RevisingEstimator(synthetic_person)
    assert isinstance(estimator, PoseEstimator)
    seq = estimate_sequence(source, estimator, progress=False)
    assert seq.detected.tolist() == [True, False, True, True]
    np.testing.assert_array_equal(seq.landmarks[0], estimator.patient.landmarks)
    assert seq.notes == ("fake: frames 0-1 run again",
                         f"2 people in view in 1 frames; {SELECTION_RULE}",
                         "no person detected in 1 of 4 frames")


def test_frame_pose_shapes(synthetic_person: Callable[..., tuple]) -> None:
    lm, world, vis = synthetic_person(0.5, 0.5, 0.5)
    pose = FramePose((PersonPose(lm, world, vis),))
    assert pose.landmarks is lm and pose.world is world and pose.visibility is vis
    with pytest.raises(ValueError, match="landmarks has shape"):
        PersonPose(lm[:10], world, vis)
    with pytest.raises(ValueError, match="at least one person"):
        FramePose(())


# --- selection --------------------------------------------------------------------------

def test_single_person_is_always_chosen(person: Callable[..., tuple]) -> None:
    lms, vis = _frames(*[[person(0.3)] for _ in range(5)], [])
    sel = select_person(lms, vis, 640, 480)
    assert sel.chosen.tolist() == [0, 0, 0, 0, 0, -1]
    assert (sel.n_tracks, sel.max_people, sel.multi_person_frames, sel.notes) == (1, 1, 0, ())


def test_nobody_at_all() -> None:
    lms, vis = _frames([], [])
    sel = select_person(lms, vis, 640, 480)
    assert sel.chosen.tolist() == [-1, -1] and sel.n_tracks == 0


@pytest.mark.parametrize("name, better, worse", [  # the arguments of `person`
    ("largest", dict(cx=0.25, height=0.6), dict(cx=0.75, height=0.3)),
    ("most central", dict(cx=0.5), dict(cx=0.85)),
    ("most visible", dict(cx=0.3, vis=0.95), dict(cx=0.7, vis=0.5)),
])
def test_selection_criteria(name: str, better: dict, worse: dict, person: Callable[..., tuple]
                            ) -> None:
    better, worse = person(**better), person(**worse)
    # The two are mirror images about the centre except for the criterion under test.
    scores = frame_scores(np.stack([worse[0], better[0]]), np.stack([worse[1], better[1]]),
                          640, 640)
    assert scores[1] > scores[0], name
    lms, vis = _frames(*[[worse, better] for _ in range(6)])
    assert select_person(lms, vis, 640, 640).chosen.tolist() == [1] * 6


def test_moving_person_beats_a_static_one(person: Callable[..., tuple]) -> None:
    frames = [[person(0.3), person(0.7, wave=0.2 * np.sin(t))] for t in range(10)]
    lms, vis = _frames(*frames)
    sel = select_person(lms, vis, 640, 640)
    assert sel.chosen.tolist() == [1] * 10


def test_identity_is_kept_when_candidate_order_changes(person: Callable[..., tuple]) -> None:
    patient, other = person(0.5, height=0.6), person(0.15, height=0.5)
    order = [0, 1, 1, 0, 1, 0, 0, 1]
    frames = [[patient, other] if o == 0 else [other, patient] for o in order]
    lms, vis = _frames(*frames)
    sel = select_person(lms, vis, 640, 480)
    assert sel.chosen.tolist() == order
    assert sel.n_tracks == 2 and sel.multi_person_frames == 8


def test_no_switch_when_the_patient_is_briefly_missed(person: Callable[..., tuple]) -> None:
    patient, other = person(0.5, height=0.6), person(0.15, height=0.5)
    frames = [[patient, other]] * 4 + [[other]] * 2 + [[other, patient]] * 4
    lms, vis = _frames(*frames)
    sel = select_person(lms, vis, 640, 480)
    assert sel.chosen.tolist() == [0] * 4 + [-1] * 2 + [1] * 4
    assert sel.missing_frames == 2
    assert sel.notes == (
        f"2 people in view in 8 frames; {SELECTION_RULE}",
        "in 2 frames the only detections could not be linked to the followed person; "
        "those frames are left empty",
    )


def test_patient_found_again_after_a_long_gap_continues_the_track(
        person: Callable[..., tuple]) -> None:
    patient = person(0.5, height=0.6)
    frames = [[patient]] * 5 + [[]] * 20 + [[patient]] * 5
    lms, vis = _frames(*frames)
    sel = select_person(lms, vis, 640, 480, SelectionWeights(max_gap=3))
    assert sel.n_tracks == 2
    assert sel.chosen.tolist() == [0] * 5 + [-1] * 20 + [0] * 5


def test_duplicate_detections_count_as_one_person(person: Callable[..., tuple]) -> None:
    patient = person(0.5, height=0.6)
    twin = (patient[0] + 0.005, patient[1] * 0.9)  # the same person, detected twice
    lms, vis = _frames([patient], [twin, patient], [patient])
    sel = select_person(lms, vis, 640, 480)
    assert sel.chosen.tolist() == [0, 1, 0]
    assert (sel.n_tracks, sel.max_people, sel.multi_person_frames, sel.notes) == (1, 1, 0, ())


def test_count_people_merges_duplicates(person: Callable[..., tuple]) -> None:
    patient, other = person(0.5, height=0.6), person(0.15, height=0.5)
    twin = (patient[0] + 0.005, patient[1] * 0.9)
    for people, expected in (([], 0), ([patient], 1), ([patient, twin], 1),
                             ([patient, other], 2), ([twin, other, patient], 2)):
        lms, vis = _frames(people)
        assert count_people(lms[0], vis[0], 640, 480) == expected


def test_briefly_seen_stranger_is_not_chosen(person: Callable[..., tuple]) -> None:
    patient = person(0.3, height=0.4, vis=0.8)
    stranger = person(0.5, height=0.7, vis=1.0)  # better on every per-frame criterion
    frames = [[patient]] * 20 + [[patient, stranger]] * 2
    lms, vis = _frames(*frames)
    assert select_person(lms, vis, 640, 480).chosen.tolist() == [0] * 22


# --- model files (no inference) ---------------------------------------------------------

def test_missing_model_file(tmp_path: Path) -> None:
    with pytest.raises(InputError) as exc:
        resolve_model(tmp_path / "pose_landmarker_heavy.task")
    assert str(exc.value) == f"{tmp_path / 'pose_landmarker_heavy.task'}: no such model file"


def test_invalid_model_files(tmp_path: Path) -> None:
    text = tmp_path / "text.task"
    text.write_text("not a model")
    partial = tmp_path / "partial.task"
    with zipfile.ZipFile(partial, "w") as zf:
        zf.writestr("pose_detector.tflite", b"x")
    for path in (text, partial):
        with pytest.raises(InputError) as exc:
            resolve_model(path)
        assert str(exc.value) == (f"{path}: not a MediaPipe pose landmarker .task bundle "
                                  "(expected pose_detector.tflite and "
                                  "pose_landmarks_detector.tflite inside)")
    with pytest.raises(InputError, match="not a folder"):
        resolve_model(tmp_path)


def test_given_model_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "pose_landmarker_lite.task"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("pose_detector.tflite", b"detector")
        zf.writestr("pose_landmarks_detector.tflite", b"landmarks")
    resolved, name, sha = resolve_model(path)
    assert (resolved, name) == (path.resolve(), "pose_landmarker_lite")
    assert sha == hashlib.sha256(path.read_bytes()).hexdigest()


def test_cache_dir_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REHAB_CACHE_DIR", str(tmp_path / "cache"))
    assert model_mod.cache_dir() == tmp_path / "cache"
    monkeypatch.delenv("REHAB_CACHE_DIR")
    assert model_mod.cache_dir().name == "rehab"


def test_importing_is_light() -> None:
    code = ("import sys, rehab, rehab.capture, rehab.pose, rehab.pose.mediapipe_estimator; "
            "print('mediapipe' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
    assert out.stderr == ""


@pytest.mark.parametrize("kwargs, message", [
    ({"num_poses": 0}, "num_poses must be at least 1, got 0"),
    ({"check_interval_s": 0.0}, "check_interval_s must be a positive number or None, got 0.0"),
    ({"check_interval_s": float("nan")}, "check_interval_s must be a positive number"),
    ({"rerun_budget_mb": -1.0}, "rerun_budget_mb must be 0 or more, got -1.0"),
])
def test_estimator_options_are_validated(kwargs: dict, message: str) -> None:
    from rehab.pose.mediapipe_estimator import MediaPipePoseEstimator

    with pytest.raises(InputError, match=message.replace("(", r"\(")):
        MediaPipePoseEstimator(**kwargs)  # type: ignore[arg-type]
