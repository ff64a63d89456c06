"""Frame sources: video files, image folders and live cameras, all yielding `Frame`.

- Video files: every frame is decoded in order (none dropped); timestamps come from the
  container (``CAP_PROP_POS_MSEC`` after each read), so variable frame rate is handled;
  rotation metadata is applied and ``width``/``height`` describe the rotated frames.
- Image folders: image files in natural sort order; images carry no time, so timestamps
  are ``index / fps`` (``fps`` defaults to 30).
- Cameras: a background thread grabs frames into a one-slot buffer where the newest frame
  wins (stale frames are dropped and counted); timestamps are ``time.monotonic()`` when
  the frame arrived.

With ``max_fps`` a video file or image folder yields at most that many frames per second
(`rehab.sequence.FrameRateLimit`, re-exported here): a video is still decoded frame by
frame in order, but only the frames kept are converted to images; ``fps`` then reports the
rate kept and the source's ``notes`` say how many frames were analysed.

Use `open_source` to pick the right one from a command-line ``--source`` value.
"""

from __future__ import annotations

import logging
import math
import os
import queue
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Protocol

import cv2
import numpy as np

from rehab.errors import InputError
from rehab.model import Note, NoteCode
from rehab.sequence import FrameRateLimit, check_max_fps, keep_times

__all__ = ["DEFAULT_IMAGE_FPS", "IMAGE_SUFFIXES", "READ_AHEAD", "Frame", "FrameRateLimit",
           "FrameReader", "ImageFolderSource", "LiveSource", "Source", "VideoFileSource",
           "check_max_fps", "keep_times", "list_cameras", "open_camera", "open_source",
           "sample_frames"]

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"})
"""File suffixes (lower case) read from image folders."""

DEFAULT_IMAGE_FPS = 30.0
"""Frame rate assumed for image folders when none is given."""

_CV_LOG_FATAL = 1  # cv2.utils.logging.LOG_LEVEL_FATAL (not exposed by the Python wheel)


@dataclass(frozen=True)
class Frame:
    """One decoded image: ``index`` from 0, ``timestamp`` in seconds, ``image`` BGR uint8.

    ``arrived`` is the ``time.monotonic()`` at which a live source received it (``None`` for
    files and folders); it measures latency, while ``timestamp`` is the time of the motion.
    """

    index: int
    timestamp: float
    image: np.ndarray
    arrived: float | None = None


class Source:
    """A stream of `Frame` objects with its geometry; iterate it, then `close` it.

    Attributes: ``name`` (for messages and metadata), ``fps`` (nominal frames per second),
    ``width``/``height`` (pixels of the frames yielded), ``frame_count`` (``None`` when
    unknown; for videos the container's figure, which may be an estimate), ``is_live``.
    """

    name: str
    fps: float
    width: int
    height: int
    frame_count: int | None
    is_live: bool = False

    def __iter__(self) -> Iterator[Frame]:
        return self.frames()

    def frames(self) -> Iterator[Frame]:
        """Yield the frames in order."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the underlying resources (idempotent)."""

    @property
    def notes(self) -> tuple[str, ...]:
        """Remarks about the capture worth recording with the results."""
        return ()

    def __enter__(self) -> "Source":
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.name!r}, {self.width}x{self.height}, "
                f"fps={self.fps:.3f}, frames={self.frame_count})")


def _open_video_capture(path: Path) -> cv2.VideoCapture:
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    if not cap.isOpened():
        cap.release()
        raise InputError(f"{path}: not a readable video (OpenCV/FFmpeg cannot open it)")
    # Apply the container's rotation metadata so frames come out the way they are viewed.
    cap.set(cv2.CAP_PROP_ORIENTATION_AUTO, 1)
    return cap


_END = object()
READ_AHEAD = 4
"""Frames decoded ahead of use on a separate thread (OpenCV releases the GIL while it
decodes), so that decoding overlaps pose inference on a second core."""


def _read_ahead(cap: cv2.VideoCapture, first: tuple[np.ndarray, float],
                depth: int = READ_AHEAD,
                stamp: Callable[[float], float | None] | None = None
                ) -> Iterator[tuple[np.ndarray, float]]:
    """(image, seconds) pairs of ``cap`` from ``first`` on, decoded by a helper thread.

    Every frame is grabbed in order; ``stamp`` (called on the thread with each frame's
    container seconds) gives the frame's timestamp, or None to skip it: a skipped frame is
    decoded but never converted to an image. Without ``stamp`` every frame is kept with its
    container time. Nothing else is dropped: the thread waits when ``depth`` frames are
    ready. Closing the generator early stops the thread.
    """
    q: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def decode() -> None:
        try:
            while not stop.is_set():
                if not cap.grab():
                    break
                seconds = cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
                ts = seconds if stamp is None else stamp(seconds)
                if ts is None:
                    continue
                ok, image = cap.retrieve()
                if not ok or image is None:
                    break
                if not put((image, ts)):
                    return
        except cv2.error as exc:  # a corrupt frame mid-file: end of the usable video
            logger.warning("decoding stopped: %s", exc)
        put(_END)

    worker = threading.Thread(target=decode, name="rehab-decode", daemon=True)
    worker.start()
    try:
        yield first
        while True:
            item = q.get()
            if item is _END:
                break
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        worker.join()


class _Clock:
    """Timestamps of a video's frames in decoding order: the container's, made strictly
    increasing (a missing or repeated one becomes the previous plus ``step``), then thinned
    by ``limit`` (None for a kept frame's timestamp)."""

    def __init__(self, step: float, limit: FrameRateLimit | None) -> None:
        self.step = step
        self.limit = limit
        self.last = -np.inf
        self.seen = 0
        self.repaired = 0
        if limit is not None:
            limit.reset()

    def __call__(self, seconds: float) -> float | None:
        self.seen += 1
        if not seconds > self.last:
            # Some containers repeat or lose a timestamp; keep the order, flag it.
            self.repaired += 1
            seconds = self.last + self.step
        self.last = seconds
        return seconds if self.limit is None or self.limit.keep(seconds) else None


class VideoFileSource(Source):
    """Every frame of a video file, with container timestamps and rotation applied.

    With ``max_fps`` only the frames `FrameRateLimit` keeps are yielded (all are decoded, in
    order); ``fps`` is then the rate kept, ``min(source_fps, max_fps)`` (0 when the
    container gives no rate), ``source_fps`` the container's rate, and ``frame_count`` the
    frames yielded (an estimate before the first iteration, exact after it, when
    ``source_frames`` counts the frames decoded). ``Frame.index`` counts the frames yielded.
    """

    def __init__(self, path: str | os.PathLike[str], max_fps: float | None = None) -> None:
        self.path = Path(path)
        self.name = str(self.path)
        if not self.path.exists():
            raise InputError(f"{self.path}: no such file")
        if not self.path.is_file():
            raise InputError(f"{self.path}: not a file")
        if self.path.stat().st_size == 0:
            raise InputError(f"{self.path}: empty file, not a video")
        self._cap: cv2.VideoCapture | None = _open_video_capture(self.path)
        ok, first = self._cap.read()
        if not ok or first is None:
            self.close()
            raise InputError(f"{self.path}: video has no decodable frame")
        self._first: tuple[np.ndarray, float] | None = (
            first, self._cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0)
        self.height, self.width = int(first.shape[0]), int(first.shape[1])
        self.rotation = int(self._cap.get(cv2.CAP_PROP_ORIENTATION_META)) % 360
        fps = float(self._cap.get(cv2.CAP_PROP_FPS))
        self.source_fps = fps if np.isfinite(fps) and fps > 0 else 0.0
        count = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT))
        self.source_frames: int | None = count if count > 0 else None
        self.max_fps = None if max_fps is None else check_max_fps(max_fps)
        self._limit = None if self.max_fps is None else FrameRateLimit(self.max_fps,
                                                                        self.source_fps)
        self.fps = self.source_fps if self._limit is None else self._limit.rate(
            self.source_fps)
        self.frame_count = self.source_frames
        if self._limit is not None and self.source_frames and self.source_fps > 0:
            span = (self.source_frames - 1) / self.source_fps
            self.frame_count = min(self.source_frames, math.floor(
                (span + self._limit.tolerance) * self._limit.max_fps) + 1)
        self._clock: _Clock | None = None
        if self.rotation:
            logger.info("%s: rotation metadata %d deg applied", self.path, self.rotation)

    @property
    def repaired_timestamps(self) -> int:
        """Frames decoded (so far, in the last iteration) whose container timestamp was
        missing or repeated."""
        return 0 if self._clock is None else self._clock.repaired

    def frames(self) -> Iterator[Frame]:
        """Decode all frames, yield the kept ones; a second iteration reopens the file from
        the start."""
        if self._first is None:
            self.close()
            self._cap = _open_video_capture(self.path)
            ok, image = self._cap.read()
            if not ok:
                raise InputError(f"{self.path}: video has no decodable frame")
            first = (image, self._cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0)
        else:
            first, self._first = self._first, None
        cap = self._cap
        assert cap is not None
        clock = self._clock = _Clock(1.0 / self.source_fps if self.source_fps > 0 else 1e-3,
                                     self._limit)
        first_ts = clock(first[1])
        assert first_ts is not None  # the first frame anchors the limit's grid: kept
        index = 0
        for image, ts in _read_ahead(cap, (first[0], first_ts), stamp=clock):
            yield Frame(index, ts, image)
            index += 1
        if clock.repaired:
            logger.warning("%s: %d frames had a missing or repeated timestamp; used the "
                           "previous one plus 1/fps", self.path, clock.repaired)
        self.frame_count, self.source_frames = index, clock.seen
        if self._limit is not None:
            logger.info("%s: analysed %d of %d frames (at most %g frames/s)", self.path,
                        index, clock.seen, self._limit.max_fps)

    @property
    def notes(self) -> tuple[str, ...]:
        notes = []
        if self.rotation:
            notes.append(Note(NoteCode.ROTATED,
                              f"video rotated {self.rotation} deg as its metadata asks",
                              {"degrees": self.rotation}))
        if self.repaired_timestamps:
            notes.append(Note(NoteCode.TIMESTAMPS_REPAIRED,
                              f"{self.repaired_timestamps} frames had a missing or repeated "
                              "container timestamp (replaced by previous + 1/fps)",
                              {"frames": self.repaired_timestamps}))
        limited = None if self._limit is None or self._clock is None else self._limit.note()
        if limited is not None:
            notes.append(limited)
        return tuple(notes)

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


def _natural_key(path: Path) -> list[int | str]:
    return [int(part) if part.isdigit() else part.lower()
            for part in re.split(r"(\d+)", path.name)]


class ImageFolderSource(Source):
    """Image files of a folder in natural sort order (``img2`` before ``img10``).

    Images carry no time, so image ``i`` is stamped ``i / fps``. With ``max_fps`` only the
    images `FrameRateLimit` keeps at those times are read and yielded (``files`` lists them
    all, ``kept`` marks them); ``fps`` is then ``min(fps, max_fps)``, ``frame_count`` the
    images yielded and ``Frame.index`` counts them.
    """

    def __init__(self, folder: str | os.PathLike[str], fps: float | None = None,
                 max_fps: float | None = None) -> None:
        self.folder = Path(folder)
        self.name = str(self.folder)
        if not self.folder.is_dir():
            raise InputError(f"{self.folder}: no such folder")
        fps = DEFAULT_IMAGE_FPS if fps is None else float(fps)
        if not (np.isfinite(fps) and fps > 0):
            raise InputError(f"--fps must be a positive number, got {fps}")
        self.source_fps = fps
        self.files = sorted((p for p in self.folder.iterdir()
                             if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES),
                            key=_natural_key)
        if not self.files:
            raise InputError(f"{self.folder}: no image files "
                             f"({', '.join(sorted(IMAGE_SUFFIXES))}) in this folder")
        first = self._read(self.files[0])
        self.height, self.width = int(first.shape[0]), int(first.shape[1])
        self.max_fps = None if max_fps is None else check_max_fps(max_fps)
        stamps = np.arange(len(self.files)) / fps
        self._limit = None if self.max_fps is None else FrameRateLimit(self.max_fps, fps)
        self.kept = np.ones(len(self.files), bool) if self._limit is None \
            else self._limit.select(stamps)
        self.fps = fps if self._limit is None else self._limit.rate(fps)
        self.frame_count = int(self.kept.sum())

    @staticmethod
    def _read(path: Path) -> np.ndarray:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise InputError(f"{path}: cannot read this image")
        return image

    def frames(self) -> Iterator[Frame]:
        for index, i in enumerate(np.flatnonzero(self.kept)):
            path = self.files[i]
            image = self._read(path)
            if image.shape[:2] != (self.height, self.width):
                raise InputError(f"{path}: image is {image.shape[1]}x{image.shape[0]}, the "
                                 f"folder's first image is {self.width}x{self.height}")
            yield Frame(index, float(i) / self.source_fps, image)

    @property
    def notes(self) -> tuple[str, ...]:
        note = None if self._limit is None else self._limit.note()
        return () if note is None else (note,)


class FrameReader(Protocol):
    """Anything that produces frames like ``cv2.VideoCapture``: ``read()`` and ``release()``."""

    def read(self) -> tuple[bool, np.ndarray | None]: ...

    def release(self) -> None: ...


class LiveSource(Source):
    """Frames from a live producer, read by a background thread.

    The thread keeps only the newest frame (a one-slot buffer): when the consumer is slower
    than the camera, older frames are dropped and counted in ``dropped``. ``Frame.index``
    is the producer's frame number, so gaps show where frames were dropped. ``Frame.arrived``
    is ``time.monotonic()`` when each frame arrived; ``Frame.timestamp`` is the same, unless
    the reader has a ``last_timestamp`` attribute (the media time of the frame it last
    returned, as a recording played as a camera has): then it is that time. The stream ends
    when the producer fails ``max_failures`` times in a row or `close` is called.
    """

    is_live = True

    def __init__(self, reader: FrameReader, name: str = "live", fps: float | None = None,
                 max_failures: int = 10) -> None:
        self.name = name
        self._reader = reader
        self._max_failures = max_failures
        ok, first = reader.read()
        arrived = time.monotonic()
        if not ok or first is None:
            reader.release()
            raise InputError(f"{name}: no frame could be read")
        self.height, self.width = int(first.shape[0]), int(first.shape[1])
        self.fps = float(fps) if fps else DEFAULT_IMAGE_FPS
        self.frame_count = None
        self.grabbed = 1
        self.dropped = 0
        self._slot: Frame | None = Frame(0, self._stamp(arrived), first, arrived)
        self._ended = False
        self._stop = threading.Event()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def _stamp(self, arrived: float) -> float:
        media = getattr(self._reader, "last_timestamp", None)
        return float(media) if media is not None else arrived

    def start(self) -> None:
        """Start the grabbing thread (done by the first iteration if not called)."""
        if self._thread is None and not self._stop.is_set():
            self._thread = threading.Thread(target=self._grab_loop, name=f"grab-{self.name}",
                                            daemon=True)
            self._thread.start()

    def _grab_loop(self) -> None:
        failures = 0
        while not self._stop.is_set():
            ok, image = self._reader.read()
            arrived = time.monotonic()
            if not ok or image is None:
                failures += 1
                if failures >= self._max_failures:
                    logger.info("%s: no more frames after %d grabs", self.name, self.grabbed)
                    break
                continue
            failures = 0
            frame = Frame(self.grabbed, self._stamp(arrived), image, arrived)
            with self._cond:
                self.grabbed += 1
                if self._slot is not None:
                    self.dropped += 1
                self._slot = frame
                self._cond.notify_all()
        with self._cond:
            self._ended = True
            self._cond.notify_all()

    def frames(self) -> Iterator[Frame]:
        self.start()
        while True:
            with self._cond:
                while self._slot is None and not self._ended:
                    self._cond.wait(timeout=0.5)
                frame, self._slot = self._slot, None
            if frame is None:
                return
            yield frame

    @property
    def notes(self) -> tuple[str, ...]:
        if not self.dropped:
            return ()
        return (Note(NoteCode.FRAMES_DROPPED,
                     f"live capture: {self.dropped} of {self.grabbed} frames dropped because "
                     "processing was slower than the camera",
                     {"dropped": self.dropped, "of": self.grabbed}),)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            if self._thread.is_alive():
                logger.warning("%s: grabbing thread did not stop within 5 s", self.name)
                return
        self._reader.release()
        if self.dropped:
            logger.info("%s: dropped %d of %d frames", self.name, self.dropped, self.grabbed)


def _quiet_open_camera(index: int) -> cv2.VideoCapture:
    """Open a camera without OpenCV's warnings about missing devices."""
    previous = cv2.getLogLevel()
    cv2.setLogLevel(_CV_LOG_FATAL)
    try:
        return cv2.VideoCapture(index)
    finally:
        cv2.setLogLevel(previous)


def open_camera(index: int, fps: float | None = None) -> LiveSource:
    """Camera ``index`` as a `LiveSource`; `InputError` if it cannot be opened."""
    hint = "use --source VIDEO to analyse a recording"
    cap = _quiet_open_camera(index)
    if not cap.isOpened():
        cap.release()
        raise InputError(f"camera {index} could not be opened; {hint}")
    if fps:
        cap.set(cv2.CAP_PROP_FPS, fps)
    reported = float(cap.get(cv2.CAP_PROP_FPS))
    try:
        return LiveSource(cap, name=f"camera {index}",
                          fps=fps or (reported if reported > 0 else None))
    except InputError:
        raise InputError(f"camera {index} opened but gave no frame; {hint}") from None


def list_cameras(max_index: int = 5) -> list[int]:
    """Indices ``0..max_index-1`` of the cameras that open and deliver a frame."""
    found = []
    for index in range(max_index):
        cap = _quiet_open_camera(index)
        try:
            if cap.isOpened() and cap.read()[0]:
                found.append(index)
        finally:
            cap.release()
    return found


def open_source(spec: str | int | os.PathLike[str], fps: float | None = None,
                max_fps: float | None = None) -> Source:
    """The source named by ``spec``: a camera index, an image folder or a video file.

    ``fps`` sets the frame rate of image folders (default 30) and the requested rate of
    cameras; video files always use their container timestamps, so it is ignored there.
    ``max_fps`` limits video files and image folders to that many frames per second
    (`FrameRateLimit`); a camera ignores it (it drops the frames processing cannot keep up
    with anyway). An invalid ``max_fps`` is an `InputError` for any source.
    """
    if max_fps is not None:
        max_fps = check_max_fps(max_fps)
    if isinstance(spec, int) or (isinstance(spec, str) and spec.strip().isdigit()):
        if max_fps is not None:
            logger.info("camera %s: --max-fps ignored for a live camera", spec)
        return open_camera(int(spec), fps=fps)
    path = Path(spec).expanduser()
    if path.is_dir():
        return ImageFolderSource(path, fps=fps, max_fps=max_fps)
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    if fps is not None:
        logger.info("%s: --fps ignored, video timestamps come from the file", path)
    return VideoFileSource(path, max_fps=max_fps)


def sample_frames(path: str | os.PathLike[str], max_frames: int
                  ) -> Iterator[tuple[int, np.ndarray]]:
    """About ``max_frames`` evenly spaced frames of a video: ``(frame index, BGR image)``.

    Every ``ceil(frame_count / max_frames)``-th frame is decoded (every frame when the
    container gives no count; an estimated count may yield a few more or fewer), the others
    are only grabbed, so a long video is sampled cheaply. Rotation metadata is applied as in
    `VideoFileSource`. A decoding error mid-file ends the sampling with a warning.

    Raises `InputError` (when iteration starts) for a missing file, a file that is not a
    readable video, or a video from which no frame decodes. ``max_frames`` must be >= 1.
    """
    if max_frames < 1:
        raise ValueError(f"max_frames must be at least 1, got {max_frames}")
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: video not found")
    cap = _open_video_capture(path)
    try:
        total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        step = max(1, -(-total // max_frames)) if total > 0 else 1
        index, decoded = 0, 0
        try:
            while cap.grab():
                if index % step == 0:
                    ok, frame = cap.retrieve()
                    if ok and frame is not None:
                        decoded += 1
                        yield index, frame
                index += 1
        except cv2.error as exc:  # a corrupt frame mid-file: end of the usable video
            logger.warning("%s: sampling stopped at frame %d: %s", path, index, exc)
        if not decoded:
            raise InputError(f"{path}: no frame could be decoded from the video")
    finally:
        cap.release()
