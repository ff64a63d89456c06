"""`PoseSequence`: the one data structure handed from pose estimation to kinematics.

A sequence holds, for T frames and the 33 MediaPipe pose landmarks:

- ``landmarks`` float32 (T, 33, 3): x, y normalised to image width/height, z relative depth
- ``world`` float32 (T, 33, 3): metres, origin between the hips (MediaPipe world landmarks)
- ``visibility`` float32 (T, 33): 0..1
- ``timestamps`` float64 (T,): seconds from the container (never frame index / fps)

Frames without a detected person are NaN in ``landmarks`` and ``world`` and 0 in
``visibility``. The on-disk ``.npz`` format is the one documented in
``../shared/data/README.md`` plus optional metadata keys (``source``, ``model``,
``model_sha256``, ``n_people``), so files from either side load.
"""

from __future__ import annotations

import dataclasses
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from rehab.errors import InputError

LANDMARK_NAMES: tuple[str, ...] = (
    "nose",
    "left_eye_inner", "left_eye", "left_eye_outer",
    "right_eye_inner", "right_eye", "right_eye_outer",
    "left_ear", "right_ear",
    "mouth_left", "mouth_right",
    "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow",
    "left_wrist", "right_wrist",
    "left_pinky", "right_pinky",
    "left_index", "right_index",
    "left_thumb", "right_thumb",
    "left_hip", "right_hip",
    "left_knee", "right_knee",
    "left_ankle", "right_ankle",
    "left_heel", "right_heel",
    "left_foot_index", "right_foot_index",
)
"""MediaPipe pose landmark names, in index order (33)."""

N_LANDMARKS = len(LANDMARK_NAMES)
LANDMARK_INDEX: dict[str, int] = {name: i for i, name in enumerate(LANDMARK_NAMES)}

# Skeleton edges for drawing (pairs of landmark indices).
SKELETON_EDGES: tuple[tuple[int, int], ...] = tuple(
    (LANDMARK_INDEX[a], LANDMARK_INDEX[b])
    for a, b in (
        ("left_shoulder", "right_shoulder"), ("left_hip", "right_hip"),
        ("left_shoulder", "left_hip"), ("right_shoulder", "right_hip"),
        ("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"),
        ("right_shoulder", "right_elbow"), ("right_elbow", "right_wrist"),
        ("left_hip", "left_knee"), ("left_knee", "left_ankle"),
        ("right_hip", "right_knee"), ("right_knee", "right_ankle"),
        ("left_ankle", "left_heel"), ("left_heel", "left_foot_index"),
        ("left_ankle", "left_foot_index"),
        ("right_ankle", "right_heel"), ("right_heel", "right_foot_index"),
        ("right_ankle", "right_foot_index"),
    )
)


@dataclasses.dataclass(frozen=True)
class PoseSequence:
    """Pose landmarks of one person over time (see module docstring for shapes)."""

    landmarks: np.ndarray
    world: np.ndarray
    visibility: np.ndarray
    timestamps: np.ndarray
    fps: float
    width: int
    height: int
    source: str = ""
    model: str = ""
    model_sha256: str = ""
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        t = self.timestamps.shape[0]
        for name, arr, shape in (
            ("landmarks", self.landmarks, (t, N_LANDMARKS, 3)),
            ("world", self.world, (t, N_LANDMARKS, 3)),
            ("visibility", self.visibility, (t, N_LANDMARKS)),
        ):
            if arr.shape != shape:
                raise InputError(f"pose sequence: {name} has shape {arr.shape}, expected {shape}")
        if self.timestamps.ndim != 1:
            raise InputError("pose sequence: timestamps must be one-dimensional")
        if t > 1 and np.any(np.diff(self.timestamps) <= 0):
            raise InputError("pose sequence: timestamps must be strictly increasing")
        if self.width <= 0 or self.height <= 0:
            raise InputError(f"pose sequence: bad image size {self.width}x{self.height}")
        for arr in (self.landmarks, self.world, self.visibility, self.timestamps):
            arr.setflags(write=False)

    @property
    def n_frames(self) -> int:
        """Number of frames T."""
        return int(self.timestamps.shape[0])

    @property
    def detected(self) -> np.ndarray:
        """Boolean (T,): a person was detected in the frame."""
        return ~np.isnan(self.landmarks[:, 0, 0])

    @property
    def frames_with_pose(self) -> int:
        """How many frames have a detected person."""
        return int(self.detected.sum())

    @property
    def duration(self) -> float:
        """Seconds from the first to the last timestamp."""
        return float(self.timestamps[-1] - self.timestamps[0]) if self.n_frames else 0.0

    def pixels(self) -> np.ndarray:
        """Image coordinates in pixels, float64 (T, 33, 2)."""
        scale = np.array([self.width, self.height], dtype=np.float64)
        return self.landmarks[:, :, :2].astype(np.float64) * scale

    def replace(self, **changes: Any) -> "PoseSequence":
        """A copy with some fields replaced (inputs are never mutated)."""
        return dataclasses.replace(self, **changes)

    def slice(self, start: int, stop: int) -> "PoseSequence":
        """Frames ``start:stop`` as a new sequence."""
        return self.replace(
            landmarks=self.landmarks[start:stop].copy(),
            world=self.world[start:stop].copy(),
            visibility=self.visibility[start:stop].copy(),
            timestamps=self.timestamps[start:stop].copy(),
        )

    @classmethod
    def empty(cls, n_frames: int, timestamps: np.ndarray, fps: float, width: int, height: int,
              **meta: Any) -> "PoseSequence":
        """A sequence with no detections (NaN landmarks, zero visibility)."""
        return cls(
            landmarks=np.full((n_frames, N_LANDMARKS, 3), np.nan, np.float32),
            world=np.full((n_frames, N_LANDMARKS, 3), np.nan, np.float32),
            visibility=np.zeros((n_frames, N_LANDMARKS), np.float32),
            timestamps=np.asarray(timestamps, np.float64),
            fps=fps, width=width, height=height, **meta,
        )


_META_KEYS = ("source", "model", "model_sha256")


def save_npz(seq: PoseSequence, path: str | os.PathLike[str]) -> Path:
    """Write ``seq`` to ``path`` atomically (temporary name, then rename)."""
    from rehab.fileio import atomic_open

    path = Path(path)
    with atomic_open(path, "wb") as fh:
        np.savez_compressed(
            fh,
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
            notes=np.str_(json.dumps(list(seq.notes))),
        )
    return path


def load_npz(path: str | os.PathLike[str]) -> PoseSequence:
    """Read a landmarks ``.npz`` (shared-data format or ours) into a `PoseSequence`."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [k for k in ("landmarks", "world", "visibility", "timestamps")
                       if k not in data.files]
            if missing:
                raise InputError(f"{path}: not a landmarks file (missing {', '.join(missing)})")
            arrays = {k: np.array(data[k]) for k in data.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise InputError(f"{path}: cannot read landmarks file ({exc})") from None
    ts = arrays["timestamps"].astype(np.float64)
    if "fps" in arrays:
        fps = float(arrays["fps"])
    elif ts.size > 1:
        fps = float((ts.size - 1) / (ts[-1] - ts[0]))
    else:
        fps = 0.0
    meta = {k: str(arrays[k]) for k in _META_KEYS if k in arrays}
    notes: tuple[str, ...] = ()
    if "notes" in arrays:
        try:
            notes = tuple(json.loads(str(arrays["notes"])))
        except json.JSONDecodeError:
            notes = ()
    return PoseSequence(
        landmarks=arrays["landmarks"].astype(np.float32),
        world=arrays["world"].astype(np.float32),
        visibility=arrays["visibility"].astype(np.float32),
        timestamps=ts,
        fps=fps,
        width=int(arrays.get("width", 1)),
        height=int(arrays.get("height", 1)),
        notes=notes,
        **{"source": str(path), **meta},
    )
