"""Results in the formats other software reads: OpenSim marker trajectories (``.trc``) and
joint angles (``.mot``), C3D (``.c3d``) beside a result folder, and FHIR R4 observations of
a patient's history (`rehab.exports.fhir`).

`write_exports` writes the files of the formats asked for into a result folder; the
conventions (axes, units, marker names) are in `rehab.exports.opensim` and the README.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from rehab.errors import RehabError

if TYPE_CHECKING:
    from rehab.model import Analysis

__all__ = ["EXPORT_FILES", "check_formats", "export_formats", "parse_formats",
           "write_exports"]

EXPORT_FILES: dict[str, str] = {"trc": "markers.trc", "mot": "angles.mot", "c3d": "markers.c3d"}
"""The file each export format writes into the result folder, by format."""


def check_formats(names: Iterable[str]) -> tuple[str, ...]:
    """The export formats ``names`` asks for (case, blanks and a leading dot ignored), in
    `EXPORT_FILES` order; an unknown name, or none, is a `RehabError`."""
    wanted = [n.strip().lower().lstrip(".") for n in names if n.strip()]
    unknown = [n for n in wanted if n not in EXPORT_FILES]
    if not wanted or unknown:
        what = f"unknown format {', '.join(map(repr, unknown))}" if unknown else "no format"
        raise RehabError(f"--export: {what}; choose from {', '.join(EXPORT_FILES)} "
                         f"(comma-separated)")
    return tuple(f for f in EXPORT_FILES if f in wanted)


def parse_formats(text: str) -> tuple[str, ...]:
    """``trc,mot,c3d`` -> `check_formats` of its comma-separated names."""
    return check_formats(str(text).split(","))


def export_formats(text: str) -> tuple[str, ...]:
    """`parse_formats` as an argparse converter (``--export trc,mot``)."""
    try:
        return parse_formats(text)
    except RehabError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--export: ")) from None


def write_exports(analysis: "Analysis", out_dir: str | os.PathLike[str],
                  formats: Iterable[str], private: bool = False) -> dict[str, Path]:
    """Write each of ``formats`` into the folder ``out_dir`` (each file atomically);
    returns the paths by kind (``trc``, ``mot``, ``c3d``)."""
    from rehab.exports import opensim
    from rehab.fileio import write_bytes_atomic, write_text_atomic

    out = Path(out_dir)
    paths: dict[str, Path] = {}
    for fmt in check_formats(formats):
        path = out / EXPORT_FILES[fmt]
        if fmt == "trc":
            write_text_atomic(path, opensim.trc_text(analysis, path.name), private=private)
        elif fmt == "mot":
            write_text_atomic(path, opensim.mot_text(analysis), private=private)
        else:
            from rehab.exports.c3dfile import c3d_bytes

            write_bytes_atomic(path, c3d_bytes(analysis), private=private)
        paths[fmt] = path
    return paths
