"""``rehab batch``: analyse a manifest or a folder of recordings on Dask workers.

A thin layer over `rehab.batch.run_batch`. Exit status 0 when every file was analysed (or
skipped as done before), 1 when some failed (each with its reason in ``summary.csv``), 130
after Ctrl-C and 143 after SIGTERM (what finished is kept), and the usual one-line error
for a problem found before any work (one line per manifest row).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from rehab.terminal import out

if TYPE_CHECKING:
    from rehab.batch.runner import Interrupts

log = logging.getLogger(__name__)


def default_out(source: str) -> Path:
    """``./rehab-out/batch-<manifest or folder name>/`` (the same again on a resumed run)."""
    return Path("rehab-out") / f"batch-{Path(source.rstrip('/')).stem or 'run'}"


@contextlib.contextmanager
def _handle_signals(interrupts: "Interrupts") -> Iterator[None]:
    """SIGINT (Ctrl-C, exit 130) and SIGTERM (a service manager, ``kill``; exit 143) stop
    the batch: the workers are closed and ``summary.csv`` written; what finished is kept."""
    try:
        old = {s: signal.signal(s, interrupts) for s in (signal.SIGINT, signal.SIGTERM)}
    except ValueError:  # not the main thread (called from a library user's thread)
        yield
        return
    try:
        yield
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)


def cmd_batch(args: argparse.Namespace) -> int:
    """Run the batch and print its end-of-run line."""
    from rehab.batch.manifest import read_items
    from rehab.batch.runner import BatchOptions, Interrupts, run_batch
    from rehab.errors import InputError

    if args.jobs is not None and args.scheduler:
        raise InputError("--jobs sets local workers; a --scheduler's cluster has its own")
    items = read_items(args.source, args.exercise)
    options = BatchOptions(
        out=Path(args.out).expanduser() if args.out else default_out(args.source),
        db=Path(args.db).expanduser() if args.db else None, jobs=args.jobs,
        scheduler=args.scheduler, retry_failed=args.retry_failed, max_fps=args.max_fps,
        model=args.model, exercises_dir=args.exercises_dir, progress=not args.no_progress)
    interrupts = Interrupts()
    with _handle_signals(interrupts):
        report = run_batch(items, options, interrupts=interrupts)
    out(report.line())
    return 1 if report.count("failed") else 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``batch`` to the ``rehab`` command."""
    from rehab import limits
    from rehab.argtypes import int_in, number_in
    from rehab.store.cli import add_db_option

    p = sub.add_parser(
        "batch", help="analyse many recordings (a manifest CSV or a folder) on local or "
                      "Dask workers, resumably",
        description="Analyse every recording of a manifest CSV (columns: file, exercise, "
                    "patient, date, side, target_min, target_max; only file is required) "
                    "or every video of a folder, into OUT/<file>/ and, for rows with a "
                    "patient, into the patient history. Run again after an interruption: "
                    "files already analysed with the same content, exercise and settings "
                    "are skipped.")
    p.add_argument("source", help="manifest CSV, or a folder of videos")
    p.add_argument("--exercise", "-e",
                   help="exercise id (or .toml) for a folder, and for manifest rows without one")
    p.add_argument("--jobs", "-j", type=int_in(*limits.JOBS), metavar="N",
                   help="local worker processes (default: the number of cores)")
    p.add_argument("--scheduler", metavar="tcp://HOST:8786",
                   help="send the tasks to this running Dask scheduler's workers instead")
    p.add_argument("--out", "-o", metavar="DIR",
                   help="outputs and summary.csv (default: ./rehab-out/batch-<source name>/)")
    add_db_option(p)
    p.add_argument("--retry-failed", action="store_true",
                   help="analyse again the files that failed in an earlier run")
    p.add_argument("--max-fps", type=number_in(*limits.MAX_FPS), metavar="F",
                   help="analyse at most F frames per second of video (faster; see README "
                        "for what 15 and 10 do to counts and ROM)")
    p.add_argument("--model", metavar="PATH.task", help="pose model (default: the built-in)")
    p.add_argument("--exercises-dir", metavar="DIR",
                   help="extra folder of exercise definitions (*.toml)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_batch)
