"""What a batch is asked to analyse: the rows of a manifest CSV or the videos of a folder.

A manifest has a header line and one row per recording. Columns (only ``file`` is required;
others may be empty or absent):

- ``file``: a video (or a landmarks ``.npz``), relative to the manifest's folder;
- ``exercise``: an exercise id or a path to an exercise ``.toml`` (default: ``--exercise``);
- ``patient``: store the session in this patient's history (the patient must exist);
- ``date``: the session's date or date-time (ISO; default: the file's modification time);
- ``side``: left, right, both or auto (default: the prescription's, else the patient's
  affected side, else auto);
- ``target_min``, ``target_max``: the target band in degrees (default: the prescription's,
  else the exercise's).

Other columns (e.g. ``reps_true`` of a ``rehab validate`` manifest) are ignored. Every row is
checked before any work starts; `read_manifest` and `folder_items` raise `ProblemsError`
with one line per problem, naming the row.
"""

from __future__ import annotations

import csv
import datetime as dt
import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path

from rehab.errors import ProblemsError

log = logging.getLogger(__name__)

COLUMNS = ("file", "exercise", "patient", "date", "side", "target_min", "target_max")
SIDES = ("left", "right", "both", "auto")
MAX_ROWS = 100_000
"""Most rows a manifest may have (a clinic day is hundreds)."""


@dataclass(frozen=True)
class BatchItem:
    """One recording to analyse, as the manifest row (or folder) gives it."""

    row: int
    """Line number in the manifest (the header is line 1); 0 for a folder's files."""
    path: Path
    """Absolute path of the recording."""
    exercise: str
    patient: str | None = None
    date: dt.datetime | None = None
    side: str | None = None
    target_min: float | None = None
    target_max: float | None = None

    @property
    def label(self) -> str:
        """How errors name the item: ``row 3 (clips/a.mp4)`` or the file name."""
        return f"row {self.row} ({self.path.name})" if self.row else self.path.name


def _number(text: str, what: str, problems: list[str], where: str) -> float | None:
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        problems.append(f"{where}: {what} {text!r} is not a number")
        return None
    if not math.isfinite(value):
        problems.append(f"{where}: {what} must be a finite number, not {text!r}")
        return None
    return value


def _date(text: str, problems: list[str], where: str) -> dt.datetime | None:
    if not text:
        return None
    from rehab.argtypes import session_datetime

    try:
        return session_datetime(text)
    except Exception as exc:  # argparse.ArgumentTypeError or ValueError: one line each
        problems.append(f"{where}: date {text!r}: {exc}")
        return None


def _is_input(path: Path) -> bool:
    from rehab.pipeline import VIDEO_SUFFIXES

    return path.suffix.lower() in VIDEO_SUFFIXES or path.suffix.lower() == ".npz"


def read_manifest(path: str | os.PathLike[str], default_exercise: str | None = None
                  ) -> list[BatchItem]:
    """The rows of a manifest CSV, each checked for what can be told from the row alone
    (file present, date, side, numbers); `ProblemsError` lists every problem found."""
    manifest = Path(path).expanduser()
    try:
        with open(manifest, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            fields = [c.strip() for c in (reader.fieldnames or [])]
            rows = []
            for i, raw in enumerate(reader):
                if i >= MAX_ROWS:
                    raise ProblemsError([f"{manifest}: more than {MAX_ROWS} rows"])
                rows.append({(k or "").strip(): (v or "").strip() if isinstance(v, str) else ""
                             for k, v in raw.items()})
    except FileNotFoundError:
        raise ProblemsError([f"{manifest}: no such manifest file"]) from None
    except IsADirectoryError:
        raise ProblemsError([f"{manifest}: is a folder, not a manifest"]) from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ProblemsError([f"{manifest}: not a readable CSV file ({exc})"]) from None
    if "file" not in fields:
        raise ProblemsError([f"{manifest}: no 'file' column in the header line "
                             f"(columns: {', '.join(COLUMNS)})"])
    ignored = [c for c in fields if c and c not in COLUMNS]
    if ignored:
        log.info("%s: columns ignored: %s", manifest, ", ".join(ignored))
    if not rows:
        raise ProblemsError([f"{manifest}: no rows under the header line"])
    base = manifest.parent
    problems: list[str] = []
    items = []
    for n, r in enumerate(rows, start=2):
        name = r.get("file", "")
        where = f"{manifest.name} row {n}" + (f" ({name})" if name else "")
        if not name:
            problems.append(f"{where}: no file named")
            continue
        file = Path(name).expanduser()
        file = Path(os.path.abspath(file if file.is_absolute() else base / file))
        if not file.exists():
            problems.append(f"{where}: no such file {file}")
        elif not file.is_file():
            problems.append(f"{where}: {file} is not a file")
        elif not _is_input(file):
            problems.append(f"{where}: {file.name} is not a video or a landmarks .npz")
        exercise = r.get("exercise", "") or default_exercise or ""
        if not exercise:
            problems.append(f"{where}: no exercise (give an 'exercise' column or --exercise)")
        side = r.get("side", "").lower() or None
        if side is not None and side not in SIDES:
            problems.append(f"{where}: side {side!r} is not one of {', '.join(SIDES)}")
        lo = _number(r.get("target_min", ""), "target_min", problems, where)
        hi = _number(r.get("target_max", ""), "target_max", problems, where)
        items.append(BatchItem(row=n, path=file, exercise=exercise,
                               patient=r.get("patient", "") or None,
                               date=_date(r.get("date", ""), problems, where), side=side,
                               target_min=lo, target_max=hi))
    if problems:
        raise ProblemsError(problems)
    return items


def folder_items(folder: str | os.PathLike[str], exercise: str | None) -> list[BatchItem]:
    """Every video directly in ``folder`` (sorted by name), all for ``exercise``."""
    from rehab.pipeline import VIDEO_SUFFIXES

    d = Path(folder).expanduser()
    if not exercise:
        raise ProblemsError([f"{d}: a folder of videos needs --exercise"])
    try:
        files = sorted(p for p in d.iterdir()
                       if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES
                       and not p.name.startswith("."))
    except OSError as exc:
        raise ProblemsError([f"{d}: cannot list the folder ({exc.strerror or exc})"]) from None
    if not files:
        raise ProblemsError([f"{d}: no video files in this folder "
                             f"({', '.join(sorted(VIDEO_SUFFIXES))})"])
    return [BatchItem(row=0, path=Path(os.path.abspath(p)), exercise=exercise) for p in files]


def read_items(source: str | os.PathLike[str], exercise: str | None) -> list[BatchItem]:
    """The items of a manifest CSV or of a folder of videos."""
    p = Path(source).expanduser()
    return folder_items(p, exercise) if p.is_dir() else read_manifest(p, exercise)
