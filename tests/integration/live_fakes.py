"""Fakes of the live session's collaborators (frame source, pose estimator, display),
shared by the live tests: blank frames at given times, scripted poses, scripted keys."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np

from rehab.capture import Frame, Source
from rehab.live.session import fit_size
from rehab.model import PoseSequence
from rehab.pose.estimator import FramePose, PersonPose


class FrameList(Source):
    """Blank frames stamped with a sequence's timestamps (not live: none is dropped)."""

    def __init__(self, timestamps: np.ndarray, width: int = 640, height: int = 480,
                 max_size: tuple[int, int] = (320, 240)) -> None:
        self.name = "replay"
        self.width, self.height = width, height
        self.fps = 30.0
        self.frame_count = len(timestamps)
        self.timestamps = timestamps
        w, h = fit_size(width, height, max_size)
        self.image = np.full((h, w, 3), 90, np.uint8)
        self.closed = False

    def frames(self) -> Iterator[Frame]:
        for i, t in enumerate(self.timestamps):
            yield Frame(i, float(t), self.image)

    def close(self) -> None:
        self.closed = True


class ScriptedEstimator:
    """Returns the given per-frame poses in order (None: nobody); calls ``event`` (a crash,
    a signal) before frame ``at``."""

    model_name = "scripted"
    model_sha256 = ""

    def __init__(self, poses: Sequence[FramePose | None], at: int | None = None,
                 event: Callable[[], None] | None = None) -> None:
        self.poses = list(poses)
        self.i = 0
        self.at = at
        self.event = event

    def process(self, image_bgr: np.ndarray, timestamp_s: float) -> FramePose | None:
        if self.event is not None and self.i == self.at:
            self.event()
        pose = self.poses[self.i]
        self.i += 1
        return pose

    def close(self) -> None:
        pass


class FakeDisplay:
    """Records shown frames; returns scripted key actions at given frame numbers."""

    def __init__(self, actions: dict[int, str]) -> None:
        self.actions = actions
        self.shown = 0
        self.closed = False

    def show(self, img: np.ndarray) -> str | None:
        self.shown += 1
        return self.actions.get(self.shown)

    def close(self) -> None:
        self.closed = True


def poses_of(seq: PoseSequence) -> list[FramePose | None]:
    return [FramePose((PersonPose(seq.landmarks[i], seq.world[i], seq.visibility[i]),))
            if seq.detected[i] else None for i in range(seq.n_frames)]
