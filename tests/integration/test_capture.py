"""Frame sources: video files, image folders, live producers, bad inputs.

The videos and frames are written with the `write_video` and `frame_image` fixtures
(tests/integration/conftest.py); the shared recordings come from `shared_video`."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from rehab import capture
from rehab.capture import (
    Frame,
    ImageFolderSource,
    LiveSource,
    VideoFileSource,
    list_cameras,
    open_camera,
    open_source,
)
from rehab.errors import InputError


def _green(frame: Frame) -> int:
    """Green level of the frame's bottom-right pixel (encodes the frame number)."""
    return int(frame.image[-1, -1, 1])


def _one_line(exc: pytest.ExceptionInfo[InputError]) -> str:
    message = str(exc.value)
    assert "\n" not in message
    return message


# --- video files ------------------------------------------------------------------------

def test_video_constant_rate(tmp_path: Path, write_video: Callable[..., Path]) -> None:
    path = write_video(tmp_path / "cfr.mp4", 10, fps=10.0, width=64, height=48)
    with open_source(path) as src:
        assert isinstance(src, VideoFileSource)
        assert (src.width, src.height, src.fps, src.frame_count) == (64, 48, 10.0, 10)
        assert not src.is_live
        frames = list(src)
    assert [f.index for f in frames] == list(range(10))
    np.testing.assert_allclose([f.timestamp for f in frames], np.arange(10) / 10.0, atol=1e-9)
    assert all(f.image.shape == (48, 64, 3) and f.image.dtype == np.uint8 for f in frames)
    assert [_green(f) for f in frames] == pytest.approx([10 * i for i in range(10)], abs=3)


def test_video_variable_frame_rate_uses_container_timestamps(
        tmp_path: Path, write_video: Callable[..., Path]) -> None:
    durations = [0.1, 0.05, 0.15, 0.1, 0.05, 0.05, 0.2, 0.1]
    path = write_video(tmp_path / "vfr.mp4", 8, fps=10.0, durations=durations)
    with open_source(path) as src:
        frames = list(src)
    expected = np.concatenate([[0.0], np.cumsum(durations)[:-1]])
    assert len(frames) == 8  # no frame dropped
    np.testing.assert_allclose([f.timestamp for f in frames], expected, atol=1e-9)
    assert [_green(f) for f in frames] == pytest.approx([10 * i for i in range(8)], abs=3)
    assert src.notes == ()


@pytest.mark.parametrize("rotation", [90, 270])
def test_video_rotation_metadata_is_applied(tmp_path: Path, rotation: int,
                                            write_video: Callable[..., Path],
                                            frame_image: Callable[..., np.ndarray]) -> None:
    path = write_video(tmp_path / f"rot{rotation}.mp4", 4, width=64, height=48,
                       rotation=rotation)
    with open_source(path) as src:
        assert (src.width, src.height) == (48, 64)
        assert src.rotation == rotation
        frames = list(src)
        assert src.notes == (f"video rotated {rotation} deg as its metadata asks",)
    upright = frame_image(0, 64, 48)
    turn = cv2.ROTATE_90_CLOCKWISE if rotation == 90 else cv2.ROTATE_90_COUNTERCLOCKWISE
    expected = cv2.rotate(upright, turn)
    assert frames[0].image.shape == (64, 48, 3)
    # The white block (top-left when upright) lands where a viewer would see it.
    white = frames[0].image[..., 0] > 200
    np.testing.assert_array_equal(white, expected[..., 0] > 200)


def test_video_can_be_iterated_twice(tmp_path: Path, write_video: Callable[..., Path]) -> None:
    path = write_video(tmp_path / "twice.mp4", 5)
    with VideoFileSource(path) as src:
        first = [f.timestamp for f in src]
        second = [f.timestamp for f in src]
    assert first == second and len(first) == 5


def test_missing_file() -> None:
    with pytest.raises(InputError) as exc:
        open_source("/nonexistent/clip.mp4")
    assert _one_line(exc) == "/nonexistent/clip.mp4: no such file or folder"


def test_text_file_named_mp4(tmp_path: Path) -> None:
    path = tmp_path / "notes.mp4"
    path.write_text("this is not a video\n")
    with pytest.raises(InputError) as exc:
        open_source(path)
    assert _one_line(exc) == f"{path}: not a readable video (OpenCV/FFmpeg cannot open it)"


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.mp4"
    path.touch()
    with pytest.raises(InputError) as exc:
        open_source(path)
    assert _one_line(exc) == f"{path}: empty file, not a video"


def test_zero_frame_video(tmp_path: Path) -> None:
    path = tmp_path / "zero.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    writer.release()
    assert path.stat().st_size > 0
    with pytest.raises(InputError) as exc:
        open_source(path)
    assert _one_line(exc) == f"{path}: video has no decodable frame"


def test_video_writer_without_frames_is_not_readable(tmp_path: Path) -> None:
    path = tmp_path / "zero.mp4"
    cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (64, 48)).release()
    with pytest.raises(InputError, match="not a readable video"):
        open_source(path)


# --- image folders ----------------------------------------------------------------------

@pytest.fixture
def write_images(frame_image: Callable[..., np.ndarray]) -> Callable[..., None]:
    """``write_images(folder, names, width=40, height=30)``: `frame_image` 0, 1, ... saved
    under those names."""

    def write(folder: Path, names: list[str], width: int = 40, height: int = 30) -> None:
        folder.mkdir(exist_ok=True)
        for i, name in enumerate(names):
            cv2.imwrite(str(folder / name), frame_image(i, width, height))

    return write


def test_image_folder_natural_order_and_fps(tmp_path: Path,
                                            write_images: Callable[..., None]) -> None:
    names = [f"img{i}.png" for i in range(1, 12)]
    write_images(tmp_path / "imgs", names)
    (tmp_path / "imgs" / "readme.txt").write_text("ignored")
    with open_source(tmp_path / "imgs", fps=25) as src:
        assert isinstance(src, ImageFolderSource)
        assert (src.width, src.height, src.fps, src.frame_count) == (40, 30, 25.0, 11)
        frames = list(src)
    assert [p.name for p in src.files] == names  # img2 before img10
    assert [_green(f) for f in frames] == [10 * i for i in range(11)]  # png is lossless
    np.testing.assert_allclose([f.timestamp for f in frames], np.arange(11) / 25.0)


def test_image_folder_default_fps_and_formats(tmp_path: Path,
                                              write_images: Callable[..., None]) -> None:
    write_images(tmp_path / "mix", ["a.jpg", "b.BMP", "c.png"])
    with open_source(tmp_path / "mix") as src:
        assert src.fps == 30.0
        assert [f.timestamp for f in src] == [0.0, 1 / 30, 2 / 30]


def test_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no images here")
    with pytest.raises(InputError) as exc:
        open_source(tmp_path / "empty")
    assert _one_line(exc).startswith(f"{tmp_path / 'empty'}: no image files (.bmp, .jpeg, ")


def test_image_folder_size_change(tmp_path: Path, write_images: Callable[..., None],
                                  frame_image: Callable[..., np.ndarray]) -> None:
    write_images(tmp_path / "sizes", ["a.png"], 40, 30)
    cv2.imwrite(str(tmp_path / "sizes" / "b.png"), frame_image(1, 20, 30))
    with pytest.raises(InputError) as exc:
        list(open_source(tmp_path / "sizes"))
    assert _one_line(exc) == (f"{tmp_path / 'sizes' / 'b.png'}: image is 20x30, the folder's "
                              "first image is 40x30")


def test_image_folder_bad_fps(tmp_path: Path, write_images: Callable[..., None]) -> None:
    write_images(tmp_path / "imgs", ["a.png"])
    with pytest.raises(InputError, match="--fps must be a positive number"):
        open_source(tmp_path / "imgs", fps=0)


# --- live sources -----------------------------------------------------------------------

class FastReader:
    """Produces ``n`` frames (drawn by ``image``, e.g. `frame_image`) as fast as it can,
    then reports failure."""

    def __init__(self, n: int, image: Callable[[int, int, int], np.ndarray]) -> None:
        self.n, self.i = n, 0
        self.image = image
        self.exhausted = threading.Event()
        self.released = False

    def read(self) -> tuple[bool, np.ndarray | None]:
        if self.i >= self.n:
            self.exhausted.set()
            return False, None
        self.i += 1
        return True, self.image(self.i - 1, 16, 12)

    def release(self) -> None:
        self.released = True


class PacedReader(FastReader):
    """Delivers the next frame only after the consumer has taken the previous one."""

    def __init__(self, n: int, image: Callable[[int, int, int], np.ndarray]) -> None:
        super().__init__(n, image)
        self.taken = threading.Semaphore(0)

    def read(self) -> tuple[bool, np.ndarray | None]:
        if 0 < self.i < self.n:
            assert self.taken.acquire(timeout=5)
        return super().read()


def test_live_newest_frame_wins_and_stale_frames_are_counted(
        frame_image: Callable[..., np.ndarray]) -> None:
    reader = FastReader(10, frame_image)
    src = LiveSource(reader, name="fake", max_failures=1)
    assert (src.width, src.height, src.is_live, src.frame_count) == (16, 12, True, None)
    src.start()
    assert reader.exhausted.wait(5)
    frames = list(src)
    src.close()
    assert [f.index for f in frames] == [9]
    assert _green(frames[0]) == 90
    assert (src.grabbed, src.dropped) == (10, 9)
    assert src.notes == ("live capture: 9 of 10 frames dropped because processing was "
                         "slower than the camera",)
    assert reader.released


def test_live_keeps_every_frame_when_consumer_keeps_up(
        frame_image: Callable[..., np.ndarray]) -> None:
    reader = PacedReader(6, frame_image)
    frames = []
    before = time.monotonic()
    with LiveSource(reader, name="fake", max_failures=1) as src:
        for frame in src:
            frames.append(frame)
            reader.taken.release()
    after = time.monotonic()
    assert [f.index for f in frames] == list(range(6))
    assert src.dropped == 0 and src.notes == ()
    stamps = np.array([f.timestamp for f in frames])
    assert np.all(np.diff(stamps) > 0)
    assert before - 1.0 < stamps[0] and stamps[-1] <= after  # time.monotonic() clock


def test_live_reader_without_frames(frame_image: Callable[..., np.ndarray]) -> None:
    reader = FastReader(0, frame_image)
    with pytest.raises(InputError) as exc:
        LiveSource(reader, name="camera 7")
    assert _one_line(exc) == "camera 7: no frame could be read"
    assert reader.released


def test_real_camera_index_that_does_not_exist() -> None:
    with pytest.raises(InputError) as exc:
        open_source(99)
    assert _one_line(exc) == ("camera 99 could not be opened; use --source VIDEO to analyse "
                              "a recording")


class _FakeCapture:
    opened: set[int] = set()
    image: np.ndarray  # set by the test (a `frame_image`)

    def __init__(self, index: int) -> None:
        self.index = index

    def isOpened(self) -> bool:  # noqa: N802 - cv2 API
        return self.index in self.opened

    def read(self) -> tuple[bool, np.ndarray | None]:
        return (True, self.image) if self.isOpened() else (False, None)

    def get(self, prop: int) -> float:
        return 0.0

    def set(self, prop: int, value: float) -> bool:
        return True

    def release(self) -> None:
        pass


def test_camera_that_cannot_be_opened(monkeypatch: pytest.MonkeyPatch,
                                      frame_image: Callable[..., np.ndarray]) -> None:
    monkeypatch.setattr(capture.cv2, "VideoCapture", _FakeCapture)
    monkeypatch.setattr(_FakeCapture, "image", frame_image(0, 16, 12), raising=False)
    monkeypatch.setattr(_FakeCapture, "opened", set())
    with pytest.raises(InputError) as exc:
        open_source(0)
    assert _one_line(exc) == "camera 0 could not be opened; use --source VIDEO to analyse a recording"
    with pytest.raises(InputError, match="^camera 2 could not be opened"):
        open_source("2")


def test_camera_source_and_listing(monkeypatch: pytest.MonkeyPatch,
                                   frame_image: Callable[..., np.ndarray]) -> None:
    monkeypatch.setattr(capture.cv2, "VideoCapture", _FakeCapture)
    monkeypatch.setattr(_FakeCapture, "image", frame_image(0, 16, 12), raising=False)
    monkeypatch.setattr(_FakeCapture, "opened", {1, 3})
    assert list_cameras() == [1, 3]
    assert list_cameras(max_index=2) == [1]
    src = open_camera(1)
    try:
        assert (src.name, src.fps, src.width, src.height, src.is_live) == ("camera 1", 30.0, 16, 12, True)
    finally:
        src.close()


# --- shared recordings ------------------------------------------------------------------

@pytest.mark.parametrize("name, frames, fps, size", [
    ("shoulder_abduction.mp4", 492, 27.93, (1920, 1080)),
    ("sports2d_demo.mp4", 230, 30.0, (1768, 994)),
    ("pose2sim_single_cam01.mp4", 100, 60.0, (1080, 1920)),
    ("pose2sim_two_people_cam02.mp4", 100, 60.0, (1088, 1920)),
])
def test_shared_videos_decode_fully(name: str, frames: int, fps: float, size: tuple[int, int],
                                    shared_video: Callable[[str], Path]) -> None:
    with open_source(shared_video(name)) as src:
        assert (src.width, src.height) == size
        assert src.fps == pytest.approx(fps, abs=0.01)
        stamps = np.array([f.timestamp for f in src])
    assert stamps.size == frames and src.frame_count == frames
    assert stamps[0] == 0.0
    steps = np.diff(stamps)
    assert np.all(steps > 0)
    assert np.median(steps) == pytest.approx(1 / fps, rel=2e-3)
