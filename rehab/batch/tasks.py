"""What a batch worker does with one file: `analyze_task`, and the model it keeps.

A task carries only paths and parameters (`Task`); its result is small (`Outcome`: the
per-rep record and the primary angle trace, never frames or landmarks). The worker writes
the per-file outputs of ``rehab analyze`` itself (result.json, reps.csv, angles.csv,
landmarks.npz, published whole into the task's folder); the client alone writes the
patient store.

Each worker process builds its pose model once: with Dask, `PoseModelPlugin` (a
``distributed.WorkerPlugin``) builds it when the worker starts, and every task on that worker
reuses it (`MediaPipePoseEstimator.reset` between files, so that a file's results do not
depend on which files the worker analysed before). The landmarker is not thread-safe: a lock
serialises tasks on a worker started with several threads (start workers with
``--nthreads 1``).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rehab.errors import RehabError

if TYPE_CHECKING:
    from rehab.exercises import Exercise
    from rehab.model import AnalysisRecord
    from rehab.pose.mediapipe_estimator import MediaPipePoseEstimator

log = logging.getLogger(__name__)

PLUGIN_NAME = "rehab-pose-model"
"""The stable name of `PoseModelPlugin` on every worker."""


@dataclass(frozen=True)
class Task:
    """One file to analyse: paths and parameters only (what travels to a worker)."""

    key: str
    """The resume key (`rehab.batch.runner.task_key`); also names the Dask task."""
    path: str
    exercise: "Exercise"
    """The exercise with the target band of this file applied."""
    side: str
    out: str
    """The folder the per-file outputs are published to."""
    private: bool = False
    """Owner-only outputs (the file belongs to a patient)."""
    max_fps: float | None = None


@dataclass(frozen=True)
class Outcome:
    """What came of one task: the analysis record, or why it failed."""

    key: str
    ok: bool
    error: str = ""
    record: "AnalysisRecord | None" = None
    files: dict[str, str] = field(default_factory=dict)
    """Kind -> published path of the per-file outputs."""
    result_sha256: str = ""
    frames: int = 0
    pose_s: float = 0.0
    """Seconds spent reading frames and running the pose model."""
    seconds: float = 0.0
    """Seconds for the whole task on the worker."""
    worker: str = ""


class _Model:
    """One process's pose estimator, built on first use (or by the plugin) and reused."""

    def __init__(self, model: str | None) -> None:
        self.model = model
        self.lock = threading.Lock()
        self._estimator: "MediaPipePoseEstimator | None" = None
        self.used = 0

    def estimator(self) -> "MediaPipePoseEstimator":
        """The estimator, ready for a new recording."""
        from rehab.pose.mediapipe_estimator import MediaPipePoseEstimator

        if self._estimator is None:
            self._estimator = MediaPipePoseEstimator(model_path=self.model)
        elif self.used:
            self._estimator.reset()
        self.used += 1
        return self._estimator

    def close(self) -> None:
        if self._estimator is not None:
            self._estimator.close()
            self._estimator = None


MMAP_THRESHOLD = 64 * 1024 * 1024
"""Allocations above this size get their own memory mapping from glibc (see `tune_malloc`)."""


def tune_malloc() -> bool:
    """Keep video frames on the heap in this worker process; True if glibc took it.

    Dask starts worker processes with ``MALLOC_TRIM_THRESHOLD_`` set (to give memory back
    to the system), which also turns off glibc's adaptive mmap threshold: every decoded
    frame (6 MB at 1080p) is then a fresh memory mapping, zeroed page by page, and the
    pose loop runs about a third slower (measured). A fixed threshold above a frame's size
    restores the speed; memory is still trimmed as Dask asked.
    """
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (macOS, musl without mallopt)
        return False
    m_mmap_threshold = -3
    return bool(mallopt(m_mmap_threshold, MMAP_THRESHOLD))


try:  # the plugin class needs distributed; the tasks themselves do not
    from distributed import WorkerPlugin as _PluginBase
except ImportError:  # pragma: no cover - distributed is a dependency
    _PluginBase = object  # type: ignore[assignment,misc]


class PoseModelPlugin(_PluginBase):  # type: ignore[misc,valid-type]
    """Builds the pose model once per worker process (``setup``) for all its tasks."""

    name = PLUGIN_NAME

    def __init__(self, model: str | None = None) -> None:
        self.model_path = model
        self.model: _Model | None = None

    def __getstate__(self) -> dict[str, Any]:  # the built model never travels
        return {"model_path": self.model_path, "model": None}

    def setup(self, worker: Any = None) -> None:
        tune_malloc()
        self.model = _Model(self.model_path)
        with self.model.lock:
            self.model.estimator()
            self.model.used = 0  # built, not yet used for a recording
        log.info("pose model ready on worker %s", getattr(worker, "address", "?"))

    def teardown(self, worker: Any = None) -> None:
        if self.model is not None:
            self.model.close()


_PROCESS_MODELS: dict[str | None, _Model] = {}


def _model_for(model: str | None) -> _Model:
    """The plugin's model on a Dask worker, else this process's own (built once)."""
    try:
        from distributed import get_worker

        plugin = get_worker().plugins.get(PLUGIN_NAME)
    except (ImportError, ValueError):
        plugin = None
    if isinstance(plugin, PoseModelPlugin) and plugin.model is not None \
            and plugin.model_path == model:
        return plugin.model
    if not _PROCESS_MODELS:
        tune_malloc()
    return _PROCESS_MODELS.setdefault(model, _Model(model))


def _where() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def analyze_task(task: Task, model: str | None = None) -> Outcome:
    """Analyse one file and publish its outputs; an input problem is a failed `Outcome`
    with its one-line reason (it never raises for a bad file)."""
    t0 = time.perf_counter()
    try:
        return _analyze(task, model, t0)
    except RehabError as exc:
        return Outcome(task.key, False, error=str(exc).splitlines()[0] if str(exc) else
                       type(exc).__name__, seconds=time.perf_counter() - t0, worker=_where())
    except MemoryError:
        return Outcome(task.key, False, error="out of memory", worker=_where(),
                       seconds=time.perf_counter() - t0)
    except OSError as exc:
        from rehab.fileio import describe_os_error

        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        return Outcome(task.key, False, error=f"{where}{describe_os_error(exc)}",
                       seconds=time.perf_counter() - t0, worker=_where())
    except Exception as exc:  # a bug must not stop the batch: record it, with its type
        log.exception("internal error on %s", task.path)
        return Outcome(task.key, False, error=f"internal error ({type(exc).__name__}: {exc})",
                       seconds=time.perf_counter() - t0, worker=_where())


def _analyze(task: Task, model: str | None, t0: float) -> Outcome:
    from rehab.analysis import result_folder, write_outputs
    from rehab.fileio import file_sha256
    from rehab.model import AnalysisRecord
    from rehab.pipeline import analyze_pose, is_landmarks_file

    path = Path(task.path)
    if is_landmarks_file(path):
        from rehab.sequence import limit_frame_rate, load_npz

        seq = load_npz(path)
        if task.max_fps is not None:
            seq = limit_frame_rate(seq, task.max_fps)
    else:
        from rehab.capture import open_source
        from rehab.pose import estimate_sequence

        held = _model_for(model)
        with held.lock, open_source(path, max_fps=task.max_fps) as source:
            seq = estimate_sequence(source, held.estimator(), progress=False)
    pose_s = time.perf_counter() - t0
    analysis = analyze_pose(seq, task.exercise, side=task.side)
    with result_folder(task.out, private=task.private) as folder:
        paths = write_outputs(analysis, folder.path)
    files = {kind: str(folder.final / p.name) for kind, p in paths.items()}
    return Outcome(task.key, True, record=AnalysisRecord.of(analysis, "batch"), files=files,
                   result_sha256=file_sha256(files["result_json"]), frames=seq.n_frames,
                   pose_s=pose_s, seconds=time.perf_counter() - t0, worker=_where())
