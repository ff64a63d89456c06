"""Counting accuracy on a labelled set: ``file,exercise,reps_true[,side]`` rows.

Files (videos or landmark ``.npz``) are relative to their manifest; several manifests are
validated together. Extra columns are kept but ignored. Totals and per-exercise rows: the
exact-count rate, the within-one rate (OBO), over- and under-counts and the mean absolute
count error normalised by the true count; the confusion of count errors (counted - true)
says which clips were over- or under-counted by how much.

For the plots of the validation report (`rehab.validate_report`) each clip keeps a
`ClipTrace`: the few arrays a plot needs, never the whole analysis.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Sequence

import numpy as np

from rehab.errors import InputError, RehabError

if TYPE_CHECKING:
    from rehab.model import Analysis

log = logging.getLogger(__name__)

REQUIRED_COLUMNS = ("file", "exercise", "reps_true")

ERROR_BINS: tuple[tuple[str, int | None, int | None], ...] = (
    ("<=-3", None, -3), ("-2", -2, -2), ("-1", -1, -1), ("0", 0, 0), ("+1", 1, 1),
    ("+2", 2, 2), (">=+3", 3, None))
"""The confusion's bins of count error (counted - true): label, lowest, highest (None: open)."""
FAILED_BIN = "failed"
"""The confusion's last bin: clips that gave no count."""


@dataclasses.dataclass(frozen=True)
class ManifestRow:
    """One labelled clip."""

    path: Path
    exercise: str
    reps_true: int
    side: str = "auto"
    manifest: Path | None = None
    """The manifest the row was read from (its folder is where ``path`` was relative to)."""

    @property
    def label(self) -> str:
        """The file as the manifest names it (relative to the manifest's folder)."""
        if self.manifest is None:
            return self.path.name
        try:
            return self.path.relative_to(self.manifest.parent).as_posix()
        except ValueError:
            return str(self.path)


@dataclasses.dataclass(frozen=True)
class RepSpan:
    """A repetition's time span on the plot: a counted rep or an uncounted candidate."""

    start_s: float
    end_s: float
    counted: bool
    side: str = ""
    """``left``/``right`` in an alternating analysis; else the analysis's side or empty."""


@dataclasses.dataclass(frozen=True)
class ClipTrace:
    """What one clip's plot needs: times, the smoothed counted angle(s) as float32, rep spans.

    ``traces`` is ``(("primary", x),)`` for one side, or ``(("left", xl), ("right", xr))``
    when the analysis counted left and right reps in turn (``alternating``)."""

    time_s: np.ndarray
    traces: tuple[tuple[str, np.ndarray], ...]
    reps: tuple[RepSpan, ...]
    angle: str
    """The counted angle's name, e.g. ``knee_flexion``."""
    side: str
    alternating: bool = False

    def __post_init__(self) -> None:
        for name, x in self.traces:
            if x.shape != self.time_s.shape:
                raise ValueError(f"trace {name!r} has shape {x.shape}, the times "
                                 f"{self.time_s.shape}")

    @classmethod
    def of(cls, analysis: Analysis) -> ClipTrace:
        """The plot's share of ``analysis`` (copies: the analysis itself is not kept)."""
        alternating = bool(getattr(analysis, "alternating", False))
        smoothed = analysis.smoothed
        named: list[tuple[str, np.ndarray]] = []
        if alternating:
            for side in ("left", "right"):
                x = smoothed.get(f"primary_{side}")
                if x is not None:
                    named.append((side, x))
        if not named:
            named = [("primary", smoothed["primary"])]
        spans = tuple(
            RepSpan(start_s=float(r.start_s), end_s=float(r.end_s), counted=counted,
                    side=str(getattr(r, "side", "") or ""))
            for reps, counted in ((analysis.reps, True), (analysis.partial, False))
            for r in reps)
        return cls(time_s=np.array(analysis.sequence.timestamps, dtype=np.float32),
                   traces=tuple((name, np.array(x, dtype=np.float32)) for name, x in named),
                   reps=tuple(sorted(spans, key=lambda s: s.start_s)),
                   angle=analysis.exercise.counting.angle, side=str(analysis.side),
                   alternating=alternating)


@dataclasses.dataclass(frozen=True)
class ClipResult:
    """Outcome for one clip: a count, or the error that prevented it."""

    row: ManifestRow
    reps_pred: int | None
    side: str = ""
    error: str = ""
    trace: ClipTrace | None = None
    """The plot's data (kept when `validate` was asked for traces)."""

    @property
    def count_error(self) -> int | None:
        """Counted minus true: positive for an over-count (None when the clip failed)."""
        return None if self.reps_pred is None else self.reps_pred - self.row.reps_true

    @property
    def abs_error(self) -> int | None:
        err = self.count_error
        return None if err is None else abs(err)

    @property
    def normalised_error(self) -> float:
        """|counted - true| / true (true 0 counts as 1); a failed clip is 1.0 (100%)."""
        err = self.abs_error
        return 1.0 if err is None else err / max(1, self.row.reps_true)


@dataclasses.dataclass(frozen=True)
class ExerciseStats:
    """Counting accuracy over the clips of one exercise (or of all clips)."""

    exercise: str
    clips: int
    exact: int
    within_one: int
    over: int
    """Clips counted too many reps."""
    under: int
    """Clips counted too few reps."""
    failed: int
    normalised_mae: float

    @classmethod
    def of(cls, exercise: str, clips: Sequence[ClipResult]) -> ExerciseStats:
        errors = [c.count_error for c in clips]
        return cls(exercise=exercise, clips=len(clips),
                   exact=sum(1 for e in errors if e == 0),
                   within_one=sum(1 for e in errors if e is not None and abs(e) <= 1),
                   over=sum(1 for e in errors if e is not None and e > 0),
                   under=sum(1 for e in errors if e is not None and e < 0),
                   failed=sum(1 for e in errors if e is None),
                   normalised_mae=(sum(c.normalised_error for c in clips) / len(clips)
                                   if clips else float("nan")))

    def to_dict(self) -> dict[str, object]:
        doc = dataclasses.asdict(self)
        doc["normalised_mae"] = self.normalised_mae if self.clips else None
        return doc


@dataclasses.dataclass(frozen=True)
class ErrorBin:
    """One bin of the confusion of count errors and the clips in it."""

    label: str
    """``<=-3``, ``-2`` .. ``+2``, ``>=+3``, or ``failed``."""
    clips: tuple[ClipResult, ...]

    def to_dict(self) -> dict[str, object]:
        return {"count_error": self.label, "clips": len(self.clips),
                "files": [str(c.row.path) for c in self.clips]}


def error_bin(count_error: int | None) -> str:
    """The confusion bin's label of a count error (counted - true; None: failed)."""
    if count_error is None:
        return FAILED_BIN
    for label, lo, hi in ERROR_BINS:
        if (lo is None or count_error >= lo) and (hi is None or count_error <= hi):
            return label
    raise AssertionError(f"no bin for {count_error}")  # the bins cover every integer


@dataclasses.dataclass(frozen=True)
class ValidationSummary:
    """Per-clip results and totals."""

    clips: tuple[ClipResult, ...]

    @property
    def n(self) -> int:
        return len(self.clips)

    @property
    def exact(self) -> int:
        return self.totals().exact

    @property
    def within_one(self) -> int:
        return self.totals().within_one

    @property
    def failed(self) -> int:
        return self.totals().failed

    @property
    def normalised_mae(self) -> float:
        """Mean of |predicted - true| / true over clips (a failed clip counts as 100%)."""
        return self.totals().normalised_mae

    @property
    def manifests(self) -> tuple[Path, ...]:
        """The manifests the clips came from, in order."""
        return tuple(dict.fromkeys(c.row.manifest for c in self.clips
                                   if c.row.manifest is not None))

    def by_exercise(self) -> tuple[ExerciseStats, ...]:
        """One row per exercise (sorted by id)."""
        groups: dict[str, list[ClipResult]] = {}
        for c in self.clips:
            groups.setdefault(c.row.exercise, []).append(c)
        return tuple(ExerciseStats.of(ex, groups[ex]) for ex in sorted(groups))

    def totals(self) -> ExerciseStats:
        """The same figures over all clips (``exercise`` is ``all``)."""
        return ExerciseStats.of("all", self.clips)

    def confusion(self) -> tuple[ErrorBin, ...]:
        """Every count-error bin (empty ones too, in order) and last the failed clips."""
        labels = [label for label, _, _ in ERROR_BINS] + [FAILED_BIN]
        groups: dict[str, list[ClipResult]] = {label: [] for label in labels}
        for c in self.clips:
            groups[error_bin(c.count_error)].append(c)
        return tuple(ErrorBin(label, tuple(groups[label])) for label in labels)

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
            "manifests": [str(m) for m in self.manifests],
            "by_exercise": [s.to_dict() for s in self.by_exercise()],
            "confusion": [b.to_dict() for b in self.confusion()],
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
                                        side=side, manifest=path))
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a text CSV file") from None
    except csv.Error as exc:
        raise InputError(f"{path}: malformed CSV ({exc})") from None
    if not rows:
        raise InputError(f"{path}: manifest has no rows")
    return rows


def read_manifests(paths: Iterable[str | os.PathLike[str]]) -> list[ManifestRow]:
    """The rows of several manifests, in order (each file relative to its own manifest).

    The same manifest given twice is refused: its clips would count twice."""
    rows: list[ManifestRow] = []
    seen: dict[Path, str] = {}
    for p in paths:
        key = Path(os.path.abspath(p))
        if key in seen:
            raise InputError(f"{p}: manifest given twice (also as {seen[key]})")
        seen[key] = str(p)
        rows += read_manifest(p)
    if not seen:
        raise InputError("no manifest given")
    return rows


def validate(rows: Sequence[ManifestRow], analyse: Callable[[ManifestRow], Analysis],
             keep_traces: bool = False) -> ValidationSummary:
    """Run ``analyse(row) -> Analysis`` on each row and compare its count with the label.

    A `RehabError` is recorded as the clip's error, not raised. With ``keep_traces`` each
    clip keeps its `ClipTrace` (for the report's plots); the analyses themselves are
    dropped as soon as they are counted."""
    results = []
    for row in rows:
        try:
            analysis = analyse(row)
        except RehabError as exc:
            log.warning("%s: %s", row.label, exc)
            results.append(ClipResult(row=row, reps_pred=None, error=_one_line(str(exc))))
            continue
        results.append(ClipResult(row=row, reps_pred=analysis.rep_count,
                                  side=str(analysis.side),
                                  trace=ClipTrace.of(analysis) if keep_traces else None))
    return ValidationSummary(tuple(results))


def _one_line(text: str) -> str:
    return " ".join(text.split())


def verdict(clip: ClipResult) -> str:
    """``exact``, ``over by 2``, ``under by one``, ``error: <why the clip failed>``."""
    err = clip.count_error
    if err is None:
        return f"error: {clip.error}"
    if err == 0:
        return "exact"
    size = "one" if abs(err) == 1 else str(abs(err))
    return f"{'over' if err > 0 else 'under'} by {size}"


def _percent(k: int, n: int) -> str:
    return f"{k}/{n} ({100 * k / n:.0f}%)" if n else f"{k}/{n}"


def format_exercise_table(summary: ValidationSummary) -> str:
    """The per-exercise table: clips, exact, within one, over/under-counts, failed, nMAE."""
    header = ("exercise", "clips", "exact", "within one", "over", "under", "failed", "nMAE")
    rows = [(s.exercise, str(s.clips), str(s.exact), str(s.within_one), str(s.over),
             str(s.under), str(s.failed), f"{s.normalised_mae:.3f}")
            for s in summary.by_exercise()]
    width = max([len(header[0])] + [len(r[0]) for r in rows])
    def line(cells: Sequence[str]) -> str:
        return (f"{cells[0]:{width}s} "
                + " ".join(f"{c:>{max(5, len(h))}s}" for c, h in zip(cells[1:], header[1:])))
    return "\n".join([line(header)] + [line(r) for r in rows])


def format_summary(summary: ValidationSummary) -> str:
    """The per-clip table, the per-exercise table and the totals line."""
    width = max([32] + [len(c.row.label) for c in summary.clips])
    lines = [f"{'file':{width}s} {'exercise':20s} {'side':6s} {'true':>5s} {'pred':>5s}  result"]
    for c in summary.clips:
        pred = "-" if c.reps_pred is None else str(c.reps_pred)
        lines.append(f"{c.row.label:{width}s} {c.row.exercise[:20]:20s} "
                     f"{(c.side or c.row.side)[:6]:6s} {c.row.reps_true:5d} {pred:>5s}  "
                     f"{verdict(c)}")
    n = summary.n
    lines += ["", format_exercise_table(summary), ""]
    lines.append(f"exact: {_percent(summary.exact, n)}   "
                 f"within one: {_percent(summary.within_one, n)}   "
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
