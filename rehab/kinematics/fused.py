"""Fused 3D landmarks: image positions with the world landmarks' depth and constant segment
lengths (a candidate angle space, measured against the image and world spaces).

The image measures positions across the image plane well and depth not at all; the world
landmarks guess depth. Here each segment of the skeleton tree (mid-hip -> hips -> knees ->
ankles -> feet, hips -> shoulders -> elbows -> wrists -> hands) keeps its image position,
scaled to metres, and its length is held at the median of its world length over the
recording: the depth step of a segment is what its length leaves once its image length
is spent, sqrt(L^2 - l^2), with the sign the world landmarks give it (Taylor's
reconstruction from known lengths, the world landmarks breaking its depth ambiguity). The
scale (metres per pixel) is the one at which the long segments (trunk sides, thighs,
shanks, upper arms, forearms) seen longest in the image reach their length (the 95th
percentile of image length over length).
"""

from __future__ import annotations

import numpy as np

from rehab.model import LANDMARK_INDEX as I

__all__ = ["SKELETON_TREE", "fused_landmarks"]

_ROOT = -1
MIN_SCALE_SEGMENT_M = 0.2
"""Only segments at least this long (trunk, thighs, shanks, arms) set the scale."""
SKELETON_TREE: tuple[tuple[int, int], ...] = tuple(
    (_ROOT if a == "root" else I[a], I[b]) for a, b in (
        ("root", "left_hip"), ("root", "right_hip"),
        ("left_hip", "left_shoulder"), ("right_hip", "right_shoulder"),
        ("left_shoulder", "left_elbow"), ("right_shoulder", "right_elbow"),
        ("left_elbow", "left_wrist"), ("right_elbow", "right_wrist"),
        ("left_wrist", "left_pinky"), ("right_wrist", "right_pinky"),
        ("left_wrist", "left_index"), ("right_wrist", "right_index"),
        ("left_wrist", "left_thumb"), ("right_wrist", "right_thumb"),
        ("left_hip", "left_knee"), ("right_hip", "right_knee"),
        ("left_knee", "left_ankle"), ("right_knee", "right_ankle"),
        ("left_ankle", "left_heel"), ("right_ankle", "right_heel"),
        ("left_ankle", "left_foot_index"), ("right_ankle", "right_foot_index"),
    ))
"""(parent, child) landmark indices, parents first; -1 is the mid-hip point."""


def _at(p: np.ndarray, i: int) -> np.ndarray:
    if i == _ROOT:
        return 0.5 * (p[:, I["left_hip"]] + p[:, I["right_hip"]])
    return p[:, i]


def fused_landmarks(landmarks: np.ndarray, world: np.ndarray, width: int,
                    height: int) -> np.ndarray:
    """(T, 33, 3) fused positions in metres (x right, y down as in the image, z depth);
    NaN where the image or world landmarks are missing. Landmarks outside the tree (the
    face) take the image position and the world depth."""
    px = landmarks[:, :, :2].astype(np.float64) * np.array([width, height], np.float64)
    w = world.astype(np.float64)
    ratios = []
    lengths = {}
    for a, b in SKELETON_TREE:
        length = np.linalg.norm(_at(w, b) - _at(w, a), axis=1)
        ok = np.isfinite(length) & (length > 0)
        big = float(np.median(length[ok])) if ok.any() else np.nan
        lengths[(a, b)] = big
        seen = np.linalg.norm(_at(px, b) - _at(px, a), axis=1)
        if big >= MIN_SCALE_SEGMENT_M:  # hands and feet are too short to scale by
            r = seen / big
            ratios.append(r[np.isfinite(r)])
    allr = np.concatenate(ratios) if ratios else np.empty(0)
    px_per_m = float(np.percentile(allr, 95)) if allr.size else np.nan
    out = np.full(w.shape, np.nan)
    if not np.isfinite(px_per_m) or px_per_m <= 0:
        return out
    xy = px / px_per_m
    out[:, :, :2] = xy
    # depth along the tree from the mid-hip point (depth 0)
    depth: dict[int, np.ndarray] = {_ROOT: np.zeros(w.shape[0])}
    for a, b in SKELETON_TREE:
        step = np.linalg.norm(_at(xy, b) - _at(xy, a), axis=1)
        dz = np.sqrt(np.clip(lengths[(a, b)] ** 2 - step ** 2, 0.0, None))
        sign = np.sign(_at(w, b)[:, 2] - _at(w, a)[:, 2])
        depth[b] = depth[a] + sign * dz
    done = set(depth) - {_ROOT}
    for i in range(w.shape[1]):
        if i in done:
            out[:, i, 2] = depth[i]
        else:
            out[:, i, 2] = (w[:, i, 2] - _at(w, _ROOT)[:, 2])
    return out
