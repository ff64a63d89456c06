"""The exercise library: definitions as data (``exercises/*.toml``), validated once.

Each TOML file describes one exercise; it is loaded into a frozen `Exercise`. Unknown keys and
bad values are a `ConfigError` naming the file and the key. A physiotherapist adds an exercise
by writing a file (see ``exercises/README.md`` for the format); ``REHAB_EXERCISES_DIR`` or
``--exercises-dir`` point to extra folders, whose files override the built-in ones by id.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal

from rehab.errors import ConfigError
from rehab.limits import DEGREES, SECONDS, Range, as_float, target_range_problem
from rehab.model import (
    ALL_ANGLES,
    LANDMARK_INDEX,
    SIDED_ANGLES,
    TRUNK_ANGLES,
    Flag,
    Side,
    angle_column,
)
from rehab.settings import DEFAULT_SETTINGS, AnalysisSettings

__all__ = ["VIEW_CUES", "view_cue", "ALL_ANGLES", "SIDED_ANGLES", "TRUNK_ANGLES", "Compensation", "Counting", "Cues",
           "Exercise", "RESERVED_COMPENSATION_IDS", "Target", "Tempo", "compensation_column",
           "exercise_dirs", "get_exercise", "load_exercise_file", "load_library",
           "parse_exercise"]
"""The angle-name sets come from `rehab.model` and are re-exported for exercise tools."""

View = Literal["side", "front", "any"]
Space = Literal["image", "world"]

AMPLITUDE_DEG = Range(0.0, 180.0, low_open=True)
"""Smallest excursion that counts as a repetition, degrees."""
COMPENSATION_DEG = Range(0.0, 180.0)
"""Threshold of a compensation (its peak angle or its change in a rep), degrees."""
SECONDS_OR_NONE = Range(0.0, SECONDS.high)
"""A lower bound of a duration that may be 0 (no lower bound), seconds."""
EXERCISE_ID_RE = re.compile(r"[a-z0-9_]+")
"""A whole exercise id (ASCII lower-case letters, digits, underscores; ``fullmatch``)."""


def _within(bound: Range, default: Any = dataclasses.MISSING) -> Any:
    """A numeric field with its valid range (checked when its TOML table is read)."""
    return dataclasses.field(default=default, metadata={"range": bound})


@dataclasses.dataclass(frozen=True)
class Counting:
    """How repetitions are counted on the primary angle."""

    angle: str
    space: Space = "image"
    rest: Literal["low", "high"] = "low"
    min_amplitude_deg: float = _within(AMPLITUDE_DEG, 20.0)
    min_duration_s: float = _within(SECONDS, 0.5)
    max_duration_s: float = _within(SECONDS, 20.0)
    alternation: Literal["detect", "expected", "none"] = "detect"
    """One-sided exercises: whether left and right may take turns (counted on both sides)."""


@dataclasses.dataclass(frozen=True)
class Target:
    """The band the rep's peak angle (its extreme away from rest) should reach, degrees."""

    min_deg: float = _within(DEGREES)
    max_deg: float = _within(DEGREES)


@dataclasses.dataclass(frozen=True)
class Tempo:
    """Acceptable repetition duration and time from start to peak, seconds."""

    min_rep_s: float = _within(SECONDS_OR_NONE, 1.0)
    max_rep_s: float = _within(SECONDS, 10.0)
    min_to_peak_s: float = _within(SECONDS_OR_NONE, 0.4)


@dataclasses.dataclass(frozen=True)
class Compensation:
    """A movement fault checked on another angle during each rep."""

    id: str
    angle: str
    max_deg: float = _within(COMPENSATION_DEG)
    measure: Literal["peak", "change"] = "peak"
    side: Literal["same", "opposite", "none"] = "same"
    cue: str = ""
    description: str = ""


def compensation_column(comp: Compensation, side: str) -> str:
    """The angle column a compensation is measured on, for an exercise done on ``side``.

    ``side`` is ``left``, ``right`` or ``none`` (trunk exercise); trunk angles have one
    column whatever the side.
    """
    if comp.side == "none" or side == Side.NONE:
        return angle_column(comp.angle, None)
    return angle_column(comp.angle, side if comp.side == "same" else Side(side).other)


@dataclasses.dataclass(frozen=True)
class Cues:
    """Plain-language cues shown or spoken to the patient."""

    good: str = "Good rep"
    too_shallow: str = "A little further"
    too_far: str = "Not so far"
    too_fast: str = "Slow down"
    too_slow: str = "Keep moving"
    not_visible: str = "Step back so your whole body is visible"
    wrong_view: str = ""
    """Said while the body is turned away from the exercise's view; empty: by the view
    (`view_cue`)."""


VIEW_CUES = {"side": "Turn your side to the camera", "front": "Face the camera"}
"""The default `Cues.wrong_view` of each view."""


def view_cue(exercise: "Exercise") -> str:
    """The cue to turn to the exercise's view: its own, else the view's default ('' for an
    exercise filmed from any view)."""
    return exercise.cues.wrong_view or VIEW_CUES.get(exercise.view, "")


@dataclasses.dataclass(frozen=True)
class Exercise:
    """One exercise definition (see ``exercises/README.md``)."""

    id: str
    name: str
    description: str
    view: View
    bilateral: bool
    landmarks: tuple[str, ...]
    counting: Counting
    target: Target
    tempo: Tempo
    compensations: tuple[Compensation, ...]
    cues: Cues
    sources: tuple[str, ...]
    path: str = ""
    settings: AnalysisSettings = DEFAULT_SETTINGS
    """Analysis thresholds: the defaults with the file's ``[settings]`` overrides."""

    @property
    def joint(self) -> str:
        """The joint whose angle counts repetitions (e.g. ``knee``)."""
        return self.counting.angle.split("_")[0]

    def with_target(self, min_deg: float | None, max_deg: float | None) -> "Exercise":
        """A copy with the target band overridden (either end may stay); each end a finite
        number of degrees in `rehab.limits.DEGREES`."""
        lo = self.target.min_deg if min_deg is None else float(min_deg)
        hi = self.target.max_deg if max_deg is None else float(max_deg)
        if math.isfinite(lo) and math.isfinite(hi):
            problem = target_range_problem(self.counting.angle, lo, hi)
            if problem:
                raise ConfigError(f"{self.id}: {problem}")
        for name, deg in (("target min", lo), ("target max", hi)):
            problem = DEGREES.problem(deg)
            if problem:
                raise ConfigError(f"{name} {problem} (range {DEGREES} deg), not {deg:g}")
        if lo > hi:
            raise ConfigError(f"target min {lo:g} deg is greater than target max {hi:g} deg")
        return dataclasses.replace(self, target=Target(lo, hi))


_SECTIONS: dict[str, type] = {
    "counting": Counting, "target": Target, "tempo": Tempo, "cues": Cues,
}
_TOP_KEYS = {
    "id", "name", "description", "view", "bilateral", "landmarks", "sources",
    "counting", "target", "tempo", "compensations", "cues", "settings",
}
_REQUIRED_TOP = {"id", "name", "view", "bilateral", "counting", "target", "sources"}


RESERVED_COMPENSATION_IDS: frozenset[str] = frozenset(
    {f.value for f in Flag} | {"min", "max", "rom", "peak", "side"})
"""Ids a compensation may not take: each is a rep's flag (the flags of a rep would mix them
up) or would name the same ``<id>_deg`` column as a rep's own angle in ``reps.csv``."""


def _err(path: Path, key: str, msg: str) -> ConfigError:
    return ConfigError(f"{path}: key '{key}': {msg}")


def _check_type(path: Path, key: str, value: Any, typ: Any) -> Any:
    """Validate ``value`` against a dataclass field annotation (str/float/bool/Literal)."""
    origin = getattr(typ, "__origin__", None)
    if origin is Literal:
        if value not in typ.__args__:
            choices = ", ".join(repr(a) for a in typ.__args__)
            raise _err(path, key, f"{value!r} is not one of {choices}")
        return value
    if typ in ("float", float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _err(path, key, f"expected a number, got {value!r}")
        number = as_float(value)
        if not math.isfinite(number):
            raise _err(path, key, f"must be a finite number, not {value!r}")
        return number
    if typ in ("str", str):
        if not isinstance(value, str):
            raise _err(path, key, f"expected a string, got {value!r}")
        return value
    if typ in ("bool", bool):
        if not isinstance(value, bool):
            raise _err(path, key, f"expected true or false, got {value!r}")
        return value
    return value


def _build(cls: type, table: Any, path: Path, prefix: str) -> Any:
    if not isinstance(table, dict):
        raise _err(path, prefix, "expected a table")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = {name: _resolve(cls, f.type) for name, f in fields.items()}
    kwargs: dict[str, Any] = {}
    for key, value in table.items():
        if key not in fields:
            raise _err(path, f"{prefix}.{key}", f"unknown key (allowed: {', '.join(fields)})")
        kwargs[key] = _check_type(path, f"{prefix}.{key}", value, hints[key])
        bound = fields[key].metadata.get("range")
        problem = bound.problem(kwargs[key]) if bound is not None else None
        if problem:
            raise _err(path, f"{prefix}.{key}", f"{problem} (range {bound}), not {value:g}")
    for name, f in fields.items():
        if name not in kwargs and f.default is dataclasses.MISSING:
            raise _err(path, f"{prefix}.{name}", "missing")
    return cls(**kwargs)


def _resolve(cls: type, annotation: Any) -> Any:
    """Turn a string annotation (``from __future__ import annotations``) into a type."""
    if isinstance(annotation, str):
        return eval(annotation, {"Literal": Literal, "Space": Space, "float": float,  # noqa: S307
                                 "str": str, "bool": bool})
    return annotation


def parse_exercise(data: dict[str, Any], path: Path) -> Exercise:
    """Validate a parsed TOML table and build an `Exercise`."""
    for key in data:
        if key not in _TOP_KEYS:
            raise _err(path, key, f"unknown key (allowed: {', '.join(sorted(_TOP_KEYS))})")
    for key in _REQUIRED_TOP:
        if key not in data:
            raise _err(path, key, "missing")
    ex_id = _check_type(path, "id", data["id"], str)
    if not EXERCISE_ID_RE.fullmatch(ex_id) or not any(c.isalpha() for c in ex_id):
        raise _err(path, "id", f"{ex_id!r} must be lower-case letters, digits and underscores")
    view = _check_type(path, "view", data["view"], View)
    bilateral = _check_type(path, "bilateral", data["bilateral"], bool)
    counting = _build(Counting, data["counting"], path, "counting")
    if counting.angle not in ALL_ANGLES:
        raise _err(path, "counting.angle",
                   f"unknown angle {counting.angle!r} (known: {', '.join(sorted(ALL_ANGLES))})")
    target = _build(Target, data["target"], path, "target")
    if target.min_deg > target.max_deg:
        raise _err(path, "target", f"min_deg {target.min_deg:g} is greater than "
                                   f"max_deg {target.max_deg:g}")
    problem = target_range_problem(counting.angle, target.min_deg, target.max_deg)
    if problem:
        raise _err(path, "target", problem)
    tempo = _build(Tempo, data.get("tempo", {}), path, "tempo")
    if tempo.min_rep_s > tempo.max_rep_s:
        raise _err(path, "tempo", "min_rep_s is greater than max_rep_s")
    if counting.min_duration_s > counting.max_duration_s:
        raise _err(path, "counting", "min_duration_s is greater than max_duration_s")
    if counting.alternation == "expected" and (bilateral or counting.angle in TRUNK_ANGLES):
        raise _err(path, "counting.alternation",
                   "'expected' needs a one-sided exercise (bilateral = false) counted on a "
                   "per-side angle")
    comps = _parse_compensations(data.get("compensations", []), path)
    cues = _build(Cues, data.get("cues", {}), path, "cues")
    landmarks, sources = _parse_lists(data, path)
    description = _check_type(path, "description", data.get("description", ""), str)
    settings = _parse_settings(data.get("settings", {}), path)
    return Exercise(
        id=ex_id, name=_check_type(path, "name", data["name"], str), description=description,
        view=view, bilateral=bilateral, landmarks=tuple(landmarks), counting=counting,
        target=target, tempo=tempo, compensations=tuple(comps), cues=cues,
        sources=tuple(sources), path=str(path), settings=settings,
    )


def _parse_compensations(comps_raw: Any, path: Path) -> list[Compensation]:
    """The ``[[compensations]]`` tables: known angles, unique and unreserved ids."""
    if not isinstance(comps_raw, list):
        raise _err(path, "compensations", "expected an array of tables ([[compensations]])")
    comps: list[Compensation] = []
    for i, c in enumerate(comps_raw):
        comp = _build(Compensation, c, path, f"compensations[{i}]")
        if comp.angle not in ALL_ANGLES:
            raise _err(path, f"compensations[{i}].angle", f"unknown angle {comp.angle!r}")
        if comp.angle in TRUNK_ANGLES and comp.side != "none":
            comp = dataclasses.replace(comp, side="none")
        if comp.id in RESERVED_COMPENSATION_IDS:
            raise _err(path, f"compensations[{i}].id",
                       f"{comp.id!r} is reserved (a flag or column name of every rep: "
                       f"{', '.join(sorted(RESERVED_COMPENSATION_IDS))})")
        if any(c.id == comp.id for c in comps):
            raise _err(path, f"compensations[{i}].id", f"duplicate id {comp.id!r}")
        comps.append(comp)
    return comps


def _parse_lists(data: dict[str, Any], path: Path) -> tuple[list[str], list[str]]:
    """``landmarks`` (known names) and ``sources`` (at least one citation)."""
    landmarks = data.get("landmarks", [])
    sources = data["sources"]
    for key, seq in (("landmarks", landmarks), ("sources", sources)):
        if not isinstance(seq, list) or not all(isinstance(s, str) for s in seq):
            raise _err(path, key, "expected an array of strings")
    if not sources:
        raise _err(path, "sources", "cite at least one source for the default target")
    for name in landmarks:
        if name not in LANDMARK_INDEX:
            raise _err(path, "landmarks", f"unknown landmark {name!r}")
    return landmarks, sources


def _parse_settings(table: Any, path: Path) -> AnalysisSettings:
    """The ``[settings]`` table over the defaults."""
    if not isinstance(table, dict):
        raise _err(path, "settings", "expected a table ([settings])")
    try:
        settings = AnalysisSettings.from_mapping(table, "settings")
    except ConfigError as exc:
        raise ConfigError(f"{path}: key {exc}") from None
    return settings


def load_exercise_file(path: str | os.PathLike[str]) -> Exercise:
    """Read and validate one exercise TOML file."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: malformed TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    ex = parse_exercise(data, path)
    if ex.id != path.stem:
        raise _err(path, "id", f"{ex.id!r} does not match the file name {path.stem!r}")
    return ex


def builtin_exercises_dir() -> Path:
    """The folder of built-in definitions (installed copy or the source checkout)."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_data" / "exercises", here.parent / "exercises"):
        if candidate.is_dir():
            return candidate
    raise ConfigError("the built-in exercise library was not found (broken installation)")


def exercise_dirs(extra: str | os.PathLike[str] | None = None) -> list[Path]:
    """Folders searched for definitions, later ones overriding earlier ones."""
    dirs = [builtin_exercises_dir()]
    env = os.environ.get("REHAB_EXERCISES_DIR")
    for d in (env, extra):
        if d:
            p = Path(d)
            if not p.is_dir():
                raise ConfigError(f"{p}: exercises folder does not exist")
            dirs.append(p)
    return dirs


@functools.lru_cache(maxsize=8)
def _load_library(dirs: tuple[Path, ...]) -> dict[str, Exercise]:
    library: dict[str, Exercise] = {}
    for d in dirs:
        for path in sorted(d.glob("*.toml")):
            ex = load_exercise_file(path)
            library[ex.id] = ex
    return library


def load_library(extra_dir: str | os.PathLike[str] | None = None) -> dict[str, Exercise]:
    """All exercise definitions by id."""
    return dict(_load_library(tuple(exercise_dirs(extra_dir))))


def get_exercise(ex_id: str, extra_dir: str | os.PathLike[str] | None = None) -> Exercise:
    """One exercise by id, or a `ConfigError` listing the known ids."""
    p = Path(ex_id)
    if p.suffix == ".toml":
        return load_exercise_file(p)
    library = load_library(extra_dir)
    if ex_id not in library:
        raise ConfigError(f"unknown exercise {ex_id!r}; known: {', '.join(sorted(library))}")
    return library[ex_id]
