"""The camera view: how the body is turned to the camera, frame by frame.

A single camera measures a joint angle in the image plane. An exercise names the plane its
movement lies in through its ``view``: ``side`` (sagittal movements: the camera looks at the
body's side) or ``front`` (frontal-plane movements: the camera looks at the chest or back).

**Orientation** (degrees, 0-90) is the angle of the body's left-right axis (left minus right
shoulder plus left minus right hip, in world landmarks, whose axes are the camera's) out of
the image plane: 0 = the body faces the camera or turns its back to it (front view), 90 = it
shows its side (side view). The image gives a second estimate: the apparent shoulder and hip
width over the trunk length, against the same proportion in the world landmarks (the
arccosine of the ratio is the turn). Frames where the two estimates differ by more than
`MAX_DISAGREEMENT_DEG` are not trusted (NaN); so are frames where the shoulders or hips are
not visible.

**Deviation** is how far the orientation is from the exercise's view: 90 - orientation for
``side``, the orientation for ``front``, none for ``any``. A movement in a plane turned by
delta from the image plane is seen foreshortened: a segment at angle a from the vertical
appears at atan(tan a cos delta). The largest error this makes on one segment is 1.0 deg
at 15 deg off, 2.8 at 25, 4.1 at 30, 5.7 at 35 and 9.9 at 45; on a joint angle (two
segments) up to twice that (`projection_error_deg`). The tolerance, `VIEW_TOLERANCE_DEG` =
30 deg (a setting, ``view_tolerance_deg``), keeps the worst one-segment error near 4 deg,
inside the 2-7 deg error of a true side view reported for MediaPipe against reference
systems; beyond it the error grows fast.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from rehab.model import LANDMARK_INDEX, PoseSequence

__all__ = ["MAX_DISAGREEMENT_DEG", "VIEW_TOLERANCE_DEG", "ViewMonitor", "body_orientation",
           "projection_error_deg", "view_deviation"]

VIEW_TOLERANCE_DEG = 30.0
"""Default deviation from the exercise's view beyond which the result warns."""
MAX_DISAGREEMENT_DEG = 30.0
"""Image and world estimates of a frame's orientation further apart than this: not trusted."""

_LS, _RS, _LH, _RH = (LANDMARK_INDEX[n] for n in ("left_shoulder", "right_shoulder",
                                                  "left_hip", "right_hip"))


def projection_error_deg(delta_deg: float) -> float:
    """The largest error (degrees) in the image-plane angle of one segment moving in a plane
    turned ``delta_deg`` away from the image plane (see the module docstring)."""
    c = math.cos(math.radians(delta_deg))
    # the maximum of a - atan(tan(a) c) is where tan(a) = 1 / sqrt(c)
    a = math.atan(1.0 / math.sqrt(c)) if c > 0 else math.pi / 2
    return math.degrees(a - math.atan(math.tan(a) * c))


@njit(cache=True)
def _orientation_kernel(lm: np.ndarray, world: np.ndarray, vis: np.ndarray, width: float,
                        height: float, min_visibility: float, max_disagreement: float,
                        typical: float) -> np.ndarray:
    """Per frame the world orientation where visible and agreeing with the image estimate
    (``typical``: the world proportion; NaN: compute it first), else NaN."""
    n = lm.shape[0]
    out = np.full(n, np.nan)
    for t in range(n):
        ok = True
        for i in (_LS, _RS, _LH, _RH):
            if not vis[t, i] >= min_visibility:
                ok = False
        if not ok:
            continue
        lx = (world[t, _LS, 0] - world[t, _RS, 0]) + (world[t, _LH, 0] - world[t, _RH, 0])
        ly = (world[t, _LS, 1] - world[t, _RS, 1]) + (world[t, _LH, 1] - world[t, _RH, 1])
        lz = (world[t, _LS, 2] - world[t, _RS, 2]) + (world[t, _LH, 2] - world[t, _RH, 2])
        world_deg = math.degrees(math.atan2(abs(lz), math.hypot(lx, ly)))
        sx = width
        sy = height
        wi = 0.5 * (math.hypot((lm[t, _LS, 0] - lm[t, _RS, 0]) * sx,
                               (lm[t, _LS, 1] - lm[t, _RS, 1]) * sy)
                    + math.hypot((lm[t, _LH, 0] - lm[t, _RH, 0]) * sx,
                                 (lm[t, _LH, 1] - lm[t, _RH, 1]) * sy))
        ti = math.hypot(0.5 * (lm[t, _LS, 0] + lm[t, _RS, 0] - lm[t, _LH, 0] - lm[t, _RH, 0])
                        * sx,
                        0.5 * (lm[t, _LS, 1] + lm[t, _RS, 1] - lm[t, _LH, 1] - lm[t, _RH, 1])
                        * sy)
        if not (ti > 0 and math.isfinite(world_deg)):
            continue
        ratio = min(1.0, max(0.0, wi / ti / typical))
        image_deg = math.degrees(math.acos(ratio))
        if abs(world_deg - image_deg) <= max_disagreement:
            out[t] = world_deg
    return out


@njit(cache=True)
def _world_proportions(world: np.ndarray) -> np.ndarray:
    """Per frame the mean of shoulder and hip width over the trunk length (world)."""
    n = world.shape[0]
    out = np.full(n, np.nan)
    for t in range(n):
        w = 0.0
        for a, b in ((_LS, _RS), (_LH, _RH)):
            d = 0.0
            for j in range(3):
                d += (world[t, a, j] - world[t, b, j]) ** 2
            w += 0.5 * math.sqrt(d)
        d = 0.0
        for j in range(3):
            d += (0.5 * (world[t, _LS, j] + world[t, _RS, j] - world[t, _LH, j]
                         - world[t, _RH, j])) ** 2
        if d > 0:
            out[t] = w / math.sqrt(d)
    return out


def body_orientation(seq: PoseSequence, min_visibility: float = 0.5) -> np.ndarray:
    """Per frame, the body's orientation to the camera in degrees (0 front or back view, 90
    side view), NaN where not measured or where image and world disagree."""
    world = np.ascontiguousarray(seq.world)
    true = _world_proportions(world)
    seen = np.isfinite(true) & (true > 0)
    typical = float(np.median(true[seen])) if seen.any() else math.nan
    if not math.isfinite(typical):
        return np.full(seq.n_frames, np.nan)
    return _orientation_kernel(np.ascontiguousarray(seq.landmarks), world,
                               np.ascontiguousarray(seq.visibility), float(seq.width),
                               float(seq.height), float(min_visibility),
                               MAX_DISAGREEMENT_DEG, typical)


def view_deviation(orientation: np.ndarray, view: str) -> np.ndarray:
    """Degrees away from the exercise's view (``side``, ``front``); NaN for ``any``."""
    if view == "side":
        return 90.0 - orientation
    if view == "front":
        return np.asarray(orientation, dtype=np.float64).copy()
    return np.full(np.shape(orientation), np.nan)


class ViewMonitor:
    """The view check of a live session, one frame at a time.

    Each frame's orientation is measured by the kernels of `body_orientation` (the body's
    proportion taken as the median over the frames seen so far); `off` is true while the median
    deviation over the last ``window_s`` seconds exceeds ``tolerance_deg`` and at least half
    of that window was measured. `orientation` and `deviation` keep every frame's values
    (NaN where not measured), for the session's record.
    """

    def __init__(self, view: str, tolerance_deg: float = VIEW_TOLERANCE_DEG,
                 window_s: float = 2.0, min_visibility: float = 0.5) -> None:
        self.view = view
        self.tolerance_deg = tolerance_deg
        self.window_s = window_s
        self.min_visibility = min_visibility
        self.times: list[float] = []
        self.orientation: list[float] = []
        self.deviation: list[float] = []
        self._proportions: list[float] = []

    def update(self, t: float, landmarks: np.ndarray, world: np.ndarray,
               visibility: np.ndarray, width: int, height: int) -> float:
        """Add one frame (arrays of one person, NaN when nobody); its deviation (NaN when
        not measured)."""
        w = np.asarray(world, np.float32)[None]
        prop = float(_world_proportions(w)[0])
        if math.isfinite(prop) and prop > 0:
            self._proportions.append(prop)
            if len(self._proportions) > 600:
                del self._proportions[:300]
        orient = math.nan
        if self._proportions:
            orient = float(_orientation_kernel(
                np.asarray(landmarks, np.float32)[None], w,
                np.asarray(visibility, np.float32)[None], float(width), float(height),
                float(self.min_visibility), MAX_DISAGREEMENT_DEG,
                float(np.median(self._proportions)))[0])
        dev = float(view_deviation(np.array([orient]), self.view)[0])
        self.times.append(float(t))
        self.orientation.append(orient)
        self.deviation.append(dev)
        return dev

    @property
    def off(self) -> bool:
        """The body has been turned beyond the tolerance over the last ``window_s``."""
        if not self.times or self.view not in ("side", "front"):
            return False
        t_end = self.times[-1]
        recent: list[float] = []
        n = 0
        for t, d in zip(reversed(self.times), reversed(self.deviation)):
            if t_end - t > self.window_s:
                break
            n += 1
            if math.isfinite(d):
                recent.append(d)
        return len(recent) >= max(1, n // 2) and float(np.median(recent)) > self.tolerance_deg
