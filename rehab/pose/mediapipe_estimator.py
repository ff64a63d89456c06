"""`PoseEstimator` backed by MediaPipe's PoseLandmarker (Tasks API, VIDEO running mode).

mediapipe is imported when an estimator is created, not when this module is imported.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
from collections.abc import Iterator
from types import TracebackType
from typing import Any

import cv2
import numpy as np

from rehab.errors import InputError
from rehab.pose.estimator import FramePose, PersonPose
from rehab.pose.model import resolve_model
from rehab.pose.select import frame_scores

logger = logging.getLogger(__name__)


def _import_mediapipe() -> Any:
    """Import mediapipe with its C++ (glog/TF Lite) logging reduced to errors.

    The variables are only set if the user has not set them, and only take effect when
    mediapipe's native library is first loaded.
    """
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import mediapipe

    return mediapipe


@contextlib.contextmanager
def _native_stderr_to_log() -> Iterator[None]:
    """Route what native code writes to file descriptor 2 into this module's logger.

    MediaPipe's C++ side prints info lines and harmless warnings straight to stderr when
    a model is loaded and on the first frame; they become DEBUG records (lines starting
    with E or F, i.e. errors, become WARNING records). Only used around those calls.
    """
    try:
        saved = os.dup(2)
    except OSError:  # no usable stderr descriptor: nothing to redirect
        yield
        return
    with tempfile.TemporaryFile() as capture:
        sys.stderr.flush()
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            for line in capture.read().decode("utf-8", "replace").splitlines():
                if line.strip():
                    level = logging.WARNING if line[:1] in ("E", "F") else logging.DEBUG
                    logger.log(level, "mediapipe: %s", line.strip())


def _to_array(points: Any, with_visibility: bool) -> tuple[np.ndarray, np.ndarray]:
    xyz = np.array([(p.x, p.y, p.z) for p in points], dtype=np.float32)
    vis = np.array([p.visibility if p.visibility is not None else 0.0 for p in points],
                   dtype=np.float32) if with_visibility else np.zeros(0, np.float32)
    return xyz, vis


class MediaPipePoseEstimator:
    """MediaPipe PoseLandmarker over the frames of one recording, in time order.

    ``model_path=None`` uses the model built from mediapipe's bundled files (see
    `rehab.pose.model`); otherwise an official ``pose_landmarker_*.task``. Up to
    ``num_poses`` people are detected per frame and returned most likely patient first.
    """

    def __init__(self, model_path: str | os.PathLike[str] | None = None, num_poses: int = 2,
                 min_detection_confidence: float = 0.5, min_presence_confidence: float = 0.5,
                 min_tracking_confidence: float = 0.5) -> None:
        if num_poses < 1:
            raise InputError(f"num_poses must be at least 1, got {num_poses}")
        for name, value in (("min_detection_confidence", min_detection_confidence),
                            ("min_presence_confidence", min_presence_confidence),
                            ("min_tracking_confidence", min_tracking_confidence)):
            if not 0.0 <= value <= 1.0:
                raise InputError(f"{name} must be between 0 and 1, got {value}")
        path, self.model_name, self.model_sha256 = resolve_model(model_path)
        self.model_path = path
        mp = _import_mediapipe()
        from mediapipe.tasks.python import BaseOptions, vision

        self._mp = mp
        options = vision.PoseLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(path)),
            running_mode=vision.RunningMode.VIDEO,
            num_poses=num_poses,
            min_pose_detection_confidence=min_detection_confidence,
            min_pose_presence_confidence=min_presence_confidence,
            min_tracking_confidence=min_tracking_confidence,
        )
        try:
            with _native_stderr_to_log():
                self._landmarker: Any = vision.PoseLandmarker.create_from_options(options)
        except (RuntimeError, ValueError) as exc:
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise InputError(f"{path}: MediaPipe cannot load this model ({first_line})") from None
        self._last_ms = -1
        self.frames_processed = 0
        logger.info("pose model %s (sha256 %s)", self.model_name, self.model_sha256[:12])

    def process(self, image_bgr: np.ndarray, timestamp_s: float) -> FramePose | None:
        """Detect people in one BGR uint8 image; ``None`` if nobody is found.

        MediaPipe needs strictly increasing integer milliseconds: a timestamp that rounds
        to (or before) the previous one is moved 1 ms after it.
        """
        if self._landmarker is None:
            raise RuntimeError("MediaPipePoseEstimator used after close()")
        if image_bgr.dtype != np.uint8 or image_bgr.ndim != 3 or image_bgr.shape[2] != 3:
            raise InputError(f"pose: expected a BGR uint8 image, got {image_bgr.dtype} "
                             f"{image_bgr.shape}")
        ms = int(round(timestamp_s * 1000.0))
        if ms <= self._last_ms:
            ms = self._last_ms + 1
        self._last_ms = ms
        rgb = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB)
        image = self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=rgb)
        if self.frames_processed == 0:
            with _native_stderr_to_log():
                result = self._landmarker.detect_for_video(image, ms)
        else:
            result = self._landmarker.detect_for_video(image, ms)
        self.frames_processed += 1
        if not result.pose_landmarks:
            return None
        people = []
        for norm, world in zip(result.pose_landmarks, result.pose_world_landmarks):
            landmarks, visibility = _to_array(norm, with_visibility=True)
            world_xyz, _ = _to_array(world, with_visibility=False)
            people.append(PersonPose(landmarks, world_xyz, visibility))
        if len(people) > 1:
            height, width = image_bgr.shape[:2]
            scores = frame_scores(np.stack([p.landmarks for p in people]),
                                  np.stack([p.visibility for p in people]), width, height)
            people = [people[i] for i in np.argsort(-scores, kind="stable")]
        return FramePose(tuple(people))

    def close(self) -> None:
        """Release the model (idempotent)."""
        if self._landmarker is not None:
            self._landmarker.close()
            self._landmarker = None

    def __enter__(self) -> "MediaPipePoseEstimator":
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
