"""Fixtures of the integration tests: synthetic videos and landmarks with known content.

- `frame_image` draws the frame a test video holds at index ``i`` (green level ``10 * i``).
- `write_video` writes a small MP4 of those frames with OpenCV, then edits its boxes to add
  rotation metadata (track header matrix) or variable frame durations (``stts``), so both
  are tested offline without ffmpeg.
- `synthetic_person` / `pose_frames` build landmark arrays with known geometry (a person
  standing, a waving person over frames; not `rehab.synthetic.synthetic_sequence`, which
  builds a moving skeleton from joint angles).

Each fixture returns the function, so a test module asks for it instead of importing it.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np
import pytest

from rehab.sequence import N_LANDMARKS, PoseSequence


def _frame_image(i: int, width: int, height: int) -> np.ndarray:
    """A BGR frame with a white block in the top-left corner and green level ``10 * i``."""
    image = np.zeros((height, width, 3), np.uint8)
    image[..., 1] = (10 * i) % 256
    image[: height // 4, : width // 3] = 255
    return image


def _children(data: bytes | bytearray, start: int, end: int) -> list[tuple[int, int, bytes]]:
    boxes, i = [], start
    while i < end:
        size, kind = struct.unpack(">I4s", data[i:i + 8])
        boxes.append((i, size, kind))
        i += size
    return boxes


def _find(data: bytes | bytearray, path: Sequence[bytes]) -> list[tuple[int, int]]:
    """(offset, size) of each box along ``path`` from the top level."""
    found, start, end = [], 0, len(data)
    for kind in path:
        match = [b for b in _children(data, start, end) if b[2] == kind]
        assert match, f"box {kind!r} not found"
        offset, size, _ = match[0]
        found.append((offset, size))
        start, end = offset + 8, offset + size
    return found


_STBL = (b"moov", b"trak", b"mdia", b"minf", b"stbl")


def _write_video(path: Path, n_frames: int, fps: float = 10.0, width: int = 64,
                 height: int = 48, rotation: int = 0,
                 durations: Sequence[float] | None = None) -> Path:
    """Write an MP4 of `_frame_image` images; optionally rotated or with frame durations (s).

    ``durations`` must add up to ``n_frames / fps`` (the container's edit list).
    """
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    assert writer.isOpened()
    for i in range(n_frames):
        writer.write(_frame_image(i, width, height))
    writer.release()
    data = bytearray(path.read_bytes())
    if rotation:
        (tkhd, _), = _find(data, (b"moov", b"trak", b"tkhd"))[-1:]
        version = data[tkhd + 8]
        matrix_at = tkhd + 12 + (32 if version == 1 else 20) + 16
        matrices = {90: (0, 1 << 16, 0, -(1 << 16), 0, 0, 0, 0, 1 << 30),
                    180: (-(1 << 16), 0, 0, 0, -(1 << 16), 0, 0, 0, 1 << 30),
                    270: (0, -(1 << 16), 0, 1 << 16, 0, 0, 0, 0, 1 << 30)}
        data[matrix_at:matrix_at + 36] = struct.pack(">9i", *matrices[rotation])
    if durations is not None:
        assert len(durations) == n_frames
        # The edit list still spans n_frames / fps: frames past it would be cut.
        assert abs(sum(durations) - n_frames / fps) < 1e-9, "durations must sum to n / fps"
        boxes = _find(data, _STBL)
        mdat = [b for b in _children(data, 0, len(data)) if b[2] == b"mdat"][0]
        assert mdat[0] < boxes[0][0], "moov must follow mdat (chunk offsets stay valid)"
        (mdhd, _), = _find(data, (b"moov", b"trak", b"mdia", b"mdhd"))[-1:]
        version = data[mdhd + 8]
        timescale = struct.unpack(">I", data[mdhd + 12 + (16 if version == 1 else 8):][:4])[0]
        ticks = [round(d * timescale) for d in durations]
        stts = struct.pack(">I4sII", 16 + 8 * n_frames, b"stts", 0, n_frames) + b"".join(
            struct.pack(">II", 1, tick) for tick in ticks)
        stbl_offset, stbl_size = boxes[-1]
        old = [b for b in _children(data, stbl_offset + 8, stbl_offset + stbl_size)
               if b[2] == b"stts"][0]
        grow = len(stts) - old[1]
        data[old[0]:old[0] + old[1]] = stts
        for offset, size in boxes:
            data[offset:offset + 4] = struct.pack(">I", size + grow)
    path.write_bytes(bytes(data))
    return path


def _synthetic_person(cx: float, cy: float, height: float, visibility: float = 0.9,
                      wave: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A standing figure centred at (cx, cy), ``height`` tall (normalised units).

    Returns landmarks (33, 3), world (33, 3) and visibility (33,), float32. ``wave`` raises
    both wrists by that fraction of the height (to make a person move over time).
    """
    rng = np.random.default_rng(0)
    offsets = rng.uniform(-0.5, 0.5, size=(N_LANDMARKS, 2)) * np.array([0.4, 1.0])
    offsets[0] = (0.0, -0.5)   # nose on top
    offsets[27] = (-0.1, 0.5)  # ankles at the bottom
    offsets[28] = (0.1, 0.5)
    offsets[15, 1] = offsets[16, 1] = 0.1 - wave
    lm = np.zeros((N_LANDMARKS, 3), np.float32)
    lm[:, 0] = cx + offsets[:, 0] * height
    lm[:, 1] = cy + offsets[:, 1] * height
    world = np.zeros((N_LANDMARKS, 3), np.float32)
    world[:, :2] = offsets * 1.7
    vis = np.full(N_LANDMARKS, visibility, np.float32)
    return lm, world, vis


def _pose_frames(n_frames: int, fps: float = 30.0, missing: Sequence[int] = (),
                 cx: float = 0.5, cy: float = 0.5, height: float = 0.6,
                 width_px: int = 64, height_px: int = 48) -> PoseSequence:
    """A waving person for ``n_frames`` frames at ``fps``; frames in ``missing`` are empty."""
    lm = np.empty((n_frames, N_LANDMARKS, 3), np.float32)
    world = np.empty_like(lm)
    vis = np.empty((n_frames, N_LANDMARKS), np.float32)
    for t in range(n_frames):
        lm[t], world[t], vis[t] = _synthetic_person(cx, cy, height, 0.9,
                                                    wave=0.2 * np.sin(t / 3.0))
    for t in missing:
        lm[t] = np.nan
        world[t] = np.nan
        vis[t] = 0.0
    return PoseSequence(landmarks=lm, world=world, visibility=vis,
                        timestamps=np.arange(n_frames) / fps, fps=fps, width=width_px,
                        height=height_px, model="synthetic", model_sha256="0" * 64)


@pytest.fixture(scope="session")
def frame_image() -> Callable[[int, int, int], np.ndarray]:
    """``frame_image(i, width, height)``: a BGR frame with a white block in the top-left
    corner and green level ``10 * i`` (so a decoded frame tells its index)."""
    return _frame_image


@pytest.fixture(scope="session")
def write_video() -> Callable[..., Path]:
    """``write_video(path, n_frames, fps=10.0, width=64, height=48, rotation=0,
    durations=None)``: an MP4 of `frame_image` frames, optionally rotated (90, 180, 270) or
    with per-frame durations in seconds (adding up to ``n_frames / fps``); returns ``path``."""
    return _write_video


@pytest.fixture(scope="session")
def synthetic_person() -> Callable[..., tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``synthetic_person(cx, cy, height, visibility=0.9, wave=0.0)``: landmarks (33, 3),
    world (33, 3) and visibility (33,) of a standing figure centred at (cx, cy)."""
    return _synthetic_person


@pytest.fixture(scope="session")
def pose_frames() -> Callable[..., PoseSequence]:
    """``pose_frames(n_frames, fps=30.0, missing=(), cx=0.5, cy=0.5, height=0.6,
    width_px=64, height_px=48)``: a `PoseSequence` of a waving person; the frames in
    ``missing`` are empty."""
    return _pose_frames
