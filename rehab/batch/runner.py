"""`run_batch`: many recordings analysed by Dask workers, stored by the client, resumable.

1. **Plan** (`plan_batch`), before any work: every item's exercise, patient, prescription,
   side, target and date are resolved and checked (`ProblemsError`: one line per problem,
   naming the row); then each file is hashed and given a resume key (`task_key`) and an
   output folder (``OUT/<name>/``).
2. **Skip** what is done: a key the journal (``OUT/batch-journal.jsonl``) lists as done, or
   a patient's file already stored from the same content with the same exercise and
   analysis settings; a key it lists as failed unless ``retry_failed``.
3. **Run** the rest as one Dask task per file (`rehab.batch.tasks.analyze_task`) on a
   `LocalCluster` of ``jobs`` single-threaded worker processes, or on the cluster of a
   running scheduler, largest files first (the local scheduler hands each worker one
   task at a time). Results stream back in completion order; the client stores each
   patient's session (one transaction per file), then appends the file's line to the
   journal (flushed to disk), so a batch killed at any moment and run again redoes nothing
   stored and duplicates nothing.
4. **Summarise**: ``OUT/summary.csv`` (one row per item) and an end-of-run line.

A worker process that dies is replaced by its nanny and its task retried once (the local
cluster's ``distributed.scheduler.allowed-failures`` is 1). A task on two workers that died
may only have been beside the file that killed them: once the others are done, each such
file runs again alone, and is recorded as failed if its worker dies twice again. A bad file
is failed with its reason and never stops the batch.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import json
import logging
import os
import re
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

from rehab.batch.manifest import BatchItem
from rehab.batch.tasks import PLUGIN_NAME, Outcome, PoseModelPlugin, Task, analyze_task
from rehab.errors import InputError, OutputError, ProblemsError, RehabError

if TYPE_CHECKING:
    from distributed import Client

    from rehab.store import Store

log = logging.getLogger(__name__)

JOURNAL = "batch-journal.jsonl"
SUMMARY = "summary.csv"
SUMMARY_COLUMNS = ("file", "patient", "exercise", "status", "reps", "mean_rom_deg", "seconds",
                   "error", "session", "output", "row", "worker")
ALLOWED_FAILURES = 1
"""Worker deaths a task may be involved in and still be retried (once)."""
WORKER_SATURATION = 1.0
"""Tasks the scheduler hands a worker per thread at a time: one, so that a file waits in
the scheduler's queue, not behind another on a busy worker, while an idle one waits."""


@dataclasses.dataclass(frozen=True)
class BatchOptions:
    """How to run a batch (the options of ``rehab batch``)."""

    out: Path
    db: Path | None = None
    jobs: int | None = None
    """Local worker processes (default: the machine's cores)."""
    scheduler: str | None = None
    """Address of a running Dask scheduler (``tcp://host:8786``) instead of local workers."""
    retry_failed: bool = False
    max_fps: float | None = None
    model: str | None = None
    exercises_dir: str | None = None
    progress: bool = True


@dataclasses.dataclass(frozen=True)
class Planned:
    """An item ready to run: its task, content hash and session time."""

    item: BatchItem
    task: Task
    sha256: str
    started: dt.datetime
    """When the session took place (the row's date, else the file's modification time)."""


@dataclasses.dataclass(frozen=True)
class FileRow:
    """One row of ``summary.csv`` (and one line of the journal)."""

    key: str
    file: str
    patient: str
    exercise: str
    status: str
    """``done`` (analysed in this run), ``skipped`` (done before) or ``failed``."""
    reps: int | None = None
    mean_rom_deg: float | None = None
    seconds: float | None = None
    error: str = ""
    session: int | None = None
    output: str = ""
    row: int = 0
    worker: str = ""
    """``host:pid`` of the worker process that analysed the file."""

    def csv_cells(self) -> dict[str, str]:
        def cell(v: Any) -> str:
            if v is None:
                return ""
            return f"{v:.1f}" if isinstance(v, float) else str(v)

        return {c: cell(getattr(self, c)) for c in SUMMARY_COLUMNS}


@dataclasses.dataclass(frozen=True)
class BatchReport:
    """What a batch did."""

    rows: tuple[FileRow, ...]
    wall_s: float
    summary_csv: Path
    workers: int = 0
    ran: int = 0
    """Files analysed (or attempted) in this run."""

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.rows)

    @property
    def files_per_hour(self) -> float:
        """Files analysed per hour of this run's wall time (skipped ones not counted)."""
        return 3600.0 * self.ran / self.wall_s if self.ran and self.wall_s > 0 else 0.0

    def line(self) -> str:
        """The end-of-run line."""
        return (f"batch: {len(self.rows)} file(s): {self.count('done')} analysed, "
                f"{self.count('skipped')} skipped (done before), {self.count('failed')} "
                f"failed, in {_duration(self.wall_s)}"
                + (f" ({self.files_per_hour:.0f} files/hour on {self.workers} worker(s))"
                   if self.ran else "") + f"; summary {self.summary_csv}")


def _duration(s: float) -> str:
    m, sec = divmod(int(round(s)), 60)
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m{sec:02d}s" if h else f"{m}m{sec:02d}s" if m else f"{s:.1f}s"


# --- planning --------------------------------------------------------------------------------

def task_key(sha256: str, exercise_id: str, target: tuple[float, float], settings_hash: str,
             side: str, max_fps: float | None, model: str | None, patient: str | None,
             day: dt.date | None) -> str:
    """The resume key of one file's analysis: same content, exercise, target, analysis
    settings, side, frame-rate limit, model and patient (and day), same key."""
    doc = {"sha256": sha256, "exercise": exercise_id, "target": list(target),
           "settings": settings_hash, "side": side, "max_fps": max_fps,
           "model": model or "", "patient": patient or "", "day": str(day or "")}
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:24]


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _folder_names(items: Sequence[BatchItem], exercise_ids: Sequence[str]) -> list[str]:
    """A distinct output folder name per item: the file's stem, then with the exercise,
    then with the row (stable for the same manifest)."""
    def safe(text: str) -> str:
        return _UNSAFE.sub("_", text).strip("._") or "file"

    reserved = {Path(JOURNAL).stem, Path(SUMMARY).stem}
    names: list[str] = []
    stems = [safe(i.path.stem) for i in items]
    for i, (item, ex) in enumerate(zip(items, exercise_ids)):
        name = stems[i]
        if stems.count(name) > 1 or name in reserved:
            name = f"{name}-{safe(ex)}"
        while name in names or name in reserved:
            name = f"{name}-{item.row or i + 1}"
        names.append(name)
    return names


def _file_time(path: Path) -> dt.datetime:
    return dt.datetime.fromtimestamp(int(path.stat().st_mtime))


def plan_batch(items: Sequence[BatchItem], options: BatchOptions,
               store: "Store | None") -> list[Planned]:
    """Resolve and check every item (`ProblemsError` listing all problems), then hash the
    files (with a progress bar) and build their tasks."""
    from rehab.pipeline import resolve_exercise
    from rehab.store.models import check_session_time

    problems: list[str] = []
    resolved: list[tuple[Any, str, dt.datetime]] = []
    for item in items:
        try:
            ex = resolve_exercise(item.exercise, exercises_dir=options.exercises_dir)
        except RehabError as exc:
            problems.append(f"{item.label}: {exc}")
            resolved.append((None, "auto", dt.datetime.now()))
            continue
        side = item.side
        lo, hi = item.target_min, item.target_max
        try:
            started = item.date or _file_time(item.path)
        except OSError as exc:
            problems.append(f"{item.label}: {exc.strerror or exc}")
            started = dt.datetime.now()
        if item.patient is not None:
            if store is None:
                problems.append(f"{item.label}: patient {item.patient!r} but no patient "
                                f"database (pass --db, or add the patient first)")
            else:
                try:
                    check_session_time(started)
                    plan = store.plan(item.patient, ex.id, started.date(), side=side,
                                      target_min=lo, target_max=hi)
                    side = plan.side
                    lo, hi = plan.target or (lo, hi)
                except RehabError as exc:
                    problems.append(f"{item.label}: {exc}")
        if lo is not None or hi is not None:
            try:
                ex = ex.with_target(lo, hi)
            except RehabError as exc:
                problems.append(f"{item.label}: {exc}")
        resolved.append((ex, side or "auto", started))
    if problems:
        raise ProblemsError(problems)
    shas = _hash_files([i.path for i in items], options.progress)
    names = _folder_names(items, [ex.id for ex, _, _ in resolved])
    out = Path(os.path.abspath(options.out))
    planned: list[Planned] = []
    seen: dict[str, BatchItem] = {}
    for item, (ex, side, started), sha, name in zip(items, resolved, shas, names):
        key = task_key(sha, ex.id, (ex.target.min_deg, ex.target.max_deg),
                       ex.settings.short_hash(), side, options.max_fps, options.model,
                       item.patient, started.date() if item.patient else None)
        if key in seen:
            problems.append(f"{item.label}: the same recording, exercise and patient as "
                            f"{seen[key].label}")
            continue
        seen[key] = item
        planned.append(Planned(item, Task(key=key, path=str(item.path), exercise=ex,
                                          side=side, out=str(out / name),
                                          private=item.patient is not None,
                                          max_fps=options.max_fps), sha, started))
    if problems:
        raise ProblemsError(problems)
    return planned


def _hash_files(paths: Sequence[Path], progress: bool) -> list[str]:
    from tqdm import tqdm

    from rehab.fileio import recording_sha256

    out: list[str] = []
    problems: list[str] = []
    for p in tqdm(paths, desc="hashing", unit="file", leave=False,
                  disable=not progress or len(paths) < 2 or not sys.stderr.isatty()):
        try:
            out.append(recording_sha256(p))
        except OSError as exc:
            problems.append(f"{p}: cannot read ({exc.strerror or exc})")
            out.append("")
    if problems:
        raise ProblemsError(problems)
    return out


# --- journal ---------------------------------------------------------------------------------

class Journal:
    """``OUT/batch-journal.jsonl``: one JSON line per finished file, flushed to disk as it
    is written (a line cut by a kill is ignored on reading); the last line of a key wins."""

    def __init__(self, path: Path, private: bool) -> None:
        self.path = path
        self.private = private

    def read(self) -> dict[str, FileRow]:
        rows: dict[str, FileRow] = {}
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return rows
        fields = {f.name for f in dataclasses.fields(FileRow)}
        for line in text.splitlines():
            try:
                doc = json.loads(line)
                row = FileRow(**{k: v for k, v in doc.items() if k in fields})
            except (ValueError, TypeError):
                continue  # a line cut short by a kill
            rows[row.key] = row
        return rows

    def append(self, row: FileRow) -> None:
        line = json.dumps(dataclasses.asdict(row), allow_nan=False) + "\n"
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT
        fd = os.open(self.path, flags, 0o600 if self.private else 0o666)
        try:
            os.write(fd, line.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)


def write_summary(path: Path, rows: Sequence[FileRow], private: bool) -> Path:
    """``summary.csv``: file, patient, status, reps, mean ROM, seconds, error, ..."""
    from rehab.codec import csv_text
    from rehab.fileio import write_text_atomic

    return write_text_atomic(path, csv_text(SUMMARY_COLUMNS, (r.csv_cells() for r in rows)),
                             private=private)


# --- running ---------------------------------------------------------------------------------

@contextlib.contextmanager
def open_client(scheduler: str | None, jobs: int) -> Iterator["Client"]:
    """A Dask client: of a running scheduler, else of a new `LocalCluster` of ``jobs``
    single-threaded worker processes on loopback (closed on exit)."""
    import dask
    from distributed import Client, LocalCluster

    with _quiet_dask():
        yield from _client(scheduler, jobs, dask, Client, LocalCluster)


@contextlib.contextmanager
def _quiet_dask() -> Iterator[None]:
    """Dask's own log lines only from ``rehab -v`` on (warnings), else errors only."""
    level = logging.WARNING if logging.getLogger("rehab").isEnabledFor(logging.DEBUG) \
        else logging.ERROR
    loggers = [logging.getLogger(n) for n in ("distributed", "tornado", "bokeh")]
    saved = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(level)
    try:
        yield
    finally:
        for lg, old in zip(loggers, saved):
            lg.setLevel(old)


def _client(scheduler: str | None, jobs: int, dask: Any, Client: Any, LocalCluster: Any
            ) -> Iterator["Client"]:
    if scheduler:
        timeout = dask.config.get("distributed.comm.timeouts.connect")  # Dask's setting
        try:
            client = Client(scheduler, timeout=timeout)
        except (OSError, TimeoutError, ValueError) as exc:
            raise InputError(f"cannot reach the Dask scheduler at {scheduler} "
                             f"({exc or type(exc).__name__})") from None
        try:
            try:
                client.wait_for_workers(1, timeout=60)
            except TimeoutError:
                raise InputError(f"the Dask scheduler at {scheduler} has no workers "
                                 f"(start some with 'dask worker {scheduler} --nthreads 1')"
                                 ) from None
            threaded = {a: n for a, n in client.nthreads().items() if n > 1}
            if threaded:
                log.warning("%d worker(s) run several threads: their tasks take turns on one "
                            "pose model (start workers with --nthreads 1 and --nworkers N)",
                            len(threaded))
            yield client
        finally:
            client.close()
        return
    with dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES,
                          "distributed.scheduler.worker-saturation": WORKER_SATURATION}):
        cluster = LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True,
                               host="127.0.0.1", scheduler_port=0, dashboard_address=":0",
                               silence_logs=logging.getLogger("distributed").level)
    try:
        with Client(cluster) as client:
            yield client
    finally:
        cluster.close()


def _default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


class Interrupts:
    """SIGINT and SIGTERM for a batch: raised at once (KeyboardInterrupt, SystemExit 143),
    except inside `deferred`, where they are noted and raised at the next `check`.

    A signal raised inside Dask's client can leave one of its locks held, and closing the
    cluster then waits for ever; so while the client runs, the batch polls `check` between
    results instead.
    """

    def __init__(self) -> None:
        self.signum: int | None = None
        self._deferred = 0

    def __call__(self, signum: int, frame: object) -> None:
        self.signum = signum
        if not self._deferred:
            self.check()

    @contextlib.contextmanager
    def deferred(self) -> Iterator[None]:
        self._deferred += 1
        try:
            yield
        finally:
            self._deferred -= 1

    def check(self) -> None:
        """Raise for a signal received (once)."""
        signum, self.signum = self.signum, None
        if signum is None:
            return
        import signal

        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        log.warning("stopped by signal %d: the files finished so far are kept; the same "
                    "command again finishes the rest", signum)
        raise SystemExit(128 + signum)


def _row_of(p: Planned, status: str, **fields: Any) -> FileRow:
    return FileRow(key=p.task.key, file=str(p.item.path), patient=p.item.patient or "",
                   exercise=p.task.exercise.id, status=status, output=p.task.out,
                   row=p.item.row, **fields)


def _done_row(p: Planned, outcome: Outcome, session: int | None) -> FileRow:
    rec = outcome.record
    assert rec is not None
    roms = [r.rom_deg for r in rec.counted]
    return _row_of(p, "done", reps=rec.rep_count,
                   mean_rom_deg=round(sum(roms) / len(roms), 2) if roms else None,
                   seconds=round(outcome.seconds, 2), session=session, worker=outcome.worker)


def run_batch(items: Sequence[BatchItem], options: BatchOptions,
              on_result: Callable[[FileRow], None] | None = None,
              client: "Client | None" = None,
              interrupts: "Interrupts | None" = None) -> BatchReport:
    """Analyse ``items`` (see the module docstring); ``client``: an existing Dask client to
    use (its cluster is left running), else `open_client` of the options; ``interrupts``:
    the `Interrupts` handling SIGINT and SIGTERM (signals are then acted on between
    results, never inside Dask's client)."""
    from rehab.analysis import prepare_out_dir

    t0 = time.perf_counter()
    private = any(i.patient is not None for i in items)
    store = _open_store(options, needed=private)
    with store if store is not None else contextlib.nullcontext():
        planned = plan_batch(items, options, store)
        out = prepare_out_dir(options.out)
        if private:
            os.chmod(out, 0o700)
        journal = Journal(out / JOURNAL, private)
        before = journal.read()
        rows: dict[str, FileRow] = {}
        todo: list[Planned] = []
        for p in planned:
            row = _previous(p, before.get(p.task.key), store, options.retry_failed)
            if row is None:
                todo.append(p)
            else:
                rows[p.task.key] = row
        log.info("batch: %d file(s), %d to analyse, %d done before", len(planned), len(todo),
                 len(planned) - len(todo))
        workers = 0
        try:
            if todo:
                workers = _run(todo, options, store, journal, rows, on_result, client,
                               interrupts)
        finally:
            for key, row in journal.read().items():  # a line written as a stop came
                rows.setdefault(key, row)
            ordered = tuple(rows[p.task.key] for p in planned if p.task.key in rows)
            summary = write_summary(out / SUMMARY, ordered, private)
    return BatchReport(ordered, time.perf_counter() - t0, summary, workers, len(todo))


def _open_store(options: BatchOptions, needed: bool) -> "Store | None":
    if not needed:
        return None
    from rehab.store import open_existing_store

    return open_existing_store(options.db)


def _previous(p: Planned, before: FileRow | None, store: "Store | None",
              retry_failed: bool) -> FileRow | None:
    """The row of an item that need not run again, or None to run it."""
    if p.item.patient is not None and store is not None:
        ex = p.task.exercise
        same = store.analysed(p.item.patient, p.sha256, ex.id, ex.settings.short_hash())
        if same is not None:
            kept = before if before is not None and before.status != "failed" else None
            return dataclasses.replace(
                kept or _row_of(p, "skipped", reps=same.rep_count), status="skipped",
                session=same.id)
        other = store.duplicate_of(p.item.patient, p.started.date(), p.sha256)
        if other is not None:
            return _row_of(p, "failed", error=(
                f"already stored for {p.item.patient} on {p.started.date()} as session "
                f"{other.id} ({other.exercise_id}, settings {other.settings_hash}); "
                f"'rehab analyze --force' stores it again"))
    if before is None:
        return None
    if before.status == "failed":
        return None if retry_failed else dataclasses.replace(before, output=p.task.out)
    if p.item.patient is not None:
        return None  # done before, but no longer in the store (deleted since): again
    if not (Path(p.task.out) / "result.json").is_file():
        return None  # the outputs were removed since: analyse again
    return dataclasses.replace(before, status="skipped")


def _run(todo: Sequence[Planned], options: BatchOptions, store: "Store | None",
         journal: Journal, rows: dict[str, FileRow],
         on_result: Callable[[FileRow], None] | None, client: "Client | None",
         interrupts: "Interrupts | None") -> int:
    """Submit ``todo``, store and journal each result as it arrives; returns the number of
    workers."""
    with interrupts.deferred() if interrupts is not None else contextlib.nullcontext():
        workers = _run_on_dask(todo, options, store, journal, rows, on_result, client,
                               interrupts)
    if interrupts is not None:
        interrupts.check()  # a signal that came while the workers were closing
    return workers


def _completed(done: Any, interrupts: "Interrupts | None") -> Iterator[Any]:
    """The futures of ``done`` (a Dask ``as_completed``) as they finish; with
    ``interrupts``, polled so that a deferred signal is acted on within 0.1 s."""
    if interrupts is None:
        yield from done
        return
    while not done.is_empty():
        batch = done.next_batch(block=False)
        if not batch:
            interrupts.check()
            time.sleep(0.1)
        yield from batch


def _run_on_dask(todo: Sequence[Planned], options: BatchOptions, store: "Store | None",
                 journal: Journal, rows: dict[str, FileRow],
                 on_result: Callable[[FileRow], None] | None, client: "Client | None",
                 interrupts: "Interrupts | None") -> int:
    from distributed import as_completed
    from tqdm import tqdm

    jobs = options.jobs or _default_jobs()
    with (contextlib.nullcontext(client) if client is not None
          else open_client(options.scheduler, jobs)) as c:
        ready = c.run(_has_model, model=options.model)
        if any(Path(p.task.path).suffix.lower() != ".npz" for p in todo) and \
                not (ready and all(ready.values())):
            c.register_plugin(PoseModelPlugin(options.model))  # before any task is submitted
        workers = len(c.scheduler_info().get("workers", {}))
        # the largest files first, so that none is left running alone at the end
        todo = sorted(todo, key=lambda p: -_size(p.task.path))
        by_key = {p.task.key: p for p in todo}
        futures = c.map(analyze_task, [p.task for p in todo],
                        key=[f"rehab-{_task_name(p)}" for p in todo],
                        pure=False, model=options.model)
        keys = {f.key: p.task.key for f, p in zip(futures, todo)}
        on_tty = options.progress and sys.stderr.isatty()
        bar = tqdm(total=len(todo), unit="file", desc="batch", disable=not on_tty,
                   dynamic_ncols=True)
        t0 = time.perf_counter()
        counts = {"failed": 0, "finished": 0}

        def record(p: Planned, row: FileRow) -> None:
            journal.append(row)
            rows[p.task.key] = row
            counts["failed"] += row.status == "failed"
            counts["finished"] += 1
            bar.set_postfix(failed=counts["failed"], refresh=False)
            bar.update(1)
            if options.progress and not on_tty:  # a log file: one line per file
                n = counts["finished"]
                eta = (time.perf_counter() - t0) / n * (len(todo) - n)
                log.info("batch: %d/%d file(s) done, %d failed, about %s left", n,
                         len(todo), counts["failed"], _duration(eta))
            if row.status == "failed":
                log.warning("%s: failed: %s", p.item.label, row.error)
            if on_result is not None:
                on_result(row)

        suspects: list[Planned] = []
        done = as_completed(futures)
        try:
            for fut in _completed(done, interrupts):
                p = by_key[keys[fut.key]]
                if _killed(fut):  # maybe only beside the file that killed the workers
                    suspects.append(p)
                    continue
                record(p, _finish(p, fut, store))
            for p in suspects:  # each alone now: a death is then its own
                log.warning("%s: its workers died; analysing it again on its own",
                            p.item.label)
                alone = c.submit(analyze_task, p.task, pure=False, model=options.model,
                                 key=f"rehab-alone-{_task_name(p)}")
                futures.append(alone)
                for f in _completed(as_completed([alone]), interrupts):
                    record(p, _finish(p, f, store))
        finally:
            bar.close()
            for f in futures:
                f.release()
    return workers


def _task_name(p: Planned) -> str:
    """The Dask task's name: the output folder's and the resume key."""
    return f"{Path(p.task.out).name[:40]}-{p.task.key}"


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def _has_model(dask_worker: Any, model: str | None) -> bool:
    """On a worker: whether its `PoseModelPlugin` holds a model built from ``model`` (a
    cluster that ran a batch before keeps it: no rebuild)."""
    plugin = dask_worker.plugins.get(PLUGIN_NAME)
    return isinstance(plugin, PoseModelPlugin) and plugin.model is not None \
        and plugin.model_path == model


def _killed(fut: Any) -> bool:
    """Whether the task failed because workers died while it was on them."""
    from distributed.scheduler import KilledWorker

    return fut.status == "error" and isinstance(fut.exception(), KilledWorker)


def _finish(p: Planned, fut: Any, store: "Store | None") -> FileRow:
    """The file's row from its finished future; stores a patient's session."""
    from distributed.scheduler import KilledWorker

    try:
        outcome: Outcome = fut.result()
    except KilledWorker:
        return _row_of(p, "failed", error=f"the worker process died {ALLOWED_FAILURES + 1} "
                                          f"times while analysing it alone (a crash in "
                                          f"the pose model, or out of memory)")
    except Exception as exc:  # a task that could not run at all
        return _row_of(p, "failed", error=f"task error ({type(exc).__name__}: {exc})")
    if not outcome.ok:
        return _row_of(p, "failed", error=outcome.error, seconds=round(outcome.seconds, 2),
                       worker=outcome.worker)
    session: int | None = None
    if p.item.patient is not None and store is not None:
        stored = _store(p, outcome, store)
        if isinstance(stored, FileRow):
            return stored
        session = stored
    return _done_row(p, outcome, session)


def _store(p: Planned, outcome: Outcome, store: "Store") -> "int | FileRow":
    from rehab.store.db import StoreError
    from rehab.store.models import OutputFolder
    from rehab.store.store import DuplicateSessionError

    assert outcome.record is not None and p.item.patient is not None
    try:
        return store.record_result(
            p.item.patient, outcome.record, p.started, files=outcome.files,
            output=OutputFolder(Path(p.task.out), outcome.result_sha256),
            content_sha256=p.sha256)
    except DuplicateSessionError as exc:  # stored by another run meanwhile
        return _row_of(p, "failed", error=str(exc))
    except OutputError:
        raise  # disk full or the like: stop; the journal keeps what is done
    except StoreError as exc:
        return _row_of(p, "failed", error=str(exc))
