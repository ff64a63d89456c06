"""Layer 5: the package as a user installs it (a wheel in a fresh virtual environment).

Every other test runs on the editable install of the checkout, where the exercise library
and the report templates are found in the checkout's top-level ``exercises/`` and
``reports/`` folders. Here the checkout is copied, built into a wheel (and into an sdist,
whose own wheel must carry the same data), the wheel is installed with its dependencies
into a new virtual environment, and the installed ``rehab`` command is run from a folder
outside the checkout: ``exercises``, ``analyze`` on a landmarks file, ``patient add``,
``analyze --patient`` and ``report`` (HTML and PDF), the exports.

The first run downloads the dependencies (mediapipe, opencv, numba, ...); later runs take
them from pip's cache.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.install

REPO = Path(__file__).resolve().parents[2]
# The files of the checkout's data folders that the installed package reads.
DATA_FILES = {
    *(f"rehab/_data/exercises/{p.name}" for p in (REPO / "exercises").glob("*.toml")),
    "rehab/_data/exercises/README.md",
    "rehab/_data/reports/template.html",
    "rehab/_data/reports/report.css",
    "rehab/_data/reports/style.mplstyle",
}
# Not copied: version control, virtual environments, build products, caches, outputs.
IGNORED = shutil.ignore_patterns(".git", ".venv", "venv", "build", "dist", "*.egg-info",
                                 "__pycache__", "*.pyc", ".pytest_cache", ".mypy_cache",
                                 "rehab-out")
N_REPS = 4


@dataclass(frozen=True)
class Installed:
    root: Path          # the test's folder, outside the checkout
    wheel: Path         # built from the copied checkout
    sdist: Path
    sdist_wheel: Path   # built from the sdist
    python: Path        # the fresh virtual environment's interpreter
    rehab: Path         # and its ``rehab`` command
    env: dict[str, str]
    install_s: float


def run(cmd: list[str | Path], cwd: Path, env: dict[str, str],
        timeout: float = 600) -> subprocess.CompletedProcess[str]:
    res = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True,
                         text=True, timeout=timeout)
    assert res.returncode == 0, (f"{' '.join(map(str, cmd))} exited {res.returncode}:\n"
                                 f"{res.stdout[-4000:]}\n{res.stderr[-4000:]}")
    return res


def only(folder: Path, pattern: str) -> Path:
    found = sorted(folder.glob(pattern))
    assert len(found) == 1, found
    return found[0]


def clean_env(root: Path) -> dict[str, str]:
    """The user's environment (pip's index and cache settings included) without anything
    that would put the checkout or the test's virtual environment on the path, and with the
    patient database, the exercise folder and the caches that rehab writes kept in ``root``."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "REHAB_EXERCISES_DIR",
                        "REHAB_DB", "PYTHONSTARTUP")}
    env.update(PYTHONNOUSERSITE="1", PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1",
               REHAB_DB=str(root / "clinic" / "rehab.sqlite"),
               REHAB_CACHE_DIR=str(root / "cache"))
    return env


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    root = tmp_path_factory.mktemp("wheel")
    assert not root.resolve().is_relative_to(REPO)
    env = clean_env(root)
    # Build from a copy: an in-tree build would leave build/ and *.egg-info in the checkout
    # (which other runs share) and could pick up stale files from an earlier build/lib.
    src = root / "src"
    shutil.copytree(REPO, src, ignore=IGNORED, symlinks=True)
    dist = root / "dist"
    # The wheel `pip install .` makes (pip's isolated build: setuptools and wheel come from
    # the package index or pip's cache, as for any user).
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", dist, src], root, env)
    wheel = only(dist, "rehab-*.whl")
    # The sdist (through the build backend's own hook), and the wheel pip builds from it.
    run([sys.executable, "-c", "import sys, setuptools.build_meta as b; "
         "print(b.build_sdist(sys.argv[1]))", dist], src, env)
    sdist = only(dist, "rehab-*.tar.gz")
    from_sdist = root / "from-sdist"
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", from_sdist, sdist], root, env)
    sdist_wheel = only(from_sdist, "rehab-*.whl")

    venv = root / "venv"
    run([sys.executable, "-m", "venv", venv], root, env)
    python = venv / "bin" / "python"
    t0 = time.perf_counter()
    run([python, "-m", "pip", "install", "--quiet", wheel], root, env, timeout=1800)
    install_s = time.perf_counter() - t0
    print(f"\nfresh venv: wheel and dependencies installed in {install_s:.1f} s",
          file=sys.stderr)
    return Installed(root, wheel, sdist, sdist_wheel, python, venv / "bin" / "rehab", env,
                     install_s)


@pytest.fixture(scope="module")
def squat_npz(installed: Installed) -> Path:
    """A landmarks file with ``N_REPS`` exact squats, made by the installed package."""
    path = installed.root / f"squat{N_REPS}.npz"
    code = ("import sys\n"
            "from rehab.synthetic import rep_trajectory, synthetic_sequence\n"
            "from rehab.sequence import save_npz\n"
            f"t, knee = rep_trajectory({N_REPS}, 30.0, rest=2.0, peak=95.0)\n"
            "seq = synthetic_sequence(t, {'knee_flexion': knee, 'hip_flexion': 0.8 * knee})\n"
            "save_npz(seq, sys.argv[1])\n")
    run([installed.python, "-c", code, path], installed.root, installed.env)
    assert path.is_file()
    return path


def rehab(installed: Installed, *args: str | Path) -> subprocess.CompletedProcess[str]:
    """The installed command, run from the test's folder (outside the checkout)."""
    return run([installed.rehab, *args], installed.root, installed.env)


def data_files(names: list[str]) -> set[str]:
    return {n for n in names if "/_data/" in n}


def test_wheel_and_sdist_carry_the_data(installed: Installed) -> None:
    names = zipfile.ZipFile(installed.wheel).namelist()
    assert DATA_FILES <= set(names), sorted(DATA_FILES - set(names))
    assert data_files(names) == DATA_FILES  # nothing else (no example images, no calibration)
    assert not [n for n in names if n.startswith(("exercises/", "reports/", "tests/"))]
    with tarfile.open(installed.sdist) as tar:
        members = {m.name.split("/", 1)[1] for m in tar.getmembers() if "/" in m.name}
    for name in ("setup.py", "pyproject.toml", "MANIFEST.in", "exercises/squat.toml",
                 "exercises/README.md", "reports/template.html", "reports/report.css",
                 "reports/style.mplstyle"):
        assert name in members, name
    assert data_files(zipfile.ZipFile(installed.sdist_wheel).namelist()) == DATA_FILES


def test_import_resolves_to_the_fresh_venv(installed: Installed) -> None:
    res = run([installed.python, "-c", "import rehab, sysconfig; print(rehab.__file__); "
               "print(sysconfig.get_paths()['purelib'])"], installed.root, installed.env)
    module, purelib = (Path(line) for line in res.stdout.splitlines())
    assert module.resolve() == (purelib / "rehab" / "__init__.py").resolve()
    assert not module.resolve().is_relative_to(REPO)
    assert (purelib / "rehab" / "_data" / "exercises" / "squat.toml").is_file()


def test_exercises_lists_the_shipped_library(installed: Installed) -> None:
    lines = rehab(installed, "exercises").stdout.strip().splitlines()
    ids = {ln.split()[0] for ln in lines[1:]}
    assert {"squat", "shoulder_abduction"} <= ids
    assert ids == {p.stem for p in (REPO / "exercises").glob("*.toml")}


def test_analyze_a_landmarks_file(installed: Installed, squat_npz: Path) -> None:
    out = installed.root / "out"
    rehab(installed, "analyze", squat_npz, "--exercise", "squat", "--out", out,
          "--export", "trc,mot,c3d")  # the C3D writer is a dependency of the wheel
    doc = json.loads((out / "result.json").read_text())
    assert doc["exercise"] == "squat" and doc["rep_count"] == N_REPS
    assert (out / "markers.c3d").read_bytes()[1] == 0x50 and (out / "angles.mot").is_file()


def test_patient_history_and_report(installed: Installed, squat_npz: Path) -> None:
    db = installed.root / "clinic-db" / "rehab.sqlite"
    rehab(installed, "patient", "add", "p01", "--name", "Ada Lovelace", "--db", db)
    rehab(installed, "analyze", squat_npz, "--exercise", "squat", "--patient", "p01",
          "--db", db, "--out", installed.root / "out-p01")
    for suffix in ("html", "pdf"):
        report = installed.root / f"report.{suffix}"
        res = rehab(installed, "report", "p01", "--db", db, "--out", report, "--no-progress")
        assert res.stdout.strip() == str(report)
        assert report.stat().st_size > 0
    assert (installed.root / "report.pdf").read_bytes()[:4] == b"%PDF"
    bundle = installed.root / "p01.json"
    rehab(installed, "patient", "export", "p01", "--db", db, "--fhir", bundle)
    assert json.loads(bundle.read_text())["resourceType"] == "Bundle"
    html = (installed.root / "report.html").read_text(encoding="utf-8")
    assert "Ada Lovelace" in html and "Squat" in html
    # nothing was written to the user's database
    assert not (installed.root / "clinic").exists()


def test_batch_with_local_workers(installed: Installed, squat_npz: Path) -> None:
    """``rehab batch`` in the fresh venv: Dask's LocalCluster of two worker processes
    (imported from the installed package, outside the checkout), then a resumed run."""
    manifest = installed.root / "batch.csv"
    manifest.write_text(f"file,exercise\n{squat_npz.name},squat\n")
    out = installed.root / "batch-out"
    res = rehab(installed, "batch", manifest, "--out", out, "--jobs", "2", "--no-progress")
    assert "1 analysed, 0 skipped (done before), 0 failed" in res.stdout
    assert json.loads((out / squat_npz.stem / "result.json").read_text())["rep_count"] == N_REPS
    res = rehab(installed, "batch", manifest, "--out", out, "--no-progress")
    assert "0 analysed, 1 skipped (done before), 0 failed" in res.stdout


def test_the_stream_page_ships_and_is_served(installed: Installed) -> None:
    """``rehab live --serve``'s page and the three.js files it loads are in both wheels,
    and the installed server serves each of them."""
    web = REPO / "rehab" / "stream" / "web"
    files = sorted(p.relative_to(web).as_posix() for p in web.rglob("*")
                   if p.is_file() and not p.name.startswith("."))
    assert "index.html" in files and any(f.startswith("vendor/") for f in files)
    for wheel in (installed.wheel, installed.sdist_wheel):
        names = set(zipfile.ZipFile(wheel).namelist())
        assert {f"rehab/stream/web/{f}" for f in files} <= names, wheel
    code = ("import sys, urllib.request\n"
            "from rehab.stream.server import ServeOptions, StreamServer\n"
            "with StreamServer(ServeOptions(port=0)) as s:\n"
            "    for name in sys.argv[1:]:\n"
            "        body = urllib.request.urlopen(f'http://127.0.0.1:{s.port}/{name}').read()\n"
            "        print(name, len(body))\n")
    res = run([installed.python, "-c", code, *files], installed.root, installed.env)
    assert res.stdout.split() == [x for f in files
                                  for x in (f, str((web / f).stat().st_size))]
