"""Send a live session's body to avatar apps as VMC protocol bones (OSC over UDP).

The VMC protocol (protocol.vmc.info; the Marionette spec in sh-akira/
VirtualMotionCaptureProtocol ``docs/marionette-spec.markdown``) is what Unity's EVMC4U,
Unreal's VMC4UE, Blender's VMC4B and similar receivers read, on UDP port 39539 by default.
Each frame with a person becomes ONE OSC bundle::

    /VMC/Ext/OK       (int)1 (int)3 (int)0          loaded, calibrated, normal mode (V2.5)
    /VMC/Ext/T        (float)t                      the session's clock, seconds
    /VMC/Ext/Root/Pos (string)"root" px py pz qx qy qz qw       origin, identity
    /VMC/Ext/Bone/Pos (string)name   px py pz qx qy qz qw       x 17 `BONES`

Conventions (Unity's, as the receivers apply them): left-handed, Y up, metres; the humanoid
faces +Z with its left hand at -X in its T-pose; a bone's position and rotation are LOCAL to
its parent bone (EVMC4U ``ExternalReceiver.cs`` sets ``localPosition`` and
``localRotation``), and every rotation is identity in the T-pose of a VRM 0.x model (whose
rest bones carry no rotation). MediaPipe's world axes (x image right, y down, z away from
the camera; right-handed) map to Unity's by ``(x, y, z) -> (-x, -y, -z)``: the avatar IS
the patient as the camera sees them (its left arm is the patient's left arm), facing +Z
(towards an avatar app's camera) when the patient faces the camera.

How bones are made from 33 landmarks (no spine points in MediaPipe):

- Hips: y up the trunk (mid-hip -> mid-shoulder), x along the hip line (left hip -> right
  hip) made orthogonal to it, as rehab's world angles build their body frame; Chest the
  same with the shoulder line; Spine half-way between them (slerp). The trunk's direction
  is kept exactly (hip and shoulder angles are measured from it); a hip or shoulder line
  not square to the trunk (pelvic obliquity beside a lean) is squared. Neck: a swing from
  up to mid-shoulder -> mid-ear (or nose); Head: x along the ears, z from mid-ear towards
  mid-eye (or the nose); identity to the neck when those points coincide.
- Limbs (upper/lower arm, hand, upper/lower leg, foot): the shortest-arc swing, in the
  parent's frame, of the rest direction (arms -x on the left and +x on the right, legs -y,
  feet +z) onto the observed segment (hand: wrist -> mid(index, pinky); foot: heel ->
  foot_index, which is parallel to the sole). Swings are stable (no twist to flip) and put
  every segment exactly where it was seen, but the twist about a segment's own axis (forearm
  pronation, a leg's rotation) is not measured and not sent.
- Positions: each bone's offset from its parent joint in the parent's frame (the patient's
  own segment lengths); Hips at the height of the mid-hip above the lowest foot point, so
  the feet stand on the floor; the root at the origin.

No person (``world`` None or a non-finite hip or shoulder): nothing is sent for that frame;
receivers keep the last pose they applied (EVMC4U caches each bone and re-applies it every
frame), which is better than an invented one. A limb landmark that is not finite leaves out
that bone and the bones below it in the limb (the receiver holds them). Landmark visibility
is not used: MediaPipe still estimates hidden landmarks, and an avatar that keeps moving is
better than one whose limbs freeze at random; the measurements stay gated elsewhere.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import socket
import threading
from typing import TYPE_CHECKING

import numpy as np

from rehab.errors import InputError
from rehab.model import LANDMARK_INDEX

if TYPE_CHECKING:
    from rehab.stream.frames import LiveFrame, RepEvent

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 39539
"""The VMC protocol's usual receiver port (EVMC4U, VSeeFace-like apps)."""

BONES: tuple[str, ...] = (
    "Hips", "Spine", "Chest", "Neck", "Head",
    "LeftUpperArm", "LeftLowerArm", "LeftHand",
    "RightUpperArm", "RightLowerArm", "RightHand",
    "LeftUpperLeg", "LeftLowerLeg", "LeftFoot",
    "RightUpperLeg", "RightLowerLeg", "RightFoot",
)
"""The bones sent (Unity ``HumanBodyBones`` names), parents before children."""

BONE_PARENT: dict[str, str | None] = {
    "Hips": None, "Spine": "Hips", "Chest": "Spine", "Neck": "Chest", "Head": "Neck",
    "LeftUpperArm": "Chest", "LeftLowerArm": "LeftUpperArm", "LeftHand": "LeftLowerArm",
    "RightUpperArm": "Chest", "RightLowerArm": "RightUpperArm", "RightHand": "RightLowerArm",
    "LeftUpperLeg": "Hips", "LeftLowerLeg": "LeftUpperLeg", "LeftFoot": "LeftLowerLeg",
    "RightUpperLeg": "Hips", "RightLowerLeg": "RightUpperLeg", "RightFoot": "RightLowerLeg",
}
"""Each bone's parent in the chain sent (None: the root). An avatar's optional UpperChest
and Shoulder bones, not sent, keep their rest (identity) rotation in between."""

REST_DIRECTION: dict[str, tuple[float, float, float]] = {
    **{f"Left{b}": (-1.0, 0.0, 0.0) for b in ("UpperArm", "LowerArm", "Hand")},
    **{f"Right{b}": (1.0, 0.0, 0.0) for b in ("UpperArm", "LowerArm", "Hand")},
    **{f"{s}{b}": (0.0, -1.0, 0.0) for s in ("Left", "Right") for b in ("UpperLeg", "LowerLeg")},
    "LeftFoot": (0.0, 0.0, 1.0), "RightFoot": (0.0, 0.0, 1.0),
    "Neck": (0.0, 1.0, 0.0), "Head": (0.0, 1.0, 0.0),
    "Spine": (0.0, 1.0, 0.0), "Chest": (0.0, 1.0, 0.0),
}
"""Each bone's direction (towards its child) in the T-pose, Unity axes."""

SPINE_AT, CHEST_AT, HEAD_AT = 0.3, 0.6, 0.5
"""Spine and Chest joints along mid-hip -> mid-shoulder; Head joint along mid-shoulder ->
mid-ear (fractions)."""

DEFAULT_HIP_HEIGHT = 0.9
"""Hips height (metres) when no foot point is known."""

_EPS = 1e-9
_I = LANDMARK_INDEX
_UP = np.array([0.0, 1.0, 0.0])


@dataclasses.dataclass(frozen=True)
class BonePose:
    """One bone's local pose in Unity's axes."""

    position: tuple[float, float, float]
    """Offset from the parent's joint in the parent's frame, metres."""
    rotation: tuple[float, float, float, float]
    """Rotation relative to the parent, unit quaternion (x, y, z, w), w >= 0."""


@dataclasses.dataclass(frozen=True)
class VmcPose:
    """A frame's body as VMC sends it: the root and the bones that could be computed."""

    root: BonePose
    bones: dict[str, BonePose]
    """By `BONES` name, in `BONES` order; a bone whose landmarks are missing is absent."""


# --- rotation maths (3x3 matrices whose columns are a frame's axes) ---------------------------


def to_unity(world: np.ndarray) -> np.ndarray:
    """MediaPipe world points (..., 3) in Unity's axes: ``(x, y, z) -> (-x, -y, -z)``."""
    return -np.asarray(world, dtype=np.float64)


def _unit(v: np.ndarray) -> np.ndarray | None:
    n = float(np.linalg.norm(v))
    return v / n if math.isfinite(n) and n > _EPS else None


def _frame_yx(up: np.ndarray, x: np.ndarray) -> np.ndarray | None:
    """The rotation whose y axis is ``up`` and whose x axis is ``x`` made orthogonal to it."""
    ey = _unit(up)
    if ey is None:
        return None
    ex = _unit(x - float(x @ ey) * ey)
    if ex is None:
        return None
    return np.column_stack([ex, ey, np.cross(ex, ey)])


def _frame_xz(x: np.ndarray, forward: np.ndarray) -> np.ndarray | None:
    """The rotation whose x axis is ``x`` and whose z axis is ``forward`` made orthogonal."""
    ex = _unit(x)
    if ex is None:
        return None
    ez = _unit(forward - float(forward @ ex) * ex)
    if ez is None:
        return None
    return np.column_stack([ex, np.cross(ez, ex), ez])


def swing(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The shortest-arc rotation turning unit vector ``a`` onto unit vector ``b``."""
    v = np.cross(a, b)
    c = float(a @ b)
    if c < -1.0 + 1e-12:  # opposite: half a turn about any axis normal to a
        axis = _unit(np.cross(a, [0.0, 0.0, 1.0]))
        if axis is None:
            axis = _unit(np.cross(a, [0.0, 1.0, 0.0]))
        assert axis is not None
        return 2.0 * np.outer(axis, axis) - np.eye(3)
    k = np.array([[0.0, -v[2], v[1]], [v[2], 0.0, -v[0]], [-v[1], v[0], 0.0]])
    return np.eye(3) + k + (k @ k) / (1.0 + c)


def quaternion(r: np.ndarray) -> tuple[float, float, float, float]:
    """A rotation matrix as a unit quaternion (x, y, z, w) with w >= 0."""
    m = r
    tr = m[0, 0] + m[1, 1] + m[2, 2]
    if tr > 0.0:
        s = 2.0 * math.sqrt(tr + 1.0)
        q = ((m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s,
             0.25 * s)
    elif m[0, 0] > m[1, 1] and m[0, 0] > m[2, 2]:
        s = 2.0 * math.sqrt(1.0 + m[0, 0] - m[1, 1] - m[2, 2])
        q = (0.25 * s, (m[0, 1] + m[1, 0]) / s, (m[0, 2] + m[2, 0]) / s,
             (m[2, 1] - m[1, 2]) / s)
    elif m[1, 1] > m[2, 2]:
        s = 2.0 * math.sqrt(1.0 + m[1, 1] - m[0, 0] - m[2, 2])
        q = ((m[0, 1] + m[1, 0]) / s, 0.25 * s, (m[1, 2] + m[2, 1]) / s,
             (m[0, 2] - m[2, 0]) / s)
    else:
        s = 2.0 * math.sqrt(1.0 + m[2, 2] - m[0, 0] - m[1, 1])
        q = ((m[0, 2] + m[2, 0]) / s, (m[1, 2] + m[2, 1]) / s, 0.25 * s,
             (m[1, 0] - m[0, 1]) / s)
    qa = np.asarray(q, dtype=np.float64)
    qa /= np.linalg.norm(qa)
    if qa[3] < 0.0:
        qa = -qa
    return (float(qa[0]), float(qa[1]), float(qa[2]), float(qa[3]))


def _matrix(q: tuple[float, float, float, float]) -> np.ndarray:
    x, y, z, w = q
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])


def _halfway(ra: np.ndarray, rb: np.ndarray) -> np.ndarray:
    """The rotation half-way from ``ra`` to ``rb`` (slerp at 0.5)."""
    x, y, z, w = quaternion(ra.T @ rb)
    s = math.sqrt(x * x + y * y + z * z)
    if s < _EPS:
        return ra
    half = 0.5 * math.atan2(s, w)  # a quarter of the relative angle
    k = math.sin(half) / s
    return ra @ _matrix((x * k, y * k, z * k, math.cos(half)))


# --- landmarks -> bones ---------------------------------------------------------------------


def _point(p: np.ndarray, name: str) -> np.ndarray | None:
    v = p[_I[name]]
    return v if bool(np.isfinite(v).all()) else None


def _mean(*pts: np.ndarray | None) -> np.ndarray | None:
    ok = [v for v in pts if v is not None]
    return np.mean(ok, axis=0) if ok else None


def _limb_segments(p: np.ndarray, side: str
                   ) -> list[tuple[str, np.ndarray | None, np.ndarray | None]]:
    """(bone, joint, direction) of one side's limbs, parents first; None where missing."""
    s = side.lower()
    pt = {n: _point(p, f"{s}_{n}") for n in (
        "shoulder", "elbow", "wrist", "index", "pinky", "hip", "knee", "ankle", "heel",
        "foot_index")}

    def seg(a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray | None:
        return None if a is None or b is None else b - a

    hand_tip = _mean(pt["index"], pt["pinky"])
    heel = pt["heel"] if pt["heel"] is not None else pt["ankle"]
    return [
        (f"{side}UpperArm", pt["shoulder"], seg(pt["shoulder"], pt["elbow"])),
        (f"{side}LowerArm", pt["elbow"], seg(pt["elbow"], pt["wrist"])),
        (f"{side}Hand", pt["wrist"], seg(pt["wrist"], hand_tip)),
        (f"{side}UpperLeg", pt["hip"], seg(pt["hip"], pt["knee"])),
        (f"{side}LowerLeg", pt["knee"], seg(pt["knee"], pt["ankle"])),
        (f"{side}Foot", pt["ankle"], seg(heel, pt["foot_index"])),
    ]


def vmc_pose(world: np.ndarray | None) -> VmcPose | None:
    """The VMC bones of one frame's (33, 3) MediaPipe world landmarks (metres); None when
    there is no person (``world`` None, or a hip or shoulder not finite)."""
    if world is None:
        return None
    w = np.asarray(world, dtype=np.float64)
    if w.shape != (len(_I), 3):
        raise ValueError(f"world landmarks must be ({len(_I)}, 3), got {w.shape}")
    p = to_unity(w)
    lh, rh = _point(p, "left_hip"), _point(p, "right_hip")
    ls, rs = _point(p, "left_shoulder"), _point(p, "right_shoulder")
    if lh is None or rh is None or ls is None or rs is None:
        return None
    mid_hip, mid_sh = 0.5 * (lh + rh), 0.5 * (ls + rs)
    trunk = mid_sh - mid_hip
    r_hips, r_chest = _frame_yx(trunk, rh - lh), _frame_yx(trunk, rs - ls)
    if r_hips is None or r_chest is None:
        return None
    glob: dict[str, np.ndarray] = {"Hips": r_hips, "Spine": _halfway(r_hips, r_chest),
                                   "Chest": r_chest}
    joint: dict[str, np.ndarray] = {"Hips": mid_hip, "Spine": mid_hip + SPINE_AT * trunk,
                                    "Chest": mid_hip + CHEST_AT * trunk}

    # neck and head
    l_ear, r_ear, nose = (_point(p, n) for n in ("left_ear", "right_ear", "nose"))
    eyes = _mean(_point(p, "left_eye"), _point(p, "right_eye"))
    head_ref = _mean(l_ear, r_ear) if (l_ear is not None or r_ear is not None) else nose
    neck_dir = None if head_ref is None else _unit(head_ref - mid_sh)
    if head_ref is not None and neck_dir is not None:
        glob["Neck"] = r_chest @ swing(_UP, r_chest.T @ neck_dir)
        joint["Neck"] = mid_sh
        joint["Head"] = mid_sh + HEAD_AT * (head_ref - mid_sh)
        ahead = eyes if eyes is not None else nose
        face = None
        if l_ear is not None and r_ear is not None and ahead is not None:
            face = _frame_xz(r_ear - l_ear, ahead - 0.5 * (l_ear + r_ear))
        glob["Head"] = glob["Neck"] if face is None else face

    # limbs: a swing of the rest direction in the parent's frame
    for side in ("Left", "Right"):
        for bone, origin, seg in _limb_segments(p, side):
            parent = BONE_PARENT[bone]
            assert parent is not None
            d = None if seg is None else _unit(seg)
            if parent not in glob or origin is None or d is None:
                continue
            rp = glob[parent]
            glob[bone] = rp @ swing(np.asarray(REST_DIRECTION[bone]), rp.T @ d)
            joint[bone] = origin

    feet = [v for n in ("ankle", "heel", "foot_index") for s in ("left", "right")
            if (v := _point(p, f"{s}_{n}")) is not None]
    hip_height = (float(mid_hip[1] - min(v[1] for v in feet)) if feet
                  else DEFAULT_HIP_HEIGHT)
    bones: dict[str, BonePose] = {}
    for bone in BONES:
        if bone not in glob:
            continue
        parent = BONE_PARENT[bone]
        if parent is None:
            local = glob[bone]
            pos = (float(mid_hip[0]), hip_height, float(mid_hip[2]))
        else:
            rp = glob[parent]
            local = rp.T @ glob[bone]
            off = rp.T @ (joint[bone] - joint[parent])
            pos = (float(off[0]), float(off[1]), float(off[2]))
        bones[bone] = BonePose(position=pos, rotation=quaternion(local))
    return VmcPose(root=BonePose((0.0, 0.0, 0.0), (0.0, 0.0, 0.0, 1.0)), bones=bones)


# --- OSC ------------------------------------------------------------------------------------


def vmc_bundle(pose: VmcPose, t: float) -> bytes:
    """The OSC bundle (one datagram) of ``pose`` at ``t`` seconds: ``/VMC/Ext/OK``,
    ``/VMC/Ext/T``, ``/VMC/Ext/Root/Pos`` and a ``/VMC/Ext/Bone/Pos`` per bone."""
    from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
    from pythonosc.osc_message_builder import OscMessageBuilder

    def message(address: str, *args: tuple[str | float, str]) -> OscMessageBuilder:
        m = OscMessageBuilder(address=address)
        for value, kind in args:
            m.add_arg(value, kind)
        return m

    def pose_args(name: str, b: BonePose) -> list[tuple[str | float, str]]:
        return [(name, "s"), *((float(v), "f") for v in (*b.position, *b.rotation))]

    bundle = OscBundleBuilder(IMMEDIATELY)
    # loaded=1, calibration state 3 (calibrated), calibration mode 0 (normal)
    bundle.add_content(message("/VMC/Ext/OK", (1, "i"), (3, "i"), (0, "i")).build())
    bundle.add_content(message("/VMC/Ext/T", (float(t), "f")).build())
    bundle.add_content(message("/VMC/Ext/Root/Pos", *pose_args("root", pose.root)).build())
    for name, b in pose.bones.items():
        bundle.add_content(message("/VMC/Ext/Bone/Pos", *pose_args(name, b)).build())
    return bytes(bundle.build().dgram)


def parse_target(text: str | None) -> tuple[str, int]:
    """``--vmc [HOST:PORT]`` as (host, port): ``HOST``, ``:PORT``, ``HOST:PORT`` or
    ``[IPv6]:PORT``; missing parts default to 127.0.0.1 and 39539 (`InputError` if bad)."""
    s = (text or "").strip()
    host, port_text = s, ""
    if s.startswith("["):
        end = s.find("]")
        if end < 0 or (s[end + 1:] and not s[end + 1:].startswith(":")):
            raise InputError(f"--vmc {text}: expected HOST:PORT or [IPv6]:PORT")
        host, port_text = s[1:end], s[end + 2:]
    elif s.count(":") == 1:
        host, port_text = s.split(":")
    host = host or DEFAULT_HOST
    if not port_text:
        return host, DEFAULT_PORT
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise InputError(f"--vmc {text}: port {port_text!r} is not a number 1-65535")
    return host, int(port_text)


class VmcSender:
    """A `rehab.stream.frames.LiveSink` that sends each frame's body as one VMC bundle.

    `frame` puts the frame in a one-slot mailbox (newest wins, counted in ``dropped``) and
    returns; a background thread computes the bones and sends. ``sent``: bundles sent;
    ``skipped``: frames without a person (nothing sent); ``errors``: failed sends or
    computations (the first is logged as a warning, the session goes on).
    """

    JOIN_TIMEOUT_S = 2.0
    name = "vmc"

    def __init__(self, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> None:
        """Resolve ``host`` now (`InputError` if it cannot be) and start the thread."""
        if not 1 <= int(port) <= 65535:
            raise InputError(f"VMC port {port} is not 1-65535")
        try:
            infos = socket.getaddrinfo(host, int(port), 0, socket.SOCK_DGRAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise InputError(f"VMC host {host!r} cannot be resolved: {exc}") from None
        family, kind, proto, _, address = infos[0]
        self.host, self.port = host, int(port)
        self._address = address
        self._sock = socket.socket(family, kind, proto)
        self.sent = 0
        self.dropped = 0
        self.skipped = 0
        self.errors = 0
        self._slot: LiveFrame | None = None
        self._closed = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="vmc-sender", daemon=True)
        self._thread.start()
        log.info("VMC: sending bones to %s:%d", host, self.port)

    @property
    def running(self) -> bool:
        """Whether the sender thread is alive."""
        return self._thread.is_alive()

    def frame(self, frame: LiveFrame) -> None:
        """Queue ``frame`` for sending (replacing one not sent yet); never blocks."""
        with self._cond:
            if self._closed:
                return
            if self._slot is not None:
                self.dropped += 1
            self._slot = frame
            self._cond.notify()

    def rep(self, event: RepEvent) -> None:
        """Nothing: VMC carries the body only."""

    def counts(self) -> dict[str, int]:
        """Bundles sent, frames dropped for newer ones, failed sends (for ``--stats``)."""
        return {"sent": self.sent, "dropped": self.dropped, "errors": self.errors}

    def end(self, reason: str, reps: int) -> None:
        """The session ended: send what is queued and stop."""
        self.close()

    def close(self) -> None:
        """Send the frame still queued, stop the thread (joined with a timeout) and close
        the socket; idempotent."""
        with self._cond:
            self._closed = True
            self._cond.notify()
        if self._thread is not threading.current_thread():
            self._thread.join(self.JOIN_TIMEOUT_S)
            if self._thread.is_alive():
                log.warning("VMC: the sender thread did not stop in %.0f s",
                            self.JOIN_TIMEOUT_S)
                return
        self._sock.close()

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._slot is None and not self._closed:
                    self._cond.wait()
                frame, self._slot = self._slot, None
            if frame is None:  # closed and nothing queued
                return
            self._send(frame)

    def _send(self, frame: LiveFrame) -> None:
        try:
            pose = vmc_pose(frame.world)
            if pose is None:
                self.skipped += 1
                return
            self._sock.sendto(vmc_bundle(pose, frame.t), self._address)
            self.sent += 1
        except Exception as exc:  # noqa: BLE001 - a stream must never end a session
            self.errors += 1
            if self.errors == 1:
                log.warning("VMC: sending to %s:%d failed (%s); counting further failures",
                            self.host, self.port, exc)
            else:
                log.debug("VMC: send failed: %s", exc)


__all__ = ["BONES", "BONE_PARENT", "DEFAULT_HOST", "DEFAULT_PORT", "REST_DIRECTION",
           "BonePose", "VmcPose", "VmcSender", "parse_target", "quaternion", "swing",
           "to_unity", "vmc_bundle", "vmc_pose"]
