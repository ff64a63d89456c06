"""Environment report for bug reports (``rehab info``)."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import sys

from rehab import __version__
from rehab.settings import DEFAULT_SETTINGS, describe_settings
from rehab.errors import RehabError


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def settings_table() -> list[str]:
    """One line per analysis setting: name, default and what it decides."""
    return [f"  {name:26s} {default:<8g} {doc}" for name, default, doc in describe_settings()]


def collect_info(model: str | os.PathLike[str] | None = None) -> dict[str, str]:
    """Versions of rehab and its dependencies, and the pose model that would be used."""
    info = {
        "rehab": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "mediapipe": _version("mediapipe"),
        "opencv": _version("opencv-contrib-python"),
        "numba": _version("numba"),
        "numpy": _version("numpy"),
        "matplotlib": _version("matplotlib"),
    }
    from rehab.exercises import builtin_exercises_dir, load_library

    library = load_library()
    info["exercises"] = f"{len(library)} in {builtin_exercises_dir()}"
    info["settings"] = f"defaults {DEFAULT_SETTINGS.short_hash()}"
    for ex_id, ex in sorted(library.items()):
        if ex.settings != DEFAULT_SETTINGS:
            changed = ", ".join(f"{k} {v:g}" for k, v in ex.settings.changed().items())
            info[f"settings {ex_id}"] = f"{ex.settings.short_hash()} ({changed})"
    try:
        from rehab.pose.model import resolve_model

        path, name, digest = resolve_model(model)
        info["model"] = f"{name} ({path})"
        info["model sha256"] = digest
    except RehabError as exc:
        info["model"] = f"unavailable: {exc}"
    return info
