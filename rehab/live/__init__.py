"""Live coaching in front of a webcam: ``rehab live``.

The session loop (`rehab.live.session`) runs the offline pipeline's exercise library,
kinematics and scoring in their causal, frame-by-frame form (`rehab.reps.LiveRepCounter`):

- capture on its own thread, one-slot queue where the newest frame wins (`rehab.capture`),
  fed by a camera or by a recording played at its real frame rate (`rehab.live.player`);
- pose, counting and drawing on the main loop (`rehab.live.ui`);
- speech on its own worker, stale cues dropped (`rehab.live.audio`);
- overlay video and patient-history writes on writer threads (`rehab.live.writers`).

Importing this package imports nothing heavy: the CLI registers ``rehab live`` from
`rehab.live.cli` on every start.
"""
