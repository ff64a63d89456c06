"""Find and repair left/right swaps of the pose model's labels, before angles are computed.

A single-camera pose model sometimes labels the person's left limbs as the right ones for a
stretch of frames (it takes a person facing the camera for one facing away, or the legs
cross in a side view). Angles measured then belong to the wrong limb. Real limbs move
continuously; a swapped label makes both limbs jump to each other's place from one frame
to the next. The repair uses only that:

- The body is split into two groups, each with its own labels: the **upper** body (face,
  shoulders, arms, hands) and the **lower** body (hips, legs, feet); the model sometimes
  exchanges one and not the other. Each group, in each frame, is either as the model
  labelled it or exchanged.
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
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba import njit

from rehab.model import LANDMARK_INDEX, PoseSequence

__all__ = ["SWAP_GROUPS", "SwapReport", "repair_swaps", "swap_pass"]


def _pairs(*names: str) -> tuple[tuple[int, int], ...]:
    return tuple((LANDMARK_INDEX[f"left_{n}"], LANDMARK_INDEX[f"right_{n}"]) for n in names)


SWAP_GROUPS: dict[str, tuple[tuple[int, int], ...]] = {
    "upper": _pairs("shoulder", "elbow", "wrist", "pinky", "index", "thumb", "eye_inner",
                    "eye", "eye_outer", "ear") + (
        (LANDMARK_INDEX["mouth_left"], LANDMARK_INDEX["mouth_right"]),),
    "lower": _pairs("hip", "knee", "ankle", "heel", "foot_index"),
}
"""Landmark pairs (left index, right index) of each group whose labels move together."""

_FOLLOWS = {"pinky": "wrist", "index": "wrist", "thumb": "wrist", "eye_inner": "eye",
            "eye_outer": "eye", "mouth": "eye"}
"""Pairs that sit on another (the hand's points on the wrist, the eye corners and the mouth
on the eyes) carry no evidence of their own: they are exchanged and gated with it."""


def _leaders(pairs: tuple[tuple[int, int], ...]) -> tuple[np.ndarray, np.ndarray]:
    """The pairs of a group whose movement decides (ascending indices in the group: those
    that sit on no other, `_FOLLOWS`), and for each pair of the group the position among
    them of the one that decides it."""
    from rehab.model import LANDMARK_NAMES

    names = [LANDMARK_NAMES[a].removeprefix("left_").removesuffix("_left") for a, _ in pairs]
    of = np.array([names.index(_FOLLOWS.get(n, n)) for n in names], np.int64)
    lead = np.unique(of)
    return lead, np.searchsorted(lead, of)


_LEADERS = {name: _leaders(pairs) for name, pairs in SWAP_GROUPS.items()}

_LS, _RS, _LH, _RH = (LANDMARK_INDEX[n] for n in ("left_shoulder", "right_shoulder",
                                                  "left_hip", "right_hip"))

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
    guess: PoseSequence | None = None
    """The sequence with the swaps exchanged back but nothing gated (the gated frames as
    the model labelled them): what the count may follow through gated frames, as it
    follows the model's estimate of a hidden limb. None when nothing was gated."""

    @property
    def n_repaired(self) -> int:
        return int(self.repaired.sum())

    @property
    def n_gated(self) -> int:
        return int(self.gated.sum())


@njit(cache=True, inline="always")
def _dist(lm: np.ndarray, world: np.ndarray, scale: np.ndarray, t1: int, i1: int, t2: int,
          i2: int) -> float:
    """Image distance plus world distance (torso lengths) between landmark i1 in frame t1
    and landmark i2 in frame t2."""
    return (math.sqrt(((lm[t1, i1, 0] - lm[t2, i2, 0]) * scale[0]) ** 2
                      + ((lm[t1, i1, 1] - lm[t2, i2, 1]) * scale[1]) ** 2)
            + scale[2] * math.sqrt((world[t1, i1, 0] - world[t2, i2, 0]) ** 2
                                   + (world[t1, i1, 1] - world[t2, i2, 1]) ** 2
                                   + (world[t1, i1, 2] - world[t2, i2, 2]) ** 2))


@njit(cache=True, inline="always")
def _link(lm: np.ndarray, world: np.ndarray, scale: np.ndarray, li: int, ri: int, a: int,
          b: int) -> tuple[float, float]:
    """(keep, exchange) movement of one pair from frame a to frame b (NaN if missing)."""
    keep = _dist(lm, world, scale, b, li, a, li) + _dist(lm, world, scale, b, ri, a, ri)
    swap = _dist(lm, world, scale, b, li, a, ri) + _dist(lm, world, scale, b, ri, a, li)
    return keep, swap


@njit(cache=True, inline="always")
def _gain(keep: float, swap: float, same: bool) -> float:
    """How much more a labelling change at one link would cost than the chosen one."""
    return (swap - keep) if same else (keep - swap)


@njit(cache=True, nogil=True)
def swap_pass(lm: np.ndarray, world: np.ndarray, scale: np.ndarray, left: np.ndarray,
              right: np.ndarray, t: np.ndarray, valid: np.ndarray, max_link_s: float,
              frame_cost: float, min_confidence: float, min_separation: float
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One group's labelling. ``lm`` (T, 33, 3) normalised image landmarks and ``world``
    (T, 33, 3) metres, times ``scale`` (x, y, world) into torso lengths; ``valid`` frames
    with a person; frames over ``max_link_s`` apart are unlinked. Returns per frame:
    exchanged (int8 0/1), the group's confidence (how much more movement exchanging that
    frame alone would take, over its linked sides, as a fraction of a clean still pose:
    2 x the left-right separation a side) and separation (means over its pairs), and per
    frame and pair (T, P) whether the pair is gated: the group unresolved (confidence under
    ``min_confidence`` while apart by more than ``min_separation``), or the pair itself
    clearly wanting the other labelling (its own confidence under -``min_confidence``)."""
    n = t.shape[0]
    npair = left.shape[0]
    idx = np.flatnonzero(valid)
    m = idx.shape[0]
    state = np.zeros(n, np.int8)
    conf = np.full(n, np.nan)
    sep = np.full(n, np.nan)
    gate = np.zeros((n, npair), np.bool_)
    if m == 0:
        return state, conf, sep, gate
    linked = np.zeros(m, np.bool_)
    gkeep = np.zeros(m)
    gswap = np.zeros(m)
    gsep = np.full(m, np.nan)
    pkeep = np.full((m, npair), np.nan, np.float32)  # each pair's link costs, kept for
    pswap = np.full((m, npair), np.nan, np.float32)  # its own confidence below
    pspread = np.full((m, npair), np.nan, np.float32)
    for k in range(m):
        b = idx[k]
        total = 0.0
        cnt = 0
        for q in range(npair):
            v = _dist(lm, world, scale, b, left[q], b, right[q])
            pspread[k, q] = v
            if math.isfinite(v):
                total += v
                cnt += 1
        if cnt:
            gsep[k] = total / cnt
        if k == 0 or t[b] - t[idx[k - 1]] > max_link_s:
            continue
        linked[k] = True
        cnt = 0
        for q in range(npair):
            kc, sc = _link(lm, world, scale, left[q], right[q], idx[k - 1], b)
            pkeep[k, q] = kc
            pswap[k, q] = sc
            if math.isfinite(kc) and math.isfinite(sc):
                gkeep[k] += kc
                gswap[k] += sc
                cnt += 1
        if cnt:
            gkeep[k] /= cnt
            gswap[k] /= cnt
    fwd = np.zeros((m, 2))
    bwd = np.zeros((m, 2))
    fwd[0, 1] = frame_cost
    for k in range(1, m):
        for s in range(2):
            best = math.inf
            for q in range(2):
                c = fwd[k - 1, q]
                if linked[k]:
                    c += gkeep[k] if q == s else gswap[k]
                if c < best:
                    best = c
            fwd[k, s] = best + (frame_cost if s == 1 else 0.0)
    for k in range(m - 2, -1, -1):
        for s in range(2):
            best = math.inf
            for q in range(2):
                c = bwd[k + 1, q] + (frame_cost if q == 1 else 0.0)
                if linked[k + 1]:
                    c += gkeep[k + 1] if q == s else gswap[k + 1]
                if c < best:
                    best = c
            bwd[k, s] = best
    lab = np.zeros(m, np.int8)
    for k in range(m):
        lab[k] = 1 if fwd[k, 1] + bwd[k, 1] < fwd[k, 0] + bwd[k, 0] else 0
        state[idx[k]] = lab[k]
    # confidences: the group's, then each pair's own
    for k in range(m):
        i = idx[k]
        sep[i] = gsep[k]
        gain = 0.0
        sides = 0
        if linked[k]:
            gain += _gain(gkeep[k], gswap[k], lab[k - 1] == lab[k])
            sides += 1
        if k + 1 < m and linked[k + 1]:
            gain += _gain(gkeep[k + 1], gswap[k + 1], lab[k + 1] == lab[k])
            sides += 1
        if sides and gsep[k] > 0:
            conf[i] = gain / (2.0 * gsep[k] * sides)
        unresolved = conf[i] < min_confidence and gsep[k] > min_separation
        for q in range(npair):
            if unresolved:
                gate[i, q] = True
                continue
            spread = pspread[k, q]
            if not spread > min_separation:
                continue
            pg = 0.0
            ps = 0
            for j in (k, k + 1):
                if j < m and linked[j] and math.isfinite(pkeep[j, q]) and \
                        math.isfinite(pswap[j, q]):
                    pg += _gain(pkeep[j, q], pswap[j, q], lab[j - 1] == lab[j])
                    ps += 1
            if ps and pg / (2.0 * spread * ps) < -min_confidence:
                gate[i, q] = True
    return state, conf, sep, gate


@njit(cache=True)
def _torso_lengths(arr: np.ndarray, sx: float, sy: float, sz: float) -> np.ndarray:
    """Per frame the mid-shoulder to mid-hip distance of (T, 33, 3) points scaled per axis
    (a zero scale leaves an axis out)."""
    n = arr.shape[0]
    out = np.full(n, np.nan)
    unit = (sx, sy, sz)
    for t in range(n):
        d = 0.0
        for j in range(3):
            if unit[j] == 0.0:
                continue
            v = 0.5 * (arr[t, _LS, j] + arr[t, _RS, j] - arr[t, _LH, j] - arr[t, _RH, j])
            d += (v * unit[j]) ** 2
        out[t] = math.sqrt(d)
    return out


def torso_scale(seq: PoseSequence) -> np.ndarray:
    """(x, y, world) factors taking normalised image coordinates and world metres into
    torso lengths (the median mid-shoulder to mid-hip distance over the recording)."""
    out = []
    for arr, unit in ((seq.landmarks, (float(seq.width), float(seq.height), 0.0)),
                      (seq.world, (1.0, 1.0, 1.0))):
        torso = _torso_lengths(np.ascontiguousarray(arr), *unit)
        torso = torso[np.isfinite(torso) & (torso > 0)]
        out.append(float(np.median(torso)) if torso.size else 1.0)
    return np.array([seq.width / out[0], seq.height / out[0], 1.0 / out[1]])


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
    scale = torso_scale(seq)
    lm_in = np.ascontiguousarray(seq.landmarks)
    world_in = np.ascontiguousarray(seq.world)
    t = np.ascontiguousarray(seq.timestamps, np.float64)

    def run(name: str) -> tuple[np.ndarray, ...]:
        pairs, lead = SWAP_GROUPS[name], _LEADERS[name][0]
        left = np.array([pairs[k][0] for k in lead], np.int64)
        right = np.array([pairs[k][1] for k in lead], np.int64)
        return swap_pass(lm_in, world_in, scale, left, right, t, valid, max_link_s,
                         frame_cost, min_confidence, min_separation)

    # the body halves are independent: one thread each (the kernel releases the GIL)
    with ThreadPoolExecutor(max_workers=len(SWAP_GROUPS)) as pool:
        results = list(pool.map(run, SWAP_GROUPS))
    decisions = []
    for (name, pairs), (state, _, _, lead_gate) in zip(SWAP_GROUPS.items(), results):
        gate = lead_gate[:, _LEADERS[name][1]]  # each pair gated with its leader
        swapped = (state == 1) & ~gate.all(axis=1)
        decisions.append((pairs, swapped, gate))
        repaired |= swapped
        gated |= gate.any(axis=1)
        by_group[name] = (int(swapped.sum()), int(gate.any(axis=1).sum()))
    if repaired.any() or gated.any():
        lm, wl, vis = seq.landmarks.copy(), seq.world.copy(), seq.visibility.copy()
        for pairs, swapped, gate in decisions:
            for arr in (lm, wl, vis):
                _exchange(arr, np.flatnonzero(swapped), pairs)
        guess = seq.replace(landmarks=lm.copy(), world=wl.copy(), visibility=vis.copy()) \
            if gated.any() else None
        for pairs, swapped, gate in decisions:
            for k, pair in enumerate(pairs):
                bad = np.flatnonzero(gate[:, k])
                for i in pair:
                    lm[bad, i] = np.nan
                    wl[bad, i] = np.nan
                    vis[bad, i] = 0.0
    else:
        lm, wl, vis, guess = seq.landmarks, seq.world, seq.visibility, None
    out = seq.replace(
        landmarks=lm, world=wl, visibility=vis,
        swap_repaired=repaired | (False if seq.swap_repaired is None else seq.swap_repaired),
        swap_gated=gated | (False if seq.swap_gated is None else seq.swap_gated))
    return out, SwapReport(repaired, gated, by_group, guess)
