"""Frame sources: video files, image folders and live cameras, all yielding `Frame`.

- Video files: every frame is decoded in order (none dropped); timestamps come from the
  container (``CAP_PROP_POS_MSEC`` after each read), so variable frame rate is handled;
  rotation metadata is applied and ``width``/``height`` describe the rotated frames.
- Image folders: image files in natural sort order; images carry no time, so timestamps
  are ``index / fps`` (``fps`` defaults to 30).
- Cameras: a background thread grabs frames into a one-slot buffer where the newest frame
  wins (stale frames are dropped and counted); timestamps are ``time.monotonic()`` when
  the frame arrived.

Use `open_source` to pick the right one from a command-line ``--source`` value.
"""

from __future__ import annotations

import logging
import os
import queue
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Protocol

import cv2
import numpy as np

from rehab.errors import InputError
from rehab.model import Note, NoteCode

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
                depth: int = READ_AHEAD) -> Iterator[tuple[np.ndarray, float]]:
    """(image, seconds) pairs of ``cap`` from ``first`` on, decoded by a helper thread.

    Nothing is dropped: the thread waits when ``depth`` frames are ready. Closing the
    generator early stops the thread.
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
                ok, image = cap.read()
                if not ok or image is None:
                    break
                if not put((image, cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0)):
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


class VideoFileSource(Source):
    """Every frame of a video file, with container timestamps and rotation applied."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
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
        self.fps = fps if np.isfinite(fps) and fps > 0 else 0.0
        count = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT))
        self.frame_count = count if count > 0 else None
        self.repaired_timestamps = 0
        if self.rotation:
            logger.info("%s: rotation metadata %d deg applied", self.path, self.rotation)

    def frames(self) -> Iterator[Frame]:
        """Decode all frames; a second iteration reopens the file from the start."""
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
        self.repaired_timestamps = 0
        index, last = 0, -np.inf
        step = 1.0 / self.fps if self.fps > 0 else 1e-3
        for image, ts in _read_ahead(cap, first):
            if not ts > last:
                # Some containers repeat or lose a timestamp; keep the order, flag it.
                self.repaired_timestamps += 1
                ts = last + step
            yield Frame(index, ts, image)
            last, index = ts, index + 1
        if self.repaired_timestamps:
            logger.warning("%s: %d frames had a missing or repeated timestamp; used the "
                           "previous one plus 1/fps", self.path, self.repaired_timestamps)
        self.frame_count = index

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

    Images carry no time, so frame ``i`` is stamped ``i / fps``.
    """

    def __init__(self, folder: str | os.PathLike[str], fps: float | None = None) -> None:
        self.folder = Path(folder)
        self.name = str(self.folder)
        if not self.folder.is_dir():
            raise InputError(f"{self.folder}: no such folder")
        fps = DEFAULT_IMAGE_FPS if fps is None else float(fps)
        if not (np.isfinite(fps) and fps > 0):
            raise InputError(f"--fps must be a positive number, got {fps}")
        self.fps = fps
        self.files = sorted((p for p in self.folder.iterdir()
                             if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES),
                            key=_natural_key)
        if not self.files:
            raise InputError(f"{self.folder}: no image files "
                             f"({', '.join(sorted(IMAGE_SUFFIXES))}) in this folder")
        first = self._read(self.files[0])
        self.height, self.width = int(first.shape[0]), int(first.shape[1])
        self.frame_count = len(self.files)

    @staticmethod
    def _read(path: Path) -> np.ndarray:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise InputError(f"{path}: cannot read this image")
        return image

    def frames(self) -> Iterator[Frame]:
        for index, path in enumerate(self.files):
            image = self._read(path)
            if image.shape[:2] != (self.height, self.width):
                raise InputError(f"{path}: image is {image.shape[1]}x{image.shape[0]}, the "
                                 f"folder's first image is {self.width}x{self.height}")
            yield Frame(index, index / self.fps, image)


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


def open_source(spec: str | int | os.PathLike[str], fps: float | None = None) -> Source:
    """The source named by ``spec``: a camera index, an image folder or a video file.

    ``fps`` sets the frame rate of image folders (default 30) and the requested rate of
    cameras; video files always use their container timestamps, so it is ignored there.
    """
    if isinstance(spec, int) or (isinstance(spec, str) and spec.strip().isdigit()):
        return open_camera(int(spec), fps=fps)
    path = Path(spec).expanduser()
    if path.is_dir():
        return ImageFolderSource(path, fps=fps)
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    if fps is not None:
        logger.info("%s: --fps ignored, video timestamps come from the file", path)
    return VideoFileSource(path)


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
