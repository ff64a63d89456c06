"""`rehab.capture.sample_frames`: evenly spaced frames of a video, used by calibration and
the board scale. Videos are written with ``cv2.VideoWriter`` into ``tmp_path``."""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from rehab.calibration import calibrate_from_video, scale_from_board
from rehab.capture import sample_frames
from rehab.errors import InputError

N_FRAMES = 23


@pytest.fixture
def video(tmp_path: Path) -> Path:
    """23 flat gray frames of 64x48; frame ``i`` has brightness ``10 * i``."""
    path = tmp_path / "ramp.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    assert writer.isOpened()
    for i in range(N_FRAMES):
        writer.write(np.full((48, 64, 3), 10 * i, np.uint8))
    writer.release()
    return path


def _blank_payloads(src: Path, dst: Path) -> Path:
    """A copy of an AVI whose frame chunks (``00dc``) are zeroed: it opens, nothing decodes."""
    data = bytearray(src.read_bytes())
    start, end = data.find(b"movi"), data.find(b"idx1")
    for chunk in re.finditer(rb"00dc", bytes(data[start:end])):
        at = start + chunk.end() + 4
        size = int.from_bytes(data[at - 4:at], "little")
        data[at:at + size] = bytes(size)
    dst.write_bytes(bytes(data))
    return dst


def test_every_kth_frame_is_decoded(video: Path) -> None:
    got = list(sample_frames(video, 5))  # step ceil(23 / 5) = 5
    assert [i for i, _ in got] == [0, 5, 10, 15, 20]
    for index, image in got:
        assert image.shape == (48, 64, 3) and image.dtype == np.uint8
        assert abs(float(image.mean()) - 10 * index) < 3  # the frame with that index
    assert [i for i, _ in sample_frames(video, 22)] == list(range(0, N_FRAMES, 2))


def test_short_video_gives_every_frame(video: Path) -> None:
    assert [i for i, _ in sample_frames(str(video), N_FRAMES)] == list(range(N_FRAMES))
    assert [i for i, _ in sample_frames(video, 1000)] == list(range(N_FRAMES))


def test_missing_unreadable_and_undecodable_videos(tmp_path: Path, video: Path) -> None:
    cases = {
        tmp_path / "missing.avi": "missing.avi: video not found",
        tmp_path: "video not found",  # a folder
        tmp_path / "zeros.mp4": "zeros.mp4: not a readable video",
        _blank_payloads(video, tmp_path / "blank.avi"): "blank.avi: no frame could be decoded",
    }
    (tmp_path / "zeros.mp4").write_bytes(bytes(100))
    for path, message in cases.items():
        with pytest.raises(InputError, match=message) as err:
            list(sample_frames(path, 5))
        assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match="at least 1"):
        list(sample_frames(video, 0))


def test_calibration_and_board_scale_search_the_sampled_frames(video: Path) -> None:
    """Both video readers of rehab.calibration go through the sampler's spacing."""
    with pytest.raises(InputError, match=r"found in 5 frame\(s\) for the scale"):
        scale_from_board(video, (7, 4), 30.0, max_frames=5)
    with pytest.raises(InputError, match=r"inner corners found in 8 frames"):
        calibrate_from_video(video, (7, 4), 30.0, max_candidates=8)  # step 3: 0, 3, ... 21
