"""Find and repair left/right swaps of the pose model's labels, before angles are computed.

A single-camera pose model sometimes labels the person's left limbs as the right ones for a
stretch of frames (it takes a person facing the camera for one facing away, or the legs
cross in a side view). Angles measured then belong to the wrong limb. Real limbs move
continuously; a swapped label makes both limbs jump to each other's place from one frame
to the next. The repair uses only that:

- The body is split into three groups, each with its own labels: **arms** (shoulders,
  elbows, wrists, hands), **legs** (hips, knees, ankles, feet) and **face** (eyes, ears,
  mouth). Each group, in each frame, is either as the model labelled it or exchanged.
- Between consecutive frames with a person (no more than ``max_link_s`` apart), keeping
  the labels costs how far each landmark moved, exchanging them how far each moved to the
  other side's previous place; image positions in torso lengths and world positions in
  world torso lengths, added. The labelling of least total movement over the recording
  is chosen (min-sum forward-backward over two states), with a small cost per exchanged
  frame so that the model's labels win wherever movement cannot tell.
- A frame's **confidence** is how much more the other labelling of that frame would cost,
  as a fraction of what it would cost if the frame were a clean, still pose (4 x the
  left-right separation). Below ``min_confidence`` while left and right are apart (more
  than ``min_separation`` torso lengths; closer limbs give the same angles whichever label
  they carry) the frame cannot be resolved: the group's landmarks are gated (missing,
  visibility 0), never guessed. So is a single pair (say the shoulders) whose own movement
  clearly wants the other labelling than its group's (confidence below -``min_confidence``):
  the model mixed one limb's labels in that frame.

`repair_swaps` returns the repaired sequence with the per-frame masks
(`PoseSequence.swap_repaired`, `.swap_gated`) that ``landmarks.npz`` keeps.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from numba import njit

from rehab.model import LANDMARK_INDEX, PoseSequence

__all__ = ["SWAP_GROUPS", "SwapReport", "labelling_confidence", "repair_swaps", "swap_labels"]


def _pairs(*names: str) -> tuple[tuple[int, int], ...]:
    return tuple((LANDMARK_INDEX[f"left_{n}"], LANDMARK_INDEX[f"right_{n}"]) for n in names)


SWAP_GROUPS: dict[str, tuple[tuple[int, int], ...]] = {
    "arms": _pairs("shoulder", "elbow", "wrist", "pinky", "index", "thumb"),
    "legs": _pairs("hip", "knee", "ankle", "heel", "foot_index"),
    "face": _pairs("eye_inner", "eye", "eye_outer", "ear") + (
        (LANDMARK_INDEX["mouth_left"], LANDMARK_INDEX["mouth_right"]),),
}
"""Landmark pairs (left index, right index) of each group whose labels move together."""

MAX_LINK_S = 0.25
"""Frames further apart than this are not compared (continuity says nothing across a long
gap); each stretch keeps the model's labels unless its own movement says otherwise."""
SWAP_FRAME_COST = 0.01
"""Cost of each exchanged frame, in torso lengths of movement: a tie-breaker that keeps the
model's labels wherever movement cannot tell them apart."""
MIN_CONFIDENCE = 0.5
"""A frame decided with less than half the evidence of a clean pose is gated."""
MIN_SEPARATION = 0.1
"""Left and right landmarks closer than this (torso lengths, mean over the group) give the
same angles whichever label they carry: such frames are never gated."""


@dataclasses.dataclass(frozen=True)
class SwapReport:
    """What `repair_swaps` did: frames exchanged and gated, in total and per group."""

    repaired: np.ndarray
    """Boolean (T,): some group's labels were exchanged in the frame."""
    gated: np.ndarray
    """Boolean (T,): some group's landmarks could not be resolved and were gated."""
    by_group: dict[str, tuple[int, int]]
    """Per group: (frames exchanged, frames gated)."""

    @property
    def n_repaired(self) -> int:
        return int(self.repaired.sum())

    @property
    def n_gated(self) -> int:
        return int(self.gated.sum())


@njit(cache=True)
def _group_costs(img: np.ndarray, world: np.ndarray, left: np.ndarray, right: np.ndarray,
                 a: int, b: int) -> tuple[float, float]:
    """(keep, exchange) movement between frames a and b, mean over the group's pairs."""
    keep = 0.0
    swap = 0.0
    n = 0
    for k in range(left.shape[0]):
        li, ri = left[k], right[k]
        ok = True
        for p in (img, world):
            for j in range(p.shape[2]):
                if not (math.isfinite(p[a, li, j]) and math.isfinite(p[a, ri, j])
                        and math.isfinite(p[b, li, j]) and math.isfinite(p[b, ri, j])):
                    ok = False
        if not ok:
            continue
        for p in (img, world):
            ll = 0.0
            rr = 0.0
            lr = 0.0
            rl = 0.0
            for j in range(p.shape[2]):
                ll += (p[b, li, j] - p[a, li, j]) ** 2
                rr += (p[b, ri, j] - p[a, ri, j]) ** 2
                lr += (p[b, li, j] - p[a, ri, j]) ** 2
                rl += (p[b, ri, j] - p[a, li, j]) ** 2
            keep += math.sqrt(ll) + math.sqrt(rr)
            swap += math.sqrt(lr) + math.sqrt(rl)
        n += 1
    if n == 0:
        return 0.0, 0.0
    return keep / n, swap / n


@njit(cache=True)
def _separation(img: np.ndarray, world: np.ndarray, left: np.ndarray, right: np.ndarray,
                t: int) -> float:
    """Mean left-right distance of the group's pairs in frame t (image + world)."""
    total = 0.0
    n = 0
    for k in range(left.shape[0]):
        li, ri = left[k], right[k]
        s = 0.0
        ok = True
        for p in (img, world):
            d = 0.0
            for j in range(p.shape[2]):
                v = p[t, li, j] - p[t, ri, j]
                if not math.isfinite(v):
                    ok = False
                d += v * v
            s += math.sqrt(d)
        if ok:
            total += s
            n += 1
    return total / n if n else math.nan


@njit(cache=True)
def swap_labels(img: np.ndarray, world: np.ndarray, left: np.ndarray, right: np.ndarray,
                t: np.ndarray, valid: np.ndarray, max_link_s: float,
                frame_cost: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per frame: exchanged (int8 0/1), confidence (evidence / 2 x separation a side) and the
    left-right separation, for one group. ``img``/``world`` (T, 33, d) already in torso
    lengths; ``valid`` frames with a person; frames over ``max_link_s`` apart are unlinked."""
    n = t.shape[0]
    idx = np.flatnonzero(valid)
    m = idx.shape[0]
    state = np.zeros(n, np.int8)
    conf = np.full(n, np.nan)
    sep = np.full(n, np.nan)
    if m == 0:
        return state, conf, sep
    keep = np.zeros(m)
    swap = np.zeros(m)
    linked = np.zeros(m, np.bool_)
    for k in range(1, m):
        a, b = idx[k - 1], idx[k]
        if t[b] - t[a] <= max_link_s:
            keep[k], swap[k] = _group_costs(img, world, left, right, a, b)
            linked[k] = True
    fwd = np.zeros((m, 2))
    bwd = np.zeros((m, 2))
    fwd[0, 1] = frame_cost
    for k in range(1, m):
        for s in range(2):
            best = math.inf
            for q in range(2):
                c = fwd[k - 1, q]
                if linked[k]:
                    c += keep[k] if q == s else swap[k]
                if c < best:
                    best = c
            fwd[k, s] = best + (frame_cost if s == 1 else 0.0)
    for k in range(m - 2, -1, -1):
        for s in range(2):
            best = math.inf
            for q in range(2):
                c = bwd[k + 1, q] + (frame_cost if q == 1 else 0.0)
                if linked[k + 1]:
                    c += keep[k + 1] if q == s else swap[k + 1]
                if c < best:
                    best = c
            bwd[k, s] = best
    for k in range(m):
        state[idx[k]] = 1 if fwd[k, 1] + bwd[k, 1] < fwd[k, 0] + bwd[k, 0] else 0
    conf, sep = labelling_confidence(img, world, left, right, t, valid, max_link_s, state)
    return state, conf, sep


@njit(cache=True)
def labelling_confidence(img: np.ndarray, world: np.ndarray, left: np.ndarray,
                         right: np.ndarray, t: np.ndarray, valid: np.ndarray, max_link_s: float,
                         state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per frame, for the labelling ``state`` (0 kept, 1 exchanged): how much more movement
    exchanging that frame alone would take, over its linked sides, as a fraction of what a
    clean still pose gives (2 x the left-right separation a side; negative: the frame wants
    the other labelling), and the separation."""
    n = t.shape[0]
    idx = np.flatnonzero(valid)
    m = idx.shape[0]
    conf = np.full(n, np.nan)
    sep = np.full(n, np.nan)
    keep = np.zeros(m)
    swap = np.zeros(m)
    linked = np.zeros(m, np.bool_)
    for k in range(1, m):
        a, b = idx[k - 1], idx[k]
        if t[b] - t[a] <= max_link_s:
            keep[k], swap[k] = _group_costs(img, world, left, right, a, b)
            linked[k] = True
    for k in range(m):
        i = idx[k]
        spread = _separation(img, world, left, right, i)
        sep[i] = spread
        gain = 0.0
        sides = 0
        if linked[k]:
            same = state[idx[k - 1]] == state[i]
            gain += (swap[k] - keep[k]) if same else (keep[k] - swap[k])
            sides += 1
        if k + 1 < m and linked[k + 1]:
            same = state[idx[k + 1]] == state[i]
            gain += (swap[k + 1] - keep[k + 1]) if same else (keep[k + 1] - swap[k + 1])
            sides += 1
        if sides and spread > 0:
            conf[i] = gain / (2.0 * spread * sides)
    return conf, sep


def _torso_normalised(seq: PoseSequence) -> tuple[np.ndarray, np.ndarray]:
    """Image positions (pixels) and world positions (metres), each divided by its median
    torso length (mid-shoulder to mid-hip) over the recording."""
    ls, rs, lh, rh = (LANDMARK_INDEX[n] for n in ("left_shoulder", "right_shoulder",
                                                  "left_hip", "right_hip"))
    out = []
    for p in (seq.pixels(), seq.world.astype(np.float64)):
        torso = np.linalg.norm((p[:, ls] + p[:, rs]) / 2 - (p[:, lh] + p[:, rh]) / 2, axis=1)
        torso = torso[np.isfinite(torso) & (torso > 0)]
        scale = float(np.median(torso)) if torso.size else 1.0
        out.append(np.ascontiguousarray(p / scale))
    return out[0], out[1]


def _exchange(arr: np.ndarray, frames: np.ndarray, pairs: tuple[tuple[int, int], ...]) -> None:
    """Exchange the left and right landmarks of ``pairs`` in ``frames`` (in place)."""
    for li, ri in pairs:
        tmp = arr[frames, li].copy()
        arr[frames, li] = arr[frames, ri]
        arr[frames, ri] = tmp


def repair_swaps(seq: PoseSequence, max_link_s: float = MAX_LINK_S,
                 frame_cost: float = SWAP_FRAME_COST, min_confidence: float = MIN_CONFIDENCE,
                 min_separation: float = MIN_SEPARATION) -> tuple[PoseSequence, SwapReport]:
    """The sequence with left/right label swaps exchanged back and unresolved frames gated
    (see the module docstring), and what was done. Masks accumulate over repeated calls
    (the sequence's masks include those of a previous pass; the report tells this pass:
    on a repaired sequence it finds nothing new)."""
    n = seq.n_frames
    valid = seq.detected
    repaired = np.zeros(n, dtype=bool)
    gated = np.zeros(n, dtype=bool)
    by_group: dict[str, tuple[int, int]] = {}
    if valid.sum() < 2:
        return seq, SwapReport(repaired, gated, {g: (0, 0) for g in SWAP_GROUPS})
    img, world = _torso_normalised(seq)
    lm, wl, vis = seq.landmarks.copy(), seq.world.copy(), seq.visibility.copy()
    t = np.ascontiguousarray(seq.timestamps, np.float64)
    for name, pairs in SWAP_GROUPS.items():
        left = np.array([p[0] for p in pairs], np.int64)
        right = np.array([p[1] for p in pairs], np.int64)
        state, conf, sep = swap_labels(img, world, left, right, t, valid, max_link_s,
                                       frame_cost)
        unresolved = valid & (conf < min_confidence) & (sep > min_separation)
        swapped = (state == 1) & ~unresolved
        for arr in (lm, wl, vis):
            _exchange(arr, np.flatnonzero(swapped), pairs)
        gate = {p: unresolved.copy() for p in pairs}
        for k, pair in enumerate(pairs):
            # a pair that clearly wants the other labelling than its group's (the model
            # mixed the labels of one limb's joints) cannot be resolved in that frame
            pconf, psep = labelling_confidence(img, world, left[k:k + 1], right[k:k + 1], t,
                                               valid, max_link_s, state)
            gate[pair] |= valid & (pconf < -min_confidence) & (psep > min_separation)
        for pair, frames in gate.items():
            bad = np.flatnonzero(frames)
            for i in pair:
                lm[bad, i] = np.nan
                wl[bad, i] = np.nan
                vis[bad, i] = 0.0
        unresolved_any = np.logical_or.reduce(list(gate.values()))
        swapped &= ~unresolved_any
        repaired |= swapped
        gated |= unresolved_any
        by_group[name] = (int(swapped.sum()), int(unresolved_any.sum()))
    out = seq.replace(
        landmarks=lm, world=wl, visibility=vis,
        swap_repaired=repaired | (False if seq.swap_repaired is None else seq.swap_repaired),
        swap_gated=gated | (False if seq.swap_gated is None else seq.swap_gated))
    return out, SwapReport(repaired, gated, by_group)
