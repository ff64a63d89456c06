"""A patient's history as a FHIR R4 Bundle (``rehab patient export --fhir``).

The Bundle (type ``collection``) holds:

- the **Patient**, identified by the store's patient id (`PATIENT_ID_SYSTEM`); the display
  name only when asked for;
- one **Observation** per camera session and measured joint side: the session's peak angle
  (`peak_of`) in degrees (UCUM ``deg``), coded with the LOINC code of that joint, side and
  movement where one is documented (`LOINC`, the README's table) and always with rehab's
  own code (`LOCAL_SYSTEM`, ``right_knee_flexion.max``); the method "video pose
  estimation", the Device, the effective time, the target band as a ``treatment``
  reference range, and the repetitions as components;
- one **Device** per pose model and rehab version used;
- one **Goal** per prescription, its target the prescribed band, its outcomes the
  Observations measured while it was in force.

Sessions logged without a camera have no angles and give no Observation. Nothing else about
the patient goes out: no file name of a recording (it may hold a name), no notes.
Resource ids are stable (`uuid.uuid5`): exporting the same history again gives the same ids.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import os
import uuid
from pathlib import Path
from typing import Any, Iterable, Sequence

from rehab import __version__
from rehab.model import TRUNK_ANGLES, Rep
from rehab.store import Patient, Prescription, SessionRecord, Store

__all__ = ["LOCAL_SYSTEM", "LOINC", "LOINC_SYSTEM", "PATIENT_ID_SYSTEM", "check_bundle_path",
           "fhir_bundle", "local_code", "peak_of", "write_bundle"]

LOINC_SYSTEM = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
LOCAL_SYSTEM = "urn:uuid:4f1c2a9e-7b65-5d0c-9a4e-2c61b8f0d3a7"
"""rehab's own code system (documented in the README): joint-angle peaks
(``<side>_<angle>.max|.min``), ``video-pose-estimation``, ``reps-counted``,
``reps-in-target``, ``rep-peak``."""
PATIENT_ID_SYSTEM = "urn:uuid:0b8e6f52-3d1a-5c47-8e29-7a4d9c1f6b35"
"""The namespace of rehab's patient ids (the id a clinician gave ``rehab patient add``)."""
_IDS = uuid.UUID("9c7d3e1a-2b4f-5a68-b0c3-5e8f1d2a4b69")

LOINC: dict[str, tuple[str, str, str]] = {
    "left_shoulder_abduction.max": (
        "41299-9", "Shoulder - left Abduction Active Range of Motion Quantitative",
        "https://www.healthassure.in/codes/loinc-41299-9-shoulder-left-abduction-active-"
        "range-of-motion-quantitative (status ACTIVE)"),
    "right_elbow_flexion.max": (
        "41355-9", "Elbow - right Flexion Active Range of Motion Quantitative",
        "HL7 C-CDA Companion Guide, USCDI guidance, Clinical Tests: Result Observation "
        "example (physical quantity in deg)"),
}
"""Local code -> (LOINC code, LOINC long name, where it was confirmed). Only codes whose
number and long name were read in a published source are here; every other angle carries
the local code alone (the README lists the candidates that could not be confirmed)."""

_CATEGORY = {"coding": [{
    "system": "http://terminology.hl7.org/CodeSystem/observation-category",
    "code": "exam", "display": "Exam"}]}
_TREATMENT = {"coding": [{
    "system": "http://terminology.hl7.org/CodeSystem/referencerange-meaning",
    "code": "treatment", "display": "Treatment Range"}]}
_METHOD = {"coding": [{"system": LOCAL_SYSTEM, "code": "video-pose-estimation",
                       "display": "Video pose estimation"}],
           "text": "video pose estimation (one camera, MediaPipe pose landmarks, rehab)"}
_NO_PEAK = {"coding": [{
    "system": "http://terminology.hl7.org/CodeSystem/data-absent-reason",
    "code": "unknown", "display": "Unknown"}],
    "text": "no counted repetition with a measured peak"}


def _id(*parts: object) -> str:
    return str(uuid.uuid5(_IDS, "/".join(str(p) for p in parts)))


def _ref(rid: str) -> dict[str, str]:
    return {"reference": f"urn:uuid:{rid}"}


def _deg(value: float) -> dict[str, Any]:
    return {"value": round(float(value), 1), "unit": "deg", "system": UCUM, "code": "deg"}


def _words(column: str) -> str:
    return column.replace("_", " ")


def local_code(column: str, rest: str) -> str:
    """rehab's code of a session's peak on ``column``: ``.max`` when the movement goes up
    from a low rest (the highest angle reached), ``.min`` from a high rest (the lowest)."""
    return f"{column}.{'max' if rest == 'low' else 'min'}"


def angle_concept(column: str, rest: str) -> dict[str, Any]:
    """The CodeableConcept of a peak on ``column``: the LOINC coding where `LOINC` has
    one, then the local coding."""
    code = local_code(column, rest)
    which = "highest" if rest == "low" else "lowest"
    text = f"{_words(column).capitalize()}, active: {which} angle reached"
    codings = []
    if code in LOINC:
        number, name, _ = LOINC[code]
        codings.append({"system": LOINC_SYSTEM, "code": number, "display": name})
    codings.append({"system": LOCAL_SYSTEM, "code": code, "display": text})
    return {"coding": codings, "text": text}


def peak_of(values: Iterable[float], rest: str) -> float | None:
    """The session's peak: the highest of the reps' peaks (rest low) or the lowest (rest
    high); None without a measured one."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return None
    return max(finite) if rest == "low" else min(finite)


@dataclasses.dataclass(frozen=True)
class _Side:
    column: str
    """The angle column measured (``left_knee_flexion``, ``trunk_lean``)."""
    side: str
    """``left``, ``right`` or ``none`` (trunk)."""
    peaks: tuple[tuple[Rep, float], ...]
    """Each counted rep and its peak on this side."""


def measured_sides(session: SessionRecord, reps: Sequence[Rep]) -> list[_Side]:
    """The joint sides a session measured, each with its reps' peaks: both sides of a
    bilateral exercise (per-rep peaks of each side), each side of one done in turn, else the
    analysed side."""
    counted = [r for r in reps if r.counted]
    name = session.angle_name
    if name == session.angle:  # a trunk angle: no side
        return [_Side(session.angle, "none", tuple((r, r.peak_deg) for r in counted))]
    sym = session.symmetry
    bilateral = (sym is not None and sym.basis == "bilateral") or any(
        r.symmetry_pct is not None for r in counted)  # as the report tells them apart
    if bilateral:
        out = []
        for side in ("left", "right"):
            pairs = tuple((r, v) for r in counted
                          if (v := getattr(r, f"{side}_peak_deg")) is not None)
            if pairs:
                out.append(_Side(f"{side}_{name}", side, pairs))
        return out
    if session.alternating:
        return [_Side(f"{side}_{name}", side,
                      tuple((r, r.peak_deg) for r in counted if r.side == side))
                for side in ("left", "right") if any(r.side == side for r in counted)]
    return [_Side(session.angle, session.side, tuple((r, r.peak_deg) for r in counted))]


def _usable(rep: Rep, value: float) -> bool:
    """A peak that counts for the session's peak (as in the report: measured, and tracking
    not lost during the rep)."""
    return math.isfinite(value) and "tracking_lost" not in rep.flags


def _prescription_for(prescriptions: Sequence[Prescription], session: SessionRecord
                      ) -> Prescription | None:
    active = [p for p in prescriptions
              if p.exercise_id == session.exercise_id and p.active_on(session.day)]
    return active[-1] if active else None


def _target_for(session: SessionRecord, side: str, rx: Prescription | None
                ) -> tuple[float, float] | None:
    """The band a side was measured against: the one stored with the session (the reps
    were scored against it), else the prescription in force; only for the side it was
    set for (a prescription for one side does not judge the other)."""
    for_side = rx.side if rx is not None else (session.involved or session.side)
    if for_side not in (None, "", "both", "none") and side not in (for_side, "none"):
        return None
    if session.target_min is not None and session.target_max is not None:
        return session.target_min, session.target_max
    if rx is not None:
        return rx.target_min, rx.target_max
    return None


def _when(t: dt.datetime, date_only: bool) -> str:
    """FHIR dateTime: a day alone, or the local time with its UTC offset."""
    if date_only:
        return t.date().isoformat()
    return t.astimezone().isoformat(timespec="seconds")


def _component(code: str, display: str, text: str, **value: Any) -> dict[str, Any]:
    return {"code": {"coding": [{"system": LOCAL_SYSTEM, "code": code, "display": display}],
                     "text": text}, **value}


def _observation(oid: str, patient_ref: dict[str, str], device_ref: dict[str, str],
                 session: SessionRecord, side: _Side,
                 target: tuple[float, float] | None) -> dict[str, Any]:
    usable = [(r, v) for r, v in side.peaks if _usable(r, v)]
    peak = peak_of((v for _, v in usable), session.rest)
    obs: dict[str, Any] = {
        "resourceType": "Observation", "id": oid,
        "status": "preliminary" if session.interrupted else "final",
        "category": [_CATEGORY],
        "code": angle_concept(side.column, session.rest),
        "subject": patient_ref,
    }
    if session.ended is not None and not session.date_only:
        obs["effectivePeriod"] = {"start": _when(session.started, False),
                                  "end": _when(session.ended, False)}
    else:
        obs["effectiveDateTime"] = _when(session.started, session.date_only)
    if peak is None:
        obs["dataAbsentReason"] = _NO_PEAK
    else:
        obs["valueQuantity"] = _deg(peak)
    if side.side != "none":
        obs["bodySite"] = {"text": f"{side.side} {session.angle_name.split('_')[0]}"}
    obs["method"] = _METHOD
    obs["device"] = device_ref
    if target is not None:
        obs["referenceRange"] = [{"low": _deg(target[0]), "high": _deg(target[1]),
                                  "type": _TREATMENT, "text": "prescribed target band"}]
    components = [_component("reps-counted", "Repetitions counted",
                             f"{session.exercise_name}: repetitions counted",
                             valueInteger=len(side.peaks))]
    if target is not None:
        inside = sum(1 for _, v in side.peaks
                     if math.isfinite(v) and target[0] <= v <= target[1])
        components.append(_component("reps-in-target", "Repetitions within the target band",
                                     "repetitions whose peak lies in the target band",
                                     valueInteger=inside))
    for rep, value in side.peaks:
        item = _component("rep-peak", "Peak angle of one repetition",
                          f"repetition {rep.index} peak angle")
        if math.isfinite(value):
            item["valueQuantity"] = _deg(value)
        else:
            item["dataAbsentReason"] = _NO_PEAK | {"text": "peak not measured"}
        components.append(item)
    obs["component"] = components
    return obs


def _device(did: str, session: SessionRecord) -> dict[str, Any]:
    versions = [{"type": {"text": "rehab"}, "value": session.software_version or "unknown"}]
    if session.model_sha256:
        versions.append({"type": {"text": "pose model sha256"}, "value": session.model_sha256})
    return {"resourceType": "Device", "id": did,
            "deviceName": [{"name": session.model or "MediaPipe pose landmarker",
                            "type": "model-name"}],
            "type": {"text": "video pose estimation software (rehab, MediaPipe pose)"},
            "version": versions}


def _goal(gid: str, patient_ref: dict[str, str], rx: Prescription, columns: list[str],
          rest: str, outcomes: list[str], today: dt.date) -> dict[str, Any]:
    ended = rx.end is not None and rx.end < today
    side = {"left": ", left side", "right": ", right side", "both": ", both sides"}.get(
        rx.side or "", "")
    goal: dict[str, Any] = {
        "resourceType": "Goal", "id": gid,
        "lifecycleStatus": "completed" if ended else "active",
        "description": {"text": f"{rx.exercise_id}{side}: peak angle {rx.target_min:g}-"
                                f"{rx.target_max:g} deg, {rx.sets} x {rx.reps} repetitions, "
                                f"{rx.days_per_week} session(s) a week"},
        "subject": patient_ref,
    }
    if rx.start is not None:
        goal["startDate"] = rx.start.isoformat()
    targets = []
    measures: list[str | None] = [*columns] or [None]  # a band of an unknown exercise: no measure
    for column in measures:
        target: dict[str, Any] = {"detailRange": {"low": _deg(rx.target_min),
                                                  "high": _deg(rx.target_max)}}
        if column is not None:
            target["measure"] = angle_concept(column, rest)
        if rx.end is not None:
            target["dueDate"] = rx.end.isoformat()
        targets.append(target)
    goal["target"] = targets
    if outcomes:
        goal["outcomeReference"] = [_ref(o) for o in outcomes]
    return goal


def _prescribed_columns(rx: Prescription, sessions: Sequence[SessionRecord]
                        ) -> tuple[list[str], str]:
    """The angle columns (and the rest position) a prescription's band is about: its side
    (both sides for ``both``; without a side, the side of its exercise's latest session) of
    its exercise's angle, from that session or else the exercise library; none when
    neither knows the exercise."""
    mine = [s for s in sessions if s.exercise_id == rx.exercise_id and s.angle]
    if mine:
        name, rest, last_side = mine[-1].angle_name, mine[-1].rest, mine[-1].side
    else:
        from rehab.errors import ConfigError
        from rehab.exercises import get_exercise

        try:
            ex = get_exercise(rx.exercise_id)
        except ConfigError:
            return [], "low"
        name, rest, last_side = ex.counting.angle, ex.counting.rest, ""
    if name in TRUNK_ANGLES:
        return [name], rest
    sides = {"left": ["left"], "right": ["right"], "both": ["left", "right"]}.get(
        rx.side or "", [last_side] if last_side in ("left", "right") else [])
    return [f"{side}_{name}" for side in sides], rest


def fhir_bundle(store: Store, patient_id: str, start: dt.date | None = None,
                end: dt.date | None = None, include_name: bool = False,
                now: dt.datetime | None = None) -> dict[str, Any]:
    """The FHIR R4 Bundle of a patient's camera sessions from ``start`` to ``end``
    (inclusive days) and the prescriptions in force during them."""
    patient = store.get_patient(patient_id)
    sessions = store.sessions(patient.id, start, end)
    reps = store.reps_for(s.id for s in sessions)
    prescriptions = store.prescriptions(patient.id)
    now = (now or dt.datetime.now()).astimezone()
    pid = _id("patient", patient.id)
    patient_ref = _ref(pid)
    entries: list[dict[str, Any]] = [_patient(pid, patient, include_name)]
    devices: dict[tuple[str, str, str], str] = {}
    outcomes: dict[int, list[str]] = {}
    for s in sessions:
        key = (s.model, s.model_sha256, s.software_version)
        if key not in devices:
            devices[key] = _id("device", *key)
            entries.append(_device(devices[key], s))
        rx = _prescription_for(prescriptions, s)
        for side in measured_sides(s, reps[s.id]):
            oid = _id("observation", patient.id, s.id, s.started.isoformat(), side.column)
            entries.append(_observation(oid, patient_ref, _ref(devices[key]), s, side,
                                        _target_for(s, side.side, rx)))
            if rx is not None:
                outcomes.setdefault(rx.id, []).append(oid)
    for rx in prescriptions:
        if not _overlaps(rx, start, end):
            continue
        columns, rest = _prescribed_columns(rx, sessions)
        entries.append(_goal(_id("goal", patient.id, rx.id), patient_ref, rx, columns, rest,
                             outcomes.get(rx.id, []), now.date()))
    return {
        "resourceType": "Bundle", "id": _id("bundle", patient.id, start, end, now.isoformat()),
        "meta": {"tag": [{"system": LOCAL_SYSTEM, "code": "rehab-export",
                          "display": f"exported by rehab {__version__}"}]},
        "type": "collection", "timestamp": now.isoformat(timespec="seconds"),
        "entry": [{"fullUrl": f"urn:uuid:{e['id']}", "resource": e} for e in entries],
    }


def _overlaps(rx: Prescription, start: dt.date | None, end: dt.date | None) -> bool:
    """The prescription was in force on some day from ``start`` to ``end``."""
    return ((end is None or rx.start is None or rx.start <= end)
            and (start is None or rx.end is None or rx.end >= start))


def _patient(pid: str, patient: Patient, include_name: bool) -> dict[str, Any]:
    res: dict[str, Any] = {"resourceType": "Patient", "id": pid,
                           "identifier": [{"system": PATIENT_ID_SYSTEM, "value": patient.id}]}
    if include_name and patient.display_name:
        res["name"] = [{"text": patient.display_name}]
    return res


def check_bundle_path(path: str | os.PathLike[str]) -> Path:
    """Refuse early (`OutputError`) a bundle path that cannot be written
    (`rehab.fileio.check_writable_file`). Creates nothing."""
    from rehab.fileio import check_writable_file

    return check_writable_file(Path(path).expanduser())


def write_bundle(store: Store, patient_id: str, path: str | os.PathLike[str],
                 start: dt.date | None = None, end: dt.date | None = None,
                 include_name: bool = False) -> dict[str, Any]:
    """Write `fhir_bundle` to ``path`` (JSON, owner-only, atomically); returns it."""
    from rehab.fileio import write_json_atomic

    bundle = fhir_bundle(store, patient_id, start, end, include_name=include_name)
    write_json_atomic(check_bundle_path(path), bundle, private=True)
    return bundle
