"""``rehab live --serve`` and ``--vmc`` options as a user meets them: what is refused, in one
line and before the camera or the model is opened (the recording here does not even
exist). The full path, through the real model, is in tests/model/test_stream_real.py."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from rehab.cli import main

Rehab = Callable[..., subprocess.CompletedProcess[str]]
OneLineError = Callable[..., None]


@pytest.mark.parametrize(("extra", "needle"), [
    (["--token", "t"], "--token is only used with --serve"),
    (["--port", "9000"], "--port is only used with --serve"),
    (["--allow-remote"], "--allow-remote is only used with --serve or --vmc"),
    (["--serve", "--host", "0.0.0.0"], "--host 0.0.0.0: anyone on the network could watch"),
    (["--serve", "--token", "two words"], "--token must be a non-empty word"),
    (["--vmc", "192.0.2.7:39539"], "--vmc 192.0.2.7: the body would be sent to another"),
    (["--vmc", "127.0.0.1:99999"], "99999"),
    (["--vmc", "no.such.host.invalid"], "no.such.host.invalid"),
])
def test_stream_options_are_checked_first(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          extra: list[str], needle: str) -> None:
    code = main(["live", "-e", "squat", "--headless", "--source",
                 str(tmp_path / "missing.mp4"), *extra])
    err = capsys.readouterr().err
    errors = [ln for ln in err.splitlines() if ln.startswith("rehab: error:")]
    assert code == 2 and len(errors) == 1 and needle in errors[0], err


def test_a_port_in_use_is_refused_before_the_recording_is_opened(
        tmp_path: Path, rehab: Rehab, assert_one_line_error: OneLineError) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        res = rehab("live", "-e", "squat", "--headless", "--source",
                    str(tmp_path / "missing.mp4"), "--serve", "--port", str(port),
                    check=False)
    assert res.returncode == 2
    assert_one_line_error(res, f"port {port} on 127.0.0.1 is in use", "--port")


def test_the_token_can_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """``$REHAB_STREAM_TOKEN`` (out of the process list) unless --token is given."""
    import argparse

    from rehab.live.cli import _stream_plan

    def plan(*argv: str) -> object:
        p = argparse.ArgumentParser()
        sub = p.add_subparsers()
        from rehab.live.cli import register

        register(sub)
        serve, _ = _stream_plan(p.parse_args(["live", "-e", "squat", *argv]))
        return serve

    monkeypatch.setenv("REHAB_STREAM_TOKEN", "from-env")
    assert plan("--serve").token == "from-env"  # type: ignore[attr-defined]
    assert plan("--serve", "--token", "given").token == "given"  # type: ignore[attr-defined]
    served = plan("--serve", "--allow-origin", "https://a.example", "--port", "0")
    assert served.allowed_origins == ("https://a.example",)  # type: ignore[attr-defined]
    monkeypatch.delenv("REHAB_STREAM_TOKEN")
    assert plan("--serve").token is None  # type: ignore[attr-defined]
