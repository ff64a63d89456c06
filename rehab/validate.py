"""Counting accuracy on a labelled set: ``file,exercise,reps_true[,side]`` rows.

Files (videos or landmark ``.npz``) are relative to the manifest. Extra columns are kept
but ignored. Totals: exact-count rate, within-one rate (OBO) and the mean absolute count
error normalised by the true count.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import logging
import os
from pathlib import Path
from typing import Callable

from rehab.errors import InputError, RehabError

log = logging.getLogger(__name__)

REQUIRED_COLUMNS = ("file", "exercise", "reps_true")


@dataclasses.dataclass(frozen=True)
class ManifestRow:
    """One labelled clip."""

    path: Path
    exercise: str
    reps_true: int
    side: str = "auto"


@dataclasses.dataclass(frozen=True)
class ClipResult:
    """Outcome for one clip: a count, or the error that prevented it."""

    row: ManifestRow
    reps_pred: int | None
    side: str = ""
    error: str = ""

    @property
    def abs_error(self) -> int | None:
        return None if self.reps_pred is None else abs(self.reps_pred - self.row.reps_true)


@dataclasses.dataclass(frozen=True)
class ValidationSummary:
    """Per-clip results and totals."""

    clips: tuple[ClipResult, ...]

    @property
    def n(self) -> int:
        return len(self.clips)

    @property
    def exact(self) -> int:
        return sum(1 for c in self.clips if c.abs_error == 0)

    @property
    def within_one(self) -> int:
        return sum(1 for c in self.clips if c.abs_error is not None and c.abs_error <= 1)

    @property
    def failed(self) -> int:
        return sum(1 for c in self.clips if c.reps_pred is None)

    @property
    def normalised_mae(self) -> float:
        """Mean of |predicted - true| / true over clips (a failed clip counts as 100%)."""
        if not self.clips:
            return float("nan")
        errs = [(c.abs_error / max(1, c.row.reps_true)) if c.abs_error is not None else 1.0
                for c in self.clips]
        return sum(errs) / len(errs)

    def to_dict(self) -> dict[str, object]:
        return {
            "clips": [
                {"file": str(c.row.path), "exercise": c.row.exercise, "side": c.side or c.row.side,
                 "reps_true": c.row.reps_true, "reps_pred": c.reps_pred, "error": c.error}
                for c in self.clips
            ],
            "n": self.n, "exact": self.exact, "within_one": self.within_one,
            "failed": self.failed,
            "exact_rate": self.exact / self.n if self.n else None,
            "within_one_rate": self.within_one / self.n if self.n else None,
            "normalised_mae": self.normalised_mae if self.n else None,
        }


def read_manifest(path: str | os.PathLike[str]) -> list[ManifestRow]:
    """Parse and validate a manifest CSV."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such manifest file")
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            header = reader.fieldnames or []
            missing = [c for c in REQUIRED_COLUMNS if c not in header]
            if missing:
                raise InputError(f"{path}: manifest lacks column(s) {', '.join(missing)} "
                                 f"(expected header: file,exercise,reps_true[,side])")
            rows = []
            for lineno, rec in enumerate(reader, start=2):
                try:
                    reps = int(rec["reps_true"])
                except (TypeError, ValueError):
                    raise InputError(f"{path}:{lineno}: reps_true {rec['reps_true']!r} is not "
                                     f"a whole number") from None
                if reps < 0:
                    raise InputError(f"{path}:{lineno}: reps_true must not be negative")
                side = (rec.get("side") or "auto").strip() or "auto"
                if side not in ("auto", "left", "right"):
                    raise InputError(f"{path}:{lineno}: side {side!r} is not left, right or auto")
                rows.append(ManifestRow(path=path.parent / rec["file"].strip(),
                                        exercise=rec["exercise"].strip(), reps_true=reps,
                                        side=side))
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a text CSV file") from None
    except csv.Error as exc:
        raise InputError(f"{path}: malformed CSV ({exc})") from None
    if not rows:
        raise InputError(f"{path}: manifest has no rows")
    return rows


def validate(rows: list[ManifestRow], count: Callable[[ManifestRow], tuple[int, str]]
             ) -> ValidationSummary:
    """Run ``count(row) -> (reps, side)`` on each row; errors are recorded, not raised."""
    results = []
    for row in rows:
        try:
            reps, side = count(row)
            results.append(ClipResult(row=row, reps_pred=reps, side=side))
        except RehabError as exc:
            log.warning("%s: %s", row.path.name, exc)
            results.append(ClipResult(row=row, reps_pred=None, error=str(exc)))
    return ValidationSummary(tuple(results))


def format_summary(summary: ValidationSummary) -> str:
    """A plain-text table with totals."""
    lines = [f"{'file':32s} {'exercise':20s} {'side':6s} {'true':>5s} {'pred':>5s}  result"]
    for c in summary.clips:
        pred = "-" if c.reps_pred is None else str(c.reps_pred)
        if c.reps_pred is None:
            verdict = f"error: {c.error}"
        elif c.abs_error == 0:
            verdict = "exact"
        elif c.abs_error == 1:
            verdict = "off by one"
        else:
            verdict = f"off by {c.abs_error}"
        lines.append(f"{c.row.path.name[:32]:32s} {c.row.exercise[:20]:20s} "
                     f"{(c.side or c.row.side)[:6]:6s} {c.row.reps_true:5d} {pred:>5s}  {verdict}")
    n = summary.n
    lines.append("")
    lines.append(f"exact: {summary.exact}/{n} ({100 * summary.exact / n:.0f}%)   "
                 f"within one: {summary.within_one}/{n} ({100 * summary.within_one / n:.0f}%)   "
                 f"normalised MAE: {summary.normalised_mae:.3f}"
                 + (f"   failed: {summary.failed}" if summary.failed else ""))
    return "\n".join(lines)


def write_summary(summary: ValidationSummary, out_dir: str | os.PathLike[str]) -> Path:
    """Write ``validation.json`` and ``validation.csv`` into ``out_dir``."""
    from rehab.analysis import prepare_out_dir
    from rehab.fileio import write_text_atomic

    out = prepare_out_dir(out_dir)
    doc = summary.to_dict()
    write_text_atomic(out / "validation.json", json.dumps(doc, indent=2) + "\n")
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["file", "exercise", "side", "reps_true", "reps_pred", "error"])
    for c in summary.clips:
        w.writerow([str(c.row.path), c.row.exercise, c.side or c.row.side, c.row.reps_true,
                    "" if c.reps_pred is None else c.reps_pred, c.error])
    write_text_atomic(out / "validation.csv", buf.getvalue())
    return out / "validation.json"
