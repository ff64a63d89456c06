"""A recording played as if it were a camera: ``rehab live --source VIDEO``.

`PacedVideoReader` hands out each decoded frame when its container timestamp is due on the
wall clock, so a consumer slower than the video loses frames exactly as with a camera:
`paced_source` wraps it in `rehab.capture.LiveSource` (a producer thread feeding a
one-slot queue where the newest frame wins).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator

import numpy as np

from rehab.capture import Frame, LiveSource, VideoFileSource
from rehab.errors import InputError

log = logging.getLogger(__name__)


class PacedVideoReader:
    """`rehab.capture.FrameReader` over a video file, paced by its timestamps.

    ``speed`` > 1 plays faster than real time. ``clock`` and ``sleep`` are injectable for
    tests. After the last frame `read` returns ``(False, None)``.
    """

    def __init__(self, path: str | os.PathLike[str], speed: float = 1.0,
                 max_seconds: float | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if not (np.isfinite(speed) and speed > 0):
            raise InputError(f"playback speed must be a positive number, got {speed}")
        self._video = VideoFileSource(path)
        self.fps = self._video.fps
        self.width, self.height = self._video.width, self._video.height
        self.name = self._video.name
        self._frames: Iterator[Frame] | None = self._video.frames()
        self.speed = float(speed)
        self._max_seconds = max_seconds
        self._clock = clock
        self._sleep = sleep
        self._origin: tuple[float, float] | None = None  # (wall clock, video time) of frame 0
        self._pending: Frame | None = None
        self.frames_read = 0
        self.last_timestamp: float | None = None
        """Container timestamp (s) of the frame `read` last returned: the live session's clock,
        so durations and tempo are those of the recording whatever the playback speed."""

    def peek(self) -> np.ndarray | None:
        """The next frame's image without consuming it or starting the clock."""
        if self._pending is None and self._frames is not None:
            self._pending = next(self._frames, None)
        return None if self._pending is None else self._pending.image

    def read(self) -> tuple[bool, np.ndarray | None]:
        """The next frame once its time has come; ``(False, None)`` at the end."""
        if self._frames is None:
            return False, None
        frame, self._pending = self._pending or next(self._frames, None), None
        if frame is None or (self._max_seconds is not None and self._origin is not None
                             and frame.timestamp - self._origin[1] > self._max_seconds):
            self.release()
            return False, None
        if self._origin is None:
            self._origin = (self._clock(), frame.timestamp)
        due = self._origin[0] + (frame.timestamp - self._origin[1]) / self.speed
        wait = due - self._clock()
        if wait > 0:
            self._sleep(wait)
        self.frames_read += 1
        self.last_timestamp = frame.timestamp
        return True, frame.image

    def release(self) -> None:
        """Close the video (idempotent)."""
        if self._frames is not None:
            self._frames = None
            self._video.close()


def paced_source(reader: PacedVideoReader) -> LiveSource:
    """A `LiveSource` playing ``reader``'s video; playback starts with the first frame read
    here, so create it when the consumer is ready."""
    source = LiveSource(reader, name=reader.name, fps=(reader.fps or None), max_failures=1)
    log.info("playing %s as a live source (%dx%d, %.2f frames/s, speed %g)", reader.name,
             reader.width, reader.height, reader.fps, reader.speed)
    return source
