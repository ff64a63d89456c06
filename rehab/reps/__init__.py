"""Repetitions: segmentation of the primary angle into counted and uncounted candidates.

`segment_reps` (offline, whole signal) and the shared pieces the live counter
(`rehab.counter.LiveRepCounter`) uses: `decide_start`, `robust_range`, `hysteresis_levels`,
`side_score`. The numba state machine lives in `rehab.reps._kernels`.
"""

from rehab.reps.segment import (
    INITIAL_STATE,
    KIND_NAMES,
    decide_start,
    hysteresis_levels,
    robust_range,
    segment_reps,
    side_score,
    thresholds,
)

__all__ = ["INITIAL_STATE", "KIND_NAMES", "decide_start", "hysteresis_levels", "robust_range",
           "segment_reps", "side_score", "thresholds"]
