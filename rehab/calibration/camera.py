"""`CameraCalibration` (pinhole intrinsics + OpenCV distortion) and its TOML files.

Two formats are read and written:

- **rehab** (ours): one ``[camera]`` table with ``name``, ``model``, ``width``, ``height``,
  ``fx``, ``fy``, ``cx``, ``cy`` (pixels), ``dist = [k1, k2, p1, p2, k3]`` (OpenCV order),
  ``rms_px``, ``images_used``, ``created`` (ISO 8601, UTC), and an optional free-form
  ``[provenance]`` table (board, square size, distortion model, per-image errors).
- **Pose2Sim / Sports2D** (``Calib_*.toml``): one table per camera with ``name``,
  ``size = [w, h]``, ``matrix = [[fx,0,cx],[0,fy,cy],[0,0,1]]``,
  ``distortions = [k1, k2, p1, p2]``, ``rotation`` (Rodrigues), ``translation`` (metres),
  ``fisheye``, plus a ``[metadata]`` table (``adjusted``, ``error``).

Both are documented for users in ``calibration/README.md``.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import logging
import math
import os
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rehab.errors import ConfigError
from rehab.fileio import write_text_atomic
from rehab.limits import as_float

log = logging.getLogger(__name__)

_CAMERA_KEYS = frozenset(
    {"name", "model", "width", "height", "fx", "fy", "cx", "cy", "dist", "rms_px",
     "images_used", "created"}
)
_REQUIRED_KEYS = ("width", "height", "fx", "fy", "cx", "cy", "dist")


@dataclasses.dataclass(frozen=True)
class CameraCalibration:
    """Intrinsics of one camera at one resolution (pixels; OpenCV pinhole model).

    ``dist`` is ``(k1, k2, p1, p2, k3)``. ``rms_px`` is the RMS reprojection error of the
    calibration (NaN when unknown, e.g. read from a Pose2Sim file).
    """

    name: str
    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float
    dist: tuple[float, float, float, float, float]
    rms_px: float = math.nan
    images_used: int = 0
    created: str = ""
    model: str = "pinhole"

    def __post_init__(self) -> None:
        if self.model != "pinhole":
            raise ConfigError(f"camera '{self.name}': unsupported model '{self.model}' "
                              "(only 'pinhole' with OpenCV distortion is supported)")
        if int(self.width) <= 0 or int(self.height) <= 0:
            raise ConfigError(f"camera '{self.name}': bad image size {self.width}x{self.height}")
        values = (self.fx, self.fy, self.cx, self.cy, *self.dist)
        if len(self.dist) != 5:
            raise ConfigError(f"camera '{self.name}': dist must have 5 values "
                              f"[k1, k2, p1, p2, k3], got {len(self.dist)}")
        if not all(math.isfinite(float(v)) for v in values):
            raise ConfigError(f"camera '{self.name}': intrinsics must be finite numbers")
        if self.fx <= 0 or self.fy <= 0:
            raise ConfigError(f"camera '{self.name}': focal lengths must be positive "
                              f"(fx={self.fx}, fy={self.fy})")

    @property
    def camera_matrix(self) -> np.ndarray:
        """The 3x3 intrinsic matrix K (float64)."""
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    @property
    def dist_coeffs(self) -> np.ndarray:
        """Distortion coefficients ``(k1, k2, p1, p2, k3)`` as a float64 array of shape (5,)."""
        return np.asarray(self.dist, dtype=np.float64)

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)`` in pixels."""
        return int(self.width), int(self.height)

    def check_size(self, width: int, height: int, what: str = "the video") -> None:
        """Raise `ConfigError` unless ``width x height`` is the calibrated resolution."""
        if (int(width), int(height)) == self.size:
            return
        hint = ""
        if (int(height), int(width)) == self.size:
            hint = " (portrait vs landscape: calibrate in the orientation you film)"
        elif abs(width / height - self.width / self.height) < 1e-3:
            hint = " (same aspect ratio but a different resolution: calibrate at the " \
                   "resolution you film)"
        raise ConfigError(
            f"calibration '{self.name}' is for {self.width}x{self.height} images but "
            f"{what} is {width}x{height}{hint}"
        )

    @classmethod
    def from_opencv(cls, name: str, size: tuple[int, int], camera_matrix: np.ndarray,
                    dist_coeffs: np.ndarray, rms_px: float = math.nan, images_used: int = 0,
                    created: str | None = None) -> "CameraCalibration":
        """Build from OpenCV arrays (K 3x3; 4, 5 or more distortion coefficients)."""
        k = np.asarray(camera_matrix, dtype=np.float64)
        d = np.zeros(5)
        flat = np.asarray(dist_coeffs, dtype=np.float64).ravel()
        if flat.size > 5 and np.any(flat[5:] != 0):
            raise ConfigError(f"camera '{name}': only the 5-coefficient distortion model "
                              "(k1, k2, p1, p2, k3) is supported")
        d[: min(5, flat.size)] = flat[:5]
        return cls(
            name=name, width=int(size[0]), height=int(size[1]),
            fx=float(k[0, 0]), fy=float(k[1, 1]), cx=float(k[0, 2]), cy=float(k[1, 2]),
            dist=tuple(float(v) for v in d),  # type: ignore[arg-type]
            rms_px=float(rms_px), images_used=int(images_used),
            created=created if created is not None else utc_now(),
        )


def utc_now() -> str:
    """Current UTC time as ISO 8601 with seconds (``2025-01-31T12:00:00Z``)."""
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------- TOML writing

def _toml_value(value: Any) -> str:
    """Serialise a scalar, string or (nested) list as a TOML inline value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # JSON escapes are valid TOML escapes
    if isinstance(value, (list, tuple, np.ndarray)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_toml_key(str(k))} = {_toml_value(v)}"
                               for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def _toml_key(key: str) -> str:
    bare = key and all(c.isascii() and (c.isalnum() or c in "-_") for c in key)
    return key if bare else json.dumps(key, ensure_ascii=False)


def _toml_table(name: str, items: Mapping[str, Any]) -> str:
    lines = [f"[{_toml_key(name)}]"]
    lines += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in items.items()]
    return "\n".join(lines) + "\n"


def calibration_to_toml(calib: CameraCalibration,
                        provenance: Mapping[str, Any] | None = None) -> str:
    """Our TOML text for ``calib`` (``[camera]`` and optional ``[provenance]``)."""
    camera = {
        "name": calib.name, "model": calib.model, "width": int(calib.width),
        "height": int(calib.height), "fx": calib.fx, "fy": calib.fy, "cx": calib.cx,
        "cy": calib.cy, "dist": list(calib.dist), "rms_px": calib.rms_px,
        "images_used": int(calib.images_used), "created": calib.created,
    }
    text = ("# rehab camera calibration: pinhole intrinsics in pixels, OpenCV distortion\n"
            "# dist = [k1, k2, p1, p2, k3]; valid only at width x height.\n"
            "# See calibration/README.md\n"
            + _toml_table("camera", camera))
    if provenance:
        text += "\n" + _toml_table("provenance", provenance)
    return text


def save_calibration(calib: CameraCalibration, path: str | os.PathLike[str],
                     provenance: Mapping[str, Any] | None = None) -> Path:
    """Write ``calib`` in our TOML format, atomically."""
    return write_text_atomic(path, calibration_to_toml(calib, provenance))


def pose2sim_toml(calibs: Sequence[CameraCalibration]) -> str:
    """Pose2Sim/Sports2D ``Calib_*.toml`` text for one or more cameras (intrinsics only).

    Extrinsics are unknown from a checkerboard intrinsic calibration: ``rotation`` and
    ``translation`` are written as zeros. Pose2Sim stores four distortion coefficients, so a
    non-zero k3 cannot be represented; it is dropped with a warning.
    """
    parts = []
    for i, c in enumerate(calibs, start=1):
        if c.dist[4] != 0.0:
            log.warning("camera '%s': k3=%.6g dropped, the Pose2Sim format stores only "
                        "k1, k2, p1, p2", c.name, c.dist[4])
        k = c.camera_matrix
        parts.append(_toml_table(f"cam_{i}" if not c.name else c.name, {
            "name": c.name or f"cam_{i}",
            "size": [float(c.width), float(c.height)],
            "matrix": k.tolist(),
            "distortions": list(c.dist[:4]),
            "rotation": [0.0, 0.0, 0.0],
            "translation": [0.0, 0.0, 0.0],
            "fisheye": False,
        }))
    parts.append(_toml_table("metadata", {"adjusted": False, "error": 0.0}))
    return "\n".join(parts)


def save_pose2sim_toml(calib: CameraCalibration | Sequence[CameraCalibration],
                       path: str | os.PathLike[str]) -> Path:
    """Write one camera (or several) in the Pose2Sim/Sports2D calibration format."""
    calibs = [calib] if isinstance(calib, CameraCalibration) else list(calib)
    names = [c.name for c in calibs]
    if len(set(names)) != len(names):
        raise ConfigError(f"{path}: camera names must be unique, got {names}")
    return write_text_atomic(path, pose2sim_toml(calibs))


# --------------------------------------------------------------------------- TOML reading

def _number(path: Path, where: str, value: Any, unknown_nan: bool = False) -> float:
    """A finite number (``nan`` and ``inf`` refused; ``nan`` is "unknown" where
    ``unknown_nan``, e.g. the RMS error of a calibration read from Pose2Sim)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{path}: {where} must be a number, got {value!r}")
    number = as_float(value)
    if not math.isfinite(number) and not (unknown_nan and math.isnan(number)):
        raise ConfigError(f"{path}: {where} must be a finite number, got {value!r}")
    return number


def _numbers(path: Path, where: str, value: Any, n: int | tuple[int, ...]) -> list[float]:
    allowed = (n,) if isinstance(n, int) else n
    if not isinstance(value, list) or len(value) not in allowed:
        want = " or ".join(str(a) for a in allowed)
        raise ConfigError(f"{path}: {where} must be a list of {want} numbers, got {value!r}")
    return [_number(path, f"{where}[{i}]", v) for i, v in enumerate(value)]


def _integer(path: Path, where: str, value: Any) -> int:
    v = _number(path, where, value)
    if v != int(v):
        raise ConfigError(f"{path}: {where} must be a whole number of pixels, got {value!r}")
    return int(v)


def _from_rehab(path: Path, table: Mapping[str, Any]) -> CameraCalibration:
    unknown = sorted(set(table) - _CAMERA_KEYS)
    if unknown:
        raise ConfigError(f"{path}: unknown key camera.{unknown[0]} "
                          f"(allowed: {', '.join(sorted(_CAMERA_KEYS))})")
    missing = [k for k in _REQUIRED_KEYS if k not in table]
    if missing:
        raise ConfigError(f"{path}: missing key camera.{missing[0]}")
    dist = _numbers(path, "camera.dist", table["dist"], (4, 5))
    dist += [0.0] * (5 - len(dist))
    name = table.get("name", path.stem)
    if not isinstance(name, str):
        raise ConfigError(f"{path}: camera.name must be a string")
    return CameraCalibration(
        name=name,
        width=_integer(path, "camera.width", table["width"]),
        height=_integer(path, "camera.height", table["height"]),
        fx=_number(path, "camera.fx", table["fx"]),
        fy=_number(path, "camera.fy", table["fy"]),
        cx=_number(path, "camera.cx", table["cx"]),
        cy=_number(path, "camera.cy", table["cy"]),
        dist=tuple(dist),  # type: ignore[arg-type]
        rms_px=_number(path, "camera.rms_px", table.get("rms_px", math.nan), unknown_nan=True),
        images_used=_integer(path, "camera.images_used", table.get("images_used", 0)),
        created=str(table.get("created", "")),
        model=str(table.get("model", "pinhole")),
    )


def _pose2sim_cameras(data: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {k: v for k, v in data.items()
            if isinstance(v, dict) and "matrix" in v and "size" in v}


def _from_pose2sim(path: Path, key: str, table: Mapping[str, Any]) -> CameraCalibration:
    where = f"[{key}]"
    if table.get("fisheye", False):
        raise ConfigError(f"{path}: {where} is a fisheye calibration, which is not supported "
                          "(recalibrate with the pinhole model)")
    size = _numbers(path, f"{where} size", table["size"], 2)
    matrix = table["matrix"]
    if not (isinstance(matrix, list) and len(matrix) == 3):
        raise ConfigError(f"{path}: {where} matrix must be 3x3")
    rows = [_numbers(path, f"{where} matrix[{i}]", r, 3) for i, r in enumerate(matrix)]
    k = np.array(rows)
    if abs(k[0, 1]) > 1e-9 * max(1.0, abs(k[0, 0])) or not np.allclose(k[2], [0, 0, 1]):
        raise ConfigError(f"{path}: {where} matrix must be [[fx,0,cx],[0,fy,cy],[0,0,1]]")
    dist = _numbers(path, f"{where} distortions", table.get("distortions", [0.0] * 4),
                    (4, 5))
    name = table.get("name", key)
    return CameraCalibration.from_opencv(
        name=str(name), size=(_integer(path, f"{where} size[0]", size[0]),
                              _integer(path, f"{where} size[1]", size[1])),
        camera_matrix=k, dist_coeffs=np.array(dist), created="",
    )


def _read_toml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"{path}: calibration file not found")
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror or exc})") from None


_NOT_CALIBRATION = ("not a calibration file (expected a [camera] table with fx, fy, cx, cy, "
                    "dist, or Pose2Sim sections with size and matrix)")


def load_calibration(path: str | os.PathLike[str], camera: str | None = None
                     ) -> CameraCalibration:
    """Read a calibration TOML, ours or Pose2Sim's (detected from its content).

    For a Pose2Sim file with several cameras, ``camera`` selects one by section or ``name``;
    without it the first camera is used and a warning names the others.
    """
    path = Path(path)
    data = _read_toml(path)
    if isinstance(data.get("camera"), dict):
        calib = _from_rehab(path, data["camera"])
        if camera is not None and camera != calib.name:
            raise ConfigError(f"{path}: holds camera '{calib.name}', not '{camera}'")
        return calib
    cams = _pose2sim_cameras(data)
    if not cams:
        raise ConfigError(f"{path}: {_NOT_CALIBRATION}")
    key, table = _pick_pose2sim_camera(path, cams, camera)
    return _from_pose2sim(path, key, table)


def _pick_pose2sim_camera(path: Path, cams: Mapping[str, Mapping[str, Any]],
                          camera: str | None) -> tuple[str, Mapping[str, Any]]:
    """The ``(section, table)`` of ``camera`` (by section or ``name``) among ``cams``, or
    of the first camera when ``camera`` is None (with a warning naming the others)."""
    names = ", ".join(str(t.get("name", k)) for k, t in cams.items())
    if camera is not None:
        for key, table in cams.items():
            if camera in (key, table.get("name")):
                return key, table
        raise ConfigError(f"{path}: no camera '{camera}' (cameras: {names})")
    key, table = next(iter(cams.items()))
    if len(cams) > 1:
        log.warning("%s: %d cameras, using the first ('%s'); choose another with camera=NAME "
                    "(cameras: %s)", path, len(cams), table.get("name", key), names)
    return key, table


def load_pose2sim_cameras(path: str | os.PathLike[str]) -> list[CameraCalibration]:
    """All cameras of a Pose2Sim/Sports2D calibration file, in file order."""
    path = Path(path)
    cams = _pose2sim_cameras(_read_toml(path))
    if not cams:
        raise ConfigError(f"{path}: {_NOT_CALIBRATION}")
    return [_from_pose2sim(path, k, t) for k, t in cams.items()]
