"""Sets and rests of a live session: a state machine fed counted reps and the time.

`SetTracker` knows which set is under way and how many reps it has, whether the patient
is resting (and until when), has paused, or has done the last set. It has no clock and no
I/O: every call takes the session time ``t`` in seconds. The changes the cues announce come
back as `SetEvent`; what the session's record should mention is appended to `notes`.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

from rehab.errors import RehabError

SetEventKind = Literal["set_done", "next_set", "finished", "restarted"]
"""``set_done``: a set (not the last) is complete and the rest starts; ``next_set``: the rest
is over and the next set starts; ``finished``: the last set is complete; ``restarted``: the
set under way starts again from 0 reps."""


@dataclasses.dataclass(frozen=True)
class SetEvent:
    """A change of set, at session time ``t``.

    ``set_no`` is the set that was completed (``set_done``, ``finished``), that starts
    (``next_set``) or that starts again (``restarted``); ``rest_s`` is the rest that starts
    with ``set_done`` (0 otherwise).
    """

    kind: SetEventKind
    set_no: int
    t: float
    rest_s: float = 0.0


def check_plan(reps: int, sets: int) -> None:
    """`RehabError` unless there is at least one set of at least one rep."""
    if reps < 1 or sets < 1:
        raise RehabError(f"reps and sets must be at least 1 (got {reps} x {sets})")


class SetTracker:
    """``sets`` sets of ``reps`` reps with ``rest_s`` seconds of rest between them.

    Per frame the session calls `add_rep` for each rep the counter completed, then
    `update`. A rep during the rest starts the next set early; a rep while paused or
    after the last set is not counted (both noted).
    """

    def __init__(self, reps: int, sets: int, rest_s: float) -> None:
        check_plan(reps, sets)
        self.reps = reps
        self.sets = sets
        self.rest_s = rest_s
        self.set_no = 1
        """The set under way (during a rest: the set just done)."""
        self.set_reps = 0
        """Reps counted in the set under way."""
        self.sets_done = 0
        self.rest_until: float | None = None
        """Session time the rest ends at, while resting."""
        self.finished_at: float | None = None
        """Session time the last set was completed at."""
        self.paused = False
        self.notes: list[str] = []

    @property
    def resting(self) -> bool:
        return self.rest_until is not None

    @property
    def finished(self) -> bool:
        return self.finished_at is not None

    def rest_left(self, t: float) -> float | None:
        """Seconds of rest left at ``t`` (None when not resting)."""
        return None if self.rest_until is None else self.rest_until - t

    def toggle_pause(self) -> bool:
        """Pause or resume; returns whether the session is now paused."""
        self.paused = not self.paused
        return self.paused

    def add_rep(self, t: float, end_s: float) -> bool:
        """A rep that ended at ``end_s`` was completed (seen at ``t``): whether it counts,
        into set `set_no`. During a rest it starts the next set early."""
        if self.paused or self.finished:
            why = "paused" if self.paused else "after the last set"
            self.notes.append(f"rep at {end_s:.1f} s not counted ({why})")
            return False
        if self.rest_until is not None:  # started the next set before the rest was over
            self._start_next_set()
            self.notes.append(f"set {self.set_no} started before the rest was over")
        self.set_reps += 1
        return True

    def update(self, t: float) -> SetEvent | None:
        """The set complete (rest or end of session) or the rest over, at ``t``."""
        if not self.finished and self.rest_until is None and self.set_reps >= self.reps:
            self.sets_done += 1
            if self.set_no >= self.sets:
                self.finished_at = t
                return SetEvent("finished", self.set_no, t)
            self.rest_until = t + self.rest_s
            return SetEvent("set_done", self.set_no, t, self.rest_s)
        if self.rest_until is not None and t >= self.rest_until:
            self._start_next_set()
            return SetEvent("next_set", self.set_no, t)
        return None

    def restart(self, t: float) -> SetEvent | None:
        """Start the set under way again from 0 reps; nothing after the last set. During a
        rest the set just done starts again (no longer done: it is not counted twice)."""
        if self.finished:
            return None
        self.notes.append(f"set {self.set_no} restarted after {self.set_reps} reps")
        if self.rest_until is not None:
            self.sets_done -= 1
        self.set_reps = 0
        self.rest_until = None
        return SetEvent("restarted", self.set_no, t)

    def _start_next_set(self) -> None:
        self.rest_until = None
        self.set_no += 1
        self.set_reps = 0
