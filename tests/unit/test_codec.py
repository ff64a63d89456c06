"""Unit: the codec is derived from the model's fields, and round-trips."""

from __future__ import annotations

import dataclasses
import json
import math

from rehab import codec
from rehab.model import Distances, Flag, Note, NoteCode, Rep, RepKind, Scale


def rep(**changes) -> Rep:
    base = dict(index=2, kind=RepKind.COMPLETE, start_frame=10, peak_frame=20, end_frame=30,
                start_s=0.333333, peak_s=0.666666, end_s=1.0, min_deg=1.23456, max_deg=98.7654,
                rom_deg=97.53084, peak_deg=98.7654, target_met=True, duration_s=0.666667,
                time_to_peak_s=0.333333, tracked_fraction=0.95, compensations={"lean": 12.3456,
                "hike": None}, score=87, flags=(Flag.TOO_FAST, "lean"),
                distances_cm=Distances(hip_excursion_cm=40.857, heel_rise_cm=None))
    base.update(changes)
    return Rep(**base)


def test_rep_round_trips_through_json_and_the_store_row() -> None:
    r = rep()
    assert codec.decode(Rep, json.loads(json.dumps(codec.encode(r)))) == r
    row = dict(zip(codec.REP_DB_COLUMNS, codec.rep_db_values(r)))
    assert codec.rep_from_db(row) == r
    no_dist = rep(distances_cm=None, min_deg=math.nan)
    back = codec.rep_from_db(dict(zip(codec.REP_DB_COLUMNS, codec.rep_db_values(no_dist))))
    assert back.distances_cm is None and math.isnan(back.min_deg)


def test_every_field_reaches_every_output() -> None:
    r = rep()
    doc = codec.encode(r, rounded=True)
    assert list(doc) == [f.name for f in dataclasses.fields(Rep)]
    assert doc["start_s"] == 0.3333 and doc["min_deg"] == 1.235
    assert doc["distances_cm"]["hip_excursion_cm"] == 40.86
    columns = codec.rep_csv_columns(["lean", "hike"], distances=True)
    scalar = [f.name for f in dataclasses.fields(Rep)
              if f.name not in ("compensations", "distances_cm", "flags")]
    assert columns[:len(scalar)] == scalar
    assert {"flags", "lean_deg", "hike_deg"} | {f.name for f in dataclasses.fields(Distances)} \
        <= set(columns)
    row = codec.rep_csv_row(r, ["lean", "hike"], distances=True)
    assert (row["flags"], row["lean_deg"], row["hike_deg"]) == ("too_fast;lean", "12.346", "")
    assert row["kind"] == "complete" and row["target_met"] == "true"
    db = set(codec.REP_DB_COLUMNS)
    assert {"rep_index", "flags", "compensations"} | set(codec.DISTANCE_FIELDS) <= db


def test_typed_values_stay_typed() -> None:
    r = rep(kind="too_short", flags=("tracking_lost", "lean"))
    assert r.kind is RepKind.TOO_SHORT and r.flags[0] is Flag.TRACKING_LOST
    assert r.flags == ("tracking_lost", "lean")  # string enums compare as their text


def test_notes_are_sentences_with_a_code() -> None:
    n = Note(NoteCode.NO_PERSON, "no person detected in 2 of 12 frames", {"frames": 2})
    assert n == "no person detected in 2 of 12 frames" and "2 of 12" in n
    assert codec.encode(n) == {"code": "no_person", "text": str(n), "data": {"frames": 2}}
    back = codec.notes_from_json(codec.notes_json([n, "plain"]))
    assert back[0].code == "no_person" and back[0].data == {"frames": 2}
    assert back[1].code == NoteCode.TEXT and back[1] == "plain"


def test_nested_models_round_trip() -> None:
    s = Scale(0.353, "patient height 170 cm", "+/-3%")
    assert codec.decode(Scale, codec.encode(s)) == s
