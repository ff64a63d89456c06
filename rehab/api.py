"""The public Python API, re-exported at the package's top level (``rehab.analyze`` ...).

>>> import rehab
>>> seq = rehab.load("squat.npz")                                    # doctest: +SKIP
>>> result = rehab.analyze(seq, "squat", side="right")               # doctest: +SKIP
>>> [rep.peak_deg for rep in result.reps]                            # doctest: +SKIP
>>> rehab.save_results(result, "out/")                               # doctest: +SKIP
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal, Sequence

from rehab.analysis import result_folder, write_outputs
from rehab.exercises import Exercise
from rehab.model import Analysis, PoseSequence
from rehab.pipeline import analyze_pose, load_input, resolve_exercise
from rehab.settings import AnalysisSettings


def load(path: str | os.PathLike[str], model: str | os.PathLike[str] | None = None,
         progress: bool = False, fps: float | None = None) -> PoseSequence:
    """Pose landmarks of a recording.

    Parameters
    ----------
    path:
        a landmarks ``.npz`` (read as it is), a video file or a folder of images (run
        through the MediaPipe pose model).
    model:
        a MediaPipe ``pose_landmarker_*.task`` file (default: the full model built from the
        installed mediapipe).
    progress:
        show a progress bar while the model runs.
    fps:
        frame rate of an image folder (default 30).

    Returns
    -------
    PoseSequence
        landmarks, world coordinates, visibility and timestamps of the followed person.

    Raises
    ------
    rehab.errors.InputError
        missing or unreadable input; `rehab.errors.NoPoseError` when nobody is seen.
    """
    return load_input(path, model=model, progress=progress, fps=fps)


def analyze(recording: PoseSequence | str | os.PathLike[str], exercise: str | Exercise,
            side: str = "auto", *, target: tuple[float, float] | None = None,
            settings: AnalysisSettings | None = None,
            space: Literal["image", "world"] | None = None,
            calibration: str | os.PathLike[str] | None = None,
            height_cm: float | None = None,
            exercises_dir: str | os.PathLike[str] | None = None) -> Analysis:
    """Count and score the repetitions of one exercise in a recording.

    Parameters
    ----------
    recording:
        a `PoseSequence` (from `load`) or a path `load` accepts.
    exercise:
        an exercise id (``rehab exercises`` lists them), a path to an exercise ``.toml`` or
        an `Exercise`.
    side:
        ``left``, ``right`` or ``auto`` (the side that moves most and is best seen).
    target:
        the prescribed (min, max) band of the peak angle in degrees (default: the
        exercise's).
    settings:
        analysis thresholds (default: the exercise's, see `rehab.settings`).
    space:
        ``image`` (2D) or ``world`` (3D) angles (default: as the exercise says).
    calibration:
        a camera calibration TOML: landmarks are undistorted first.
    height_cm:
        the patient's height: each rep also gets distances in centimetres.
    exercises_dir:
        an extra folder of exercise definitions.

    Returns
    -------
    Analysis
        ``reps`` (counted `Rep` records), ``partial`` (uncounted candidates), ``notes``,
        the angles and smoothed signals, and the settings used.
    """
    lo, hi = target if target is not None else (None, None)
    ex = resolve_exercise(exercise, lo, hi, exercises_dir)
    seq = recording if isinstance(recording, PoseSequence) else load(recording)
    video = None if isinstance(recording, PoseSequence) else recording
    return analyze_pose(seq, ex, side=side, space=space, calibration=calibration,
                        height_cm=height_cm, video=video, settings=settings)


def save_results(analysis: Analysis, out_dir: str | os.PathLike[str],
                 landmarks: bool = True, private: bool = False,
                 exports: Sequence[str] = ()) -> dict[str, Path]:
    """Write ``result.json``, ``reps.csv``, ``angles.csv`` (and ``landmarks.npz``, and the
    ``exports``).

    Parameters
    ----------
    analysis:
        what `analyze` returned.
    out_dir:
        the result folder: the files are written in private beside it and appear together
        (the previous results in it stay untouched until then); a folder holding other
        files than results is refused (`rehab.errors.OutputError`).
    landmarks:
        also write the landmarks (``landmarks.npz``), which `load` reads back.
    private:
        readable by their owner only (results of a patient).
    exports:
        formats for other software, any of ``trc`` (OpenSim markers, ``markers.trc``),
        ``mot`` (OpenSim joint angles, ``angles.mot``) and ``c3d`` (``markers.c3d``); see
        `rehab.exports`.

    Returns
    -------
    dict
        the written paths by kind (``result_json``, ``reps_csv``, ``angles_csv``,
        ``landmarks_npz``, and ``trc``, ``mot``, ``c3d``).
    """
    from rehab.exports import check_formats, write_exports

    formats = check_formats(exports) if exports else ()  # refused before anything is written
    with result_folder(out_dir, private=private) as folder:
        paths = write_outputs(analysis, folder.path, write_landmarks=landmarks)
        if formats:
            paths.update(write_exports(analysis, folder.path, formats))
    return {k: folder.final / p.name for k, p in paths.items()}
