"""Batch analysis for clinics: many recordings on local worker processes or a Dask cluster.

`read_items` reads a manifest CSV or a folder; `run_batch` plans (every row checked before
any work), skips what an earlier run finished, runs the rest as one task per file on Dask
workers that each build the pose model once, stores each patient's session from the client
(one transaction per file) and writes ``summary.csv``. See `rehab.batch.runner`.
"""

from __future__ import annotations

from rehab._lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(__name__, {
    "BatchItem": "rehab.batch.manifest",
    "read_items": "rehab.batch.manifest",
    "read_manifest": "rehab.batch.manifest",
    "folder_items": "rehab.batch.manifest",
    "BatchOptions": "rehab.batch.runner",
    "BatchReport": "rehab.batch.runner",
    "run_batch": "rehab.batch.runner",
    "Task": "rehab.batch.tasks",
    "Outcome": "rehab.batch.tasks",
    "analyze_task": "rehab.batch.tasks",
    "PoseModelPlugin": "rehab.batch.tasks",
}, globals())
