"""Model: a batch worker's reused pose model gives every file the results a fresh model
gives it (so a file's results do not depend on the files analysed before it on the same
worker), and ``rehab batch --scheduler`` runs on a Dask cluster started as the README shows
(``dask scheduler``, ``dask worker``) on loopback with free ports."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.model


def _landmarks(video: Path, estimator: object, frames: int) -> np.ndarray:
    from rehab.capture import open_source
    from rehab.pose import estimate_sequence

    with open_source(video) as source:
        return estimate_sequence(source, estimator, progress=False,  # type: ignore[arg-type]
                                 max_frames=frames).landmarks


def test_a_reset_model_gives_the_results_of_a_fresh_one(
        shared_video: Callable[[str], Path]) -> None:
    from rehab.pose.mediapipe_estimator import MediaPipePoseEstimator

    first = shared_video("pose2sim_two_people_cam02.mp4")  # switches to several people
    second = shared_video("shoulder_abduction.mp4")
    with MediaPipePoseEstimator() as fresh:
        expected = _landmarks(second, fresh, 40)
    with MediaPipePoseEstimator() as reused:
        _landmarks(first, reused, 100)
        assert reused.switched_at is not None  # the first recording changed its state
        reused.reset()
        assert reused.switched_at is None and reused.frames_processed == 0
        got = _landmarks(second, reused, 40)
    np.testing.assert_array_equal(got, expected)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def dask_cluster(tmp_path: Path) -> Iterator[str]:
    """A scheduler and one single-threaded worker process, started with Dask's commands."""
    dask = str(Path(sys.executable).parent / "dask")
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env_log = open(tmp_path / "dask.log", "w")
    procs = [subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", str(port),
                               "--dashboard-address", ":0"], stdout=env_log, stderr=env_log)]
    try:
        procs.append(subprocess.Popen([dask, "worker", address, "--nthreads", "1",
                                       "--nworkers", "1", "--no-dashboard"],
                                      stdout=env_log, stderr=env_log))
        yield address
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        env_log.close()


def test_rehab_batch_on_a_running_dask_scheduler(
        tmp_path: Path, dask_cluster: str, shared_video: Callable[[str], Path],
        rehab: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    videos = tmp_path / "videos"
    videos.mkdir()
    shutil.copyfile(shared_video("shoulder_abduction.mp4"), videos / "abduction.mp4")
    (videos / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 but nothing else")
    time.sleep(0.5)
    res = rehab("batch", str(videos), "-e", "shoulder_abduction", "--scheduler", dask_cluster,
                "--max-fps", "10", "--out", str(tmp_path / "out"), "--no-progress",
                check=False)
    assert res.returncode == 1, res.stderr  # one file failed
    assert "1 analysed, 0 skipped (done before), 1 failed" in res.stdout, res.stdout
    assert "on 1 worker(s)" in res.stdout
    rows = (tmp_path / "out" / "summary.csv").read_text().splitlines()
    assert rows[1].startswith(f"{videos / 'abduction.mp4'},,shoulder_abduction,done,7,")
    assert f"{videos / 'broken.mp4'},,shoulder_abduction,failed" in rows[2]
