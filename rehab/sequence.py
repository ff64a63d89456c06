"""Landmarks files: `save_npz` and `load_npz` for a `rehab.model.PoseSequence`.

`PoseSequence` (defined in `rehab.model`, re-exported here) holds, for T frames and the 33 MediaPipe pose landmarks:

- ``landmarks`` float32 (T, 33, 3): x, y normalised to image width/height, z relative depth
- ``world`` float32 (T, 33, 3): metres, origin between the hips (MediaPipe world landmarks)
- ``visibility`` float32 (T, 33): 0..1
- ``timestamps`` float64 (T,): seconds from the container (never frame index / fps)

Frames without a detected person are NaN in ``landmarks`` and ``world`` and 0 in
``visibility``. The on-disk ``.npz`` format is the one documented in
``../shared/data/README.md`` plus optional metadata keys (``source``, ``model``,
``model_sha256``, ``n_people``, ``notes``) and the per-frame masks of left/right swaps
(``swap_repaired``, ``swap_gated``: boolean (T,), written once the sequence was checked for
swaps, see `rehab.kinematics.swaps`), so files from either side load.

`FrameRateLimit` holds the one rule by which at most F frames per second of a recording are
analysed (``--max-fps``); `keep_times` applies it to an array of timestamps and
`limit_frame_rate` to a sequence already extracted, as `rehab.capture` applies it to frames
while a video or image folder is read.
"""

from __future__ import annotations

import json
import logging
import math
import os
import zipfile
from pathlib import Path

import numpy as np

from rehab.errors import InputError
from rehab.model import (
    LANDMARK_INDEX,
    LANDMARK_NAMES,
    N_LANDMARKS,
    SKELETON_EDGES,
    Note,
    NoteCode,
    PoseSequence,
)

__all__ = ["LANDMARK_INDEX", "LANDMARK_NAMES", "N_LANDMARKS", "SKELETON_EDGES",
           "FrameRateLimit", "PoseSequence", "check_max_fps", "keep_times", "limit_frame_rate",
           "load_npz", "save_npz"]

logger = logging.getLogger(__name__)


_META_KEYS = ("source", "model", "model_sha256")
_MASK_KEYS = ("swap_repaired", "swap_gated")


def save_npz(seq: PoseSequence, path: str | os.PathLike[str]) -> Path:
    """Write ``seq`` to ``path`` atomically (temporary name, then rename)."""
    from rehab.fileio import atomic_open

    path = Path(path)
    masks = {k: np.asarray(getattr(seq, k), dtype=bool) for k in _MASK_KEYS
             if getattr(seq, k) is not None}
    with atomic_open(path, "wb") as fh:
        np.savez_compressed(
            fh,
            **masks,
            landmarks=seq.landmarks.astype(np.float32),
            world=seq.world.astype(np.float32),
            visibility=seq.visibility.astype(np.float32),
            timestamps=seq.timestamps.astype(np.float64),
            fps=np.float64(seq.fps),
            width=np.int64(seq.width),
            height=np.int64(seq.height),
            source=np.str_(seq.source),
            model=np.str_(seq.model),
            model_sha256=np.str_(seq.model_sha256),
            notes=np.str_(json.dumps([{"code": n.code, "text": n.text, "data": dict(n.data)}
                                      for n in seq.notes], default=float)),
        )
    return path


def load_npz(path: str | os.PathLike[str]) -> PoseSequence:
    """Read a landmarks ``.npz`` (shared-data format or ours) into a `PoseSequence`.

    Anything that is not such a file is an `InputError` naming it: not an ``.npz`` archive,
    missing or non-numeric arrays, timestamps not finite and strictly increasing or not one
    per frame, ``fps`` outside `rehab.limits.FPS` (never replaced by a guess), a width or
    height that is not a positive whole number.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    if not zipfile.is_zipfile(path):
        raise InputError(f"{path}: not a NumPy .npz archive (not a landmarks file)")
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [k for k in ("landmarks", "world", "visibility", "timestamps")
                       if k not in data.files]
            if missing:
                raise InputError(f"{path}: not a landmarks file (missing {', '.join(missing)})")
            arrays = {k: np.array(data[k]) for k in data.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise InputError(f"{path}: cannot read landmarks file ({exc})") from None
    numbers = {}
    for key in ("landmarks", "world", "visibility", "timestamps", "fps", "width", "height"):
        if key in arrays:
            arr = arrays[key]
            if arr.dtype.kind not in "biuf":
                raise InputError(f"{path}: not a landmarks file ({key} holds {arr.dtype} "
                                 f"values, not numbers)")
            numbers[key] = arr
    ts = numbers["timestamps"].astype(np.float64)
    if "fps" in numbers:
        if numbers["fps"].size != 1:
            raise InputError(f"{path}: fps must be one number, got {numbers['fps'].size}")
        fps = float(numbers["fps"].reshape(()))
    elif ts.size > 1 and np.all(np.isfinite(ts[[0, -1]])) and ts[-1] > ts[0]:
        fps = float((ts.size - 1) / (ts[-1] - ts[0]))
    else:
        raise InputError(f"{path}: no fps, and no frame rate follows from "
                         f"{ts.size} timestamp(s)")
    size = []
    for key in ("width", "height"):
        value = numbers.get(key, np.int64(1))
        if value.size != 1:
            raise InputError(f"{path}: {key} must be one number, got {value.size}")
        v = float(value.reshape(()))
        if not (np.isfinite(v) and v == int(v) and v > 0):
            raise InputError(f"{path}: {key} is {v:g}; the image size must be positive whole "
                             f"numbers of pixels")
        size.append(int(v))
    meta = {k: str(arrays[k]) for k in _META_KEYS if k in arrays}
    notes: tuple[Note, ...] = ()
    if "notes" in arrays:
        try:
            notes = tuple(Note.of(n) for n in json.loads(str(arrays["notes"])))
        except (json.JSONDecodeError, TypeError):
            notes = ()
    masks: dict[str, np.ndarray] = {}
    for key in _MASK_KEYS:
        if key in arrays:
            if arrays[key].dtype.kind not in "biu":
                raise InputError(f"{path}: {key} holds {arrays[key].dtype} values, not a "
                                 f"per-frame mask")
            masks[key] = arrays[key].astype(bool)
    try:
        return PoseSequence(
            landmarks=numbers["landmarks"].astype(np.float32),
            world=numbers["world"].astype(np.float32),
            visibility=numbers["visibility"].astype(np.float32),
            timestamps=ts,
            fps=fps,
            width=size[0],
            height=size[1],
            notes=notes,
            swap_repaired=masks.get("swap_repaired"),
            swap_gated=masks.get("swap_gated"),
            source=meta.get("source", str(path)),
            model=meta.get("model", ""),
            model_sha256=meta.get("model_sha256", ""),
        )
    except InputError as exc:  # the sequence's own checks, said of this file
        raise InputError(f"{path}: {str(exc).removeprefix('pose sequence: ')}") from None


# --- at most F frames per second -------------------------------------------------------------

MIN_TOLERANCE_S = 1e-3
"""The least tolerance of `FrameRateLimit` (seconds): container timestamps are often rounded
to the millisecond."""


def check_max_fps(max_fps: float) -> float:
    """``max_fps`` as a float; `InputError` unless it is a finite number in
    `rehab.limits.MAX_FPS`."""
    from rehab.limits import MAX_FPS

    if isinstance(max_fps, bool) or not isinstance(max_fps, (int, float, np.integer,
                                                              np.floating)):
        raise InputError(f"--max-fps must be a number, got {max_fps!r}")
    problem = MAX_FPS.problem(float(max_fps))
    if problem:
        raise InputError(f"--max-fps {problem}, got {float(max_fps):g}")
    return float(max_fps)


class FrameRateLimit:
    """Keeps at most ``max_fps`` frames per second of a stream, deciding frame by frame.

    The rule: a frame is kept when its timestamp reaches the next slot of a ``1 / max_fps``
    grid anchored at the first kept frame, less a tolerance of a quarter of the source's
    frame period (at least 1 ms, at most half a slot).

    Each slot holds at most one kept frame, so any second holds at most ``ceil(max_fps) + 1``
    of them; the first frame at or after each slot's start (less the tolerance) is kept, so
    kept frames are never further apart than ``1 / max_fps`` plus one source frame period,
    and a source at ``max_fps`` or slower keeps every frame. The grid does not drift: 30 fps
    limited to 15 keeps every 2nd frame and to 10 every 3rd, 27.9 to 15 keeps 15 a second
    on average (mostly every 2nd frame). ``source_fps`` (nominal, None or 0 when unknown)
    sets the tolerance only. ``seen`` and ``kept`` count the frames since `reset`.
    """

    def __init__(self, max_fps: float, source_fps: float | None = None) -> None:
        self.max_fps = check_max_fps(max_fps)
        period = 1.0 / source_fps if source_fps and math.isfinite(source_fps) \
            and source_fps > 0 else 0.0
        self.tolerance = min(max(MIN_TOLERANCE_S, 0.25 * period), 0.5 / self.max_fps)
        self.reset()

    def reset(self) -> None:
        """Forget the frames seen: the next frame anchors a new grid."""
        self._origin: float | None = None
        self._slot = -1
        self.seen = 0
        self.kept = 0

    def keep(self, timestamp: float) -> bool:
        """Whether the frame at ``timestamp`` (seconds, in stream order) is kept."""
        self.seen += 1
        if self._origin is None:
            self._origin = float(timestamp)
        slot = math.floor((float(timestamp) - self._origin + self.tolerance) * self.max_fps)
        if slot <= self._slot:
            return False
        self._slot = slot
        self.kept += 1
        return True

    def select(self, timestamps: np.ndarray) -> np.ndarray:
        """Boolean mask of the ``timestamps`` kept, continuing the stream (`keep` each)."""
        t = np.asarray(timestamps, dtype=np.float64)
        return np.fromiter((self.keep(x) for x in t), dtype=bool, count=t.shape[0])

    def rate(self, source_fps: float) -> float:
        """The frame rate kept from a source of nominal ``source_fps``:
        ``min(source_fps, max_fps)`` (the mean rate the grid keeps from a steady source);
        0 when the source's rate is unknown (0)."""
        return min(float(source_fps), self.max_fps) if source_fps > 0 else 0.0

    def note(self) -> Note | None:
        """The note saying how many of the frames seen were kept (None when none was left
        out)."""
        if self.kept >= self.seen:
            return None
        return Note(NoteCode.FRAME_RATE_LIMITED,
                    f"analysed at most {self.max_fps:g} frames/s: {self.kept} of {self.seen} "
                    "frames", {"max_fps": self.max_fps, "kept": self.kept,
                               "frames": self.seen})


def _nominal_fps(timestamps: np.ndarray) -> float | None:
    steps = np.diff(timestamps)
    steps = steps[np.isfinite(steps) & (steps > 0)]
    return 1.0 / float(np.median(steps)) if steps.size else None


def keep_times(timestamps: np.ndarray, max_fps: float, source_fps: float | None = None
               ) -> np.ndarray:
    """Boolean mask of the ``timestamps`` (seconds, increasing) that `FrameRateLimit` keeps;
    ``source_fps`` defaults to the rate of the median step."""
    t = np.asarray(timestamps, dtype=np.float64)
    return FrameRateLimit(max_fps, _nominal_fps(t) if source_fps is None else source_fps
                          ).select(t)


def limit_frame_rate(seq: PoseSequence, max_fps: float) -> PoseSequence:
    """``seq`` with at most ``max_fps`` frames per second (the `FrameRateLimit` rule at the
    sequence's frame rate), ``fps`` the rate kept and a ``frame_rate_limited`` note; ``seq``
    itself when every frame is kept."""
    limit = FrameRateLimit(max_fps, seq.fps)
    mask = limit.select(seq.timestamps)
    note = limit.note()
    if note is None:
        return seq
    logger.info("%s: %s", seq.source or "pose sequence", note)
    return seq.frames(mask).replace(fps=limit.rate(seq.fps), notes=seq.notes + (note,))
