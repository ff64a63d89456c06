"""The live session's pure parts: the set tracker (`rehab.live.sets`) and the cue scheduler
(`rehab.live.cues`), fed hand-made times; and what importing `rehab.live` loads."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from rehab.errors import RehabError
from rehab.live.cues import Cue, CueScheduler
from rehab.live.sets import SetEvent, SetTracker

REPO = Path(__file__).resolve().parents[2]


def reps_at(tracker: SetTracker, *times: float) -> list[SetEvent]:
    """A rep ending 0.1 s before each time, then the per-frame update: the events."""
    events = []
    for t in times:
        assert tracker.add_rep(t, t - 0.1)
        event = tracker.update(t)
        if event is not None:
            events.append(event)
    return events


# --- SetTracker ------------------------------------------------------------------------------

def test_three_sets_of_two_reps_with_a_five_second_rest() -> None:
    sets = SetTracker(reps=2, sets=3, rest_s=5.0)
    assert (sets.set_no, sets.set_reps, sets.sets_done, sets.resting) == (1, 0, 0, False)
    assert reps_at(sets, 1.0) == []
    assert (sets.set_no, sets.set_reps) == (1, 1)
    assert reps_at(sets, 2.0) == [SetEvent("set_done", 1, 2.0, 5.0)]
    assert sets.resting and sets.rest_until == 7.0 and sets.sets_done == 1
    assert sets.rest_left(3.5) == 3.5
    assert sets.update(6.9) is None and sets.resting
    assert sets.update(7.0) == SetEvent("next_set", 2, 7.0)
    assert (sets.set_no, sets.set_reps, sets.resting, sets.rest_left(7.0)) == (2, 0, False, None)
    assert reps_at(sets, 8.0, 9.0) == [SetEvent("set_done", 2, 9.0, 5.0)]
    assert sets.update(13.5) is None
    assert sets.update(14.0) == SetEvent("next_set", 3, 14.0)
    assert reps_at(sets, 15.0, 16.0) == [SetEvent("finished", 3, 16.0)]
    assert sets.finished and sets.finished_at == 16.0 and sets.sets_done == 3
    assert not sets.resting
    # after the last set: not counted (noted), no more events, no restart
    assert not sets.add_rep(17.0, 16.8)
    assert sets.update(30.0) is None and sets.restart(30.0) is None
    assert (sets.set_no, sets.set_reps, sets.sets_done) == (3, 2, 3)
    assert sets.notes == ["rep at 16.8 s not counted (after the last set)"]


def test_a_rep_during_the_rest_starts_the_next_set_early() -> None:
    sets = SetTracker(reps=2, sets=2, rest_s=5.0)
    assert reps_at(sets, 1.0, 2.0) == [SetEvent("set_done", 1, 2.0, 5.0)]
    assert sets.add_rep(4.0, 3.9)  # 3 s into the 5 s rest
    assert (sets.set_no, sets.set_reps, sets.resting) == (2, 1, False)
    assert sets.notes == ["set 2 started before the rest was over"]
    assert sets.update(4.0) is None
    assert sets.update(7.0) is None  # no "rest over" for a rest already ended
    assert reps_at(sets, 8.0) == [SetEvent("finished", 2, 8.0)]
    assert sets.sets_done == 2


def test_restart_starts_the_set_again() -> None:
    sets = SetTracker(reps=3, sets=2, rest_s=5.0)
    assert reps_at(sets, 1.0, 2.0) == []
    assert sets.restart(2.5) == SetEvent("restarted", 1, 2.5)
    assert (sets.set_no, sets.set_reps, sets.sets_done) == (1, 0, 0)
    assert sets.notes == ["set 1 restarted after 2 reps"]
    assert reps_at(sets, 3.0, 4.0) == []
    assert reps_at(sets, 5.0) == [SetEvent("set_done", 1, 5.0, 5.0)]
    # a restart during the rest ends the rest; the set number stays
    assert sets.restart(6.0) == SetEvent("restarted", 1, 6.0)
    assert (sets.set_no, sets.set_reps, sets.resting) == (1, 0, False)
    assert sets.update(10.0) is None
    assert sets.notes[-1] == "set 1 restarted after 3 reps"


def test_reps_while_paused_are_not_counted() -> None:
    sets = SetTracker(reps=2, sets=1, rest_s=5.0)
    assert reps_at(sets, 1.0) == []
    assert sets.toggle_pause() is True and sets.paused
    assert not sets.add_rep(2.0, 1.9)
    assert sets.update(2.0) is None and sets.set_reps == 1
    assert sets.toggle_pause() is False
    assert reps_at(sets, 3.0) == [SetEvent("finished", 1, 3.0)]
    assert sets.notes == ["rep at 1.9 s not counted (paused)"]


@pytest.mark.parametrize(("reps", "sets"), [(0, 1), (1, 0), (-2, 3)])
def test_a_plan_without_reps_or_sets_is_refused(reps: int, sets: int) -> None:
    with pytest.raises(RehabError, match=rf"at least 1 \(got {reps} x {sets}\)"):
        SetTracker(reps, sets, 5.0)


# --- CueScheduler ----------------------------------------------------------------------------

class Voice:
    """Records what is spoken, with the session time of `now`."""

    def __init__(self) -> None:
        self.now = 0.0
        self.said: list[tuple[float, str, str]] = []

    def __call__(self, text: str, kind: str) -> None:
        self.said.append((self.now, text, kind))


def scheduler(voice: Voice | None = None, **kwargs: float) -> CueScheduler:
    return CueScheduler("Good rep", "Step back", speak=voice, **kwargs)


def test_a_cue_is_held_for_cue_s_then_expires() -> None:
    cues = scheduler(cue_s=3.0)
    assert cues.on_screen(0.0, visible=True) is None
    cues.show(Cue("Slow down", "fix"), 1.0)
    assert cues.on_screen(1.0, True) == Cue("Slow down", "fix")
    assert cues.on_screen(4.0, True) == Cue("Slow down", "fix")  # held until 1 + 3 s
    assert cues.on_screen(4.01, True) is None
    assert cues.on_screen(4.01, False) is None  # only the out-of-view cue outlasts its hold
    cues.show(Cue("Set 1 done: rest", "good"), 5.0, hold=0.5)
    assert cues.on_screen(5.5, True) is not None and cues.on_screen(5.51, True) is None
    cues.show(Cue("a"), 6.0)
    cues.show(Cue("b"), 6.5)  # one cue at a time: the newest
    assert cues.on_screen(7.0, True) == Cue("b")


def test_reps_are_announced_by_count_and_cue() -> None:
    voice = Voice()
    cues = scheduler(voice, cue_s=3.0)
    voice.now = 2.0
    cues.rep_counted("Good rep", 1, 2.0)
    assert cues.on_screen(5.0, True) == Cue("Good rep", "good")
    voice.now = 6.0
    cues.rep_counted("Bend a little further", 2, 6.0)
    assert cues.on_screen(6.0, True) == Cue("Bend a little further", "fix")
    cues.paused(True)
    cues.paused(False)
    assert voice.said == [(2.0, "1", "count"), (6.0, "2. Bend a little further", "cue"),
                          (6.0, "Paused", "cue"), (6.0, "Go on", "cue")]


def test_set_changes_are_shown_and_spoken() -> None:
    voice = Voice()
    cues = scheduler(voice, cue_s=3.0, linger_s=2.0)
    cues.set_event(SetEvent("set_done", 1, 10.0, 5.0))
    assert cues.on_screen(13.0, True) == Cue("Set 1 done: rest", "good")
    cues.set_event(SetEvent("next_set", 2, 15.0))
    assert cues.on_screen(15.0, True) == Cue("Set 2: go", "info")
    cues.set_event(SetEvent("restarted", 2, 16.0))
    assert cues.on_screen(16.0, True) == Cue("Set 2 restarted", "info")
    cues.set_event(SetEvent("finished", 2, 20.0))
    assert cues.on_screen(23.0, True) == Cue("Session complete", "good")  # linger + 1 s
    assert cues.on_screen(23.01, True) is None
    assert [text for _, text, _ in voice.said] == [
        "Set 1 done. Rest for 5 seconds.", "Set 2. Go.", "Set restarted.",
        "Well done. Session complete."]


def test_out_of_view_cue_after_lost_after_s_repeated_every_repeat_lost_cue_s() -> None:
    voice = Voice()
    cues = scheduler(voice, cue_s=3.0, lost_after_s=1.0, repeat_lost_cue_s=10.0)
    shown = {}
    for k in range(0, 63):  # frames every 0.5 s: in view until 2 s, out until 30 s, back
        t = k * 0.5
        visible = t <= 2.0 or t > 30.0
        voice.now = t
        cues.visibility(visible, t)
        shown[t] = cues.on_screen(t, visible)
    warn = Cue("Step back", "warn")
    assert shown[2.5] is None  # out of view for 0.5 s only
    assert all(shown[t] == warn for t in shown if 3.0 <= t <= 30.0)
    assert shown[30.5] is None  # back in view: the cue goes at once
    assert voice.said == [(3.0, "Step back", "cue"), (13.0, "Step back", "cue"),
                          (23.0, "Step back", "cue")]


def test_no_out_of_view_cue_after_the_last_set() -> None:
    voice = Voice()
    cues = scheduler(voice)
    cues.set_event(SetEvent("finished", 1, 1.0))
    for k in range(2, 20):
        cues.visibility(False, float(k), finished=True)
    assert cues.on_screen(19.0, False) is None
    assert [text for _, text, _ in voice.said] == ["Well done. Session complete."]


def test_without_a_speaker_nothing_is_spoken() -> None:
    cues = scheduler(None)
    cues.rep_counted("Good rep", 1, 0.0)
    cues.visibility(False, 5.0)
    assert cues.on_screen(5.0, False) == Cue("Step back", "warn")


# --- the package -----------------------------------------------------------------------------

def test_importing_rehab_live_loads_nothing_heavy() -> None:
    code = ("import sys, rehab.live, rehab.live.sets, rehab.live.cues, rehab.live.cli\n"
            "assert callable(rehab.live.run_session)\n"
            "print(sorted(m for m in ('cv2', 'mediapipe', 'numpy', 'numba', 'rehab.cli')"
            " if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_rehab_live_never_imports_the_cli() -> None:
    """`rehab.cli` imports `rehab.live.cli`; nothing in `rehab.live` imports it back (not
    even inside a function)."""
    found = []
    for path in sorted((REPO / "rehab" / "live").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if isinstance(node, ast.ImportFrom) and node.module == "rehab":
                names += [f"rehab.{a.name}" for a in node.names]
            found += [f"{path.name}: {n}" for n in names
                      if n == "rehab.cli" or n.startswith("rehab.cli.")]
    assert found == []
