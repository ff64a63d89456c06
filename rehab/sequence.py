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
"""

from __future__ import annotations

import json
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
    PoseSequence,
)

__all__ = ["LANDMARK_INDEX", "LANDMARK_NAMES", "N_LANDMARKS", "SKELETON_EDGES", "PoseSequence",
           "load_npz", "save_npz"]


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
