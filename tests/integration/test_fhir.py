"""Integration: a stored patient history as a FHIR R4 Bundle (`rehab.exports.fhir`), validated
by a maintained FHIR model library (``fhir.resources``, its R4B models), with exact values
from synthetic sessions whose reps are known, and on development-set recordings.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fhir.resources.R4B.bundle import Bundle

import rehab
from rehab.analysis import analyze_sequence
from rehab.exercises import get_exercise
from rehab.exports.fhir import LOCAL_SYSTEM, LOINC, LOINC_SYSTEM, fhir_bundle, write_bundle
from rehab.model import Analysis
from rehab.store import open_store
from rehab.synthetic import rep_trajectory, synthetic_sequence

README = Path(__file__).resolve().parents[2] / "README.md"


def _analysis(exercise: str, side: str, n: int, peak: float, rest: float = 0.0,
              angle: str | None = None, view: str = "side",
              target: tuple[float, float] | None = None) -> Analysis:
    ex = get_exercise(exercise)
    if target is not None:
        ex = ex.with_target(*target)  # as `rehab analyze --patient` applies a prescription
    t, x = rep_trajectory(n, 30.0, rest=rest, peak=peak)
    extra = {"hip_flexion": 0.8 * x} if exercise == "squat" else {}
    seq = synthetic_sequence(t, {angle or ex.counting.angle: x, **extra}, view=view)  # type: ignore[arg-type]
    return analyze_sequence(seq, ex, side=side)


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Patient ``p1`` ("Ada Lovelace", left side affected): three prescriptions, five camera
    sessions (one interrupted, one with no rep) and one logged without a camera."""
    path = tmp_path_factory.mktemp("fhir") / "clinic.sqlite"
    with open_store(path) as st:
        st.add_patient("p1", "Ada Lovelace", affected_side="left")
        st.prescribe("p1", "shoulder_abduction", 80, 120, reps=10, sets=3, side="left",
                     start=dt.date(2024, 3, 1), end=dt.date(2024, 3, 31))
        st.prescribe("p1", "elbow_flexion", 100, 140, reps=8, sets=2, side="right",
                     start=dt.date(2024, 3, 1))
        st.prescribe("p1", "squat", 80, 130, reps=10, sets=3, side="both",
                     start=dt.date(2024, 4, 1))
        # an arm raised out to the side seen from the front: left shoulder abduction
        abd = _analysis("shoulder_abduction", "left", 3, 110.0, angle="shoulder_flexion",
                        view="front", target=(80, 120))
        st.record_analysis("p1", abd, dt.datetime(2024, 3, 4, 9, 0))
        st.record_analysis("p1", _analysis("elbow_flexion", "right", 4, 120.0, rest=10.0,
                                           target=(100, 140)), dt.datetime(2024, 3, 5, 9))
        st.record_analysis("p1", _analysis("squat", "right", 3, 100.0, target=(80, 130)),
                           dt.datetime(2024, 4, 6, 9))
        st.record_analysis("p1", _analysis("knee_extension", "left", 2, 5.0, rest=90.0),
                           dt.datetime(2024, 4, 7, 9))
        still = _analysis("squat", "right", 0, 0.0)
        assert still.rep_count == 0
        st.record_analysis("p1", still, dt.datetime(2024, 4, 8, 9))
        live = st.begin_session("p1", "squat", "right", dt.datetime(2024, 4, 9, 9), "camera 0",
                                "live")
        for rep in _analysis("squat", "right", 2, 90.0).reps:
            live.add_rep(rep)  # never finished: the camera was unplugged
        st.log_session("p1", "squat", dt.date(2024, 4, 10), sets=3, reps=10)
    return path


def _bundle(path: Path, **kw: Any) -> dict[str, Any]:
    with open_store(path) as st:
        return fhir_bundle(st, "p1", **kw)


def _resources(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def _codes(concept: dict[str, Any], system: str) -> list[str]:
    return [c["code"] for c in concept["coding"] if c["system"] == system]


def _component(obs: dict[str, Any], code: str) -> list[dict[str, Any]]:
    return [c for c in obs["component"] if _codes(c["code"], LOCAL_SYSTEM) == [code]]


def test_the_bundle_is_valid_fhir_r4(history: Path) -> None:
    assert rehab.fhir_bundle is fhir_bundle  # the public name the README gives
    bundle = _bundle(history)
    parsed = Bundle.model_validate(bundle)
    assert parsed.type == "collection"
    kinds = [e.resource.get_resource_type() for e in parsed.entry]
    assert kinds.count("Patient") == 1 and kinds.count("Device") == 1
    assert kinds.count("Goal") == 3
    # abduction, elbow, squat left + right, knee extension, the empty squat, the live squat
    # (left + right: its reps have both sides' peaks)
    assert kinds.count("Observation") == 8
    urls = [e["fullUrl"] for e in bundle["entry"]]
    assert len(set(urls)) == len(urls)
    refs = re.findall(r'"reference": "([^"]+)"', json.dumps(bundle))
    assert refs and set(refs) <= set(urls)  # every reference resolves inside the bundle


def test_observations_hold_each_sessions_peak_target_reps_method_and_device(
        history: Path) -> None:
    bundle = _bundle(history)
    with open_store(history) as st:
        sessions = {s.started.date(): s for s in st.sessions("p1")}
        reps = {day: st.reps(s.id, counted_only=True) for day, s in sessions.items()}
    obs = {(o["effectivePeriod"]["start"][:10] if "effectivePeriod" in o
            else o["effectiveDateTime"][:10], _codes(o["code"], LOCAL_SYSTEM)[0]): o
           for o in _resources(bundle, "Observation")}
    device = _resources(bundle, "Device")[0]
    for o in obs.values():
        assert o["method"]["coding"][0]["code"] == "video-pose-estimation"
        assert "video pose estimation" in o["method"]["text"]
        assert o["device"]["reference"] == f"urn:uuid:{device['id']}"
        assert o["subject"]["reference"].startswith("urn:uuid:")

    abd = obs[("2024-03-04", "left_shoulder_abduction.max")]
    day = dt.date(2024, 3, 4)
    assert _codes(abd["code"], LOINC_SYSTEM) == ["41299-9"]
    assert abd["status"] == "final"
    peak = max(r.peak_deg for r in reps[day])
    assert math.isclose(peak, 110.0, abs_tol=1.0)
    assert abd["valueQuantity"] == {"value": round(peak, 1), "unit": "deg",
                                    "system": "http://unitsofmeasure.org", "code": "deg"}
    rr = abd["referenceRange"][0]
    assert (rr["low"]["value"], rr["high"]["value"]) == (80.0, 120.0)
    assert rr["type"]["coding"][0]["code"] == "treatment"
    assert _component(abd, "reps-counted")[0]["valueInteger"] == 3 == len(reps[day])
    assert _component(abd, "reps-in-target")[0]["valueInteger"] == 3
    assert [c["valueQuantity"]["value"] for c in _component(abd, "rep-peak")] == [
        round(r.peak_deg, 1) for r in reps[day]]
    start = dt.datetime.fromisoformat(abd["effectivePeriod"]["start"])
    assert start.utcoffset() is not None  # a time of day always carries its offset
    assert start.replace(tzinfo=None) == sessions[day].started

    elbow = obs[("2024-03-05", "right_elbow_flexion.max")]
    assert _codes(elbow["code"], LOINC_SYSTEM) == ["41355-9"]
    assert math.isclose(elbow["valueQuantity"]["value"], 120.0, abs_tol=1.0)

    # a bilateral exercise: one Observation per side, from each side's own peaks
    for side in ("left", "right"):
        squat = obs[("2024-04-06", f"{side}_knee_flexion.max")]
        assert not _codes(squat["code"], LOINC_SYSTEM)  # no documented LOINC code
        assert squat["bodySite"]["text"] == f"{side} knee"
        want = max(getattr(r, f"{side}_peak_deg") for r in reps[dt.date(2024, 4, 6)])
        assert squat["valueQuantity"]["value"] == round(want, 1)
        assert len(_component(squat, "rep-peak")) == 3

    # rest high (seated knee extension): the session's lowest knee flexion, coded .min
    ext = obs[("2024-04-07", "left_knee_flexion.min")]
    assert ext["code"]["text"].endswith("lowest angle reached")
    assert ext["valueQuantity"]["value"] == round(min(r.peak_deg for r in reps[dt.date(2024, 4, 7)]), 1)
    assert ext["valueQuantity"]["value"] < 15

    empty = obs[("2024-04-08", "right_knee_flexion.max")]
    assert "valueQuantity" not in empty and empty["dataAbsentReason"]["coding"][0]["code"]
    assert _component(empty, "reps-counted")[0]["valueInteger"] == 0

    live = obs[("2024-04-09", "right_knee_flexion.max")]
    assert live["status"] == "preliminary"  # the session never finished
    assert "effectiveDateTime" in live and _component(live, "reps-counted")[0]["valueInteger"] == 2


def test_goals_carry_the_prescriptions_and_link_their_sessions(history: Path) -> None:
    bundle = _bundle(history)
    goals = {g["description"]["text"].split(":")[0]: g for g in _resources(bundle, "Goal")}
    abd = goals["shoulder_abduction, left side"]
    target = abd["target"][0]
    assert (target["detailRange"]["low"]["value"], target["detailRange"]["high"]["value"]) == (
        80.0, 120.0)
    assert _codes(target["measure"], LOINC_SYSTEM) == ["41299-9"]
    assert target["dueDate"] == "2024-03-31" and abd["lifecycleStatus"] == "completed"
    observations = {o["id"]: o for o in _resources(bundle, "Observation")}
    linked = [observations[r["reference"].removeprefix("urn:uuid:")]
              for r in abd["outcomeReference"]]
    assert [_codes(o["code"], LOCAL_SYSTEM) for o in linked] == [["left_shoulder_abduction.max"]]
    squat = goals["squat, both sides"]
    assert [_codes(t["measure"], LOCAL_SYSTEM) for t in squat["target"]] == [
        ["left_knee_flexion.max"], ["right_knee_flexion.max"]]
    assert squat["lifecycleStatus"] == "active" and "dueDate" not in squat["target"][0]
    assert len(squat["outcomeReference"]) == 5  # both sides twice, and the empty session


def test_the_period_picks_sessions_and_the_prescriptions_in_force(history: Path) -> None:
    bundle = _bundle(history, start=dt.date(2024, 3, 5), end=dt.date(2024, 4, 6))
    days = sorted(o["effectivePeriod"]["start"][:10] for o in _resources(bundle, "Observation"))
    assert days == ["2024-03-05", "2024-04-06", "2024-04-06"]
    assert len(_resources(bundle, "Goal")) == 3
    march = _bundle(history, start=dt.date(2024, 3, 1), end=dt.date(2024, 3, 4))
    assert len(_resources(march, "Observation")) == 1
    assert {g["description"]["text"].split(":")[0] for g in _resources(march, "Goal")} == {
        "shoulder_abduction, left side", "elbow_flexion, right side"}


def test_no_name_or_file_name_goes_out_unless_asked_and_ids_are_stable(history: Path) -> None:
    plain, again = _bundle(history), _bundle(history)
    text = json.dumps(plain)
    assert "Ada" not in text and "Lovelace" not in text and "camera 0" not in text
    patient = _resources(plain, "Patient")[0]
    assert patient["identifier"][0]["value"] == "p1" and "name" not in patient
    assert [e["fullUrl"] for e in plain["entry"]] == [e["fullUrl"] for e in again["entry"]]
    named = _resources(_bundle(history, include_name=True), "Patient")[0]
    assert named["name"] == [{"text": "Ada Lovelace"}]
    Bundle.model_validate(_bundle(history, include_name=True))


def _readme_loinc_table() -> dict[str, tuple[str, str]]:
    """The README's table of the LOINC codes used: local code -> (LOINC code, long name)."""
    text = README.read_text()
    section = text.split("<!-- loinc-codes -->")[1].split("<!-- /loinc-codes -->")[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and re.fullmatch(r"\d{4,5}-\d", cells[1]):
            rows[cells[0]] = (cells[1], cells[2])
    return rows


def test_the_loinc_codes_used_are_the_ones_the_readme_documents(history: Path) -> None:
    documented = _readme_loinc_table()
    assert documented == {k: (code, name) for k, (code, name, _) in LOINC.items()}
    assert all(source for _, _, source in LOINC.values())  # each one says where it was read
    used = re.findall(r'"system": "http://loinc.org", "code": "([^"]+)", "display": "([^"]+)"',
                      json.dumps(_bundle(history)))
    assert used and set(used) <= set(documented.values())


def test_write_bundle_writes_owner_only_json(history: Path, tmp_path: Path) -> None:
    out = tmp_path / "p1.json"
    with open_store(history) as st:
        written = write_bundle(st, "p1", out)
    assert json.loads(out.read_text()) == written
    assert out.stat().st_mode & 0o077 == 0


def test_a_development_set_history_exports_and_validates(shared_data: Path,
                                                         tmp_path: Path) -> None:
    """Two development-set recordings stored for a patient: the Bundle validates and each
    Observation's value is its session's highest counted peak."""
    with open_store(tmp_path / "c.sqlite") as st:
        st.add_patient("dev", "Dev Set")
        for i, (name, ex) in enumerate((("squat_02.npz", "squat"),
                                        ("elbow_flexion_03.npz", "elbow_flexion"))):
            a = rehab.analyze(shared_data / "landmarks" / name, ex)
            assert a.rep_count > 0
            st.record_analysis("dev", a, dt.datetime(2024, 5, 1 + i, 10))
        bundle = fhir_bundle(st, "dev")
        stored = {s.id: s for s in st.sessions("dev")}
        reps = {sid: st.reps(sid, counted_only=True) for sid in stored}
    Bundle.model_validate(bundle)
    observations = _resources(bundle, "Observation")
    assert len(observations) >= 2
    for o in observations:
        column = _codes(o["code"], LOCAL_SYSTEM)[0].split(".")[0]
        day = o["effectivePeriod"]["start"][:10]
        (sid,) = [k for k, s in stored.items() if s.started.date().isoformat() == day]
        side = column.split("_")[0]
        peaks = [getattr(r, f"{side}_peak_deg") if column != stored[sid].angle else r.peak_deg
                 for r in reps[sid] if "tracking_lost" not in r.flags]
        finite = [p for p in peaks if p is not None and np.isfinite(p)]
        assert o["valueQuantity"]["value"] == round(max(finite), 1)


def test_a_one_sided_prescription_lost_tracking_and_a_date_alone(tmp_path: Path) -> None:
    """A bilateral squat prescribed for the left: the band judges the left knee only; a rep
    whose tracking was lost does not make the peak; a session stored with a day alone has
    that day as its effective date."""
    with open_store(tmp_path / "c.sqlite") as st:
        st.add_patient("p1", "P")
        st.prescribe("p1", "squat", 80, 130, reps=10, sets=3, side="left",
                     start=dt.date(2024, 1, 1))
        a = _analysis("squat", "left", 3, 100.0, target=(80, 130))
        first = a.reps[0]
        lost = dataclasses.replace(first, peak_deg=150.0, left_peak_deg=150.0,
                                   right_peak_deg=150.0, flags=(*first.flags, "tracking_lost"))
        st.record_analysis("p1", a.replace(reps=(lost, *a.reps[1:])), dt.datetime(2024, 2, 1))
        bundle = fhir_bundle(st, "p1")
    Bundle.model_validate(bundle)
    obs = {_codes(o["code"], LOCAL_SYSTEM)[0]: o for o in _resources(bundle, "Observation")}
    left, right = obs["left_knee_flexion.max"], obs["right_knee_flexion.max"]
    assert "referenceRange" in left and "referenceRange" not in right
    for o in (left, right):
        assert o["effectiveDateTime"] == "2024-02-01" and "effectivePeriod" not in o
        assert math.isclose(o["valueQuantity"]["value"], 100.0, abs_tol=1.0)  # not the 150
        assert [c["valueQuantity"]["value"] for c in _component(o, "rep-peak")][0] == 150.0
