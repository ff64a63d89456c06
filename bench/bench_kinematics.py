"""Benchmark: kinematics + repetitions + scoring of a one-hour recording (108,000 frames).

Measures, in the same run:
- the rehab pipeline after warm-up (`rehab.analysis.analyze_sequence`: left/right swap
  repair, body orientation, angles, gating, gap filling, zero-phase filtering, side choice,
  segmentation, scoring, per-rep measurement);
- a straightforward NumPy implementation of the same maths (`numpy_reference`);
- whether a new process pays numba compilation (on-disk cache hits vs misses).

Goals: under 0.2 s, at least 10x faster than NumPy, no compilation in a second process.
Exit status 1 if a goal is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import numpy_reference as ref  # noqa: E402

from rehab.analysis import analyze_sequence  # noqa: E402
from rehab.exercises import get_exercise  # noqa: E402
from rehab.kinematics.swaps import SWAP_GROUPS  # noqa: E402
from rehab.kinematics.angles import _GATE_INDEX, DEFAULT_MIN_VISIBILITY  # noqa: E402
from rehab.kinematics.filters import DEFAULT_CUTOFF_HZ, DEFAULT_MAX_GAP_S, butter_lowpass_coeffs  # noqa: E402
from rehab.reps import rep_rules, thresholds  # noqa: E402
from rehab.synthetic import rep_trajectory, synthetic_sequence  # noqa: E402

FPS = 30.0


def one_hour(frames: int = 108_000, seed: int = 0):
    """A squat session of ``frames`` frames with landmark noise and a few dropouts."""
    reps = int(frames / FPS / 3.0)
    t, knee = rep_trajectory(reps, FPS, rest=5.0, peak=105.0, rep_s=2.0, pause_s=1.0, lead_s=1.0)
    t, knee = t[:frames], knee[:frames]
    rng = np.random.default_rng(seed)
    seq = synthetic_sequence(t, {"knee_flexion": knee, "hip_flexion": 0.8 * knee},
                             trunk_lean=10 + 0.2 * knee)
    lm = seq.landmarks.copy()
    lm[:, :, :2] += rng.normal(0, 0.002, lm[:, :, :2].shape).astype(np.float32)
    vis = seq.visibility.copy()
    drop = rng.choice(frames, size=frames // 200, replace=False)
    vis[drop] = 0.1
    return seq.replace(landmarks=lm, visibility=vis)


def numpy_pipeline(seq, exercise) -> int:
    """The same stages as `analyze_sequence`, in plain NumPy/Python."""
    t = seq.timestamps
    # left/right swap repair (both body groups) and the body's orientation
    px = seq.pixels()
    torso = np.linalg.norm((px[:, 11] + px[:, 12] - px[:, 23] - px[:, 24]) / 2, axis=1)
    wt = np.linalg.norm((seq.world[:, 11] + seq.world[:, 12] - seq.world[:, 23]
                         - seq.world[:, 24]) / 2, axis=1)
    scale = np.array([seq.width, seq.height, 1.0]) / np.array(
        [np.nanmedian(torso), np.nanmedian(torso), np.nanmedian(wt)])
    for pairs in SWAP_GROUPS.values():
        ref.swap_states(seq.landmarks, seq.world, scale, np.array([p[0] for p in pairs]),
                        np.array([p[1] for p in pairs]), t, seq.detected, 0.25, 0.01)
    lat = (seq.world[:, 11] - seq.world[:, 12]) + (seq.world[:, 23] - seq.world[:, 24])
    np.degrees(np.arctan2(np.abs(lat[:, 2]), np.hypot(lat[:, 0], lat[:, 1])))
    raw = ref.joint_angles_image(px)
    gated = ref.gate(raw, seq.visibility.astype(np.float64), _GATE_INDEX, DEFAULT_MIN_VISIBILITY)
    fs = 1.0 / float(np.median(np.diff(t)))
    coeffs = butter_lowpass_coeffs(DEFAULT_CUTOFF_HZ, fs)
    pad = int(round(fs / DEFAULT_CUTOFF_HZ))
    cols = {}
    for name in ("left_knee_flexion", "right_knee_flexion", "trunk_lean"):
        c = ["left_knee_flexion", "right_knee_flexion", "trunk_lean"].index(name)
        c = [0, 7, 14][c]
        filled = ref.interpolate_gaps(gated[:, c], t, DEFAULT_MAX_GAP_S)
        cols[name] = ref.filtfilt(filled, coeffs, pad)
    x = cols["left_knee_flexion"]
    lo, hi, _, _ = thresholds(x, exercise, "low")
    rise, back, opening = rep_rules(hi - lo, exercise.settings)
    c = exercise.counting
    n = len(x)
    ev = ref.swing_reps(x, t, np.full(n, rise), back, opening, c.min_amplitude_deg,
                        c.min_duration_s, c.max_duration_s, False)
    # per-rep stats and the compensation's peak
    for s, _, e, _ in ev:
        seg = x[s:e + 1]
        np.nanmin(seg), np.nanmax(seg), np.nanmax(cols["trunk_lean"][s:e + 1])
    return int(np.isin(ev[:, 3], (0, 5)).sum())


def _timeit(fn, repeat: int) -> float:
    best = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best.append(time.perf_counter() - t0)
    return float(np.median(best))


CACHE_PROBE = r"""
import json, numpy as np
from rehab.kinematics import _kernels as K, swaps, view
from rehab.reps import _kernels as R
from rehab.analysis import analyze_sequence
from rehab.exercises import get_exercise
from rehab.synthetic import rep_trajectory, synthetic_sequence
t, x = rep_trajectory(3, 30.0, 0.0, 100.0)
analyze_sequence(synthetic_sequence(t, {"knee_flexion": x}), get_exercise("squat"))
hits = misses = 0
for mod in (K, R, swaps, view):
    for name in dir(mod):
        f = getattr(mod, name)
        if hasattr(f, "stats"):
            hits += sum(f.stats.cache_hits.values())
            misses += sum(f.stats.cache_misses.values())
print(json.dumps({"hits": hits, "misses": misses}))
"""


def cache_check() -> dict[str, int]:
    """Run the pipeline in two fresh processes; the second must only hit the cache."""
    env = dict(os.environ)
    out = {}
    for attempt in ("first", "second"):
        res = subprocess.run([sys.executable, "-c", CACHE_PROBE], capture_output=True, text=True,
                             env=env, check=True)
        out[attempt] = json.loads(res.stdout.strip().splitlines()[-1])
    return out["second"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=108_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    seq = one_hour(args.frames)
    ex = get_exercise("squat")
    analyze_sequence(seq.slice(0, 300), ex)  # warm-up (compile or load from cache)
    result = analyze_sequence(seq, ex, side="left")
    t_rehab = _timeit(lambda: analyze_sequence(seq, ex, side="left"), args.repeat)
    n_numpy = numpy_pipeline(seq, ex)
    t_numpy = _timeit(lambda: numpy_pipeline(seq, ex), max(1, args.repeat // 2))
    cache = cache_check()
    ratio = t_numpy / t_rehab
    print(f"frames: {seq.n_frames} ({seq.duration / 3600:.2f} h at {FPS:g} fps)")
    print(f"reps counted: rehab {result.rep_count}, numpy reference {n_numpy}")
    print(f"rehab (numba) kinematics+reps+scoring: {t_rehab * 1000:8.1f} ms   (goal < 200 ms)")
    print(f"numpy reference, same maths:           {t_numpy * 1000:8.1f} ms")
    print(f"speed-up vs numpy: {ratio:.1f}x   (goal >= 10x)")
    print(f"new process: numba cache hits {cache['hits']}, compilations {cache['misses']}"
          f"   (goal: 0 compilations)")
    ok = t_rehab < 0.2 and ratio >= 10 and cache["misses"] == 0
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
