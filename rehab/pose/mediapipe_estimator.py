"""`PoseEstimator` backed by MediaPipe's PoseLandmarker (Tasks API, VIDEO running mode),
tracking one person and switching to several when a periodic check sees more.

mediapipe is imported when an estimator is created, not when this module is imported.
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import logging
import os
import sys
import tempfile
import threading
from collections.abc import Iterator
from types import TracebackType
from typing import Any

import cv2
import numpy as np

from rehab.errors import InputError
from rehab.model import Note, NoteCode
from rehab.pose.estimator import FramePose, PersonPose
from rehab.pose.model import resolve_model
from rehab.pose.select import count_people, frame_scores

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


_STDERR_LOCK = threading.Lock()
"""File descriptor 2 is process-wide: one redirection at a time (the look-out thread and
the tracking loop both load models), or a restore could put back the other's capture."""


@contextlib.contextmanager
def _native_stderr_to_log() -> Iterator[None]:
    """Route what native code writes to file descriptor 2 into this module's logger.

    MediaPipe's C++ side prints info lines and harmless warnings straight to stderr when
    a model is loaded and on the first frame; they become DEBUG records (lines starting
    with E or F, i.e. errors, become WARNING records). Only used around those calls.
    """
    with _STDERR_LOCK:
        try:
            saved = os.dup(2)
        except OSError:  # no usable stderr descriptor: nothing to redirect
            yield
            return
        yield from _redirected(saved)


def _redirected(saved: int) -> Iterator[None]:
    """The body of `_native_stderr_to_log` once fd 2 is saved (the lock is held)."""
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


DEFAULT_CHECK_INTERVAL_S = 2.0
"""Seconds of recording between two looks for a second person (see `MediaPipePoseEstimator`)."""

DEFAULT_RERUN_BUDGET_MB = 256.0
"""Memory for the frames kept since the last look, re-run when a second person appears."""

_QUICK_CHECKS = 3  # the first looks come at a quarter of the interval, frames kept between


def _frame_pose(result: Any, width: int, height: int) -> FramePose | None:
    """The people of a PoseLandmarker result, most likely patient first; None if nobody."""
    if not result.pose_landmarks:
        return None
    people = []
    for norm, world in zip(result.pose_landmarks, result.pose_world_landmarks):
        landmarks, visibility = _to_array(norm, with_visibility=True)
        world_xyz, _ = _to_array(world, with_visibility=False)
        people.append(PersonPose(landmarks, world_xyz, visibility))
    if len(people) > 1:
        scores = frame_scores(np.stack([p.landmarks for p in people]),
                              np.stack([p.visibility for p in people]), width, height)
        people = [people[i] for i in np.argsort(-scores, kind="stable")]
    return FramePose(tuple(people))


class MediaPipePoseEstimator:
    """MediaPipe PoseLandmarker over the frames of one recording, in time order.

    ``model_path=None`` uses the model built from mediapipe's bundled files (see
    `rehab.pose.model`); otherwise an official ``pose_landmarker_*.task``. Up to
    ``num_poses`` people are detected per frame and returned most likely patient first.

    Looking for several people in every frame is slow: MediaPipe then runs its person
    detector on every frame, whereas with ``num_poses=1`` it follows the person from the
    previous frame's landmarks and runs the detector only when that person is lost (about
    1.5x faster). So one person is tracked, and a separate IMAGE-mode landmarker looks for
    up to ``num_poses`` people (on a worker thread, so that on a multi-core machine the
    looks cost the tracking loop nothing) on the first frame, three more times a quarter of
    ``check_interval_s`` apart (its detector misses a person now and then), then every
    ``check_interval_s`` seconds of recording. The first time it sees two distinct people
    the estimator switches to detecting up to ``num_poses`` people in every frame for the
    rest of the recording. When that happens during the quick looks, the frames since the
    previous look (kept in up to ``rerun_budget_mb`` of memory) are run again, so that
    `rehab.pose.select` gets every candidate from the start; `take_revisions` hands those
    results over. Later, frames are not kept (holding them costs time on every frame): a
    person who comes into view is followed from the next look on. `notes` tells what
    happened.

    ``check_interval_s=None`` detects ``num_poses`` people in every frame from the start;
    ``num_poses=1`` never looks for a second person.
    """

    def __init__(self, model_path: str | os.PathLike[str] | None = None, num_poses: int = 2,
                 min_detection_confidence: float = 0.5, min_presence_confidence: float = 0.5,
                 min_tracking_confidence: float = 0.5,
                 check_interval_s: float | None = DEFAULT_CHECK_INTERVAL_S,
                 rerun_budget_mb: float = DEFAULT_RERUN_BUDGET_MB) -> None:
        if num_poses < 1:
            raise InputError(f"num_poses must be at least 1, got {num_poses}")
        for name, value in (("min_detection_confidence", min_detection_confidence),
                            ("min_presence_confidence", min_presence_confidence),
                            ("min_tracking_confidence", min_tracking_confidence)):
            if not 0.0 <= value <= 1.0:
                raise InputError(f"{name} must be between 0 and 1, got {value}")
        if check_interval_s is not None and not (np.isfinite(check_interval_s)
                                                 and check_interval_s > 0):
            raise InputError(f"check_interval_s must be a positive number or None, got "
                             f"{check_interval_s}")
        if not (np.isfinite(rerun_budget_mb) and rerun_budget_mb >= 0):
            raise InputError(f"rerun_budget_mb must be 0 or more, got {rerun_budget_mb}")
        path, self.model_name, self.model_sha256 = resolve_model(model_path)
        self.model_path = path
        self.num_poses = num_poses
        self.check_interval_s = check_interval_s
        self._rerun_budget = rerun_budget_mb * 1e6
        mp = _import_mediapipe()
        from mediapipe.tasks.python import BaseOptions, vision

        self._mp = mp
        self._vision = vision
        self._base_options = BaseOptions(model_asset_path=str(path))
        self._confidence = {"min_pose_detection_confidence": min_detection_confidence,
                            "min_pose_presence_confidence": min_presence_confidence,
                            "min_tracking_confidence": min_tracking_confidence}
        self.multi_person = num_poses > 1 and check_interval_s is None
        """Whether up to ``num_poses`` people are detected in every frame (else: tracking)."""
        self._landmarker: Any = self._create(vision.RunningMode.VIDEO,
                                             num_poses if self.multi_person else 1)
        self._checker: Any = None
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._pending: tuple[concurrent.futures.Future[Any], int, float, int, int] | None = None
        self._start_looks()
        self._quiet_next = True  # route native chatter of a landmarker's first call to the log
        self._new_recording()
        logger.info("pose model %s (sha256 %s)", self.model_name, self.model_sha256[:12])

    def _start_looks(self) -> None:
        """The look-out thread, which builds its IMAGE-mode checker (when tracking one
        person with ``num_poses`` > 1)."""
        if self.num_poses > 1 and not self.multi_person and self._pool is None:
            # the looks run beside the tracking loop; the checker is built there too
            self._pool = concurrent.futures.ThreadPoolExecutor(
                max_workers=1, thread_name_prefix="rehab-pose-look")
            self._pool.submit(self._make_checker)

    def _new_recording(self) -> None:
        """The per-recording state, as before a first frame."""
        # Milliseconds at or after which the next look is due; None: no looks (ms >= 0).
        self._next_check_ms: int | None = 0 if self.num_poses > 1 \
            and not self.multi_person else None
        self._last_check: tuple[int, float] | None = None  # frame index, seconds
        # Frames since the last look: (index, mp.Image, ms); mp.Image holds its own copy.
        self._kept: collections.deque[tuple[int, Any, int]] = collections.deque()
        self._revisions: dict[int, FramePose | None] = {}
        self._rgb: np.ndarray | None = None
        self._last_ms = -1
        self.frames_processed = 0
        self.checks = 0
        """How many frames were searched for other people."""
        self.switched_at: tuple[int, float] | None = None
        """Frame index and time (s) from which several people were detected, if ever."""
        self._notes: list[str] = []

    def reset(self) -> None:
        """Start a new recording with the same model: the tracking state of the previous one
        is dropped, so results do not depend on what was analysed before (a batch worker
        reuses one estimator for every file). Costs one fresh VIDEO-mode graph (about
        0.2 s), not a model load: the model, the look-out landmarker and its thread stay."""
        if self._landmarker is None:
            raise RuntimeError("MediaPipePoseEstimator used after close()")
        self._cancel_look()
        self._landmarker.close()
        self._landmarker = None
        self.multi_person = self.num_poses > 1 and self.check_interval_s is None
        self._landmarker = self._create(self._vision.RunningMode.VIDEO,
                                        self.num_poses if self.multi_person else 1)
        self._quiet_next = True
        self._start_looks()  # again if a switch to several people closed them
        self._new_recording()

    def _create(self, mode: Any, num_poses: int, quiet: bool = True) -> Any:
        options = self._vision.PoseLandmarkerOptions(
            base_options=self._base_options, running_mode=mode, num_poses=num_poses,
            **self._confidence)
        try:
            if not quiet:  # the caller already routes stderr to the log
                return self._vision.PoseLandmarker.create_from_options(options)
            with _native_stderr_to_log():
                return self._vision.PoseLandmarker.create_from_options(options)
        except (RuntimeError, ValueError) as exc:
            text = str(exc).strip()
            first_line = text.splitlines()[0] if text else type(exc).__name__
            raise InputError(f"{self.model_path}: MediaPipe cannot load this model "
                             f"({first_line})") from None

    @property
    def notes(self) -> tuple[str, ...]:
        """What happened worth recording with the results (the switch to several people)."""
        return tuple(self._notes)

    def take_revisions(self) -> dict[int, FramePose | None]:
        """Results that replace those already returned for earlier frames (by frame index,
        counting `process` calls from 0); emptied by the call."""
        revisions, self._revisions = self._revisions, {}
        return revisions

    def _detect(self, image: Any, ms: int) -> Any:
        if self._quiet_next:
            self._quiet_next = False
            with _native_stderr_to_log():
                return self._landmarker.detect_for_video(image, ms)
        return self._landmarker.detect_for_video(image, ms)

    def _make_checker(self) -> None:
        """Create the IMAGE-mode landmarker that looks for other people (worker thread)."""
        if self._checker is None:
            self._checker = self._create(self._vision.RunningMode.IMAGE, self.num_poses)

    def _look(self, image: Any) -> Any:
        """One look for other people (worker thread)."""
        if self._checker is None or self.checks == 0:
            with _native_stderr_to_log():  # model loading and first-frame chatter
                if self._checker is None:
                    self._checker = self._create(self._vision.RunningMode.IMAGE,
                                                 self.num_poses, quiet=False)
                return self._checker.detect(image)
        return self._checker.detect(image)

    def _start_look(self, image: Any, ms: int, timestamp_s: float, width: int,
                    height: int) -> None:
        """Hand one frame to the worker to look for other people; schedule the next look."""
        assert self.check_interval_s is not None and self._pool is not None
        step = self.check_interval_s / 4 if self.checks + 1 <= _QUICK_CHECKS \
            else self.check_interval_s
        self._next_check_ms = ms + max(1, int(round(step * 1000.0)))
        future = self._pool.submit(self._look, image)
        self._pending = (future, self.frames_processed, timestamp_s, width, height)

    def _poll_look(self, block: bool) -> None:
        """Act on a finished look: on two distinct people, switch to detecting several."""
        if self._pending is None:
            return
        future, index, timestamp_s, width, height = self._pending
        if not (block or future.done()):
            return
        self._pending = None
        result = future.result()
        self.checks += 1
        previous = self._last_check
        self._last_check = (index, timestamp_s)
        n = 0
        if len(result.pose_landmarks) > 1:
            arrays = [_to_array(norm, with_visibility=True) for norm in result.pose_landmarks]
            n = count_people(np.stack([a[0] for a in arrays]), np.stack([a[1] for a in arrays]),
                             width, height)
        if n < 2:
            while self._kept and self._kept[0][0] <= index:
                self._kept.popleft()
            return
        self._switch(n, index, timestamp_s, previous, width, height)

    def _switch(self, n: int, index: int, timestamp_s: float,
                previous: tuple[int, float] | None, width: int, height: int) -> None:
        """Detect up to ``num_poses`` people from now on; re-run the kept frames first."""
        self._close_looks()
        self._landmarker.close()
        self._landmarker = None
        self._landmarker = self._create(self._vision.RunningMode.VIDEO, self.num_poses)
        self._quiet_next = True
        self.multi_person = True
        self.switched_at = (index, timestamp_s)
        note = (f"{n} people seen at {timestamp_s:.2f} s (frame {index}) by the periodic "
                f"look for other people; from there up to {self.num_poses} people were "
                "detected in every frame")
        if previous is not None:
            first = previous[0] + 1
            rerun = [item for item in self._kept if item[0] >= first]
            for i, image, ms in rerun:
                self._revisions[i] = _frame_pose(self._detect(image, ms), width, height)
            start = rerun[0][0] if rerun else index
            if rerun:
                note += f", and in frames {start}-{index - 1} again"
            if start > first:
                note += (f"; a person who came into view after the previous look at "
                         f"{previous[1]:.2f} s (frame {previous[0]}) is only followed from "
                         f"frame {start}")
        self._kept.clear()
        self._notes.append(Note(NoteCode.SEVERAL_PEOPLE, note))
        logger.info("%s", note)

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
        # mp.Image copies the pixels, so one RGB buffer serves every frame.
        if self._rgb is None or self._rgb.shape != image_bgr.shape:
            self._rgb = np.empty_like(image_bgr)
        rgb = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB, dst=self._rgb)
        image = self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=rgb)
        height, width = image_bgr.shape[:2]
        self._poll_look(block=False)
        if not self.multi_person and self._next_check_ms is not None \
                and ms >= self._next_check_ms and self._pending is None:
            self._start_look(image, ms, timestamp_s, width, height)
        result = _frame_pose(self._detect(image, ms), width, height)
        if not (self.multi_person or self._next_check_ms is None) \
                and self.checks < _QUICK_CHECKS:
            if len(self._kept) * rgb.nbytes + rgb.nbytes <= self._rerun_budget:
                self._kept.append((self.frames_processed, image, ms))
            elif self._kept:  # full: drop the oldest, keep the most recent frames
                self._kept.popleft()
                self._kept.append((self.frames_processed, image, ms))
        self.frames_processed += 1
        return result

    def finish(self) -> None:
        """After the last frame: act on a look still under way (may revise earlier frames)."""
        if not self.multi_person:
            self._poll_look(block=True)

    def _cancel_look(self) -> None:
        """Drop a look still under way (waiting for it if it already runs)."""
        if self._pending is not None:
            self._pending[0].cancel()
            with contextlib.suppress(Exception):
                self._pending[0].result()
            self._pending = None

    def _close_looks(self) -> None:
        self._cancel_look()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        if self._checker is not None:
            self._checker.close()
            self._checker = None

    def close(self) -> None:
        """Release the models and the look-out thread (idempotent)."""
        self._kept.clear()
        self._close_looks()
        if self._landmarker is not None:
            self._landmarker.close()
            self._landmarker = None

    def __enter__(self) -> "MediaPipePoseEstimator":
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
