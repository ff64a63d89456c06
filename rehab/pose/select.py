"""Choose the patient when several people are in view.

Candidates are linked into tracks across frames (bounding-box overlap), then whole tracks
are scored, so the chosen identity never flips from frame to frame. A track scores for
being large, central, well visible, present for long and moving (the patient exercises,
bystanders mostly stand). Frames where the chosen person is missing stay empty rather than
borrowing another person.

Everything here is array-only: per frame, ``landmarks`` (n, 33, 3) normalised image
coordinates and ``visibility`` (n, 33) of the n candidates.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from rehab.model import Note, NoteCode

logger = logging.getLogger(__name__)

_VISIBLE = 0.5  # landmarks at least this visible define the body box and motion


@dataclass(frozen=True)
class SelectionWeights:
    """Weights of the scoring terms (each term is in 0..1)."""

    size: float = 1.0
    centrality: float = 1.0
    visibility: float = 1.0
    motion: float = 1.0
    min_iou: float = 0.2
    """Boxes overlapping at least this much (IoU) in nearby frames are the same person."""
    max_gap: int = 15
    """Frames a person may go undetected and still continue the same track."""
    duplicate_iou: float = 0.6
    """Two candidates of one frame overlapping this much are one person detected twice."""


SELECTION_RULE = "followed the largest, most central, most visible and most moving person"


@dataclass(frozen=True)
class Selection:
    """Which candidate is the patient in each frame (``-1``: not detected)."""

    chosen: np.ndarray
    n_tracks: int
    max_people: int
    multi_person_frames: int
    missing_frames: int
    notes: tuple[str, ...] = field(default=())


def body_boxes(landmarks: np.ndarray, visibility: np.ndarray, width: int,
               height: int) -> np.ndarray:
    """Boxes ``(n, 4)`` as x0, y0, x1, y1 in units of the longer image side.

    Built from the landmarks visible enough (all finite ones if too few), clipped to the
    image, so that both axes share one scale.
    """
    lm = np.asarray(landmarks, np.float64)[..., :2]
    vis = np.asarray(visibility, np.float64)
    scale = np.array([width, height], np.float64) / max(width, height)
    boxes = np.full((lm.shape[0], 4), np.nan)
    for i in range(lm.shape[0]):
        finite = np.isfinite(lm[i]).all(axis=1)
        use = finite & (vis[i] >= _VISIBLE)
        if use.sum() < 4:
            use = finite
        if not use.any():
            continue
        pts = np.clip(lm[i][use], 0.0, 1.0) * scale
        boxes[i] = (*pts.min(axis=0), *pts.max(axis=0))
    return boxes


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two x0, y0, x1, y1 boxes (0 if either is empty)."""
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    if not (iw > 0 and ih > 0):
        return 0.0
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def frame_scores(landmarks: np.ndarray, visibility: np.ndarray, width: int, height: int,
                 weights: SelectionWeights = SelectionWeights()) -> np.ndarray:
    """Score ``(n,)`` of each candidate in one frame: size, centrality, visibility."""
    boxes = body_boxes(landmarks, visibility, width, height)
    n = boxes.shape[0]
    if n == 0:
        return np.zeros(0)
    sizes = np.sqrt(np.clip((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]), 0, None))
    sizes = np.nan_to_num(sizes)
    size_term = sizes / sizes.max() if sizes.max() > 0 else np.zeros(n)
    centre = np.array([width, height], np.float64) / max(width, height) / 2
    mid = np.stack([(boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2], axis=1)
    dist = np.linalg.norm(mid - centre, axis=1) / np.linalg.norm(centre)
    central_term = np.nan_to_num(1.0 - np.clip(dist, 0.0, 1.0))
    vis_term = np.asarray(visibility, np.float64).mean(axis=1)
    return (weights.size * size_term + weights.centrality * central_term
            + weights.visibility * vis_term)


@dataclass
class _Track:
    frames: list[int] = field(default_factory=list)
    members: list[int] = field(default_factory=list)
    boxes: list[np.ndarray] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    points: list[np.ndarray] = field(default_factory=list)


def _distinct(boxes: np.ndarray, scores: np.ndarray, max_iou: float) -> list[int]:
    """Indices of the candidates left once duplicates (same person twice) are removed."""
    kept: list[int] = []
    for i in np.argsort(-scores, kind="stable"):
        if np.isfinite(boxes[i]).all() and all(iou(boxes[i], boxes[k]) < max_iou for k in kept):
            kept.append(int(i))
    return kept


def count_people(landmarks: np.ndarray, visibility: np.ndarray, width: int, height: int,
                 weights: SelectionWeights = SelectionWeights()) -> int:
    """Distinct people among one frame's ``n`` candidates (near-duplicates count once)."""
    if len(landmarks) == 0:
        return 0
    boxes = body_boxes(landmarks, visibility, width, height)
    scores = frame_scores(landmarks, visibility, width, height, weights)
    return len(_distinct(boxes, scores, weights.duplicate_iou))


def _link(landmarks: Sequence[np.ndarray], visibility: Sequence[np.ndarray], width: int,
          height: int, weights: SelectionWeights) -> tuple[list[_Track], np.ndarray]:
    """Greedy frame-to-frame linking of candidates into tracks by box overlap.

    Also returns the number of distinct people in each frame.
    """
    tracks: list[_Track] = []
    counts = np.zeros(len(landmarks), dtype=np.int64)
    for t, (lm, vis) in enumerate(zip(landmarks, visibility)):
        if len(lm) == 0:
            continue
        boxes = body_boxes(lm, vis, width, height)
        scores = frame_scores(lm, vis, width, height, weights)
        kept = _distinct(boxes, scores, weights.duplicate_iou)
        counts[t] = len(kept)
        live = [k for k, tr in enumerate(tracks) if t - tr.frames[-1] <= weights.max_gap + 1]
        pairs = sorted(((iou(tracks[k].boxes[-1], boxes[i]), k, i)
                        for k in live for i in kept), reverse=True)
        used_tracks: set[int] = set()
        assigned: dict[int, int] = {}
        for overlap, k, i in pairs:
            if overlap < weights.min_iou:
                break
            if k in used_tracks or i in assigned:
                continue
            used_tracks.add(k)
            assigned[i] = k
        for i in kept:
            if i not in assigned:
                tracks.append(_Track())
                assigned[i] = len(tracks) - 1
            tr = tracks[assigned[i]]
            tr.frames.append(t)
            tr.members.append(i)
            tr.boxes.append(boxes[i])
            tr.scores.append(float(scores[i]))
            pts = np.asarray(lm[i], np.float64)[:, :2].copy()
            pts[np.asarray(vis[i]) < _VISIBLE] = np.nan
            tr.points.append(pts)
    return tracks, counts


def _motion(track: _Track, width: int, height: int) -> float:
    """Typical per-frame landmark displacement relative to body height (0 if static)."""
    if len(track.frames) < 2:
        return 0.0
    scale = np.array([width, height], np.float64) / max(width, height)
    pts = np.stack(track.points) * scale
    step = np.linalg.norm(np.diff(pts, axis=0), axis=2) / np.diff(track.frames)[:, None]
    valid = np.isfinite(step).any(axis=1)
    # Mean over landmarks (an arm exercise moves only a third of them), then the median
    # over frames so a few jumpy detections do not make a bystander look active.
    per_frame = np.nanmean(step[valid], axis=1) if valid.any() else np.zeros(0)
    heights = np.array([b[3] - b[1] for b in track.boxes])
    body = float(np.median(heights)) if heights.size else 0.0
    if per_frame.size == 0 or body <= 0:
        return 0.0
    return float(np.median(per_frame) / body)


def select_person(landmarks: Sequence[np.ndarray], visibility: Sequence[np.ndarray],
                  width: int, height: int,
                  weights: SelectionWeights = SelectionWeights()) -> Selection:
    """Pick one person through the whole recording.

    ``landmarks[t]`` is (n_t, 33, 3) and ``visibility[t]`` (n_t, 33) for frame t; returns,
    per frame, the index of the chosen candidate or -1. Candidates overlapping almost
    entirely are counted as one person (the better scored one is kept).
    """
    n_frames = len(landmarks)
    chosen = np.full(n_frames, -1, dtype=np.int64)
    tracks, counts = _link(landmarks, visibility, width, height, weights)
    if not tracks:
        return Selection(chosen, 0, int(counts.max(initial=0)), 0, 0)
    motion = np.array([_motion(tr, width, height) for tr in tracks])
    motion_term = motion / motion.max() if motion.max() > 0 else np.zeros(len(tracks))
    total = []
    for tr, mot in zip(tracks, motion_term):
        # Weighted by the fraction of frames the person is seen in, so someone passing
        # through cannot win on a few good frames.
        presence = len(tr.frames) / n_frames
        total.append(presence * (float(np.mean(tr.scores)) + weights.motion * mot))
    order = np.argsort(total)[::-1]
    best = tracks[order[0]]
    picked = [order[0]]
    covered = set(best.frames)
    # Let tracks that never coexist with the chosen ones continue them (lost and found
    # again), provided they start or end near a chosen track's box.
    for k in order[1:]:
        tr = tracks[k]
        if covered.intersection(tr.frames):
            continue
        if any(_adjacent(tracks[p], tr, weights) for p in picked):
            picked.append(k)
            covered.update(tr.frames)
    for k in picked:
        for t, member in zip(tracks[k].frames, tracks[k].members):
            chosen[t] = member
    multi = int((counts > 1).sum())
    missing = int(((chosen < 0) & (counts > 0)).sum())
    notes = []
    if multi:
        notes.append(Note(NoteCode.SEVERAL_PEOPLE,
                          f"{int(counts.max())} people in view in {multi} frames; "
                          f"{SELECTION_RULE}", {"people": int(counts.max()), "frames": multi}))
        logger.info("%s (%d tracks)", notes[-1], len(tracks))
    if missing:
        notes.append(Note(NoteCode.UNLINKED,
                          f"in {missing} frames the only detections could not be linked to "
                          "the followed person; those frames are left empty",
                          {"frames": missing}))
    return Selection(chosen, len(tracks), int(counts.max()), multi, missing, tuple(notes))


def _adjacent(a: _Track, b: _Track, weights: SelectionWeights) -> bool:
    """Whether ``b`` plausibly continues ``a`` (or precedes it) after a gap."""
    if b.frames[0] > a.frames[-1]:
        box_a, box_b = a.boxes[-1], b.boxes[0]
    elif b.frames[-1] < a.frames[0]:
        box_a, box_b = a.boxes[0], b.boxes[-1]
    else:
        return False
    mid_a = np.array([(box_a[0] + box_a[2]) / 2, (box_a[1] + box_a[3]) / 2])
    mid_b = np.array([(box_b[0] + box_b[2]) / 2, (box_b[1] + box_b[3]) / 2])
    size = max(box_a[3] - box_a[1], box_a[2] - box_a[0])
    return iou(box_a, box_b) >= weights.min_iou or float(np.linalg.norm(mid_a - mid_b)) < size
