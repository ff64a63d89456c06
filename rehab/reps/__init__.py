"""Repetitions: segmentation of the primary angle into counted and uncounted candidates.

`segment_reps` (offline, whole signal) and the shared pieces the live counter
(`rehab.counter.LiveRepCounter`) uses: `rep_rules`, `oriented`, `robust_range`,
`hysteresis_levels`, `side_score`. The numba state machine lives in `rehab.reps._kernels`.
"""

from rehab.reps.segment import (
    KIND_NAMES,
    hysteresis_levels,
    oriented,
    rep_rules,
    robust_range,
    segment_reps,
    side_score,
    span_overlap,
    thresholds,
)

__all__ = ["KIND_NAMES", "hysteresis_levels", "oriented", "rep_rules", "robust_range",
           "segment_reps", "side_score", "span_overlap", "thresholds"]
