"""Unit: each part of a rep's score as a pure function, on hand-made exercises (exact).

The exercises are built here, not read from the shipped TOML files (which a
physiotherapist may edit).
"""

from __future__ import annotations

import math

import pytest

from rehab.exercises import Compensation, Target, Tempo
from rehab.model import Flag
from rehab.scoring import (
    apply_tracking,
    compensation_value,
    score_compensations,
    score_rom,
    score_tempo,
)
from rehab.settings import DEFAULT_SETTINGS as S

BAND = Target(80.0, 120.0)


def test_rom_in_band_gets_all_points() -> None:
    part, met = score_rom(100.0, 0.0, BAND, rest_low=True, settings=S)
    assert (part.points, part.flags, met) == (60.0, (), True)


def test_rom_short_loses_the_missing_share_of_the_needed_excursion() -> None:
    part, met = score_rom(60.0, 0.0, BAND, rest_low=True, settings=S)
    assert part.points == 60.0 * (1 - 20.0 / 80.0) and part.flags == (Flag.SHORT_OF_TARGET,)
    assert not met
    part, _ = score_rom(60.0, 40.0, BAND, rest_low=True, settings=S)  # needed 40, missing 20
    assert part.points == 30.0


def test_rom_beyond_costs_one_point_a_degree_up_to_the_cap() -> None:
    part, met = score_rom(130.0, 0.0, BAND, rest_low=True, settings=S)
    assert (part.points, part.flags, met) == (50.0, (Flag.BEYOND_TARGET,), False)
    part, _ = score_rom(200.0, 0.0, BAND, rest_low=True, settings=S)
    assert part.points == 60.0 - 30.0


def test_rom_of_an_exercise_resting_high_is_mirrored() -> None:
    # knee extension resting flexed at 90, target 0-10 deg of flexion: peak = minimum
    band = Target(0.0, 10.0)
    assert score_rom(5.0, 90.0, band, rest_low=False, settings=S)[0].points == 60.0
    short, met = score_rom(50.0, 90.0, band, rest_low=False, settings=S)
    assert short.points == 60.0 * (1 - 40.0 / 80.0) and not met


def test_tempo_parts() -> None:
    tempo = Tempo(min_rep_s=2.0, max_rep_s=8.0, min_to_peak_s=0.8)
    assert score_tempo(4.0, 2.0, tempo, S).points == 20.0
    fast = score_tempo(1.0, 0.5, tempo, S)
    assert (fast.points, fast.flags) == (10.0, (Flag.TOO_FAST,))  # rushed not added twice
    slow = score_tempo(16.0, 8.0, tempo, S)
    assert (slow.points, slow.flags) == (10.0, (Flag.TOO_SLOW,))
    rushed = score_tempo(4.0, 0.5, tempo, S)
    assert (rushed.points, rushed.flags) == (15.0, (Flag.RUSHED,))


def test_compensations_share_their_points() -> None:
    lean = Compensation(id="lean", angle="trunk_lean", max_deg=20.0)
    hike = Compensation(id="hike", angle="pelvic_obliquity", max_deg=10.0, measure="change")
    both = (lean, hike)
    assert score_compensations({"lean": 10.0, "hike": 5.0}, both, S).points == 20.0
    one = score_compensations({"lean": 30.0, "hike": 5.0}, both, S)
    # lean 50% over its limit: half its 10-point share plus half the rest = 7.5 lost
    assert (one.points, one.flags) == (12.5, ("lean",))
    gone = score_compensations({"lean": 40.0, "hike": math.nan}, both, S)
    assert (gone.points, gone.flags) == (10.0, ("lean",))  # not measurable costs nothing
    assert compensation_value(lean, 30.0, 5.0, 10.0) == 30.0
    assert compensation_value(hike, 12.0, 2.0, 10.0) == 8.0


def test_tracking_scales_the_total() -> None:
    assert apply_tracking(100.0, 0.9, S) == (100, ())
    assert apply_tracking(100.0, 0.5, S) == (50, (Flag.TRACKING_LOST,))
    assert apply_tracking(130.0, 1.0, S) == (100, ())


def test_weights_come_from_the_settings() -> None:
    heavy = S.replace(rom_points=80.0, tempo_points=10.0, compensation_points=10.0)
    assert score_rom(100.0, 0.0, BAND, True, heavy)[0].points == 80.0
    assert score_tempo(0.5, 0.2, Tempo(), heavy).points == pytest.approx(5.0)
