"""How a stored session's measurement checks are put into words, for ``rehab patient show``
and the progress report alike: which side was scored and why (`involved_text`), the limb
symmetry index (`rehab.codec.symmetry_text`, which the analysis's note uses too), the camera
view check (`view_text`), the left/right label repair (`rehab.codec.swaps_text`, likewise)
and the reps' quality grades (`grades_text`).

Every number comes from the stored session (`SessionRecord` and its reps); a session stored
before a check existed has None there and its text is empty (callers then omit the line).
``unit`` is the degree sign the caller prints (`` deg`` on the terminal, ``°`` in reports).
"""

from __future__ import annotations

from collections.abc import Iterable

from rehab.codec import deg_text, swaps_text, symmetry_text
from rehab.model import NoteCode, Rep, ViewCheck
from rehab.store.models import SessionRecord

__all__ = ["check_lines", "chose_automatically", "grades_text", "involved_text",
           "short_lines", "swaps_text", "symmetry_text", "view_text"]

GRADES = ("good", "fair", "poor")
VIEW_NAMES = {"side": "side view", "front": "front view", "any": "any view"}


def chose_automatically(session: SessionRecord) -> bool:
    """The side was left to the analysis (``auto``): its side-chosen note says so (the
    note's data since schema 5, its sentence before)."""
    return any(n.code == NoteCode.SIDE_CHOSEN
               and (n.data.get("asked") == "auto" or n.text.startswith("side auto"))
               for n in session.notes)


def involved_text(session: SessionRecord) -> str:
    """The side scored and headlined and why: ``left (affected side)``, ``right (auto:
    moves most and is best seen, no affected side given)``; empty for a trunk angle and
    for a session that recorded neither an affected side nor an automatic choice."""
    side, involved = session.side, session.involved
    if side in ("", "none"):
        return ""
    if involved in ("left", "right"):
        return f"{involved} (affected side)"
    if involved == "both":
        if session.alternating:
            return "both limbs in turn (both sides asked; each rep on its own side)"
        scored = (", both scored" if session.symmetry is not None
                  and session.symmetry.basis == "bilateral" else "")
        return (f"{side} (both sides asked: counted on the side that moves most and is best "
                f"seen{scored})")
    if chose_automatically(session):
        return f"{side} (auto: moves most and is best seen, no affected side given)"
    return ""


def view_text(view: ViewCheck | None, unit: str = " deg", short: bool = False) -> str:
    """The view check in one sentence, a warning (``WARNING, camera view: ...``) when
    `ViewCheck.warning`; ``short``: a view within its tolerance in a few words; empty
    without a check."""
    if view is None:
        return ""
    name = VIEW_NAMES.get(view.expected, f"{view.expected} view")
    if view.orientation_deg is None:
        return f"camera view: {name} expected; the body's orientation could not be measured"
    where = (f"orientation {deg_text(view.orientation_deg, unit)}: 0 facing the camera, 90 side "
             f"on")
    if view.deviation_deg is None:
        return f"camera view: {name}; {where}"
    if view.warning:
        return (f"WARNING, camera view: the body was turned {deg_text(view.deviation_deg, unit)} "
                f"away from the {name} this exercise is measured in (tolerance "
                f"{deg_text(view.tolerance_deg, unit)}, exceeded in {100 * view.off_fraction:.0f}% "
                f"of frames; {where}): angles in the image plane are foreshortened")
    if short:
        return (f"{name} ok ({deg_text(view.deviation_deg, unit)} off, tolerance "
                f"{deg_text(view.tolerance_deg, unit)})")
    return (f"camera view: {name}, {deg_text(view.deviation_deg, unit)} off (tolerance "
            f"{deg_text(view.tolerance_deg, unit)}; {where}, measured in "
            f"{100 * view.measured_fraction:.0f}% of frames)")


def grades_text(reps: Iterable[Rep]) -> str:
    """``quality: 4 good, 1 poor``: the counted reps' grades; empty when none is graded."""
    counts = {g: 0 for g in GRADES}
    for r in reps:
        if r.quality in counts:
            counts[r.quality] += 1
    if not any(counts.values()):
        return ""
    return "quality: " + ", ".join(f"{n} {g}" for g, n in counts.items() if n)


def check_lines(session: SessionRecord, reps: Iterable[Rep], unit: str = " deg") -> list[str]:
    """The non-empty texts of a session's checks, one a line, in the order shown: the side
    scored, the symmetry, the grades, the view, the label swaps."""
    side = involved_text(session)
    texts = [f"scored side: {side}" if side else "", symmetry_text(session.symmetry, unit),
             grades_text(reps), view_text(session.view, unit), swaps_text(session.swaps)]
    return [t for t in texts if t]


def short_lines(session: SessionRecord, reps: Iterable[Rep]) -> list[str]:
    """The checks for a line under the session in ``rehab patient show``: the side scored,
    the symmetry, the grades and a view within its tolerance on one line; a view warning
    and swaps found on lines of their own."""
    view = session.view
    warning = view is not None and view.warning
    swaps = session.swaps
    side = involved_text(session)
    first = "; ".join(t for t in (f"scored: {side}" if side else "",
                                  symmetry_text(session.symmetry, short=True),
                                  grades_text(reps),
                                  "" if warning else view_text(view, short=True)) if t)
    rest = [view_text(view) if warning else "",
            swaps_text(swaps) if swaps is not None and (swaps.repaired_frames
                                                       or swaps.gated_frames) else ""]
    return [t for t in (first, *rest) if t]
