"""One codec for the data model, derived from the dataclass fields.

`encode` turns a model object into JSON-ready values (enums as text, non-finite floats as
null, notes as ``{"code", "text", "data"}``, floats rounded to their field's ``digits`` when
asked); `decode` rebuilds the object from them using the field types. On top of these:

- `result_document`: the ``result.json`` of an `Analysis`;
- `rep_csv_columns` / `rep_csv_row` / `reps_csv`: the per-rep table (compensations and
  distances spread into columns);
- `reps_by_side`: counted reps per side (``result.json``, the report's alternating
  sessions);
- `REP_DB_COLUMNS` / `rep_db_values` / `rep_from_db`: the store's ``reps`` rows;
  `array_blob` / `blob_array`: its arrays (the angle traces);
- `flat_row`: a flat text row (CSV exports) of any encoded document.

Adding a field to `Rep` or `Distances` adds it to every one of these outputs.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import enum
import functools
import io
import json
import math
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from rehab import __version__
from rehab.model import (
    RESULT_SCHEMA_VERSION,
    Analysis,
    Distances,
    Note,
    Rep,
    SwapSummary,
    Symmetry,
    sides_of,
)

T = TypeVar("T")


# --- generic -------------------------------------------------------------------------------

def encode(obj: Any, rounded: bool = False, digits: int | None = None) -> Any:
    """JSON-ready values of a model object (dataclass, enum, note, number, container)."""
    if isinstance(obj, Note):
        return {"code": obj.code, "text": obj.text, "data": encode(dict(obj.data), rounded)}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: encode(getattr(obj, f.name), rounded, f.metadata.get("digits"))
                for f in dataclasses.fields(obj) if not f.metadata.get("skip")}
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        x = float(obj)
        if not math.isfinite(x):
            return None
        return round(x, digits) if rounded and digits is not None else x
    if isinstance(obj, Mapping):
        return {str(k): encode(v, rounded, digits) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [encode(v, rounded, digits) for v in obj]
    if isinstance(obj, (dt.datetime, dt.date)):
        return obj.isoformat()
    if isinstance(obj, Path):
        return str(obj)
    return obj


@functools.lru_cache(maxsize=None)
def _hints(cls: type) -> dict[str, Any]:
    import rehab.model as model

    return typing.get_type_hints(cls, vars(model))


def decode(cls: type[T], data: Mapping[str, Any]) -> T:
    """A model dataclass from `encode`'s output (missing optional fields take defaults)."""
    hints = _hints(typing.cast(type, cls))
    kwargs = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name in data:
            kwargs[f.name] = _decode_value(hints[f.name], data[f.name])
    return cls(**kwargs)


def _decode_value(tp: Any, value: Any) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return None
        inner = [a for a in args if a is not type(None)]
        return _decode_value(inner[0], value)
    if tp is float:
        return math.nan if value is None else float(value)
    if origin is tuple:
        return tuple(_decode_value(args[0], v) for v in value)
    if origin is dict:
        return {str(k): _decode_value(args[1], v) for k, v in value.items()}
    if origin is typing.Literal or tp in (int, str, bool):
        return value
    if tp is Note:
        return Note.of(value)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return tp(value)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return decode(tp, value)
    return value


def flat_row(doc: Mapping[str, Any]) -> dict[str, str]:
    """A flat text row: lists and tables as JSON, booleans ``true``/``false``, floats with
    three decimals, null as empty."""
    out: dict[str, str] = {}
    for k, v in doc.items():
        v = encode(v)
        if v is None:
            out[k] = ""
        elif isinstance(v, (list, dict)):
            out[k] = json.dumps(v)
        elif isinstance(v, bool):
            out[k] = "true" if v else "false"
        elif isinstance(v, float):
            out[k] = f"{v:.3f}"
        else:
            out[k] = str(v)
    return out


def csv_text(columns: Sequence[str], rows: Iterable[Mapping[str, str]]) -> str:
    """CSV text with a header (``\\n`` line ends)."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


# --- repetitions ---------------------------------------------------------------------------

_SPREAD = ("compensations", "distances_cm", "flags")
DISTANCE_FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(Distances))
REP_SCALAR_FIELDS: tuple[str, ...] = tuple(
    f.name for f in dataclasses.fields(Rep) if f.name not in _SPREAD)


def rep_csv_columns(compensation_ids: Sequence[str], distances: bool) -> list[str]:
    """Columns of the per-rep table: the rep's fields, ``flags``, one ``<id>_deg`` a
    compensation, and the distance fields when the analysis had a scale."""
    return (list(REP_SCALAR_FIELDS) + ["flags"] + [f"{c}_deg" for c in compensation_ids]
            + (list(DISTANCE_FIELDS) if distances else []))


def _cell(v: Any, digits: int | None) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return "" if not math.isfinite(v) else f"{v:.{digits if digits is not None else 3}f}"
    return str(v.value if isinstance(v, enum.Enum) else v)


_DIGITS = {f.name: f.metadata.get("digits") for f in dataclasses.fields(Rep)}


def rep_csv_row(rep: Rep, compensation_ids: Sequence[str], distances: bool) -> dict[str, str]:
    """One row of the per-rep table (see `rep_csv_columns`)."""
    row = {name: _cell(getattr(rep, name), _DIGITS[name]) for name in REP_SCALAR_FIELDS}
    row["flags"] = ";".join(str(f) for f in rep.flags)
    for c in compensation_ids:
        row[f"{c}_deg"] = _cell(rep.compensations.get(c), 3)
    if distances:
        d = rep.distances_cm or Distances()
        for name in DISTANCE_FIELDS:
            row[name] = _cell(getattr(d, name), 2)
    return row


def reps_csv(reps: Iterable[Rep], compensation_ids: Sequence[str], distances: bool) -> str:
    """The per-rep table as CSV text."""
    return csv_text(rep_csv_columns(compensation_ids, distances),
                    (rep_csv_row(r, compensation_ids, distances) for r in reps))


REP_DB_COLUMNS: tuple[str, ...] = tuple(
    "rep_index" if n == "index" else n for n in REP_SCALAR_FIELDS
) + ("flags", "compensations") + DISTANCE_FIELDS
"""Columns of the store's ``reps`` table that hold a `Rep` (besides session and order)."""


def rep_db_values(rep: Rep) -> tuple[Any, ...]:
    """A `Rep` as the values of `REP_DB_COLUMNS` (full precision; NaN as NULL)."""
    scalars = [encode(getattr(rep, n)) for n in REP_SCALAR_FIELDS]
    d = rep.distances_cm
    dist = [None if d is None else encode(getattr(d, n)) for n in DISTANCE_FIELDS]
    return (*scalars, json.dumps(encode(list(rep.flags))),
            json.dumps(encode(rep.compensations), allow_nan=False), *dist)


def rep_from_db(row: Mapping[str, Any]) -> Rep:
    """A `Rep` from a ``reps`` row (``sqlite3.Row`` or dict)."""
    doc: dict[str, Any] = {n: row["rep_index" if n == "index" else n]
                           for n in REP_SCALAR_FIELDS}
    doc["target_met"] = bool(doc["target_met"])
    doc["flags"] = json.loads(row["flags"]) if row["flags"] else []
    doc["compensations"] = json.loads(row["compensations"])
    dist = {n: row[n] for n in DISTANCE_FIELDS}
    doc["distances_cm"] = dist if any(v is not None for v in dist.values()) else None
    return decode(Rep, doc)


def reps_by_side(reps: Iterable[Rep], sides: Iterable[str], default: str) -> dict[str, int]:
    """How many of ``reps`` each side did: every one of ``sides`` (0 when it did none), then
    any other side a rep names; a rep without a side (results made before sides were
    recorded per rep) counts for ``default``, the side its analysis was counted on."""
    counts = {str(s): 0 for s in sides}
    for r in reps:
        side = r.side or str(default)
        counts[side] = counts.get(side, 0) + 1
    return counts


def alternation_text(reps: Iterable[Rep], default: str) -> str:
    """``alternating (left 5, right 4)``: the counted reps per side of an alternating session
    (`reps_by_side`), as reports and ``rehab patient show`` say it."""
    counts = reps_by_side(reps, ("left", "right"), default)
    return "alternating (" + ", ".join(f"{side} {n}" for side, n in counts.items()) + ")"


def deg_text(x: float | None, unit: str) -> str:
    """A whole number of degrees with ``unit`` (`` deg`` or ``°``), ``-`` for None."""
    return "-" if x is None else f"{x:.0f}{unit}"


def symmetry_text(sym: Symmetry | None, unit: str = " deg", short: bool = False) -> str:
    """``limb symmetry index 82% (left 80 deg / right 98 deg range of motion, median of 5
    reps)``, the involved side first (the index is its range over the other's); ``short``:
    ``LSI 82% (left 80 / right 98 deg ROM)``; empty without a symmetry."""
    if sym is None:
        return ""
    index = "-" if sym.index_pct is None else f"{sym.index_pct:.0f}%"
    rom = {"left": sym.left_rom_deg, "right": sym.right_rom_deg}
    first = sym.involved if sym.involved in rom else "left"
    second = "right" if first == "left" else "left"
    if short:
        return (f"LSI {index} ({first} {deg_text(rom[first], '')} / {second} "
                f"{deg_text(rom[second], '')}{unit} ROM)")
    how = (f"median of {sym.reps} rep(s)" if sym.basis == "bilateral"
           else "each side's own reps, alternating")
    if sym.index_pct is None:
        how = "not both sides seen"
    return (f"limb symmetry index {index} ({first} {deg_text(rom[first], unit)} / {second} "
            f"{deg_text(rom[second], unit)} range of motion, {how})")


def swaps_text(swaps: SwapSummary | None) -> str:
    """``left/right labels: 12 frame(s) repaired, 3 gated as unresolved (lower 12, 3
    gated)``; empty without a check."""
    if swaps is None:
        return ""
    if not swaps.repaired_frames and not swaps.gated_frames:
        return "left/right labels: no swap found"
    groups = ", ".join(f"{g} {v[0]}" + (f", {v[1]} gated" if len(v) > 1 and v[1] else "")
                       for g, v in swaps.by_group.items() if any(v))
    return (f"left/right labels: {swaps.repaired_frames} frame(s) repaired, "
            f"{swaps.gated_frames} gated as unresolved" + (f" ({groups})" if groups else ""))


def array_blob(x: np.ndarray) -> bytes:
    """A float array as the store keeps it (float64, little-endian)."""
    return np.ascontiguousarray(x, dtype="<f8").tobytes()


def blob_array(blob: bytes) -> np.ndarray:
    """A stored float array back."""
    return np.frombuffer(blob, dtype="<f8").astype(np.float64)


def notes_json(notes: Iterable[Note | str]) -> str:
    """Notes as stored (a JSON list of ``{"code", "text", "data"}``)."""
    return json.dumps([encode(Note.of(n)) for n in notes], allow_nan=False)


def notes_from_json(text: str | None) -> tuple[Note, ...]:
    """Stored notes back (plain strings from schema 1 become notes of code ``text``)."""
    return tuple(Note.of(n) for n in json.loads(text or "[]"))


# --- result.json ---------------------------------------------------------------------------

def result_document(analysis: Analysis) -> dict[str, Any]:
    """The ``result.json`` document of an analysis (schema in the README)."""
    seq, ex, seg = analysis.sequence, analysis.exercise, analysis.segmentation
    scores = [r.score for r in analysis.reps]
    return {
        "schema_version": RESULT_SCHEMA_VERSION,
        "rehab_version": __version__,
        "exercise": ex.id,
        "exercise_name": ex.name,
        "side": str(analysis.side),
        "angle": analysis.primary_column,
        "angle_space": analysis.angles.space,
        "target": {"min_deg": ex.target.min_deg, "max_deg": ex.target.max_deg},
        "rep_count": analysis.rep_count,
        "alternating": bool(analysis.alternating),
        "involved": analysis.involved,
        "view": encode(analysis.view, rounded=True),
        "symmetry": encode(analysis.symmetry, rounded=True),
        "swaps": encode(analysis.swaps),
        "reps_by_side": reps_by_side(analysis.reps, sides_of(ex.counting.angle),
                                     str(analysis.side)),
        "reps_target_met": sum(r.target_met for r in analysis.reps),
        "mean_score": encode(float(np.mean(scores)) if scores else math.nan, True, 3),
        "source": seq.source,
        "fps": round(float(seq.fps), 4),
        "frames": seq.n_frames,
        "frames_with_pose": seq.frames_with_pose,
        "duration_s": round(seq.duration, 4),
        "width": seq.width,
        "height": seq.height,
        "model": seq.model,
        "model_sha256": seq.model_sha256,
        "segmentation": {
            "rest_position": seg.rest_position,
            "start_state": seg.start_state,
            "low_threshold_deg": encode(seg.low_threshold, True, 3),
            "high_threshold_deg": encode(seg.high_threshold, True, 3),
            "side_scores": {k: round(v, 3) for k, v in analysis.side_scores.items()},
        },
        "settings": analysis.settings.to_dict(),
        "settings_hash": analysis.settings.short_hash(),
        "calibration": encode(analysis.calibration, rounded=True),
        "scale": encode(analysis.scale, rounded=True),
        "live": encode(analysis.live),
        "reps": [encode(r, rounded=True) for r in analysis.reps],
        "partial_reps": [encode(r, rounded=True) for r in analysis.partial],
        "notes": [encode(n) for n in analysis.notes],
    }
