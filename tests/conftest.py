"""Fixtures shared by every layer of tests (unit, integration, cli, model, install).

- `_restore_logging` (autouse) takes ``rehab.cli.main``'s log handler off after each test.
- `shared_dir`, `shared_data`, `shared_videos`, `shared_video` find ``../shared/data``
  beside the checkout (``$REHAB_SHARED_DATA`` overrides); all but `shared_dir` skip with
  the reason when what they look for is absent.
- `rehab` runs the ``rehab`` command in a new process; `assert_one_line_error` checks its
  failure is one clear line (tests/cli and tests/model).
- `db`: a patient database holding ``p1``.
- `squat_analysis` builds a squat `Analysis` with exact reps (tests/cli and integration).
- `read_exports` reads exported files back with OpenSim, ezc3d and Pose2Sim in their own
  environment (``scripts/readers-venv.sh``, made on first use when ``make test`` has not).

Helpers are fixtures that return the function, so test modules never import each other.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from rehab.analysis import Analysis

REPO = Path(__file__).resolve().parents[1]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--soak", default="1", metavar="N",
                     help="multiply the rounds of the fault-injection suite (tests/faults) "
                          "by N for a longer soak run")


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """``rehab.cli.main`` puts a handler on the stderr of its test; take it off afterwards
    and put the levels back, so a later test neither writes to that closed stream nor sees
    log lines that depend on which tests ran before it."""
    from rehab.cli import LOG_HANDLER_NAME

    root, rehab_log = logging.getLogger(), logging.getLogger("rehab")
    root_level, rehab_level = root.level, rehab_log.level
    yield
    for handler in [h for h in root.handlers if h.get_name() == LOG_HANDLER_NAME]:
        root.removeHandler(handler)
    root.setLevel(root_level)
    rehab_log.setLevel(rehab_level)


def shared_data_dir() -> Path:
    """``../shared/data`` beside the checkout (``REHAB_SHARED_DATA`` overrides)."""
    env = os.environ.get("REHAB_SHARED_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``../shared/data`` whether it is there or not (for a test that skips on a part of
    it, e.g. the calibration photos)."""
    return shared_data_dir()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real recordings and landmark sets, or a skip with the reason."""
    d = shared_data_dir()
    if not (d / "landmarks" / "manifest.csv").is_file():
        pytest.skip(f"real data not found at {d} (set REHAB_SHARED_DATA or place ../shared/data)")
    return d


@pytest.fixture(scope="session")
def shared_videos(shared_data: Path) -> Path:
    d = shared_data / "videos"
    if not d.is_dir():
        pytest.skip(f"real videos not found at {d}")
    return d


@pytest.fixture(scope="session")
def shared_video() -> Callable[[str], Path]:
    """``shared_video(name)``: a video of ``../shared/data/videos``; skips the test with the
    reason when the folder or the video is absent."""

    def lookup(name: str) -> Path:
        root = shared_data_dir()
        if not (root / "videos").is_dir():
            pytest.skip(f"shared test data not found at {root} (set REHAB_SHARED_DATA)")
        path = root / "videos" / name
        if not path.is_file():
            pytest.skip(f"shared video {path} not found")
        return path

    return lookup


# --- the command line, as a user runs it ---------------------------------------------------


def _rehab(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
           check: bool | None = True) -> subprocess.CompletedProcess[str]:
    """Run the installed ``rehab`` command like a user (new process, real argv)."""
    full_env = {**os.environ, **(env or {})}
    res = subprocess.run([sys.executable, "-m", "rehab", *args], capture_output=True, text=True,
                         cwd=cwd, env=full_env, timeout=600)
    if check is True:
        assert res.returncode == 0, f"rehab {' '.join(args)} failed:\n{res.stderr}"
    return res


def _assert_one_line_error(res: subprocess.CompletedProcess[str], *needles: str) -> None:
    """A clear one-line message on stderr, non-zero exit, no traceback."""
    assert res.returncode != 0
    assert "Traceback" not in res.stderr
    errors = [ln for ln in res.stderr.splitlines() if ln.startswith("rehab: error:")]
    assert len(errors) == 1, res.stderr
    for needle in needles:
        assert needle in errors[0], errors[0]


@pytest.fixture(scope="session")
def rehab() -> Callable[..., subprocess.CompletedProcess[str]]:
    """``rehab(*args, cwd=None, env=None, check=True)``: ``python -m rehab ARGS`` in a new
    process (``env`` added to the environment); with ``check``, asserts it succeeded."""
    return _rehab


@pytest.fixture(scope="session")
def assert_one_line_error() -> Callable[..., None]:
    """``assert_one_line_error(res, *needles)``: ``res`` failed with one ``rehab: error:``
    line on stderr containing every needle, and no traceback."""
    return _assert_one_line_error


# --- the patient database -------------------------------------------------------------------


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A patient database holding patient ``p1`` (a module needing another database defines
    its own ``db``)."""
    from rehab.store import open_store

    path = tmp_path / "clinic.sqlite"
    with open_store(path) as store:
        store.add_patient("p1", "Test Patient")
    return path


# --- analyses -------------------------------------------------------------------------------


def _squat_analysis(n_reps: int = 3, peak: float = 100.0) -> Analysis:
    """A squat analysis with ``n_reps`` exact reps to ``peak`` degrees of knee flexion."""
    from rehab.analysis import analyze_sequence
    from rehab.exercises import get_exercise
    from rehab.synthetic import rep_trajectory, synthetic_sequence

    t, knee = rep_trajectory(n_reps, 30.0, rest=0.0, peak=peak)
    seq = synthetic_sequence(t, {"knee_flexion": knee, "hip_flexion": 0.8 * knee})
    return analyze_sequence(seq, get_exercise("squat"), side="right")


@pytest.fixture(scope="session")
def squat_analysis() -> Callable[..., Analysis]:
    """``squat_analysis(n_reps=3, peak=100.0)``: a right-side squat `Analysis` of
    ``n_reps`` exact reps to ``peak`` degrees of knee flexion."""
    return _squat_analysis


def _write_squats(folder: Path, reps: dict[str, int], peak: float = 100.0) -> dict[str, Path]:
    """``name.npz`` landmark recordings in ``folder`` with ``reps[name]`` exact squats each
    (their ``source`` is their own path)."""
    from rehab.sequence import save_npz
    from rehab.synthetic import rep_trajectory, synthetic_sequence

    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, n in reps.items():
        t, knee = rep_trajectory(n, 30.0, rest=0.0, peak=peak)
        seq = synthetic_sequence(t, {"knee_flexion": knee, "hip_flexion": 0.8 * knee})
        paths[name] = save_npz(seq.replace(source=str(folder / f"{name}.npz")),
                               folder / f"{name}.npz")
    return paths


@pytest.fixture(scope="session")
def write_squats() -> Callable[..., dict[str, Path]]:
    """``write_squats(folder, {"a": 3, "b": 5}, peak=100.0)``: landmark recordings of exact
    squats, ``folder/a.npz`` (3 reps), ``folder/b.npz`` (5), ...; returns name -> path."""
    return _write_squats


# --- independent readers of the exports ---------------------------------------------------


READERS = Path(os.environ.get("REHAB_READERS_VENV", REPO / ".venv" / "readers"))


@pytest.fixture(scope="session")
def read_exports() -> Callable[..., dict]:  # type: ignore[type-arg]
    """``read_exports(trc=None, mot=None, c3d=None, pose2sim=False)``: what OpenSim's own
    readers, ezc3d and Pose2Sim read from the files (tests/readers/read_exports.py), as a
    dict (NaN as None)."""
    import json

    subprocess.run(["bash", str(REPO / "scripts" / "readers-venv.sh"), str(READERS)],
                   check=True, timeout=900)

    def read(trc: Path | None = None, mot: Path | None = None, c3d: Path | None = None,
             pose2sim: bool = False) -> dict:  # type: ignore[type-arg]
        argv = [str(READERS / "bin" / "python"), str(REPO / "tests" / "readers" /
                                                     "read_exports.py")]
        for flag, path in (("--trc", trc), ("--mot", mot), ("--c3d", c3d)):
            if path is not None:
                argv += [flag, str(path)]
        if pose2sim:
            argv.append("--pose2sim")
        res = subprocess.run(argv, capture_output=True, text=True, timeout=300)
        assert res.returncode == 0, res.stderr
        return json.loads(res.stdout)  # type: ignore[no-any-return]

    return read
