"""High-level entry points shared by the CLI, validation and later batch/live front ends."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Literal

from rehab.analysis import Analysis, analyze_sequence
from rehab.errors import InputError
from rehab.exercises import Exercise, get_exercise
from rehab.sequence import PoseSequence, load_npz

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg",
                            ".wmv", ".3gp"})


def is_landmarks_file(path: str | os.PathLike[str]) -> bool:
    """True for a landmarks ``.npz`` (re-scoring without the model)."""
    return Path(path).suffix.lower() == ".npz"


def load_input(path: str | os.PathLike[str], model: str | os.PathLike[str] | None = None,
               progress: bool = True, fps: float | None = None) -> PoseSequence:
    """A pose sequence from a landmarks ``.npz``, a video file or an image folder."""
    p = Path(path)
    if is_landmarks_file(p):
        if model is not None:
            log.warning("--model is ignored for a landmarks file")
        return load_npz(p)
    if not p.exists():
        raise InputError(f"{p}: no such file or folder")
    from rehab.capture import open_source
    from rehab.pose import estimate_sequence
    from rehab.pose.mediapipe_estimator import MediaPipePoseEstimator

    with open_source(p, fps=fps) as source:
        estimator = MediaPipePoseEstimator(model_path=model)
        try:
            return estimate_sequence(source, estimator, progress=progress)
        finally:
            estimator.close()


def resolve_exercise(exercise: str | Exercise, target_min: float | None = None,
                     target_max: float | None = None,
                     exercises_dir: str | os.PathLike[str] | None = None) -> Exercise:
    """The exercise by id (or a path to a ``.toml``), with the prescription's target applied."""
    ex = exercise if isinstance(exercise, Exercise) else get_exercise(exercise, exercises_dir)
    if target_min is not None or target_max is not None:
        ex = ex.with_target(target_min, target_max)
    return ex


def analyze(path: str | os.PathLike[str], exercise: str | Exercise, side: str = "auto",
            target_min: float | None = None, target_max: float | None = None,
            model: str | os.PathLike[str] | None = None, progress: bool = True,
            space: Literal["image", "world"] | None = None,
            exercises_dir: str | os.PathLike[str] | None = None) -> Analysis:
    """Analyse a video, image folder or landmarks file for one exercise."""
    ex = resolve_exercise(exercise, target_min, target_max, exercises_dir)
    seq = load_input(path, model=model, progress=progress)
    return analyze_sequence(seq, ex, side=side, space=space)
