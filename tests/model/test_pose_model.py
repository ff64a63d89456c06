"""The real MediaPipe pose model: building and caching the bundle, and estimating poses on
the real recordings of ../shared/data (skipped with the reason when they are absent; the
videos come from the `shared_video` fixture)."""

from __future__ import annotations

import hashlib
import threading
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from rehab.capture import open_source
from rehab.pose import estimate_sequence, resolve_model
from rehab.pose import model as model_mod
from rehab.pose.select import SELECTION_RULE


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
def test_equal_or_decreasing_timestamps_are_accepted(model_path: Path,
                                                       shared_video: Callable[[str], Path]) -> None:
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
def test_real_video_single_person(name: str, model_path: Path,
                                  shared_video: Callable[[str], Path]) -> None:
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
def test_tracking_matches_detecting_every_frame(model_path: Path,
                                                shared_video: Callable[[str], Path]) -> None:
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
def test_one_pose_never_looks_for_others(model_path: Path,
                                         shared_video: Callable[[str], Path]) -> None:
    with open_source(shared_video("pose2sim_two_people_cam02.mp4")) as src, \
            _estimator(model_path, num_poses=1) as est:
        poses = [est.process(f.image, f.timestamp) for f, _ in zip(src, range(3))]
    assert all(p is not None and len(p.people) == 1 for p in poses)
    assert est.checks == 0 and not est.multi_person and est.take_revisions() == {}


@pytest.mark.model
def test_two_people_follows_the_moving_person(model_path: Path,
                                              shared_video: Callable[[str], Path]) -> None:
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
