"""`AnalysisSettings`: every threshold that decides a count or a score, in one place.

The defaults below are the only place these numbers are written. An exercise's TOML file may
override any of them in a ``[settings]`` table (`AnalysisSettings.from_mapping` validates it,
naming the file and key); offline analysis and the live counter take the same object; every
``result.json`` and every stored session records the settings used with a short hash
(`AnalysisSettings.short_hash`), so a changed default never silently shifts a patient's
history: sessions analysed with different settings show different hashes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Mapping
from typing import Any

from rehab.errors import ConfigError
from rehab.limits import Range, as_float


def _setting(default: float, doc: str, low: float, high: float,
             low_open: bool = False) -> Any:
    """A documented numeric setting with its valid range."""
    return dataclasses.field(default=default, metadata={
        "doc": doc, "range": Range(low, high, low_open)})


@dataclasses.dataclass(frozen=True)
class AnalysisSettings:
    """Thresholds of kinematics, repetition counting and scoring (all documented fields)."""

    # --- kinematics
    min_visibility: float = _setting(
        0.5, "an angle is measured only where all its landmarks are at least this visible",
        0.0, 1.0)
    cutoff_hz: float = _setting(
        3.0, "zero-phase low-pass cut-off of recorded angles, Hz", 0.0, 30.0, low_open=True)
    max_gap_s: float = _setting(
        0.3, "longest run of unmeasured frames filled by linear interpolation, s", 0.0, 5.0)
    min_track_s: float = _setting(
        1.0, "runs of frames with a person shorter than this, between frames without one, are "
             "not measured (a pose the detector found for a moment), when longer runs hold "
             "most of the recording, s", 0.0, 10.0)
    min_measured_fraction: float = _setting(
        0.2, "below this fraction of frames with the primary angle measured, the analysis "
             "refuses", 0.0, 1.0)
    swap_min_confidence: float = _setting(
        0.5, "a frame whose left/right labels are decided with less than this fraction of "
             "the evidence a clean pose gives is gated, not guessed (0: never gated)",
        0.0, 1.0)
    view_tolerance_deg: float = _setting(
        30.0, "the body turned further than this from the exercise's view (side or front): "
              "the result, its reps and live coaching warn, degrees", 0.0, 90.0)
    partly_measured_fraction: float = _setting(
        0.8, "below this fraction, the result notes that the limb was partly out of view",
        0.0, 1.0)
    # --- repetitions
    range_low_percentile: float = _setting(
        5.0, "lower percentile of the smoothed angle taken as the robust rest level",
        0.0, 50.0)
    range_high_percentile: float = _setting(
        95.0, "upper percentile taken as the robust active level", 50.0, 100.0)
    low_fraction: float = _setting(
        0.35, "a rep ends once back within this fraction of its own excursion from its start",
        0.0, 1.0, low_open=True)
    high_fraction: float = _setting(
        0.65, "a rep begins once risen (high_fraction - low_fraction) x the robust range "
              "above its start; a recording opening this fraction of the range above its "
              "first low point opens in the active position", 0.0, 1.0, low_open=True)
    min_rep_fraction: float = _setting(
        0.5, "a movement smaller than this fraction of the recording's median repetition is "
             "not one (too small); the other limb's reps must be as large to count", 0.0, 1.0)
    onset_fraction: float = _setting(
        0.1, "rep boundaries sit where the angle is within this fraction of the rep's "
             "excursion from its start value", 0.0, 0.5)
    # --- scoring
    rom_points: float = _setting(60.0, "points for reaching the target band", 0.0, 100.0)
    tempo_points: float = _setting(20.0, "points for the rep's duration", 0.0, 100.0)
    compensation_points: float = _setting(
        20.0, "points shared between the exercise's compensations", 0.0, 100.0)
    max_overshoot_penalty: float = _setting(
        30.0, "most points lost (one a degree) for going beyond the band", 0.0, 100.0)
    rushed_penalty: float = _setting(
        5.0, "points lost for reaching the peak sooner than tempo.min_to_peak_s", 0.0, 100.0)
    min_tracked_fraction: float = _setting(
        0.8, "a rep measured in fewer of its frames is flagged tracking_lost and its score "
             "scaled by the measured fraction", 0.0, 1.0)
    # --- live smoothing (One-Euro filter, Casiez et al. 2012)
    live_min_cutoff_hz: float = _setting(
        1.5, "One-Euro minimum cut-off of the live angle, Hz", 0.0, 30.0, low_open=True)
    live_beta: float = _setting(
        0.02, "One-Euro speed coefficient of the live angle, 1/(deg/s)", 0.0, 10.0)
    live_d_cutoff_hz: float = _setting(
        1.0, "One-Euro cut-off of the live angle's derivative, Hz", 0.0, 30.0, low_open=True)

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            _check(f.name, getattr(self, f.name), f.metadata)
        if self.low_fraction >= self.high_fraction:
            raise ConfigError(f"settings: low_fraction {self.low_fraction:g} must be below "
                              f"high_fraction {self.high_fraction:g}")
        if self.rom_points + self.tempo_points + self.compensation_points != 100.0:
            raise ConfigError("settings: rom_points + tempo_points + compensation_points must "
                              "add up to 100")

    @property
    def range_percentiles(self) -> tuple[float, float]:
        """(low, high) percentiles of the robust range."""
        return self.range_low_percentile, self.range_high_percentile

    def to_dict(self) -> dict[str, float]:
        """Every setting by name (for ``result.json`` and the store)."""
        return {f.name: float(getattr(self, f.name)) for f in dataclasses.fields(self)}

    def short_hash(self) -> str:
        """12 hex digits identifying these values (same values, same hash)."""
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def changed(self) -> dict[str, float]:
        """The settings that differ from the defaults."""
        default = DEFAULT_SETTINGS.to_dict()
        return {k: v for k, v in self.to_dict().items() if default[k] != v}

    def replace(self, **changes: float) -> "AnalysisSettings":
        """A copy with some settings changed (validated)."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_mapping(cls, table: Mapping[str, Any], where: str = "settings",
                     base: "AnalysisSettings | None" = None) -> "AnalysisSettings":
        """Settings from a TOML table over ``base`` (default: the defaults); unknown keys and
        bad values are a `ConfigError` naming ``where`` and the key."""
        names = {f.name for f in dataclasses.fields(cls)}
        values: dict[str, float] = {}
        for key, value in table.items():
            if key not in names:
                raise ConfigError(f"'{where}.{key}': unknown setting (known: "
                                  f"{', '.join(sorted(names))})")
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(f"'{where}.{key}': expected a number, got {value!r}")
            values[key] = as_float(value)
            if isinstance(value, int) and math.isinf(values[key]):  # an int beyond any float
                raise ConfigError(f"'{where}.{key}': must be a finite number, not {value!r}")
        try:
            return dataclasses.replace(base or DEFAULT_SETTINGS, **values)
        except ConfigError as exc:
            raise ConfigError(f"'{where}': {str(exc).removeprefix('settings: ')}") from None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "AnalysisSettings":
        """Settings as recorded by `to_dict` (unknown keys from a newer rehab are ignored)."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: float(v) for k, v in data.items() if k in names})


def _check(name: str, value: Any, meta: Mapping[str, Any]) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or \
            not math.isfinite(value):
        raise ConfigError(f"settings: {name} must be a finite number, not {value!r}")
    bound = meta["range"]
    if bound.problem(value):
        raise ConfigError(f"settings: {name} = {value:g} is outside {bound}")


def describe_settings() -> list[tuple[str, float, str]]:
    """(name, default, description) of every setting, for ``rehab info`` and the docs."""
    return [(f.name, float(f.default), f.metadata["doc"])  # type: ignore[arg-type]
            for f in dataclasses.fields(AnalysisSettings)]


DEFAULT_SETTINGS = AnalysisSettings()
"""The defaults (the values written in the field definitions above)."""
