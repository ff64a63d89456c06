"""Follow the patient frame by frame when other people walk through the view.

The live counterpart of `rehab.pose.select_person` (which needs the whole recording): the
patient is the first person seen, then whoever continues their body box (overlap, or a
centre within a third of a body size of it). A detection elsewhere while the patient
was seen moments ago is someone else and is ignored; after ``reacquire_s`` without the
patient, the best person in view is taken as the patient again (they may come back to a
different spot).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from rehab.pose.estimator import FramePose, PersonPose
from rehab.pose.select import body_boxes, iou

MIN_IOU = 0.2
MAX_SHIFT = 1.0 / 3.0
"""Without overlap, a box continues the patient's if its centre moved less than this many
body sizes (the box of a limb moving fast, or the patient lost for a few frames)."""
REACQUIRE_S = 2.0


@dataclasses.dataclass
class PatientGate:
    """Chooses the patient among a frame's people (``None``: not in view)."""

    width: int
    height: int
    min_iou: float = MIN_IOU
    reacquire_s: float = REACQUIRE_S
    others_ignored: int = 0
    """Frames where the only people detected were someone else."""
    _box: np.ndarray | None = None
    _seen_at: float = -np.inf

    def choose(self, pose: FramePose | None, t: float) -> PersonPose | None:
        """The patient among ``pose.people`` at time ``t`` (seconds), or None."""
        if pose is None:
            return None
        lm = np.stack([p.landmarks for p in pose.people])
        vis = np.stack([p.visibility for p in pose.people])
        boxes = body_boxes(lm, vis, self.width, self.height)
        fresh = self._box is not None and t - self._seen_at <= self.reacquire_s
        best = -1
        if not fresh:
            best = 0  # people are ordered most likely patient first
        else:
            assert self._box is not None
            scores = [self._continuity(b) for b in boxes]
            k = int(np.argmax(scores))
            if scores[k] > 0:
                best = k
        if best < 0 or not np.isfinite(boxes[best]).all():
            if fresh:
                self.others_ignored += 1
            return None
        self._box, self._seen_at = boxes[best], t
        return pose.people[best]

    def _continuity(self, box: np.ndarray) -> float:
        """> 0 when ``box`` continues the patient's last box (higher is closer)."""
        assert self._box is not None
        if not np.isfinite(box).all():
            return 0.0
        overlap = iou(self._box, box)
        if overlap >= self.min_iou:
            return 1.0 + overlap
        a, b = self._box, box
        size = max(a[2] - a[0], a[3] - a[1])
        dist = float(np.hypot((a[0] + a[2] - b[0] - b[2]) / 2, (a[1] + a[3] - b[1] - b[3]) / 2))
        if size <= 0:
            return 0.0
        return max(0.0, 1.0 - dist / (MAX_SHIFT * size))
