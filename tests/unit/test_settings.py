"""Unit: analysis settings — one place for defaults, validation, hash, TOML overrides."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from rehab.errors import ConfigError
from rehab.exercises import RESERVED_COMPENSATION_IDS, load_exercise_file
from rehab.settings import DEFAULT_SETTINGS, AnalysisSettings, describe_settings

EXERCISE = """
id = "{id}"
name = "Test squat"
view = "side"
bilateral = true
sources = ["hand-made for a test"]
[counting]
angle = "knee_flexion"
[target]
min_deg = 80
max_deg = 120
{extra}
"""


def write(tmp_path: Path, extra: str, ex_id: str = "test_squat") -> Path:
    path = tmp_path / f"{ex_id}.toml"
    path.write_text(EXERCISE.format(id=ex_id, extra=extra))
    return path


def test_every_setting_is_documented_with_its_default() -> None:
    rows = describe_settings()
    assert len(rows) == len(dataclasses.fields(AnalysisSettings)) >= 18
    assert all(doc and isinstance(default, float) for _, default, doc in rows)
    assert dict((n, d) for n, d, _ in rows) == DEFAULT_SETTINGS.to_dict()


def test_hash_identifies_the_values() -> None:
    assert DEFAULT_SETTINGS.short_hash() == AnalysisSettings().short_hash()
    assert len(DEFAULT_SETTINGS.short_hash()) == 12
    other = DEFAULT_SETTINGS.replace(high_fraction=0.7)
    assert other.short_hash() != DEFAULT_SETTINGS.short_hash()
    assert other.changed() == {"high_fraction": 0.7}
    assert AnalysisSettings.from_dict(other.to_dict()) == other


@pytest.mark.parametrize("change, message", [
    ({"low_fraction": 0.7}, "must be below high_fraction"),
    ({"cutoff_hz": 0.0}, "outside (0, 30]"),
    ({"min_visibility": float("nan")}, "finite"),
    ({"rom_points": 70.0}, "add up to 100"),
])
def test_bad_values_are_refused(change: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("]", r"\]")):
        DEFAULT_SETTINGS.replace(**change)


def test_exercise_toml_overrides_settings(tmp_path: Path) -> None:
    ex = load_exercise_file(write(tmp_path, "[settings]\nhigh_fraction = 0.7\nmax_gap_s = 0.5"))
    assert ex.settings.changed() == {"high_fraction": 0.7, "max_gap_s": 0.5}
    plain = load_exercise_file(write(tmp_path, ""))
    assert plain.settings == DEFAULT_SETTINGS


@pytest.mark.parametrize("extra, key", [
    ("[settings]\nhigh_fraktion = 0.7", "settings.high_fraktion"),
    ("[settings]\nhigh_fraction = 'high'", "settings.high_fraction"),
    ("[settings]\nlow_fraction = 0.9", "settings"),
])
def test_bad_settings_name_the_file_and_key(tmp_path: Path, extra: str, key: str) -> None:
    path = write(tmp_path, extra)
    with pytest.raises(ConfigError) as info:
        load_exercise_file(path)
    assert str(path) in str(info.value) and f"'{key}" in str(info.value)


@pytest.mark.parametrize("comp_id", sorted(RESERVED_COMPENSATION_IDS))
def test_reserved_compensation_ids_are_refused(tmp_path: Path, comp_id: str) -> None:
    path = write(tmp_path, f'[[compensations]]\nid = "{comp_id}"\nangle = "trunk_lean"\n'
                           f'max_deg = 20')
    with pytest.raises(ConfigError, match=r"compensations\[0\]\.id.*reserved") as info:
        load_exercise_file(path)
    assert str(path) in str(info.value)
