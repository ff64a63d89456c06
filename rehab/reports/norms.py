"""Normative active range of motion per joint angle: the one place these numbers live.

Values (degrees, clinical neutral-zero convention) are the American Academy of Orthopaedic
Surgeons' averages (AAOS, *Joint Motion: Method of Measuring and Recording*, 1965; as
tabulated in Norkin & White, *Measurement of Joint Motion*). They describe the end of the
movement away from neutral zero, so they apply to exercises whose rest position is the low
end of the angle (``rest = "low"``): the rep's peak angle is compared with them.
"""

from __future__ import annotations

NORMATIVE_ROM_DEG: dict[str, float] = {
    "knee_flexion": 135.0,
    "hip_flexion": 120.0,
    "hip_abduction": 45.0,
    "shoulder_flexion": 180.0,
    "shoulder_abduction": 180.0,
    "elbow_flexion": 150.0,
    "ankle_plantarflexion": 50.0,
}
NORMATIVE_SOURCE = "AAOS (1965) normal active ROM"


def normative_deg(angle: str, rest: str = "low") -> float | None:
    """The norm for ``angle`` (with or without a ``left_``/``right_`` prefix), or None.

    None when no norm is known or when the exercise rests at the high end of the angle (its
    peak is a return towards neutral zero, not an excursion towards the norm).
    """
    if rest != "low":
        return None
    for prefix in ("left_", "right_"):
        if angle.startswith(prefix):
            angle = angle[len(prefix):]
    return NORMATIVE_ROM_DEG.get(angle)
