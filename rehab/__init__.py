"""rehab: camera-based physical rehabilitation analysis.

Pipeline: capture -> pose -> kinematics -> repetitions & scoring -> store -> reports.

The public API (documented in `rehab.api` and `rehab.model`)::

    import rehab
    seq = rehab.load("squat.mp4")                  # or a landmarks .npz
    result = rehab.analyze(seq, "squat", side="right")
    rehab.save_results(result, "out/")

Importing the package has no side effects and loads no stage: the names below are looked
up when first used.
"""

from __future__ import annotations

from rehab._lazy import lazy_exports

__version__ = "0.1.0"

_API: dict[str, str] = {
    "load": "rehab.api", "analyze": "rehab.api", "save_results": "rehab.api",
    "AnalysisSettings": "rehab.settings", "DEFAULT_SETTINGS": "rehab.settings",
    "Exercise": "rehab.exercises", "get_exercise": "rehab.exercises",
    "load_library": "rehab.exercises",
    "load_npz": "rehab.sequence", "save_npz": "rehab.sequence",
    "RehabError": "rehab.errors",
    "fhir_bundle": "rehab.exports.fhir",
    **{name: "rehab.model" for name in (
        "Analysis", "AngleSet", "CalibrationRef", "Distances", "Flag", "Note", "NoteCode",
        "PoseSequence", "Rep", "RepKind", "Scale", "Segment", "Segmentation",
        "SessionHeader", "Side", "angle_column")},
}

__all__ = ["__version__", *sorted(_API)]


__getattr__, __dir__ = lazy_exports(__name__, _API, globals())
