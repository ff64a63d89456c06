"""High-level entry points shared by the CLI, validation and later batch/live front ends."""

from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path
from typing import Literal

from rehab.analysis import analyze_sequence
from rehab.errors import InputError
from rehab.exercises import Exercise, get_exercise
from rehab.model import Analysis, CalibrationRef, Distances, PoseSequence, Scale
from rehab.sequence import limit_frame_rate, load_npz
from rehab.settings import AnalysisSettings

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg",
                            ".wmv", ".3gp"})


def is_landmarks_file(path: str | os.PathLike[str]) -> bool:
    """True for a landmarks ``.npz`` (re-scoring without the model)."""
    return Path(path).suffix.lower() == ".npz"


def load_input(path: str | os.PathLike[str], model: str | os.PathLike[str] | None = None,
               progress: bool = True, fps: float | None = None,
               max_fps: float | None = None) -> PoseSequence:
    """A pose sequence from a landmarks ``.npz``, a video file or an image folder.

    ``max_fps`` analyses at most that many frames per second (`rehab.sequence.FrameRateLimit`:
    a video or folder is read with the limit, a landmarks file is thinned by
    `limit_frame_rate`)."""
    p = Path(path)
    if is_landmarks_file(p):
        if model is not None:
            log.warning("--model is ignored for a landmarks file")
        seq = load_npz(p)
        return seq if max_fps is None else limit_frame_rate(seq, max_fps)
    if not p.exists():
        raise InputError(f"{p}: no such file or folder")
    from rehab.capture import open_source
    from rehab.pose import estimate_sequence
    from rehab.pose.mediapipe_estimator import MediaPipePoseEstimator

    with open_source(p, fps=fps, max_fps=max_fps) as source:
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


def apply_calibration(seq: PoseSequence, calibration: str | os.PathLike[str] | None,
                      camera: str | None = None
                      ) -> tuple[PoseSequence, CalibrationRef | None]:
    """Undistort the image landmarks with a camera calibration file (ours or Pose2Sim's)."""
    if calibration is None:
        return seq, None
    from rehab.calibration import load_calibration, undistort_sequence

    calib = load_calibration(calibration, camera=camera)
    return undistort_sequence(seq, calib), CalibrationRef(
        file=str(calibration), name=calib.name, width=calib.width, height=calib.height,
        rms_px=calib.rms_px)


def measure_scale(seq: PoseSequence, height_cm: float | None = None,
                  board: str | None = None, square_mm: float | None = None,
                  video: str | os.PathLike[str] | None = None,
                  calibration: str | os.PathLike[str] | None = None,
                  camera: str | None = None) -> Scale | None:
    """Centimetres per pixel from the patient's height or a checkerboard in the scene."""
    from rehab.calibration import load_calibration, parse_board, scale_from_board, scale_from_height

    if height_cm is not None and board is not None:
        raise InputError("give either --height-cm or --scale-board, not both")
    if height_cm is not None:
        return scale_from_height(seq, height_cm)
    if board is not None:
        if square_mm is None:
            raise InputError("--scale-board needs --scale-square-mm")
        if video is None or is_landmarks_file(video):
            raise InputError("--scale-board needs the video (the board is found in its frames)")
        calib = load_calibration(calibration, camera=camera) if calibration else None
        return scale_from_board(video, parse_board(board), square_mm, calib=calib)
    return None


def add_distances(analysis: Analysis, scale: Scale) -> Analysis:
    """Per-rep distances in centimetres (hip excursion, heel rise, step length)."""
    import math

    from rehab.calibration import distances_cm

    reps = []
    for r in analysis.reps:
        d = distances_cm(analysis.sequence, scale, r.start_frame, r.end_frame + 1)
        reps.append(dataclasses.replace(r, distances_cm=Distances(**{
            k: (round(v, 2) if math.isfinite(v) else None) for k, v in d.items()})))
    return analysis.replace(scale=scale, reps=tuple(reps))


def analyze(path: str | os.PathLike[str], exercise: str | Exercise, side: str = "auto",
            target_min: float | None = None, target_max: float | None = None,
            model: str | os.PathLike[str] | None = None, progress: bool = True,
            space: Literal["image", "world"] | None = None,
            exercises_dir: str | os.PathLike[str] | None = None,
            calibration: str | os.PathLike[str] | None = None, camera: str | None = None,
            height_cm: float | None = None,
            settings: AnalysisSettings | None = None,
            max_fps: float | None = None) -> Analysis:
    """Analyse a video, image folder or landmarks file for one exercise.

    With ``calibration`` the image landmarks are undistorted first; with ``height_cm`` each
    rep also gets distances in centimetres; ``settings`` default to the exercise's;
    ``max_fps`` analyses at most that many frames per second (see `load_input`).
    """
    ex = resolve_exercise(exercise, target_min, target_max, exercises_dir)
    seq = load_input(path, model=model, progress=progress, max_fps=max_fps)
    return analyze_pose(seq, ex, side=side, space=space, calibration=calibration,
                        camera=camera, height_cm=height_cm, video=path, settings=settings)


def analyze_pose(seq: PoseSequence, exercise: Exercise, side: str = "auto",
                 space: Literal["image", "world"] | None = None,
                 calibration: str | os.PathLike[str] | None = None, camera: str | None = None,
                 height_cm: float | None = None, scale_board: str | None = None,
                 scale_square_mm: float | None = None,
                 video: str | os.PathLike[str] | None = None,
                 settings: AnalysisSettings | None = None) -> Analysis:
    """Undistort (with a calibration), analyse, and add distances in cm (with a scale)."""
    seq, calib = apply_calibration(seq, calibration, camera)
    analysis = analyze_sequence(seq, exercise, side=side, space=space, settings=settings)
    if calib is not None:
        analysis = analysis.replace(calibration=calib)
    scale = measure_scale(seq, height_cm=height_cm, board=scale_board,
                          square_mm=scale_square_mm, video=video, calibration=calibration,
                          camera=camera)
    return add_distances(analysis, scale) if scale is not None else analysis
