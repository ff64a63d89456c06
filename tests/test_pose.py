"""Pose estimation: replay round trip, person selection, model files, and the real model."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest_pose import shared_video, synthetic_person, synthetic_sequence
from rehab.capture import ImageFolderSource, open_source
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
from rehab.sequence import N_LANDMARKS


def _image_folder(folder: Path, n: int, width: int = 64, height: int = 48) -> Path:
    folder.mkdir()
    for i in range(n):
        cv2.imwrite(str(folder / f"{i:04d}.png"), np.full((height, width, 3), i, np.uint8))
    return folder


def _person(cx: float, cy: float = 0.5, height: float = 0.5, vis: float = 0.9,
            wave: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    lm, _, v = synthetic_person(cx, cy, height, vis, wave)
    return lm, v


def _frames(*people_per_frame: list[tuple[np.ndarray, np.ndarray]]
            ) -> tuple[list[np.ndarray], list[np.ndarray]]:
    lms = [np.stack([p[0] for p in f]) if f else np.zeros((0, N_LANDMARKS, 3))
           for f in people_per_frame]
    vis = [np.stack([p[1] for p in f]) if f else np.zeros((0, N_LANDMARKS))
           for f in people_per_frame]
    return lms, vis


# --- replay and accumulation ------------------------------------------------------------

def test_replay_round_trip(tmp_path: Path) -> None:
    truth = synthetic_sequence(12, fps=30.0, missing=(3, 4))
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


def test_replay_max_frames(tmp_path: Path) -> None:
    truth = synthetic_sequence(12)
    source = ImageFolderSource(_image_folder(tmp_path / "imgs", 12), fps=30.0)
    seq = estimate_sequence(source, ReplayEstimator(truth), progress=False, max_frames=5)
    assert seq.n_frames == 5
    np.testing.assert_array_equal(seq.landmarks, truth.landmarks[:5])


def test_replay_past_the_end(tmp_path: Path) -> None:
    source = ImageFolderSource(_image_folder(tmp_path / "imgs", 4), fps=30.0)
    with pytest.raises(InputError, match="replay: asked for frame 4, the recording has 3"):
        estimate_sequence(source, ReplayEstimator(synthetic_sequence(3)), progress=False)


def test_nobody_detected_is_a_no_pose_error(tmp_path: Path) -> None:
    source = ImageFolderSource(_image_folder(tmp_path / "imgs", 3), fps=30.0)
    empty = synthetic_sequence(3, missing=(0, 1, 2))
    with pytest.raises(NoPoseError) as exc:
        estimate_sequence(source, ReplayEstimator(empty), progress=False)
    assert str(exc.value) == (f"{tmp_path / 'imgs'}: no person detected in 3 frames; check "
                              "that the whole body is in view and well lit")
    assert exc.value.exit_code == 3


def test_bystander_is_ignored_end_to_end(tmp_path: Path) -> None:
    patient = synthetic_sequence(20, cx=0.5, height=0.6)
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

    def __init__(self) -> None:
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


def test_revisions_and_estimator_notes_are_applied(tmp_path: Path) -> None:
    source = ImageFolderSource(_image_folder(tmp_path / "imgs", 4), fps=30.0)
    estimator = _RevisingEstimator()
    assert isinstance(estimator, PoseEstimator)
    seq = estimate_sequence(source, estimator, progress=False)
    assert seq.detected.tolist() == [True, False, True, True]
    np.testing.assert_array_equal(seq.landmarks[0], estimator.patient.landmarks)
    assert seq.notes == ("fake: frames 0-1 run again",
                         f"2 people in view in 1 frames; {SELECTION_RULE}",
                         "no person detected in 1 of 4 frames")


def test_frame_pose_shapes() -> None:
    lm, world, vis = synthetic_person(0.5, 0.5, 0.5)
    pose = FramePose((PersonPose(lm, world, vis),))
    assert pose.landmarks is lm and pose.world is world and pose.visibility is vis
    with pytest.raises(ValueError, match="landmarks has shape"):
        PersonPose(lm[:10], world, vis)
    with pytest.raises(ValueError, match="at least one person"):
        FramePose(())


# --- selection --------------------------------------------------------------------------

def test_single_person_is_always_chosen() -> None:
    lms, vis = _frames(*[[_person(0.3)] for _ in range(5)], [])
    sel = select_person(lms, vis, 640, 480)
    assert sel.chosen.tolist() == [0, 0, 0, 0, 0, -1]
    assert (sel.n_tracks, sel.max_people, sel.multi_person_frames, sel.notes) == (1, 1, 0, ())


def test_nobody_at_all() -> None:
    lms, vis = _frames([], [])
    sel = select_person(lms, vis, 640, 480)
    assert sel.chosen.tolist() == [-1, -1] and sel.n_tracks == 0


@pytest.mark.parametrize("name, better, worse", [
    ("largest", _person(0.25, height=0.6), _person(0.75, height=0.3)),
    ("most central", _person(0.5), _person(0.85)),
    ("most visible", _person(0.3, vis=0.95), _person(0.7, vis=0.5)),
])
def test_selection_criteria(name: str, better: tuple, worse: tuple) -> None:
    # The two are mirror images about the centre except for the criterion under test.
    scores = frame_scores(np.stack([worse[0], better[0]]), np.stack([worse[1], better[1]]),
                          640, 640)
    assert scores[1] > scores[0], name
    lms, vis = _frames(*[[worse, better] for _ in range(6)])
    assert select_person(lms, vis, 640, 640).chosen.tolist() == [1] * 6


def test_moving_person_beats_a_static_one() -> None:
    frames = [[_person(0.3), _person(0.7, wave=0.2 * np.sin(t))] for t in range(10)]
    lms, vis = _frames(*frames)
    sel = select_person(lms, vis, 640, 640)
    assert sel.chosen.tolist() == [1] * 10


def test_identity_is_kept_when_candidate_order_changes() -> None:
    patient, other = _person(0.5, height=0.6), _person(0.15, height=0.5)
    order = [0, 1, 1, 0, 1, 0, 0, 1]
    frames = [[patient, other] if o == 0 else [other, patient] for o in order]
    lms, vis = _frames(*frames)
    sel = select_person(lms, vis, 640, 480)
    assert sel.chosen.tolist() == order
    assert sel.n_tracks == 2 and sel.multi_person_frames == 8


def test_no_switch_when_the_patient_is_briefly_missed() -> None:
    patient, other = _person(0.5, height=0.6), _person(0.15, height=0.5)
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


def test_patient_found_again_after_a_long_gap_continues_the_track() -> None:
    patient = _person(0.5, height=0.6)
    frames = [[patient]] * 5 + [[]] * 20 + [[patient]] * 5
    lms, vis = _frames(*frames)
    sel = select_person(lms, vis, 640, 480, SelectionWeights(max_gap=3))
    assert sel.n_tracks == 2
    assert sel.chosen.tolist() == [0] * 5 + [-1] * 20 + [0] * 5


def test_duplicate_detections_count_as_one_person() -> None:
    patient = _person(0.5, height=0.6)
    twin = (patient[0] + 0.005, patient[1] * 0.9)  # the same person, detected twice
    lms, vis = _frames([patient], [twin, patient], [patient])
    sel = select_person(lms, vis, 640, 480)
    assert sel.chosen.tolist() == [0, 1, 0]
    assert (sel.n_tracks, sel.max_people, sel.multi_person_frames, sel.notes) == (1, 1, 0, ())


def test_count_people_merges_duplicates() -> None:
    patient, other = _person(0.5, height=0.6), _person(0.15, height=0.5)
    twin = (patient[0] + 0.005, patient[1] * 0.9)
    for people, expected in (([], 0), ([patient], 1), ([patient, twin], 1),
                             ([patient, other], 2), ([twin, other, patient], 2)):
        lms, vis = _frames(people)
        assert count_people(lms[0], vis[0], 640, 480) == expected


def test_briefly_seen_stranger_is_not_chosen() -> None:
    patient = _person(0.3, height=0.4, vis=0.8)
    stranger = _person(0.5, height=0.7, vis=1.0)  # better on every per-frame criterion
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


# --- the real model ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled model, built once for this module into a temporary cache."""
    cache = tmp_path_factory.mktemp("model-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("REHAB_CACHE_DIR", str(cache))
        path, _, _ = resolve_model()
    return path


def _estimator(model_path: Path, **kwargs: object):  # noqa: ANN202 - imported lazily
    from rehab.pose.mediapipe_estimator import MediaPipePoseEstimator

    return MediaPipePoseEstimator(model_path, **kwargs)


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


@pytest.mark.model
def test_model_is_built_once_and_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REHAB_CACHE_DIR", str(tmp_path / "cache"))
    path, name, sha = resolve_model()
    assert path.parent == tmp_path / "cache" and path.suffix == ".task"
    assert name.startswith("pose_landmark_full (mediapipe 0.10.")
    assert sha == hashlib.sha256(path.read_bytes()).hexdigest()
    with zipfile.ZipFile(path) as zf:
        assert sorted(zf.namelist()) == ["pose_detector.tflite", "pose_landmarks_detector.tflite"]
        assert all(info.compress_type == zipfile.ZIP_STORED for info in zf.infolist())

    def no_rebuild(dest: Path) -> Path:
        raise AssertionError("the cached model was rebuilt")

    stat = path.stat()
    monkeypatch.setattr(model_mod, "build_bundled_model", no_rebuild)
    assert resolve_model() == (path, name, sha)
    assert path.stat().st_mtime_ns == stat.st_mtime_ns
    assert list(path.parent.iterdir()) == [path]  # no temporary files left


@pytest.mark.model
def test_model_build_is_reproducible_and_safe_in_parallel(tmp_path: Path,
                                                           model_path: Path) -> None:
    dest = tmp_path / "m.task"
    errors: list[BaseException] = []

    def build() -> None:
        try:
            model_mod.build_bundled_model(dest)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=build) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert model_mod.file_sha256(dest) == model_mod.file_sha256(model_path)
    assert [p.name for p in tmp_path.iterdir()] == ["m.task"]


@pytest.mark.model
def test_model_given_by_path(model_path: Path) -> None:
    with _estimator(model_path) as est:
        assert est.model_name == model_path.stem
        assert est.model_sha256 == model_mod.file_sha256(model_path)


@pytest.mark.model
def test_equal_or_decreasing_timestamps_are_accepted(model_path: Path) -> None:
    with open_source(shared_video("pose2sim_single_cam01.mp4")) as src:
        image = next(iter(src)).image
    with _estimator(model_path) as est:
        poses = [est.process(image, t) for t in (0.0, 0.0002, 0.0001, 0.001)]
    assert all(p is not None for p in poses)


@pytest.mark.model
@pytest.mark.parametrize("name", [
    "shoulder_abduction.mp4", "sports2d_demo.mp4", "pose2sim_single_cam01.mp4",
    "pose2sim_single_cam03.mp4",
])
def test_real_video_single_person(name: str, model_path: Path) -> None:
    n = 60
    with open_source(shared_video(name)) as src, _estimator(model_path) as est:
        seq = estimate_sequence(src, est, progress=False, max_frames=n)
        fps, size = src.fps, (src.width, src.height)
    assert seq.n_frames == n and (seq.width, seq.height) == size and seq.fps == fps
    # sports2d_demo starts with the person half hidden: 8 of its first 60 frames are empty.
    assert seq.frames_with_pose >= 0.85 * n
    assert seq.landmarks.shape == (n, 33, 3) and seq.landmarks.dtype == np.float32
    assert seq.world.shape == (n, 33, 3) and seq.world.dtype == np.float32
    assert seq.visibility.shape == (n, 33) and seq.visibility.dtype == np.float32
    assert seq.timestamps.dtype == np.float64 and seq.timestamps[0] == 0.0
    steps = np.diff(seq.timestamps)
    assert np.all(steps > 0)
    np.testing.assert_allclose(steps, 1.0 / fps, rtol=0.01)
    found = seq.detected
    assert np.all(np.isfinite(seq.world[found]))
    assert np.all((seq.visibility >= 0) & (seq.visibility <= 1))
    assert np.all(seq.visibility[~found] == 0)
    # Shoulders lie inside the image, world coordinates are human-sized (metres).
    shoulders = seq.landmarks[found][:, 11:13, :2]
    assert np.all((shoulders > 0) & (shoulders < 1))
    assert np.nanmax(np.abs(seq.world)) < 2.0
    assert seq.model.startswith("pose_landmark_full") or seq.model == model_path.stem
    assert seq.model_sha256 == model_mod.file_sha256(model_path)
    # One person: tracked (no detector on every frame) after looks for others at 0 and 0.5 s.
    assert not est.multi_person and est.switched_at is None and est.notes == ()
    assert est.checks >= 2


@pytest.mark.model
def test_tracking_matches_detecting_every_frame(model_path: Path) -> None:
    """One person: tracking gives the same detections as looking for two people in every
    frame (the slower mode), within the model's own frame-to-frame noise."""
    n = 40
    with open_source(shared_video("shoulder_abduction.mp4")) as src, \
            _estimator(model_path) as fast, _estimator(model_path, check_interval_s=None) as slow:
        assert slow.multi_person and not fast.multi_person
        pairs = [(fast.process(f.image, f.timestamp), slow.process(f.image, f.timestamp))
                 for f, _ in zip(src, range(n))]
    assert all(a is not None and b is not None and len(a.people) == len(b.people) == 1
               for a, b in pairs)
    assert slow.checks == 0 and fast.checks == 3 and not fast.multi_person
    visible = np.stack([(a.visibility > 0.8) & (b.visibility > 0.8) for a, b in pairs])
    diff = np.stack([np.linalg.norm(a.landmarks[:, :2] - b.landmarks[:, :2], axis=1)
                     for a, b in pairs])[visible]
    # Measured: median 0.005, 95th percentile 0.02 of the image size (visible landmarks).
    assert np.median(diff) < 0.01 and np.percentile(diff, 95) < 0.04


@pytest.mark.model
def test_one_pose_never_looks_for_others(model_path: Path) -> None:
    with open_source(shared_video("pose2sim_two_people_cam02.mp4")) as src, \
            _estimator(model_path, num_poses=1) as est:
        poses = [est.process(f.image, f.timestamp) for f, _ in zip(src, range(3))]
    assert all(p is not None and len(p.people) == 1 for p in poses)
    assert est.checks == 0 and not est.multi_person and est.take_revisions() == {}


@pytest.mark.model
def test_two_people_follows_the_moving_person(model_path: Path) -> None:
    with open_source(shared_video("pose2sim_two_people_cam02.mp4")) as src, \
            _estimator(model_path) as est:
        seq = estimate_sequence(src, est, progress=False)
    assert seq.n_frames == 100
    # The first look (frame 0) sees only the woman, the second (0.5 s) both: from there both
    # are detected in every frame, and frames 1-29 are run again to find both there too.
    assert est.multi_person and est.switched_at == (30, 0.5)
    assert seq.notes[0] == ("2 people seen at 0.50 s (frame 30) by the periodic look for "
                            "other people; from there up to 2 people were detected in "
                            "every frame, and in frames 1-29 again")
    assert seq.notes[1].startswith("2 people in view in ")
    assert seq.notes[1].endswith(SELECTION_RULE)
    # The patient on the platform is in the middle of the image (hips near x = 0.5); the
    # woman watching stands on the left (hips near x = 0.2) and is seen in every frame.
    found = seq.detected
    assert found.sum() >= 90
    hips_x = seq.landmarks[found][:, 23:25, 0].mean(axis=1)
    assert np.all((hips_x > 0.35) & (hips_x < 0.65))
