"""``rehab analyze --export`` and ``rehab patient export --fhir`` run as a user would (new
processes), the files read back by OpenSim/ezc3d and validated by ``fhir.resources``."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle

Rehab = Callable[..., subprocess.CompletedProcess[str]]
OneLineError = Callable[..., None]


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory,
              write_squats: Callable[..., dict[str, Path]]) -> Path:
    return write_squats(tmp_path_factory.mktemp("rec"), {"squats": 3})["squats"]


@pytest.fixture()
def env(tmp_path: Path, rehab: Rehab) -> dict[str, str]:
    """A patient database holding ``p01`` (Ada): the environment that names it."""
    env = {"REHAB_DB": str(tmp_path / "clinic" / "rehab.sqlite")}
    rehab("patient", "add", "p01", "--name", "Ada", env=env)
    return env


def test_analyze_export_writes_files_opensim_and_ezc3d_read(
        recording: Path, tmp_path: Path, rehab: Rehab,
        read_exports: Callable[..., dict[str, Any]]) -> None:
    out = tmp_path / "out"
    res = rehab("analyze", str(recording), "-e", "squat", "--export", "trc,mot,c3d",
                "--out", str(out))
    assert "3 repetition(s)" in res.stdout
    names = sorted(p.name for p in out.iterdir())
    assert names == ["angles.csv", "angles.mot", "landmarks.npz", "markers.c3d", "markers.trc",
                     "reps.csv", "result.json"]
    got = read_exports(trc=out / "markers.trc", mot=out / "angles.mot", c3d=out / "markers.c3d")
    n = json.loads((out / "result.json").read_text())["frames"]
    assert len(got["trc"]["time"]) == len(got["mot"]["time"]) == n
    assert got["trc"]["meta"]["Units"] == "px" and got["c3d"]["units"] == "px"
    assert got["mot"]["storage_rows"] == n
    # the folder is a result folder: a new run replaces it whole, the old exports included
    rehab("analyze", str(recording), "-e", "squat", "--export", "mot", "--out", str(out))
    assert "markers.trc" not in {p.name for p in out.iterdir()}


def test_analyze_export_with_a_scale_writes_metres(recording: Path, tmp_path: Path,
                                                   rehab: Rehab) -> None:
    out = tmp_path / "m"
    rehab("analyze", str(recording), "-e", "squat", "--height-cm", "170", "--export", "trc",
          "--out", str(out))
    assert (out / "markers.trc").read_text().splitlines()[2].split("\t")[4] == "m"


def test_bad_export_requests_fail_in_one_line(recording: Path, tmp_path: Path, rehab: Rehab,
                                              env: dict[str, str],
                                              assert_one_line_error: OneLineError) -> None:
    res = rehab("analyze", str(recording), "-e", "squat", "--export", "trc,osim", "--out",
                str(tmp_path / "x"), check=False)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert [ln for ln in res.stderr.splitlines() if ": error: " in ln] == [
        "rehab analyze: error: argument --export: unknown format 'osim'; choose from trc, "
        "mot, c3d (comma-separated)"]
    assert not (tmp_path / "x").exists()
    res = rehab("analyze", str(recording), "-e", "squat", "--export", "trc", "--patient", "p01",
                env=env, check=False)
    assert_one_line_error(res, "--export with --patient needs --out DIR")
    shown = rehab("patient", "show", "p01", env=env).stdout
    assert "squat" not in shown  # nothing stored


def test_patient_export_fhir_as_a_clinic_would(recording: Path, tmp_path: Path, rehab: Rehab,
                                               env: dict[str, str]) -> None:
    rehab("prescribe", "p01", "squat", "--target-min", "85", "--target-max", "115", "--reps",
          "10", "--sets", "3", "--start", "2024-01-01", env=env)
    rehab("analyze", str(recording), "-e", "squat", "--patient", "p01", "--date",
          "2024-01-05T09:30", env=env)
    out = tmp_path / "fhir" / "p01.json"
    out.parent.mkdir()
    res = rehab("patient", "export", "p01", "--fhir", str(out), env=env)
    assert res.stdout.strip() == str(out)
    assert out.stat().st_mode & 0o777 == 0o600
    bundle = json.loads(out.read_text())
    Bundle.model_validate(bundle)
    kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert kinds.count("Observation") == 2 and kinds.count("Goal") == 1  # squat: both knees
    assert "Ada" not in out.read_text() and str(recording) not in out.read_text()
    res = rehab("patient", "export", "p01", "--fhir", str(out), "--include-name", "--from",
                "2024-01-06", env=env)
    bundle = json.loads(out.read_text())
    Bundle.model_validate(bundle)
    kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert "Observation" not in kinds and '"Ada"' in out.read_text()
    both = tmp_path / "both"
    rehab("patient", "export", "p01", "--fhir", str(out), "--out", str(both), env=env)
    assert (both / "patient.json").is_file() and out.is_file()


@pytest.mark.parametrize(("argv", "message"), [
    ([], "needs --out DIR"),
    (["--out", "{tmp}/e", "--from", "2024-01-01"], "--from needs --fhir"),
    (["--out", "{tmp}/e", "--include-name"], "--include-name needs --fhir"),
    (["--fhir", "{tmp}"], "is a folder"),
    (["--fhir", "{tmp}/no/such/b.json"], "does not exist"),
    (["--fhir", "{tmp}/b.json", "--from", "2024-02-01", "--to", "2024-01-01"], "is after --to"),
    (["--fhir", "{tmp}/b.json", "--from", "yesterday"], "--from"),
])
def test_bad_fhir_export_requests_fail_in_one_line(argv: list[str], message: str,
                                                   tmp_path: Path, rehab: Rehab,
                                                   env: dict[str, str],
                                                   assert_one_line_error: OneLineError) -> None:
    res = rehab("patient", "export", "p01", *[a.format(tmp=tmp_path) for a in argv], env=env,
                check=False)
    assert_one_line_error(res, message)
    assert not (tmp_path / "b.json").exists() and not (tmp_path / "e").exists()


def test_fhir_export_of_an_unknown_patient_fails_in_one_line(
        tmp_path: Path, rehab: Rehab, env: dict[str, str],
        assert_one_line_error: OneLineError) -> None:
    res = rehab("patient", "export", "p99", "--fhir", str(tmp_path / "b.json"), env=env,
                check=False)
    assert_one_line_error(res, "p99")
    assert not (tmp_path / "b.json").exists()
