"""Read rehab's exports back with software nobody on the team wrote; print what was read as
JSON on stdout (NaN as null). Runs in the readers' own environment (requirements.txt).

    python read_exports.py [--trc F] [--mot F] [--c3d F] [--pose2sim]

- ``--trc``: OpenSim's ``TimeSeriesTableVec3`` (its TRCFileAdapter): labels, metadata,
  times, markers (frames x markers x 3);
- ``--mot``: OpenSim's ``TimeSeriesTable`` and its legacy ``Storage`` (the GUI's reader):
  labels, times, values, ``inDegrees``, the rows each one read;
- ``--c3d``: ezc3d: labels, units, rate, points (frames x markers x 3) and residuals;
- ``--pose2sim``: Pose2Sim's BlazePose skeleton (marker -> MediaPipe landmark index) and the
  marker names of its OpenSim marker set (``Markers_BlazePose.xml``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from importlib import resources
from typing import Any


def _clean(x: Any) -> Any:
    if isinstance(x, float):
        return None if math.isnan(x) else x
    if isinstance(x, list):
        return [_clean(v) for v in x]
    return x


def _opensim() -> Any:
    """OpenSim, logging to stderr only (it would write ``opensim.log`` into the working
    folder)."""
    import opensim as osim

    osim.Logger.removeFileSink()
    return osim


def read_trc(path: str) -> dict[str, Any]:
    osim = _opensim()

    table = osim.TimeSeriesTableVec3(path)
    flat = table.flatten()  # keep the flattened table alive while its matrix is read
    matrix = flat.getMatrix().to_numpy()
    n, m = table.getNumRows(), table.getNumColumns()
    keys = list(table.getTableMetaDataKeys())
    return {"labels": list(table.getColumnLabels()),
            "meta": {k: table.getTableMetaDataAsString(k) for k in keys},
            "time": list(table.getIndependentColumn()),
            "markers": matrix.reshape(n, m, 3).tolist()}


def read_mot(path: str) -> dict[str, Any]:
    osim = _opensim()

    table = osim.TimeSeriesTable(path)
    values = table.getMatrix().to_numpy()
    storage = osim.Storage(path)
    labels = storage.getColumnLabels()
    return {"labels": list(table.getColumnLabels()),
            "meta": {k: table.getTableMetaDataAsString(k)
                     for k in table.getTableMetaDataKeys()},
            "time": list(table.getIndependentColumn()), "values": values.tolist(),
            "storage_rows": storage.getSize(), "storage_in_degrees": storage.isInDegrees(),
            "storage_labels": [labels.get(i) for i in range(labels.getSize())]}


def read_c3d(path: str) -> dict[str, Any]:
    import ezc3d

    c = ezc3d.c3d(path)
    point = c["parameters"]["POINT"]
    points = c["data"]["points"]  # 4 x markers x frames
    return {"labels": list(point["LABELS"]["value"]), "units": point["UNITS"]["value"][0],
            "rate": float(point["RATE"]["value"][0]),
            "points": points[:3].transpose(2, 1, 0).tolist(),
            "residuals": c["data"]["meta_points"]["residuals"][0].T.tolist()}


def read_pose2sim() -> dict[str, Any]:
    import xml.etree.ElementTree as ET

    from anytree import PreOrderIter
    from Pose2Sim.skeletons import BLAZEPOSE

    xml = resources.files("Pose2Sim").joinpath("OpenSim_Setup/Markers_BlazePose.xml")
    names = [e.get("name") for e in ET.fromstring(xml.read_text()).iter("Marker")]
    return {"skeleton": {n.name: n.id for n in PreOrderIter(BLAZEPOSE) if n.id is not None},
            "markerset": names}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trc")
    ap.add_argument("--mot")
    ap.add_argument("--c3d")
    ap.add_argument("--pose2sim", action="store_true")
    args = ap.parse_args()
    result = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # what the readers print themselves goes to stderr, the JSON alone to stdout
    out: dict[str, Any] = {}
    if args.trc:
        out["trc"] = read_trc(args.trc)
    if args.mot:
        out["mot"] = read_mot(args.mot)
    if args.c3d:
        out["c3d"] = read_c3d(args.c3d)
    if args.pose2sim:
        out["pose2sim"] = read_pose2sim()
    json.dump(_clean_tree(out), result)
    result.close()
    return 0


def _clean_tree(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _clean_tree(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_clean_tree(v) for v in x]
    return _clean(x)


if __name__ == "__main__":
    sys.exit(main())
