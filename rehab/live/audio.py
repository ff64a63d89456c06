"""Spoken cues and counts on their own worker thread.

`AudioCoach.say` never blocks: it puts the text in a small queue and returns. The worker
speaks one item at a time; an item that waited longer than ``max_age_s`` is dropped (a cue
about a rep the patient finished seconds ago only confuses), and when the queue is full
the oldest item makes room for the newest.

Backends, the first available wins: ``pyttsx3`` (offline, espeak-ng on Linux, SAPI5 on
Windows, NSSpeechSynthesizer on macOS), the ``espeak-ng``/``espeak`` program, short tones
through ``sounddevice`` (one beep for a good rep, two low ones for a cue), else nothing
(logged once).
"""

from __future__ import annotations

import collections
import logging
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

log = logging.getLogger(__name__)

DEFAULT_MAX_AGE_S = 2.0
DEFAULT_QUEUE_SIZE = 3


class Speaker(Protocol):
    """Turns one short text into sound; may block (it runs on the worker thread)."""

    name: str

    def speak(self, text: str, kind: str) -> None: ...

    def close(self) -> None: ...


class Pyttsx3Speaker:
    """Offline text-to-speech through ``pyttsx3`` (created on the worker thread)."""

    name = "pyttsx3"

    def __init__(self, rate_wpm: int = 150) -> None:
        import pyttsx3  # type: ignore[import-not-found]

        self._engine: Any = pyttsx3.init()
        self._engine.setProperty("rate", rate_wpm)

    def speak(self, text: str, kind: str) -> None:
        self._engine.say(text)
        self._engine.runAndWait()

    def close(self) -> None:
        self._engine.stop()


class EspeakSpeaker:
    """The ``espeak-ng`` (or ``espeak``) program."""

    def __init__(self, program: str, rate_wpm: int = 150) -> None:
        self.name = program
        self._cmd = [program, "-s", str(rate_wpm)]

    def speak(self, text: str, kind: str) -> None:
        subprocess.run([*self._cmd, text], check=False, timeout=15,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def close(self) -> None:
        """Nothing to release."""


class ToneSpeaker:
    """Short tones instead of words: a high beep for a count, two low beeps for a cue."""

    name = "tones"

    def __init__(self, rate: int = 22050) -> None:
        import numpy as np
        import sounddevice  # type: ignore[import-untyped]

        sounddevice.query_devices(kind="output")  # raises when there is no output device
        self._sd = sounddevice
        self._rate = rate
        t = np.arange(int(0.12 * rate)) / rate
        fade = np.minimum(1.0, np.minimum(t, t[::-1]) / 0.01)
        self._high = (0.3 * np.sin(2 * np.pi * 880 * t) * fade).astype(np.float32)
        low = (0.3 * np.sin(2 * np.pi * 440 * t) * fade).astype(np.float32)
        self._low = np.concatenate([low, np.zeros(int(0.08 * rate), np.float32), low])

    def speak(self, text: str, kind: str) -> None:
        self._sd.play(self._high if kind == "count" else self._low, self._rate, blocking=True)

    def close(self) -> None:
        self._sd.stop()


def default_speaker() -> Speaker | None:
    """The first backend that works here, or None."""
    try:
        return Pyttsx3Speaker()
    except Exception as exc:  # noqa: BLE001 - pyttsx3 raises anything from missing drivers
        log.debug("pyttsx3 not usable: %s", exc)
    for program in ("espeak-ng", "espeak"):
        path = shutil.which(program)
        if path:
            return EspeakSpeaker(path)
    try:
        return ToneSpeaker()
    except Exception as exc:  # noqa: BLE001 - PortAudio errors have no common base class
        log.debug("no audio output for tones: %s", exc)
    return None


class AudioCoach:
    """Speaks on a worker thread; `say` returns at once and stale items are dropped.

    ``speaker_factory`` is called on the worker thread (some engines must be used from the
    thread that created them); it may return None when no audio is available.
    """

    def __init__(self, speaker_factory: Callable[[], Speaker | None] = default_speaker,
                 max_age_s: float = DEFAULT_MAX_AGE_S, queue_size: int = DEFAULT_QUEUE_SIZE,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._factory = speaker_factory
        self._max_age = max_age_s
        self._clock = clock
        self._items: collections.deque[tuple[float, str, str]] = collections.deque(
            maxlen=queue_size)
        self._cond = threading.Condition()
        self._stop = False
        self._draining = False
        self.spoken: list[str] = []
        self.dropped = 0
        self.backend = "starting"
        self._thread = threading.Thread(target=self._run, name="audio", daemon=True)
        self._thread.start()

    def say(self, text: str, kind: str = "cue") -> None:
        """Queue ``text`` (``kind``: ``count`` or ``cue``); never blocks."""
        with self._cond:
            if len(self._items) == self._items.maxlen:
                self.dropped += 1  # the deque drops the oldest item
            self._items.append((self._clock(), text, kind))
            self._cond.notify()

    def _next(self) -> tuple[float, str, str] | None:
        with self._cond:
            while not self._items and not self._stop and not self._draining:
                self._cond.wait()
            if self._stop or not self._items:
                return None
            return self._items.popleft()

    def _run(self) -> None:
        speaker = self._factory()
        if speaker is None:
            self.backend = "none"
            log.warning("--audio: no text-to-speech (pip install pyttsx3, or install "
                        "espeak-ng) and no sound output for tones; cues are shown only")
        else:
            self.backend = speaker.name
            log.info("audio cues through %s", speaker.name)
        try:
            while True:
                item = self._next()
                if item is None:
                    return
                queued, text, kind = item
                if self._clock() - queued > self._max_age:
                    self.dropped += 1
                    continue
                if speaker is None:
                    continue
                try:
                    speaker.speak(text, kind)
                except Exception as exc:  # noqa: BLE001 - an audio fault never ends a session
                    log.warning("audio: %s; cues are shown only from now on", exc)
                    speaker = None
                    self.backend = "none"
                    continue
                self.spoken.append(text)
        finally:
            if speaker is not None:
                speaker.close()

    def close(self, timeout: float = 5.0) -> None:
        """Speak what is still fresh in the queue (the session's last words), then stop;
        after ``timeout`` seconds the rest is dropped."""
        with self._cond:
            self._draining = True
            self._cond.notify()
        self._thread.join(timeout)
        if self._thread.is_alive():
            with self._cond:
                self._stop = True
                self.dropped += len(self._items)
                self._items.clear()
                self._cond.notify()
            self._thread.join(timeout)
