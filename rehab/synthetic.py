"""Synthetic pose sequences with analytically known joint angles (tests and benchmarks).

A planar stick figure is posed by forward kinematics from per-frame clinical angles, in a
side view (sagittal plane in the image, person facing image right) or a front view (frontal
plane, person facing the camera). Image landmarks are exact projections, world landmarks the
same figure in metres with the two sides separated along the depth (side view) or lateral
(front view) axis, so both angle spaces measure exactly the angles put in.
"""

from __future__ import annotations

from typing import Literal, Sequence

import numpy as np

from rehab.sequence import LANDMARK_INDEX as I
from rehab.sequence import N_LANDMARKS, PoseSequence

# Segment lengths in metres (adult, ~1.75 m).
TRUNK, THIGH, SHANK, FOOT = 0.52, 0.44, 0.43, 0.22
UPPER_ARM, FOREARM, HEAD = 0.30, 0.27, 0.22
HIP_HALF_WIDTH, SHOULDER_HALF_WIDTH = 0.10, 0.19

ANGLE_KEYS = ("knee_flexion", "hip_flexion", "shoulder_flexion", "elbow_flexion",
              "ankle_plantarflexion")


def _rot(v: np.ndarray, phi_deg: np.ndarray) -> np.ndarray:
    """Rotate 2D vectors (T, 2) by angles (T,): 90 deg turns down (0, 1) into (1, 0)."""
    p = np.deg2rad(phi_deg)
    c, s = np.cos(p), np.sin(p)
    return np.stack([c * v[:, 0] + s * v[:, 1], -s * v[:, 0] + c * v[:, 1]], axis=1)


def rep_trajectory(n_reps: int, fps: float, rest: float, peak: float, rep_s: float = 2.0,
                   pause_s: float = 1.0, lead_s: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """A raised-cosine angle trajectory: ``n_reps`` excursions from rest to peak and back.

    Returns (timestamps, angle). Each rep lasts ``rep_s`` and reps are separated by
    ``pause_s`` at rest; the recording starts and ends with ``lead_s`` at rest.
    """
    total = 2 * lead_s + n_reps * rep_s + max(0, n_reps - 1) * pause_s
    n = int(round(total * fps)) + 1
    t = np.arange(n) / fps
    starts = [lead_s + k * (rep_s + pause_s) for k in range(n_reps)]
    return t, rep_pulses(t, starts, rest, peak, rep_s)


def rep_pulses(t: np.ndarray, starts: Sequence[float], rest: float, peak: float,
               rep_s: float = 2.0) -> np.ndarray:
    """An angle at ``rest`` with a raised-cosine rep of ``rep_s`` to ``peak`` starting at
    each of ``starts`` (seconds), sampled at ``t``: reps placed freely in time (one limb's
    reps of an alternating exercise)."""
    x = np.full(t.shape, float(rest))
    for t0 in starts:
        m = (t >= t0) & (t <= t0 + rep_s)
        x[m] = rest + (peak - rest) * 0.5 * (1 - np.cos(2 * np.pi * (t[m] - t0) / rep_s))
    return x


def synthetic_sequence(
    timestamps: np.ndarray,
    angles: dict[str, np.ndarray | float],
    view: Literal["side", "front"] = "side",
    trunk_lean: np.ndarray | float = 0.0,
    width: int = 1280,
    height: int = 720,
    sides: tuple[str, ...] = ("left", "right"),
    px_per_m: float = 300.0,
    anchor: Literal["feet", "hips"] = "feet",
    yaw_deg: float = 0.0,
) -> PoseSequence:
    """A `PoseSequence` whose joint angles are exactly ``angles`` (degrees).

    ``angles`` keys: ``knee_flexion``, ``hip_flexion``, ``shoulder_flexion``,
    ``elbow_flexion``, ``ankle_plantarflexion``, optionally prefixed ``left_``/``right_`` to
    set one side; missing ones are 0. In the front view ``hip_flexion`` and
    ``shoulder_flexion`` act as hip and shoulder abduction (limbs move outwards), and knee
    and elbow flexion stay in the frontal plane. Only ``sides`` get posed limbs; the other
    side keeps the same pose. With ``anchor="feet"`` the figure stands: each frame is shifted
    so that the mid-ankle point stays where it is in the first frame (hips drop in a squat);
    with ``"hips"`` the pelvis is fixed. ``yaw_deg`` turns the whole figure about the
    vertical axis by that angle away from the view before it is projected (orthographically)
    into the image and the world: a side-view figure turned 30 deg is 30 deg off the
    sagittal plane, its image angles foreshortened.
    """
    t = np.asarray(timestamps, dtype=np.float64)
    n = t.shape[0]

    def get(key: str, side: str) -> np.ndarray:
        v = angles.get(f"{side}_{key}", angles.get(key, 0.0))
        return np.broadcast_to(np.asarray(v, dtype=np.float64), (n,)).copy()

    lean = np.broadcast_to(np.asarray(trunk_lean, dtype=np.float64), (n,))
    down = np.tile([0.0, 1.0], (n, 1))
    trunk_down = _rot(down, lean)  # lean tilts the trunk forward (toward image right)
    hip_mid = np.tile([0.0, 0.0], (n, 1))
    sh_mid = hip_mid - TRUNK * trunk_down
    pts = np.zeros((n, N_LANDMARKS, 2))  # metres, x right, y down, origin mid-hip
    depth = np.zeros((n, N_LANDMARKS))
    for side in ("left", "right"):
        sign = 1.0 if side == "left" else -1.0  # front view: the person's left is image right
        # front view: abduction of the left limbs rotates towards +x, right towards -x
        rot_sign = 1.0 if (view == "side" or side == "left") else -1.0
        if view == "side":
            hip = hip_mid.copy()
            sh = sh_mid.copy()
            depth_off = sign * HIP_HALF_WIDTH
        else:
            lateral = np.stack([np.cos(np.deg2rad(lean)), np.sin(np.deg2rad(lean))], axis=1)
            hip = hip_mid + sign * HIP_HALF_WIDTH * lateral
            sh = sh_mid + sign * SHOULDER_HALF_WIDTH * lateral
            depth_off = 0.0
        hf, kf = get("hip_flexion", side), get("knee_flexion", side)
        sf, ef = get("shoulder_flexion", side), get("elbow_flexion", side)
        pf = get("ankle_plantarflexion", side)
        thigh = _rot(trunk_down, rot_sign * hf)
        knee = hip + THIGH * thigh
        shank_dir = _rot(trunk_down, rot_sign * (hf - kf))
        ankle = knee + SHANK * shank_dir
        foot_dir = _rot(trunk_down, rot_sign * (hf - kf + 90.0 - pf))
        heel = ankle - 0.25 * FOOT * foot_dir
        toe = ankle + 0.75 * FOOT * foot_dir
        upper = _rot(trunk_down, rot_sign * sf)
        elbow = sh + UPPER_ARM * upper
        wrist = elbow + FOREARM * _rot(trunk_down, rot_sign * (sf + ef))
        hand = wrist + 0.08 * _rot(trunk_down, rot_sign * (sf + ef))
        for name, p in (("shoulder", sh), ("elbow", elbow), ("wrist", wrist), ("pinky", hand),
                        ("index", hand), ("thumb", hand), ("hip", hip), ("knee", knee),
                        ("ankle", ankle), ("heel", heel), ("foot_index", toe)):
            pts[:, I[f"{side}_{name}"]] = p
            depth[:, I[f"{side}_{name}"]] = depth_off
    head = sh_mid - 0.5 * HEAD * trunk_down
    for name in ("nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner",
                 "right_eye", "right_eye_outer", "left_ear", "right_ear", "mouth_left",
                 "mouth_right"):
        pts[:, I[name]] = head
    if yaw_deg:
        c, s_ = np.cos(np.deg2rad(yaw_deg)), np.sin(np.deg2rad(yaw_deg))
        x = pts[:, :, 0].copy()
        pts[:, :, 0] = c * x + s_ * depth
        depth = -s_ * x + c * depth
    if anchor == "feet":
        mid_ankle = 0.5 * (pts[:, I["left_ankle"]] + pts[:, I["right_ankle"]])
        pts = pts - (mid_ankle - mid_ankle[:1])[:, None, :]
    centre = np.array([width / 2.0, height * 0.45])
    img = pts * px_per_m + centre
    landmarks = np.zeros((n, N_LANDMARKS, 3), np.float32)
    landmarks[:, :, 0] = img[:, :, 0] / width
    landmarks[:, :, 1] = img[:, :, 1] / height
    landmarks[:, :, 2] = depth
    world = np.zeros((n, N_LANDMARKS, 3), np.float32)
    world[:, :, :2] = pts
    world[:, :, 2] = depth
    fps = float((n - 1) / (t[-1] - t[0])) if n > 1 and t[-1] > t[0] else 30.0
    return PoseSequence(
        landmarks=landmarks, world=world, visibility=np.full((n, N_LANDMARKS), 0.99, np.float32),
        timestamps=t, fps=fps, width=width, height=height, source="synthetic",
    )
