"""What a live session streams, frame by frame: `LiveFrame`, `RepEvent`, and their JSON
messages (schema `SCHEMA_VERSION`, documented in the README's "Stream" section).

A session hands each processed frame and each counted rep to its sinks (`LiveSink`: the
WebSocket server, the VMC sender); a sink must return at once (queue, never wait). The
messages are plain JSON objects; landmarks are MediaPipe's world landmarks in metres
(origin between the hips, x toward the image's right, y down, z away from the camera),
rounded to the millimetre, ``null`` where there is no person.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Protocol

import numpy as np

from rehab.model import LANDMARK_NAMES, SKELETON_EDGES, Rep

SCHEMA_VERSION = 1
"""Bumped when a message's field changes meaning or goes; new fields do not bump it."""


def joint_landmarks(angle_name: str, side: str) -> tuple[int, int, int] | None:
    """Landmark indices (segment end, vertex, segment end) that draw ``angle_name``'s arc on
    ``side``, as the overlay draws it; None for the trunk's angles or no side."""
    from rehab.overlay import arc_landmarks  # with OpenCV: not at import

    if side not in ("left", "right"):
        return None
    return arc_landmarks(angle_name, side)


@dataclasses.dataclass(frozen=True)
class LiveFrame:
    """One processed frame as the patient sees it."""

    t: float
    """Seconds since the session's first frame (the source's clock)."""
    captured: float
    """`time.monotonic()` when the frame was captured (for latency)."""
    world: np.ndarray | None
    """(33, 3) world landmarks in metres (MediaPipe's axes); None when nobody is tracked."""
    visibility: np.ndarray | None
    """(33,) landmark visibility 0..1; None when nobody is tracked."""
    angle_name: str
    """The exercise's tracked angle without side, e.g. ``knee_flexion``."""
    side: str
    """The side followed: ``left``, ``right`` (``none`` for the trunk's angles)."""
    angle_deg: float
    """The tracked angle now; NaN when not measured."""
    target: tuple[float, float]
    """The target band (degrees)."""
    rest: str
    """``low`` or ``high``: where the angle rests between reps."""
    reps_done: int
    reps_goal: int
    set_no: int
    sets: int
    state: str
    """The counter's state: ``rest`` or ``active``."""
    cue: str | None
    """The cue on screen, if any."""
    cue_tone: str = "info"
    """The cue's tone: ``good``, ``fix``, ``warn`` or ``info`` (its colour)."""
    paused: bool = False
    finished: bool = False
    rest_left_s: float | None = None
    """Seconds of rest left between sets, or None."""


@dataclasses.dataclass(frozen=True)
class RepEvent:
    """A rep counted (and scored) at ``t``."""

    t: float
    rep: Rep
    set_no: int
    cue: str


class LiveSink(Protocol):
    """Where a live session sends its frames and reps; every call returns at once."""

    name: str
    """The stream's name in ``--stats`` (``websocket``, ``vmc``)."""

    def frame(self, frame: LiveFrame) -> None: ...

    def rep(self, event: RepEvent) -> None: ...

    def end(self, reason: str, reps: int) -> None:
        """The session ended (``reason`` as `SessionResult.end_reason`) with ``reps`` counted."""

    def close(self) -> None: ...

    def counts(self) -> dict[str, Any]:
        """What the stream sent (final once closed), for ``--stats``."""
        ...


def _num(x: float, digits: int) -> float | None:
    return round(float(x), digits) if math.isfinite(x) else None


def _points(arr: np.ndarray | None, digits: int) -> list[Any] | None:
    if arr is None or not np.isfinite(arr).all():
        return None
    return np.round(arr.astype(np.float64), digits).tolist()


def hello_message(exercise_id: str, exercise_name: str, angle_name: str) -> dict[str, Any]:
    """The first message on every connection: schema version, exercise, landmark names and
    the skeleton's edges (pairs of landmark indices) to draw."""
    return {"type": "hello", "v": SCHEMA_VERSION,
            "exercise": {"id": exercise_id, "name": exercise_name, "angle": angle_name},
            "landmarks": list(LANDMARK_NAMES), "edges": [list(e) for e in SKELETON_EDGES]}


def frame_message(frame: LiveFrame, seq: int) -> dict[str, Any]:
    """The ``frame`` message of one frame (``seq`` counts frames from 0)."""
    return {
        "type": "frame", "v": SCHEMA_VERSION, "seq": seq, "t": round(frame.t, 4),
        "world": _points(frame.world, 3),
        "visibility": _points(frame.visibility, 2),
        "angle": {"name": frame.angle_name, "side": frame.side,
                  "deg": _num(frame.angle_deg, 1),
                  "joint": (list(j) if (j := joint_landmarks(frame.angle_name, frame.side))
                            else None),
                  "target": [frame.target[0], frame.target[1]], "rest": frame.rest},
        "reps": {"done": frame.reps_done, "goal": frame.reps_goal},
        "set": {"no": frame.set_no, "of": frame.sets,
                "rest_left_s": None if frame.rest_left_s is None
                else _num(frame.rest_left_s, 1)},
        "state": frame.state,
        "cue": None if frame.cue is None else {"text": frame.cue, "tone": frame.cue_tone},
        "paused": frame.paused,
        "finished": frame.finished,
    }


def rep_message(event: RepEvent) -> dict[str, Any]:
    """The ``rep`` message of a counted rep: its number, set, score, ROM, peak, whether the
    target was met, duration, flags and cue."""
    r = event.rep
    return {"type": "rep", "v": SCHEMA_VERSION, "t": round(event.t, 4), "index": r.index,
            "set": event.set_no, "side": r.side, "score": int(r.score),
            "rom_deg": _num(r.rom_deg, 1), "peak_deg": _num(r.peak_deg, 1),
            "target_met": bool(r.target_met), "duration_s": _num(r.duration_s, 2),
            "flags": list(r.flags), "cue": event.cue}


def end_message(reason: str, reps: int) -> dict[str, Any]:
    """The last message: why the session ended and how many reps it counted."""
    return {"type": "end", "v": SCHEMA_VERSION, "reason": reason, "reps": reps}


__all__ = ["SCHEMA_VERSION", "LiveFrame", "LiveSink", "RepEvent", "end_message",
           "frame_message", "hello_message", "joint_landmarks", "rep_message"]
