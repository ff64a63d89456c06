"""What the patient is told during a live session: the cue on screen and the words spoken.

`CueScheduler` holds the one cue on screen, each for ``cue_s`` seconds unless shown with a
hold of its own; turns counted reps, pauses and set changes (`rehab.live.sets.SetEvent`)
into a cue and speech; and, once the limb has been out of view for ``lost_after_s``, shows
the out-of-view cue for as long as it stays out, speaking it again every
``repeat_lost_cue_s``. Speech goes to ``speak(text, kind)`` (kind ``"count"`` or ``"cue"``;
`rehab.live.audio.AudioCoach.say` in a session). It has no clock and draws nothing: every
call takes the session time ``t`` in seconds, and `on_screen` says what to draw.

A cue is shown only while it applies. A rep's cue ("Good rep", "Bend a little further")
is put up when the rep is counted and taken down at the first of: ``cue_s`` seconds; the
limb having been back at rest for ``rest_clear_s`` seconds (it does not stay up while the
patient rests); the correction being made (`movement` with ``reached``: the movement under
way has reached the target band after a rep short of it). The out-of-view and
turn-to-camera cues stay while their condition lasts and go as soon as it ends; set and
session messages are held for their time.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

from rehab.live.sets import SetEvent

Speak = Callable[[str, str], None]
"""``speak(text, kind)``: say ``text``; ``kind`` is ``"count"`` or ``"cue"``."""


@dataclasses.dataclass(frozen=True)
class Cue:
    """One short message for the patient; ``tone`` picks its colour."""

    text: str
    tone: str = "info"  # "good", "fix", "warn", "info"
    kind: str = dataclasses.field(default="", compare=False)
    """``rep`` for a rep's cue (taken down when it no longer applies, see `movement`)."""


class CueScheduler:
    """The cue on screen and the speech of one session.

    ``good`` is the exercise's cue for a good rep (such a rep is announced by its count
    alone), ``not_visible`` its out-of-view cue. ``linger_s`` is how long the final screen
    stays: the "Session complete" cue is held a second longer.
    """

    def __init__(self, good: str, not_visible: str, *, cue_s: float = 3.0,
                 lost_after_s: float = 1.0, repeat_lost_cue_s: float = 10.0,
                 linger_s: float = 2.0, rest_clear_s: float = 1.5,
                 speak: Speak | None = None) -> None:
        self.good = good
        self.rest_clear_s = rest_clear_s
        self.not_visible = not_visible
        self.cue_s = cue_s
        self.lost_after_s = lost_after_s
        self.repeat_lost_cue_s = repeat_lost_cue_s
        self.linger_s = linger_s
        self._speak = speak
        self.cue: Cue | None = None
        """The cue shown last (on screen until `until`)."""
        self.until = -math.inf
        self._last_visible = 0.0
        self._lost_spoken = -math.inf
        self._view_off_since: float | None = None
        self._view_spoken = -math.inf
        self._view_warned = False
        self._shown_at = -math.inf
        self._rest_since: float | None = None

    def show(self, cue: Cue, t: float, hold: float | None = None) -> None:
        """Put ``cue`` on screen from ``t`` for ``hold`` seconds (default ``cue_s``)."""
        self.cue = cue
        self.until = t + (self.cue_s if hold is None else hold)
        self._shown_at = t

    def movement(self, t: float, at_rest: bool, reached: bool = False) -> None:
        """The limb at ``t``: ``at_rest`` (no rep under way), and whether the movement under
        way has ``reached`` the target band. A rep's cue goes once the limb has been at rest
        for ``rest_clear_s`` since the cue appeared, or at once when ``reached`` follows a
        rep short of the target."""
        if not at_rest:
            self._rest_since = None
        elif self._rest_since is None:
            self._rest_since = t
        cue = self.cue
        if cue is None or cue.kind != "rep" or t > self.until:
            return
        if reached and cue.tone == "fix":
            self.until = min(self.until, t - 1e-9)
            return
        if self._rest_since is not None and \
                t - max(self._rest_since, self._shown_at) >= self.rest_clear_s:
            self.until = min(self.until, t - 1e-9)

    def say(self, text: str, kind: str) -> None:
        """Speak ``text`` (nothing without a speaker)."""
        if self._speak is not None:
            self._speak(text, kind)

    def on_screen(self, t: float, visible: bool) -> Cue | None:
        """The cue to draw at ``t``: the last one within its hold, or the out-of-view cue
        for as long as the limb stays out of view."""
        if t <= self.until or (self.cue is not None and self.cue.tone == "warn"
                               and (not visible or self._view_warned)):
            return self.cue
        return None

    def rep_counted(self, cue_text: str, set_reps: int, t: float) -> None:
        """Rep ``set_reps`` of the set was counted with the cue ``cue_text``: a good rep
        is announced by its count, any other by its count and the cue."""
        good = cue_text == self.good
        self.show(Cue(cue_text, "good" if good else "fix", kind="rep"), t)
        self.say(str(set_reps) if good else f"{set_reps}. {cue_text}",
                 "count" if good else "cue")

    def paused(self, paused: bool) -> None:
        """The session was paused (or resumed)."""
        self.say("Paused" if paused else "Go on", "cue")

    def set_event(self, event: SetEvent) -> None:
        """Announce a change of set."""
        n, t = event.set_no, event.t
        if event.kind == "finished":
            self.show(Cue("Session complete", "good"), t, hold=self.linger_s + 1)
            self.say("Well done. Session complete.", "cue")
        elif event.kind == "set_done":
            self.show(Cue(f"Set {n} done: rest", "good"), t)
            self.say(f"Set {n} done. Rest for {event.rest_s:g} seconds.", "cue")
        elif event.kind == "next_set":
            self.show(Cue(f"Set {n}: go", "info"), t)
            self.say(f"Set {n}. Go.", "cue")
        elif event.kind == "restarted":
            self.show(Cue(f"Set {n} restarted", "info"), t)
            self.say("Set restarted.", "cue")

    def view(self, off: bool, text: str, t: float, finished: bool = False) -> None:
        """Whether the body is turned away from the exercise's view at ``t`` (``off``, see
        `rehab.kinematics.view.ViewMonitor`): after ``lost_after_s`` the cue ``text`` stays
        on screen while it lasts, spoken every ``repeat_lost_cue_s``."""
        if not off or not text or finished:
            self._view_off_since = None
            if self._view_warned and self.cue is not None and self.cue.text == text:
                self.until = t  # the warning goes once the patient has turned
            self._view_warned = False
            return
        if self._view_off_since is None:
            self._view_off_since = t
        if t - self._view_off_since < self.lost_after_s:
            return
        if self.cue is None or self.cue.text != text or t > self.until:
            self.show(Cue(text, "warn"), t, hold=0.0)
        self._view_warned = True
        if t - self._view_spoken >= self.repeat_lost_cue_s:
            self._view_spoken = t
            self.say(text, "cue")

    def visibility(self, visible: bool, t: float, finished: bool = False) -> None:
        """Whether the limb is in view at ``t``. Out of view for ``lost_after_s`` (and the
        session not finished): the out-of-view cue, spoken every ``repeat_lost_cue_s``."""
        if visible:
            self._last_visible = t
            return
        if t - self._last_visible < self.lost_after_s or finished:
            return
        self.show(Cue(self.not_visible, "warn"), t, hold=0.0)
        if t - self._lost_spoken >= self.repeat_lost_cue_s:
            self._lost_spoken = t
            self.say(self.not_visible, "cue")
