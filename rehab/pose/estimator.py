"""The pose estimator interface, a replaying estimator, and the accumulation loop.

Per-frame inference (`PoseEstimator.process`) is kept apart from accumulation
(`estimate_sequence`), so most tests replay recorded landmarks (`ReplayEstimator`) and
only a few run the real model.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np
from tqdm import tqdm

from rehab.errors import InputError, NoPoseError
from rehab.pose.select import SelectionWeights, select_person
from rehab.model import N_LANDMARKS, Note, NoteCode, PoseSequence

if TYPE_CHECKING:
    from rehab.capture import Source

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PersonPose:
    """One detected person: landmarks (33, 3) normalised, world (33, 3) metres,
    visibility (33,), all float32."""

    landmarks: np.ndarray
    world: np.ndarray
    visibility: np.ndarray

    def __post_init__(self) -> None:
        for name, arr, shape in (("landmarks", self.landmarks, (N_LANDMARKS, 3)),
                                 ("world", self.world, (N_LANDMARKS, 3)),
                                 ("visibility", self.visibility, (N_LANDMARKS,))):
            if arr.shape != shape:
                raise ValueError(f"{name} has shape {arr.shape}, expected {shape}")


@dataclass(frozen=True)
class FramePose:
    """The people detected in one frame; ``people[0]`` is the frame's most likely patient.

    ``landmarks``, ``world`` and ``visibility`` are those of ``people[0]``. The final
    choice over the whole recording is made by `estimate_sequence`, using every candidate.
    """

    people: tuple[PersonPose, ...]

    def __post_init__(self) -> None:
        if not self.people:
            raise ValueError("a FramePose needs at least one person (return None instead)")

    @property
    def landmarks(self) -> np.ndarray:
        """(33, 3) normalised x, y and relative depth z of ``people[0]``."""
        return self.people[0].landmarks

    @property
    def world(self) -> np.ndarray:
        """(33, 3) metres, origin between the hips, of ``people[0]``."""
        return self.people[0].world

    @property
    def visibility(self) -> np.ndarray:
        """(33,) visibility 0..1 of ``people[0]``."""
        return self.people[0].visibility


@runtime_checkable
class PoseEstimator(Protocol):
    """Per-frame pose inference; one instance per recording (it may track over time).

    An estimator may also have a ``notes`` attribute (a tuple of strings): remarks about
    the run that `estimate_sequence` records in the sequence's notes; and a
    ``finish()`` method called after the last frame, and a
    ``take_revisions()`` method returning ``{frame index: FramePose | None}`` for earlier
    frames it has processed again (indices count `process` calls from 0).
    """

    model_name: str
    model_sha256: str

    def process(self, image_bgr: np.ndarray, timestamp_s: float) -> FramePose | None:
        """Detect people in one BGR image taken at ``timestamp_s``; ``None`` if nobody."""
        ...

    def close(self) -> None:
        """Release the model."""
        ...


class ReplayEstimator:
    """Replays recorded sequences frame by frame, ignoring the images.

    Call ``i`` returns frame ``i`` of ``sequence`` (plus, as extra candidates, frame ``i``
    of each of ``others``, in that order); frames where nobody was detected give ``None``.
    """

    def __init__(self, sequence: PoseSequence, others: Sequence[PoseSequence] = ()) -> None:
        for other in others:
            if other.n_frames != sequence.n_frames:
                raise InputError("replay: all sequences must have the same number of frames")
        self._sequences = (sequence, *others)
        self._next = 0
        self.model_name = sequence.model or "replay"
        self.model_sha256 = sequence.model_sha256

    def process(self, image_bgr: np.ndarray, timestamp_s: float) -> FramePose | None:
        """The recorded pose(s) of the next frame."""
        i = self._next
        if i >= self._sequences[0].n_frames:
            raise InputError(f"replay: asked for frame {i + 1}, the recording has "
                             f"{self._sequences[0].n_frames}")
        self._next += 1
        people = tuple(PersonPose(s.landmarks[i], s.world[i], s.visibility[i])
                       for s in self._sequences if s.detected[i])
        return FramePose(people) if people else None

    def close(self) -> None:
        """Nothing to release."""


def _progress_enabled(progress: bool) -> bool:
    return progress and sys.stderr.isatty()


def _candidates(pose: FramePose | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Landmarks (n, 33, 3), world (n, 33, 3) and visibility (n, 33) of a frame's people."""
    if pose is None:
        return (np.zeros((0, N_LANDMARKS, 3), np.float32),
                np.zeros((0, N_LANDMARKS, 3), np.float32),
                np.zeros((0, N_LANDMARKS), np.float32))
    return (np.stack([p.landmarks for p in pose.people]),
            np.stack([p.world for p in pose.people]),
            np.stack([p.visibility for p in pose.people]))


def estimate_sequence(source: Source, estimator: PoseEstimator, progress: bool = True,
                      max_frames: int | None = None,
                      weights: SelectionWeights = SelectionWeights()) -> PoseSequence:
    """Run ``estimator`` over every frame of ``source`` and follow one person.

    When several people are detected the patient is chosen over the whole recording (see
    `rehab.pose.select`) and the choice is recorded in ``notes``. Frames without the
    patient are NaN (landmarks, world) and 0 (visibility). ``max_frames`` stops early.
    A live source stops cleanly on Ctrl-C. Raises `NoPoseError` if nobody is ever seen.
    """
    timestamps, cand = _collect_candidates(source, estimator, progress, max_frames)
    n = len(timestamps)
    if n == 0:
        raise InputError(f"{source.name}: no frames to analyse")
    selection = select_person(cand[0], cand[2], source.width, source.height, weights)
    seq_lm = np.full((n, N_LANDMARKS, 3), np.nan, np.float32)
    seq_world = np.full((n, N_LANDMARKS, 3), np.nan, np.float32)
    seq_vis = np.zeros((n, N_LANDMARKS), np.float32)
    for t, k in enumerate(selection.chosen):
        if k >= 0:
            seq_lm[t], seq_world[t], seq_vis[t] = cand[0][t][k], cand[1][t][k], cand[2][t][k]
    found = int((selection.chosen >= 0).sum())
    if found == 0:
        raise NoPoseError(f"{source.name}: no person detected in {n} frames; check that the "
                          "whole body is in view and well lit")
    ts = np.asarray(timestamps, np.float64)
    fps = source.fps
    if not fps > 0:
        fps = float((n - 1) / (ts[-1] - ts[0])) if n > 1 and ts[-1] > ts[0] else 0.0
    notes = list(source.notes) + list(getattr(estimator, "notes", ())) + list(selection.notes)
    if found < n:
        notes.append(Note(NoteCode.NO_PERSON, f"no person detected in {n - found} of {n} frames",
                          {"frames": n - found, "of": n}))
    logger.info("%s: person detected in %d of %d frames", source.name, found, n)
    return PoseSequence(
        landmarks=seq_lm, world=seq_world, visibility=seq_vis, timestamps=ts, fps=fps,
        width=source.width, height=source.height, source=source.name,
        model=estimator.model_name, model_sha256=estimator.model_sha256, notes=tuple(notes),
    )


_Candidates = tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]


def _collect_candidates(source: Source, estimator: PoseEstimator, progress: bool,
                        max_frames: int | None) -> tuple[list[float], _Candidates]:
    """Timestamps and every detected person's (landmarks, world, visibility) per frame,
    with the estimator's later revisions of earlier frames applied."""
    timestamps: list[float] = []
    lms: list[np.ndarray] = []
    worlds: list[np.ndarray] = []
    vises: list[np.ndarray] = []
    total = source.frame_count if max_frames is None or source.frame_count is None \
        else min(source.frame_count, max_frames)
    bar = tqdm(total=total, unit="frame", desc="pose", disable=not _progress_enabled(progress),
               leave=False)
    revise = getattr(estimator, "take_revisions", None)

    def apply_revisions() -> None:
        if revise is not None:
            for index, pose in revise().items():
                if index < len(lms):
                    lms[index], worlds[index], vises[index] = _candidates(pose)

    try:
        for frame in source:
            if max_frames is not None and len(timestamps) >= max_frames:
                break
            lm, world, vis = _candidates(estimator.process(frame.image, frame.timestamp))
            timestamps.append(frame.timestamp)
            lms.append(lm)
            worlds.append(world)
            vises.append(vis)
            apply_revisions()
            bar.update(1)
    except KeyboardInterrupt:
        if not source.is_live:
            raise
        logger.info("%s: capture stopped by the user after %d frames", source.name,
                    len(timestamps))
    finally:
        bar.close()
    finish = getattr(estimator, "finish", None)
    if finish is not None:
        finish()
        apply_revisions()
    return timestamps, (lms, worlds, vises)
