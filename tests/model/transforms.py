"""Transformations of real pose sequences whose effect on the count is known in advance.

Each takes and returns a `PoseSequence` (inputs are never mutated); the metamorphic tests
(test_metamorphic.py) apply them to the development clips.
"""

from __future__ import annotations

import numpy as np

from rehab.model import PoseSequence

# MediaPipe's left/right landmark pairs (nose 0 has no twin)
PAIRS = ((1, 4), (2, 5), (3, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16), (17, 18),
         (19, 20), (21, 22), (23, 24), (25, 26), (27, 28), (29, 30), (31, 32))
SWAP = np.arange(33)
for _a, _b in PAIRS:
    SWAP[_a], SWAP[_b] = _b, _a


def mirror(seq: PoseSequence) -> PoseSequence:
    """The recording seen in a mirror: image x flipped, world x negated, left <-> right."""
    lm = seq.landmarks[:, SWAP].copy()
    lm[:, :, 0] = 1.0 - lm[:, :, 0]
    world = seq.world[:, SWAP].copy()
    world[:, :, 0] = -world[:, :, 0]
    return seq.replace(landmarks=lm, world=world, visibility=seq.visibility[:, SWAP].copy())


def resample(seq: PoseSequence, fps: float) -> PoseSequence:
    """The same movement sampled at ``fps`` (linear interpolation between frames; a frame
    next to one without a person stays without one)."""
    t = seq.timestamps
    new_t = np.arange(t[0], t[-1] + 1e-9, 1.0 / fps)
    idx = np.clip(np.searchsorted(t, new_t, side="right") - 1, 0, len(t) - 2)
    w = ((new_t - t[idx]) / (t[idx + 1] - t[idx])).astype(np.float32)

    def lerp(a: np.ndarray) -> np.ndarray:
        shape = (-1,) + (1,) * (a.ndim - 1)
        return (a[idx] * (1 - w.reshape(shape)) + a[idx + 1] * w.reshape(shape)).astype(a.dtype)

    vis = np.minimum(seq.visibility[idx], seq.visibility[idx + 1])
    return seq.replace(landmarks=lerp(seq.landmarks), world=lerp(seq.world), visibility=vis,
                       timestamps=new_t, fps=float(fps))


def pause(seq: PoseSequence, seconds: float) -> PoseSequence:
    """``seconds`` of standing still in the recording's last pose, at its frame rate."""
    n = max(1, int(round(seconds * seq.fps)))
    last = seq.n_frames - 1
    t = seq.timestamps[last] + np.arange(1, n + 1) / seq.fps
    rep = np.full(n, last)
    return seq.replace(landmarks=seq.landmarks[rep].copy(), world=seq.world[rep].copy(),
                       visibility=seq.visibility[rep].copy(), timestamps=t)


def concatenate(*parts: PoseSequence) -> PoseSequence:
    """The parts one after the other, each shifted to start one frame after the previous."""
    out = [parts[0]]
    end = parts[0].timestamps[-1]
    for p in parts[1:]:
        shift = end + 1.0 / p.fps - p.timestamps[0]
        out.append(p.replace(timestamps=p.timestamps + shift))
        end = out[-1].timestamps[-1]
    return parts[0].replace(
        landmarks=np.concatenate([p.landmarks for p in out]),
        world=np.concatenate([p.world for p in out]),
        visibility=np.concatenate([p.visibility for p in out]),
        timestamps=np.concatenate([p.timestamps for p in out]))


def with_pause(a: PoseSequence, b: PoseSequence, seconds: float = 2.0) -> PoseSequence:
    """``a``, a pause of ``seconds`` in its last pose, then ``b``."""
    return concatenate(a, pause(a, seconds), b)


def drop_random(seq: PoseSequence, fraction: float, seed: int) -> PoseSequence:
    """Frames removed at random (a busy machine): timestamps of the rest kept, the source's
    frame rate kept; the first and last frames stay."""
    rng = np.random.default_rng(seed)
    keep = rng.random(seq.n_frames) >= fraction
    keep[[0, -1]] = True
    return seq.frames(keep)
