"""The overlay in the live loop and in the offline video: recorded at the camera's
resolution with the summary frame at the end, the peak so far of the rep under way, cues
that go when they no longer apply, and the summary from the session's own reps."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from rehab.analysis import analyze_sequence
from rehab.exercises import get_exercise
from rehab.live import session as live_session
from rehab.live.session import LiveConfig, LiveSession
from rehab.live.ui import HudState
from rehab.model import PoseSequence
from rehab.overlay import Summary, render_overlay, summary_frames
from rehab.pose.estimator import ReplayEstimator
from rehab.synthetic import rep_pulses, synthetic_sequence

from live_fakes import FrameList

FPS = 30.0


class SizedFrames(FrameList):
    """Frames at the camera's own size (what a real camera delivers)."""

    def __init__(self, timestamps: np.ndarray, width: int, height: int) -> None:
        super().__init__(timestamps, width, height, max_size=(width, height))
        self.image = np.full((height, width, 3), 90, np.uint8)
        self.image[: height // 3, : width // 3] = 200  # something for the summary to darken


class ShapeReplay(ReplayEstimator):
    """Replays a sequence, noting the size of each image the model is given."""

    def __init__(self, seq: PoseSequence) -> None:
        super().__init__(seq)
        self.shapes: list[tuple[int, int]] = []

    def process(self, image_bgr: np.ndarray, timestamp_s: float):  # type: ignore[no-untyped-def]
        self.shapes.append((image_bgr.shape[1], image_bgr.shape[0]))
        return super().process(image_bgr, timestamp_s)


class KeepFrames:
    """A `WriterFactory` keeping the size it was opened with and every frame written."""

    def __init__(self) -> None:
        self.size: tuple[int, int] | None = None
        self.frames: list[np.ndarray] = []

    def __call__(self, path: Path, fps: float, size: tuple[int, int]) -> "KeepFrames":
        self.size = size
        path.write_bytes(b"")
        return self

    def write(self, image: np.ndarray) -> None:
        self.frames.append(image)

    def release(self) -> None:
        pass


class SizeDisplay:
    """A display noting the size of each image shown."""

    def __init__(self) -> None:
        self.sizes: list[tuple[int, int]] = []

    def show(self, img: np.ndarray) -> str | None:
        self.sizes.append((img.shape[1], img.shape[0]))
        return None

    def close(self) -> None:
        pass


def knee(peaks: list[float], starts: list[float], total_s: float, width: int = 640,
         height: int = 480) -> PoseSequence:
    """Seated knee extensions of the right leg (rest 90 deg, side view): a rep from each of
    ``starts`` down to its peak."""
    t = np.arange(int(total_s * FPS)) / FPS
    angle = np.full(t.shape, 90.0)
    for t0, peak in zip(starts, peaks):
        angle = np.minimum(angle, rep_pulses(t, [t0], 90.0, peak, rep_s=2.0))
    return synthetic_sequence(t, {"right_knee_flexion": angle, "hip_flexion": 90.0},
                              view="side", width=width, height=height, anchor="hips")


def huds(monkeypatch: pytest.MonkeyPatch) -> list[HudState]:
    """Every `HudState` the session draws, in order."""
    seen: list[HudState] = []
    draw = live_session.draw_live

    def spy(img: np.ndarray, pts: object, vis: object, name: str, side: str, hud: HudState,
            placer: object = None) -> object:
        seen.append(hud)
        return draw(img, pts, vis, name, side, hud, placer)  # type: ignore[arg-type]

    monkeypatch.setattr(live_session, "draw_live", spy)
    return seen


# --- 7. the recording at the camera's resolution -------------------------------------------

def test_live_records_at_the_cameras_resolution_with_the_summary_at_the_end(
        tmp_path: Path) -> None:
    seq = knee([5.0, 5.0], [1.0, 3.5], 7.0, 1280, 720)
    keep = KeepFrames()
    estimator = ShapeReplay(seq)
    display = SizeDisplay()
    session = LiveSession(SizedFrames(seq.timestamps, 1280, 720), estimator,
                          get_exercise("knee_extension"),
                          LiveConfig(reps=10, mirror=False, camera=False, max_size=(640, 480),
                                     display_max=(800, 600), summary_s=1.0),
                          record_dir=tmp_path / "rec", writer_factory=keep, display=display)
    result = session.run()
    assert result.rep_count == 2 and result.end_reason == "source_ended"
    assert keep.size == (1280, 720) and session.record_size == (1280, 720)
    assert {f.shape for f in keep.frames} == {(720, 1280, 3)}
    assert set(estimator.shapes) == {(640, 360)}  # the model runs on the downscaled copy
    assert set(display.sizes) == {(800, 450)}  # and the window is shown a smaller copy
    # the video: every frame, then the summary held 1 s (30 frames at the source's rate)
    extra = summary_frames(30.0, 1.0)
    assert extra == 30 and len(keep.frames) == seq.n_frames + extra
    tail = keep.frames[-extra:]
    assert all(f is tail[0] for f in tail)
    assert tail[0][5, 5].max() < keep.frames[0][5, 5].max() * 0.5  # darkened under the text
    # its content: the session's reps, against the prescription
    assert session.summary is not None and result.analysis is not None
    assert session.summary.reps == tuple(r.rep for r in result.reps) == result.analysis.reps
    assert session.summary == Summary.of_reps(get_exercise("knee_extension"), "right",
                                              result.analysis.reps, 10)
    # the display held the summary as long (the recording ended)
    assert len(display.sizes) >= seq.n_frames + 1


def test_the_recorded_video_file_is_the_cameras_size(tmp_path: Path) -> None:
    seq = knee([5.0], [0.5], 3.0, 960, 540)
    session = LiveSession(SizedFrames(seq.timestamps, 960, 540), ReplayEstimator(seq),
                          get_exercise("knee_extension"),
                          LiveConfig(reps=5, mirror=True, camera=False, summary_s=0.5),
                          record_dir=tmp_path / "rec")
    result = session.run()
    cap = cv2.VideoCapture(str(result.files["overlay_mp4"]))
    size = (cap.get(cv2.CAP_PROP_FRAME_WIDTH), cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    cap.release()
    assert size == (960, 540)
    assert n == seq.n_frames + summary_frames(30.0, 0.5)


# --- 4 and 5. the peak under way and cues through the loop -----------------------------------

def test_a_shallow_reps_cue_goes_when_the_next_rep_reaches_the_target_or_the_limb_rests(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Rep 1 stops at 40 deg (the target is 0-15): its cue stays while rep 2 moves and goes
    as rep 2 reaches the band; rep 2's own cue goes 1.5 s into the rest after it (it
    used to stay 3 s whatever the limb did)."""
    ex = get_exercise("knee_extension")
    seq = knee([40.0, 5.0], [1.0, 3.4], 10.0)
    seen = huds(monkeypatch)
    session = LiveSession(FrameList(seq.timestamps, 640, 480), ReplayEstimator(seq), ex,
                          LiveConfig(reps=10, mirror=False, camera=False, cue_s=3.0,
                                     cue_rest_s=1.5, summary_s=0.0), display=SizeDisplay())
    result = session.run()
    assert [r.rep.target_met for r in result.reps] == [False, True]
    t = seq.timestamps
    shallow = [i for i, h in enumerate(seen) if h.cue is not None
               and h.cue.text == ex.cues.too_shallow]
    good = [i for i, h in enumerate(seen) if h.cue is not None and h.cue.text == ex.cues.good]
    assert shallow and good
    first, last = shallow[0], shallow[-1]
    assert shallow == list(range(first, last + 1))
    # the correction made: rep 2's peak so far entered the band at the frame after the last
    assert seen[last + 1].peak is not None and seen[last + 1].peak <= 15.0
    assert seen[last].peak is None or seen[last].peak > 15.0
    assert t[last] - t[first] < 3.0 - 0.1  # before its hold (cue_s) ran out
    assert all(seen[i].cue is None for i in range(last + 1, good[0]))
    # rep 2's cue: at rest from its count on, gone after 1.5 s
    g0, g1 = good[0], good[-1]
    assert good == list(range(g0, g1 + 1))
    assert t[g1] - t[g0] == pytest.approx(1.5, abs=1.5 / FPS)
    assert all(h.cue is None for h in seen[g1 + 1:])
    # the peak so far: the lowest angle of the rep under way, none at rest
    assert all(h.peak is None for h in seen[g0:])
    during = [h for h in seen[shallow[0]:good[0]] if h.peak is not None]
    assert during and min(h.peak for h in during) == pytest.approx(5.0, abs=3.0)  # type: ignore[type-var]
    peaks = [h.peak for h in during]
    assert all(b <= a for a, b in zip(peaks, peaks[1:]))  # type: ignore[operator]


def test_the_final_screen_shows_the_summary(monkeypatch: pytest.MonkeyPatch) -> None:
    seq = knee([5.0, 5.0], [1.0, 3.5], 9.0)
    seen = huds(monkeypatch)
    session = LiveSession(FrameList(seq.timestamps, 640, 480), ReplayEstimator(seq),
                          get_exercise("knee_extension"),
                          LiveConfig(reps=2, sets=1, mirror=False, camera=False),
                          display=SizeDisplay())
    result = session.run()
    assert result.end_reason == "complete"
    done = [h for h in seen if h.finished]
    assert done and all(h.summary is not None for h in done)
    assert done[-1].summary is not None
    assert [t for t, _ in done[-1].summary.head_lines()][:3] == [
        "Summary: Seated knee extension, right", "2 of 2 reps",
        "target peak 0-15 deg: met in 2 of 2"]
    assert all(h.summary is None for h in seen if not h.finished)


# --- 6. the offline video ends with the summary ------------------------------------------------

def test_offline_overlay_ends_with_the_summary_frame(tmp_path: Path,
                                                     write_video: Callable[..., Path]) -> None:
    t = np.arange(150) / FPS
    angle = rep_pulses(t, [0.5, 2.5], 0.0, 100.0, rep_s=1.6)
    seq = synthetic_sequence(t, {"knee_flexion": angle, "hip_flexion": 0.8 * angle},
                             width=320, height=240)
    analysis = analyze_sequence(seq, get_exercise("squat"), side="right")
    assert analysis.rep_count == 2
    video = write_video(tmp_path / "clip.mp4", 150, fps=FPS, width=320, height=240)
    out = render_overlay(video, analysis, tmp_path / "overlay.mp4", progress=False,
                         reps_goal=3)
    cap = cv2.VideoCapture(str(out))
    n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    frames = []
    while True:
        ok, img = cap.read()
        if not ok:
            break
        frames.append(img)
    cap.release()
    assert n == len(frames) == 150 + summary_frames(FPS)
    last = frames[-1].astype(int)
    assert np.abs(last - frames[-2].astype(int)).mean() < 1.0  # held
    assert np.abs(last - frames[149].astype(int)).mean() > 5.0  # not the last video frame
