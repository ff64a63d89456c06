"""Writer threads: the overlay video and the patient history, off the frame loop.

Both take work through a bounded queue and never block the caller: the frame loop only
enqueues. A writer that fails (disk full, database locked or gone) stops, keeps its error
for the session to report, and drops what comes after; what was written before stays.
"""

from __future__ import annotations

import datetime as dt
import errno
import logging
import os
import queue
import shutil
import sqlite3
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from rehab.errors import OutputError, RehabError
from rehab.fileio import reason
from rehab.model import Rep, SessionHeader, ViewCheck

log = logging.getLogger(__name__)

MIN_FREE_BYTES = 32 * 1024 * 1024
"""Recording stops (as ENOSPC) when the disk holding it has less free space than this:
OpenCV's writer fails silently on a full disk, so the recorder checks before it fills."""
_FREE_CHECK_EVERY = 30  # frames between two free-space checks
MAX_QUEUE_BYTES = 256 * 1024 * 1024
"""The recorder's queue holds at most this many bytes of frames (at most 64 frames): the
video is recorded at the camera's resolution."""


class FrameWriter(Protocol):
    """What the recorder writes to: ``cv2.VideoWriter``-like."""

    def write(self, image: np.ndarray) -> None: ...

    def release(self) -> None: ...


class _CvWriter:
    """``cv2.VideoWriter`` (mp4v) that raises ENOSPC before the disk is full; a frame of
    another size than the video's is resized to it (OpenCV would drop it silently)."""

    def __init__(self, path: Path, fps: float, size: tuple[int, int],
                 min_free_bytes: int = MIN_FREE_BYTES) -> None:
        import cv2

        self._path = path
        self._size = (int(size[0]), int(size[1]))
        self._min_free = min_free_bytes
        self._n = 0
        self._check_free()
        self._writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), fps, size)
        if not self._writer.isOpened():
            raise OutputError(f"{path}: cannot open a video writer")

    def _check_free(self) -> None:
        free = shutil.disk_usage(self._path.parent).free
        if free < self._min_free:
            raise OSError(errno.ENOSPC, f"disk almost full ({free / 2**20:.0f} MB left)",
                          str(self._path))

    def write(self, image: np.ndarray) -> None:
        self._n += 1
        if self._n % _FREE_CHECK_EVERY == 0:
            self._check_free()
        if (image.shape[1], image.shape[0]) != self._size:
            import cv2

            image = cv2.resize(image, self._size, interpolation=cv2.INTER_AREA)
        self._writer.write(image)

    def release(self) -> None:
        self._writer.release()


WriterFactory = Callable[[Path, float, tuple[int, int]], FrameWriter]


def cv_writer_factory(path: Path, fps: float, size: tuple[int, int]) -> FrameWriter:
    """The default `WriterFactory`: an mp4v ``.mp4`` through OpenCV."""
    return _CvWriter(path, fps, size)


class VideoRecorder:
    """Writes overlay frames to ``path`` on its own thread.

    `write` enqueues a frame (and how many frame periods it stands for, so that dropped
    input frames keep the video's duration true) and returns at once; when the queue is
    full the frame is dropped and counted. A write error (e.g. ``OSError`` ENOSPC) stops the
    recording: `error` holds it, later frames are ignored, the file is closed. The queue
    holds up to ``queue_size`` frames (default: 64, fewer for large frames, see
    `MAX_QUEUE_BYTES`).
    """

    def __init__(self, path: str | os.PathLike[str], fps: float, size: tuple[int, int],
                 factory: WriterFactory = cv_writer_factory,
                 queue_size: int | None = None) -> None:
        if queue_size is None:
            frame_bytes = max(1, int(size[0]) * int(size[1]) * 3)
            queue_size = max(4, min(64, MAX_QUEUE_BYTES // frame_bytes))
        self.path = Path(path)
        self.fps = fps
        self.size = size
        self.frames_written = 0
        self.frames_dropped = 0
        self.error: BaseException | None = None
        self._queue: queue.Queue[tuple[np.ndarray, int] | None] = queue.Queue(queue_size)
        self._writer: FrameWriter | None = factory(self.path, fps, size)
        self._thread = threading.Thread(target=self._run, name="record-video", daemon=True)
        self._thread.start()

    @property
    def failed(self) -> bool:
        return self.error is not None

    def write(self, image: np.ndarray, repeat: int = 1) -> None:
        """Queue ``image`` (not copied: do not modify it afterwards) for ``repeat`` frames."""
        if self.error is not None:
            return
        try:
            self._queue.put_nowait((image, max(1, int(repeat))))
        except queue.Full:
            self.frames_dropped += 1

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                break
            if self.error is not None:
                continue
            image, repeat = item
            try:
                for _ in range(repeat):
                    assert self._writer is not None
                    self._writer.write(image)
                    self.frames_written += 1
            except (OSError, RehabError) as exc:
                self.error = exc
                log.error("recording stopped: %s", describe_error(exc))
                self._release()
        self._release()

    def _release(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            try:
                writer.release()
            except OSError as exc:  # closing may flush onto a full disk as well
                self.error = self.error or exc

    def close(self, timeout: float = 30.0) -> None:
        """Write what is queued, then close the file."""
        self._queue.put(None)
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("%s: the video writer did not finish within %g s", self.path, timeout)


def describe_error(exc: BaseException) -> str:
    """One line for an I/O error (``ENOSPC`` spelled out)."""
    where = f"{exc.filename}: " if isinstance(exc, OSError) and exc.filename else ""
    return f"{where}{reason(exc)}"


class StoreWriter:
    """The patient-history writer: a thread owning its own store connection.

    `start` opens the store (waiting for the outcome, so that a bad database is reported
    before the patient starts). `begin` opens the session once its side is known, `add_rep`
    queues a rep, committed by the thread as soon as it gets it; `finish` marks the session
    complete, attaches files, and waits. None of them blocks the frame loop except
    `start` and `finish`. After an error the thread stops writing and keeps `error`; what
    was committed before stays (a session never finished shows as interrupted).
    """

    def __init__(self, db_path: str | os.PathLike[str] | None,
                 opener: Callable[[str | os.PathLike[str] | None], Any] | None = None) -> None:
        self.db_path = db_path
        self.session_id: int | None = None
        self.began = False
        self.reps_written = 0
        self.error: BaseException | None = None
        self._opener = opener
        self._patient_id: str | None = None
        self._queue: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="store-writer", daemon=True)

    def start(self, timeout: float = 30.0, patient_id: str | None = None) -> None:
        """Open the store on the writer thread (and check that ``patient_id`` is in it);
        raises its error if that fails."""
        self._patient_id = patient_id
        self._thread.start()
        if not self._ready.wait(timeout):
            raise OutputError(f"{self.db_path}: the patient database did not open "
                              f"within {timeout:g} s")
        if self.error is not None:
            raise self.error

    def begin(self, patient_id: str, header: SessionHeader, started: dt.datetime) -> None:
        """Queue the opening of the session (once)."""
        if not self.began:
            self.began = True
            self._queue.put(("begin", (patient_id, header, started)))

    def add_rep(self, rep: Rep) -> None:
        """Queue one rep (returns at once)."""
        self._queue.put(("rep", rep))

    def finish(self, ended: dt.datetime, notes: Sequence[str],
               files: dict[str, Path] | None = None, timeout: float = 60.0,
               trace: tuple[np.ndarray, np.ndarray] | None = None,
               alternating: bool = False, involved: str = "",
               view: ViewCheck | None = None) -> None:
        """Queue the end of the session (with its angle ``trace``; ``alternating``: both
        limbs took turns; the affected side asked for and the camera view check) and wait
        until it is written (or failed)."""
        self._queue.put(("finish", (ended, notes, files, trace, alternating, involved, view)))
        self.stop(timeout)

    def stop(self, timeout: float = 30.0) -> None:
        """Write what is queued, then close the store (an unfinished session stays so)."""
        if not self._thread.is_alive():
            return
        self._queue.put(("stop", None))
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("the patient database did not finish within %g s", timeout)

    def _run(self) -> None:
        from rehab.store import open_store

        opener = self._opener or open_store
        try:
            store = opener(self.db_path)
        except (RehabError, OSError, sqlite3.Error) as exc:
            self.error = exc
            self._ready.set()
            return
        if self._patient_id is not None:
            try:
                store.get_patient(self._patient_id)
            except (RehabError, OSError, sqlite3.Error) as exc:
                self.error = exc
                store.close()
                self._ready.set()
                return
        self._ready.set()
        writer: Any = None
        try:
            while True:
                kind, payload = self._queue.get()
                if kind == "stop":
                    break
                if self.error is not None:
                    continue
                try:
                    if kind == "begin":
                        writer = store.begin(*payload)
                        self.session_id = writer.session_id
                    elif writer is None:
                        raise OutputError("the session was never opened in the patient history")
                    elif kind == "rep":
                        writer.add_rep(payload)
                        self.reps_written += 1
                    elif kind == "finish":
                        ended, notes, files, trace, alternating, involved, view = payload
                        writer.finish(ended, notes=notes, files=files, trace=trace,
                                      alternating=alternating, involved=involved, view=view)
                except (RehabError, OSError, sqlite3.Error) as exc:
                    self.error = exc
                    log.error("patient history: %s; nothing more is stored for this session",
                              describe_error(exc))
        finally:
            store.close()
