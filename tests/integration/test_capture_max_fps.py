"""Frame sources with ``max_fps``: which frames a video file or an image folder yields, their
timestamps, ``fps``, ``frame_count`` and the note; `load_input` on a landmarks file.

Videos come from the `write_video` fixture (tests/integration/conftest.py): frame ``i``
has green level ``10 * i``, so a decoded frame tells which source frame it is."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from rehab.capture import (
    Frame,
    ImageFolderSource,
    VideoFileSource,
    keep_times,
    open_source,
)
from rehab.errors import InputError
from rehab.model import Note, NoteCode
from rehab.pipeline import load_input
from rehab.sequence import save_npz
from rehab.synthetic import rep_trajectory, synthetic_sequence


def _source_index(frame: Frame) -> int:
    """The source frame a decoded frame shows (its green level / 10, mp4v is lossy)."""
    return int(round(int(frame.image[-1, -1, 1]) / 10))


@pytest.mark.parametrize("max_fps, every", [(15, 2), (10, 3)])
def test_video_yields_the_kept_frames_with_their_container_times(
        tmp_path: Path, write_video: Callable[..., Path], max_fps: float, every: int) -> None:
    path = write_video(tmp_path / "v30.mp4", 24, fps=30.0)
    src = VideoFileSource(path, max_fps=max_fps)
    with src:
        assert (src.fps, src.source_fps, src.source_frames) == (max_fps, 30.0, 24)
        assert src.frame_count == len(range(0, 24, every))  # the estimate, exact here
        assert not src.notes  # nothing said before the frames are read
        frames = list(src)
        notes: list[Note] = [Note.of(n) for n in src.notes]
        assert (src.frame_count, src.source_frames) == (len(frames), 24)
    expected = list(range(0, 24, every))
    assert [f.index for f in frames] == list(range(len(expected)))
    assert [_source_index(f) for f in frames] == expected
    np.testing.assert_allclose([f.timestamp for f in frames], np.array(expected) / 30.0,
                               atol=1e-9)
    assert notes == [f"analysed at most {max_fps} frames/s: {len(expected)} of 24 frames"]
    assert notes[0].code == NoteCode.FRAME_RATE_LIMITED
    assert notes[0].data == {"max_fps": float(max_fps), "kept": len(expected), "frames": 24}


def test_video_with_variable_frame_durations_follows_the_rule_on_container_times(
        tmp_path: Path, write_video: Callable[..., Path]) -> None:
    durations = [0.1, 0.05, 0.15, 0.1, 0.05, 0.05, 0.2, 0.1, 0.05, 0.05, 0.15, 0.15]
    path = write_video(tmp_path / "vfr.mp4", 12, fps=10.0, durations=durations)
    with open_source(path) as src:
        everything = np.array([f.timestamp for f in src])
    with open_source(path, max_fps=8) as src:
        frames = list(src)
    mask = keep_times(everything, 8, 10.0)
    assert not mask.all()
    np.testing.assert_allclose([f.timestamp for f in frames], everything[mask], atol=1e-9)
    assert [_source_index(f) for f in frames] == np.flatnonzero(mask).tolist()


def test_video_at_or_below_the_limit_yields_every_frame_and_says_nothing(
        tmp_path: Path, write_video: Callable[..., Path]) -> None:
    path = write_video(tmp_path / "v10.mp4", 10, fps=10.0)
    with open_source(path, max_fps=10) as src:
        assert (src.fps, src.frame_count) == (10.0, 10)
        frames = list(src)
        assert src.notes == ()
    assert [_source_index(f) for f in frames] == list(range(10))


def test_video_limited_twice_reads_the_same_frames(tmp_path: Path,
                                                   write_video: Callable[..., Path]) -> None:
    path = write_video(tmp_path / "twice.mp4", 20, fps=30.0)
    with VideoFileSource(path, max_fps=10) as src:
        first = [f.timestamp for f in src]
        second = [f.timestamp for f in src]
        assert Note.of(src.notes[-1]).data == {"max_fps": 10.0, "kept": 7, "frames": 20}
    assert first == second and len(first) == 7


def test_rotated_video_keeps_its_rotation_under_a_limit(
        tmp_path: Path, write_video: Callable[..., Path]) -> None:
    path = write_video(tmp_path / "rot.mp4", 6, fps=30.0, width=64, height=48, rotation=90)
    with open_source(path, max_fps=15) as src:
        frames = list(src)
        codes = [Note.of(n).code for n in src.notes]
    assert [f.image.shape for f in frames] == [(64, 48, 3)] * 3
    assert codes == [NoteCode.ROTATED, NoteCode.FRAME_RATE_LIMITED]


@pytest.mark.parametrize("bad", [0, -1, 1000, float("nan")])
def test_bad_max_fps_is_refused_before_reading(tmp_path: Path, bad: float,
                                               write_video: Callable[..., Path]) -> None:
    path = write_video(tmp_path / "v.mp4", 3)
    with pytest.raises(InputError, match="--max-fps"):
        open_source(path, max_fps=bad)
    with pytest.raises(InputError, match="--max-fps"):
        open_source(tmp_path, max_fps=bad)


def test_image_folder_with_a_limit(tmp_path: Path,
                                   frame_image: Callable[..., np.ndarray]) -> None:
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(12):
        cv2.imwrite(str(folder / f"img{i}.png"), frame_image(i, 40, 30))
    with open_source(folder, fps=30, max_fps=10) as src:
        assert isinstance(src, ImageFolderSource)
        assert (src.fps, src.frame_count) == (10.0, 4)
        frames = list(src)
        assert src.notes == ("analysed at most 10 frames/s: 4 of 12 frames",)
        assert Note.of(src.notes[0]).data == {"max_fps": 10.0, "kept": 4, "frames": 12}
    assert [f.index for f in frames] == [0, 1, 2, 3]
    assert [int(f.image[-1, -1, 1]) // 10 for f in frames] == [0, 3, 6, 9]  # png: lossless
    np.testing.assert_allclose([f.timestamp for f in frames], [0.0, 0.1, 0.2, 0.3])
    with open_source(folder, fps=10, max_fps=10) as src:
        assert (src.fps, src.frame_count, src.notes) == (10.0, 12, ())


def test_camera_ignores_the_limit_with_a_log_line(monkeypatch: pytest.MonkeyPatch,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    from rehab import capture

    monkeypatch.setattr(capture, "open_camera", lambda index, fps=None: ("camera", index, fps))
    with caplog.at_level(logging.INFO, logger="rehab.capture"):
        opened: object = open_source("0", max_fps=15)
    assert opened == ("camera", 0, None)
    assert "--max-fps ignored" in caplog.text


def test_load_input_limits_a_landmarks_file(tmp_path: Path) -> None:
    t, knee = rep_trajectory(2, 30.0, rest=0.0, peak=90.0)
    path = save_npz(synthetic_sequence(t, {"knee_flexion": knee}), tmp_path / "squat.npz")
    full = load_input(path)
    limited = load_input(path, max_fps=15)
    assert (full.fps, limited.fps) == (30.0, 15.0)
    np.testing.assert_array_equal(limited.timestamps, full.timestamps[::2])
    assert limited.notes[-1].code == NoteCode.FRAME_RATE_LIMITED
    with pytest.raises(InputError, match="--max-fps"):
        load_input(path, max_fps=0)
