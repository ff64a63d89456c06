"""The pose model file: built offline from the models bundled with mediapipe, or given.

mediapipe 0.10.21 ships the raw BlazePose models
(``mediapipe/modules/pose_detection/pose_detection.tflite`` and
``mediapipe/modules/pose_landmark/pose_landmark_full.tflite``). The Tasks API only accepts
them with image-normalisation metadata, packed in a ``.task`` zip; `build_bundled_model`
adds that metadata and writes the bundle. It is cached in the user cache directory
(``platformdirs.user_cache_dir("rehab")``, or ``$REHAB_CACHE_DIR``), keyed by the mediapipe
version. Nothing here touches the network.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import logging
import os
import tempfile
import zipfile
from pathlib import Path

import platformdirs

from rehab.errors import InputError, OutputError
from rehab.fileio import file_sha256

logger = logging.getLogger(__name__)

CACHE_ENV = "REHAB_CACHE_DIR"
"""Environment variable overriding the cache directory."""

TASK_MEMBERS = ("pose_detector.tflite", "pose_landmarks_detector.tflite")
"""Files a pose landmarker ``.task`` bundle must contain."""

_DETECTOR = ("modules", "pose_detection", "pose_detection.tflite")
_LANDMARKS = ("modules", "pose_landmark", "pose_landmark_full.tflite")
# Input normalisation of the two networks: detector expects [-1, 1], landmarks [0, 1].
_DETECTOR_NORM = (127.5, 127.5)
_LANDMARKS_NORM = (0.0, 255.0)


def cache_dir() -> Path:
    """The directory holding built models (``$REHAB_CACHE_DIR`` or the user cache dir)."""
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_cache_dir("rehab"))


def mediapipe_version() -> str:
    """Installed mediapipe version (read from package metadata, without importing it)."""
    try:
        return importlib.metadata.version("mediapipe")
    except importlib.metadata.PackageNotFoundError:
        raise InputError("mediapipe is not installed; install rehab's dependencies") from None


def bundled_model_name() -> str:
    """Name recorded for the model built from mediapipe's bundled files."""
    return f"pose_landmark_full (mediapipe {mediapipe_version()} bundled)"


def _mediapipe_root() -> Path:
    spec = importlib.util.find_spec("mediapipe")
    if spec is None or not spec.submodule_search_locations:
        raise InputError("mediapipe is not installed; install rehab's dependencies")
    return Path(next(iter(spec.submodule_search_locations)))


def _with_image_metadata(tflite: Path, name: str, mean: float, std: float) -> bytes:
    """The ``tflite`` model with general info and image-normalisation metadata added."""
    from mediapipe.tasks.python.metadata.metadata_writers import metadata_writer

    writer = metadata_writer.MetadataWriter.create(bytearray(tflite.read_bytes()))
    model, _ = writer.add_general_info(name).add_image_input([mean], [std]).populate()
    return bytes(model)


def _is_task_bundle(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
    except (OSError, zipfile.BadZipFile):
        return False
    return all(member in names for member in TASK_MEMBERS)


def build_bundled_model(dest: str | os.PathLike[str]) -> Path:
    """Build the pose landmarker ``.task`` from mediapipe's bundled models into ``dest``.

    The file is written under a temporary name and renamed, so readers never see a partial
    file and two processes building at once both end with a complete, identical file.
    """
    dest = Path(dest)
    root = _mediapipe_root()
    detector, landmarks = root.joinpath(*_DETECTOR), root.joinpath(*_LANDMARKS)
    for part in (detector, landmarks):
        if not part.is_file():
            raise InputError(
                f"mediapipe {mediapipe_version()} does not bundle {part.name}; "
                "pass --model PATH.task (an official pose_landmarker_*.task file)"
            )
    logger.info("building pose model %s from mediapipe's bundled files", dest)
    det_bytes = _with_image_metadata(detector, "pose_detector", *_DETECTOR_NORM)
    lmk_bytes = _with_image_metadata(landmarks, "pose_landmarks_detector", *_LANDMARKS_NORM)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=dest.name + ".", suffix=".part", dir=dest.parent)
    except OSError as exc:
        raise OutputError(f"cannot write the model cache in {dest.parent}: {exc.strerror}") from None
    tmp = Path(tmp_name)
    try:
        os.chmod(fd, 0o644)
        with os.fdopen(fd, "wb") as fh:
            with zipfile.ZipFile(fh, "w", zipfile.ZIP_STORED) as zf:
                # Fixed timestamps keep the bundle (and its sha256) byte-identical across builds.
                for member, data in zip(TASK_MEMBERS, (det_bytes, lmk_bytes)):
                    zf.writestr(zipfile.ZipInfo(member, date_time=(1980, 1, 1, 0, 0, 0)), data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, dest)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"cannot write the model cache {dest}: {exc.strerror}") from None
    return dest


def bundled_model_path() -> Path:
    """Path of the cached bundled model, building it on first use."""
    path = cache_dir() / f"pose_landmarker_full_mediapipe-{mediapipe_version()}.task"
    if path.is_file() and _is_task_bundle(path):
        return path
    if path.exists():
        logger.warning("cached model %s is damaged; rebuilding it", path)
    return build_bundled_model(path)


def resolve_model(path: str | os.PathLike[str] | None = None) -> tuple[Path, str, str]:
    """The model to use: ``(path, name, sha256)``.

    ``path=None`` means the model built from mediapipe's bundled files (cached). Otherwise
    ``path`` must be a pose landmarker ``.task`` bundle such as the official
    ``pose_landmarker_{lite,full,heavy}.task``.
    """
    if path is None:
        built = bundled_model_path()
        return built, bundled_model_name(), file_sha256(built)
    model = Path(path).expanduser()
    if not model.exists():
        raise InputError(f"{model}: no such model file")
    if not model.is_file():
        raise InputError(f"{model}: model must be a .task file, not a folder")
    if not _is_task_bundle(model):
        raise InputError(
            f"{model}: not a MediaPipe pose landmarker .task bundle "
            f"(expected {' and '.join(TASK_MEMBERS)} inside)"
        )
    return model.resolve(), model.stem, file_sha256(model)
