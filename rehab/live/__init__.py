"""Live coaching in front of a webcam: ``rehab live``, or `run_session` from Python.

The session loop (`rehab.live.session`) runs the offline pipeline's exercise library,
kinematics and scoring in their causal, frame-by-frame form (`rehab.counter.LiveRepCounter`):

- capture on its own thread, one-slot queue where the newest frame wins (`rehab.capture`),
  fed by a camera or by a recording played at its real frame rate (`rehab.live.player`);
- pose, counting and drawing on the main loop (`rehab.live.ui`); sets and rests
  (`rehab.live.sets`) and what the patient is told (`rehab.live.cues`) are kept apart from it;
- speech on its own worker, stale cues dropped (`rehab.live.audio`);
- overlay video and patient-history writes on writer threads (`rehab.live.writers`).

`run_session` (`rehab.live.runner`) starts a session with a camera or a recording and the
pose model; ``rehab live`` (`rehab.live.cli`) only parses its arguments and calls it.

Importing this package imports nothing heavy: the names below are loaded on first use, and
the CLI registers ``rehab live`` from `rehab.live.cli` on every start.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rehab._lazy import lazy_exports

if TYPE_CHECKING:
    from rehab.live.runner import run_session
    from rehab.live.session import LiveConfig, LiveSession, SessionResult, format_summary

_LAZY = {
    "run_session": "rehab.live.runner",
    "LiveConfig": "rehab.live.session",
    "LiveSession": "rehab.live.session",
    "SessionResult": "rehab.live.session",
    "format_summary": "rehab.live.session",
}

__all__ = sorted(_LAZY)


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())
