"""Cues only while they apply: a rep's cue goes once the limb rests or the correction is
made; the out-of-view and set messages keep their own rules."""

from __future__ import annotations

from rehab.live.cues import Cue, CueScheduler


def test_a_rep_cue_goes_once_the_limb_rests() -> None:
    cues = CueScheduler("Good rep", "Step back", cue_s=3.0, rest_clear_s=1.0)
    cues.rep_counted("Bend a little further", 1, 10.0)
    fix = Cue("Bend a little further", "fix")
    shown = {}
    for k in range(0, 41):  # at rest from the count on, frames every 0.1 s
        t = 10.0 + 0.1 * k
        cues.movement(t, at_rest=True)
        shown[round(t, 1)] = cues.on_screen(t, True)
    assert shown[10.0] == fix and shown[10.9] == fix
    assert shown[11.0] is None and all(shown[t] is None for t in shown if t >= 11.0)


def test_a_rep_cue_stays_while_the_next_rep_moves_until_the_target_is_reached() -> None:
    cues = CueScheduler("Good rep", "Step back", cue_s=3.0, rest_clear_s=1.0)
    cues.rep_counted("Bend a little further", 1, 10.0)
    cues.movement(10.0, at_rest=True)
    cues.movement(10.5, at_rest=False)  # the next rep starts
    assert cues.on_screen(11.5, True) is not None  # moving: not taken down by the rest rule
    cues.movement(11.5, at_rest=False)
    assert cues.on_screen(11.5, True) is not None
    cues.movement(11.6, at_rest=False, reached=True)  # in the band now: the cue is done
    assert cues.on_screen(11.6, True) is None


def test_the_out_of_view_and_set_messages_are_not_rep_cues() -> None:
    cues = CueScheduler("Good rep", "Step back", cue_s=3.0, rest_clear_s=1.0)
    cues.visibility(True, 0.0)
    cues.visibility(False, 1.5)
    for t in (1.5, 3.0, 5.0):
        cues.movement(t, at_rest=True)
    assert cues.on_screen(5.0, False) == Cue("Step back", "warn")
    cues.show(Cue("Set 1 done: rest", "good"), 6.0)
    cues.movement(8.5, at_rest=True)
    assert cues.on_screen(8.5, True) == Cue("Set 1 done: rest", "good")
