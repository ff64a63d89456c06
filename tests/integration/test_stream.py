"""The WebSocket stream of a live session (no model: replayed synthetic landmarks), with
real WebSocket clients on loopback: messages, rep events against the session's own count,
tokens, origins, slow and coming-and-going clients, and the page's files."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from rehab.errors import InputError
from rehab.exercises import get_exercise
from rehab.live.session import LiveConfig, LiveSession, SessionResult
from rehab.model import N_LANDMARKS
from rehab.pose.estimator import ReplayEstimator
from rehab.sequence import PoseSequence
from rehab.stream.frames import SCHEMA_VERSION, LiveFrame, RepEvent, hello_message
from rehab.stream.server import ServeOptions, StreamServer
from rehab.synthetic import rep_trajectory, synthetic_sequence

from live_fakes import FrameList

pytestmark = pytest.mark.filterwarnings("ignore:connect\\(\\) must be used as a context manager")


def squats(n_reps: int = 3) -> PoseSequence:
    """Squats seen from the side, 30 frames/s, exact knee angles."""
    t, knee = rep_trajectory(n_reps, 30.0, 5.0, 95.0, rep_s=2.0, pause_s=0.8, lead_s=1.0)
    return synthetic_sequence(t, {"left_knee_flexion": knee, "right_knee_flexion": knee,
                                  "hip_flexion": 0.8 * knee}, view="side", width=640,
                              height=480, anchor="feet")


class Recorder:
    """A sink that keeps what it is given."""

    def __init__(self) -> None:
        self.frames: list[LiveFrame] = []
        self.reps: list[RepEvent] = []
        self.ended: tuple[str, int] | None = None
        self.closed = False

    def frame(self, frame: LiveFrame) -> None:
        self.frames.append(frame)

    def rep(self, event: RepEvent) -> None:
        self.reps.append(event)

    def end(self, reason: str, reps: int) -> None:
        self.ended = (reason, reps)

    def close(self) -> None:
        self.closed = True


def run(seq: PoseSequence, sinks: list[Any], exercise: str = "squat",
        on_frame: Any = None) -> SessionResult:
    frames = FrameList(seq.timestamps, seq.width, seq.height)
    if on_frame is not None:
        inner = frames.frames

        def paced() -> Iterator[Any]:
            for frame in inner():
                on_frame(frame.index)
                yield frame
        frames.frames = paced  # type: ignore[method-assign]
    session = LiveSession(frames, ReplayEstimator(seq), get_exercise(exercise),
                          LiveConfig(reps=10, sets=1, mirror=False, camera=False),
                          sinks=sinks)
    return session.run()


@pytest.fixture(scope="module")
def seq() -> PoseSequence:
    return squats()


@pytest.fixture(scope="module")
def plain(seq: PoseSequence) -> tuple[SessionResult, Recorder]:
    rec = Recorder()
    return run(seq, [rec]), rec


def serve(token: str | None = None, **kw: Any) -> StreamServer:
    server = StreamServer(ServeOptions(port=0, token=token, **kw),
                          hello=hello_message("squat", "Squat", "knee_flexion"))
    server.start()
    return server


class Client(threading.Thread):
    """A WebSocket client on its own thread, keeping every message until ``end``."""

    def __init__(self, url: str, **kw: Any) -> None:
        super().__init__(daemon=True)
        self.ws: ClientConnection = connect(url, **kw)
        # the hello comes once the server counts the client in: frames from then on
        self.messages: list[dict[str, Any]] = [json.loads(self.ws.recv(timeout=5))]

    def run(self) -> None:
        for raw in self.ws:
            msg = json.loads(raw)
            self.messages.append(msg)
            if msg["type"] == "end":
                break
        self.ws.close()

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["type"] == kind]


def ws_url(server: StreamServer, query: str = "") -> str:
    return f"ws://127.0.0.1:{server.port}/stream{query}"


# --- the session's sinks -------------------------------------------------------------------


def test_a_sink_gets_every_frame_every_rep_and_the_end(plain: tuple[SessionResult, Recorder],
                                                        seq: PoseSequence) -> None:
    result, rec = plain
    assert result.rep_count == 3
    assert len(rec.frames) == result.stats.frames_processed == seq.n_frames
    assert [e.rep.index for e in rec.reps] == [1, 2, 3]
    assert [e.rep.score for e in rec.reps] == [r.rep.score for r in result.reps]
    assert rec.ended == (result.end_reason, 3)
    f = rec.frames[len(rec.frames) // 2]
    assert f.world is not None and f.world.shape == (N_LANDMARKS, 3)
    assert f.angle_name == "knee_flexion" and f.side in ("left", "right")
    # the streamed angle is the counter's: the rep counter goes up as reps are counted
    done = [f.reps_done for f in rec.frames]
    assert done == sorted(done) and done[-1] == 3
    assert np.nanmax([f.angle_deg for f in rec.frames]) == pytest.approx(95.0, abs=3.0)


def test_a_failing_sink_is_left_out_and_the_session_goes_on(
        seq: PoseSequence, plain: tuple[SessionResult, Recorder]) -> None:
    class Broken(Recorder):
        def frame(self, frame: LiveFrame) -> None:
            raise RuntimeError("boom")

    rec = Recorder()
    result = run(seq, [Broken(), rec])
    assert result.rep_count == plain[0].rep_count and len(rec.frames) == seq.n_frames


# --- the WebSocket server --------------------------------------------------------------------


def test_clients_receive_hello_frames_reps_and_end(seq: PoseSequence,
                                                   plain: tuple[SessionResult, Recorder]
                                                   ) -> None:
    server = serve()
    clients = [Client(ws_url(server)) for _ in range(2)]
    for c in clients:
        c.start()
    try:  # at 500 frames/s at most, which clients on loopback keep up with
        result = run(seq, [server], on_frame=lambda i: time.sleep(0.002))
    finally:
        server.close()
    for c in clients:
        c.join(10)
        hello, first = c.messages[0], c.messages[1]
        assert hello["type"] == "hello" and hello["v"] == SCHEMA_VERSION
        assert len(hello["landmarks"]) == N_LANDMARKS and hello["exercise"]["id"] == "squat"
        assert first["type"] == "frame" and first["v"] == SCHEMA_VERSION
        frames = c.of("frame")
        assert [m["seq"] for m in frames] == list(range(seq.n_frames))  # none dropped
        assert all(len(m["world"]) == N_LANDMARKS and len(m["world"][0]) == 3
                   for m in frames if m["world"] is not None)
        assert {m["angle"]["name"] for m in frames} == {"knee_flexion"}
        assert frames[-1]["reps"] == {"done": 3, "goal": 10}
        reps = c.of("rep")
        assert [m["index"] for m in reps] == [1, 2, 3]
        assert [m["score"] for m in reps] == [r.rep.score for r in result.reps]
        assert [m["rom_deg"] for m in reps] == [round(r.rep.rom_deg, 1) for r in result.reps]
        assert c.messages[-1] == {"type": "end", "v": SCHEMA_VERSION,
                                  "reason": result.end_reason, "reps": 3}
    assert server.stats.connections == 2 and server.stats.dropped == 0
    assert len(server.stats.latencies_ms) == 2 * seq.n_frames


@pytest.mark.parametrize("how", ["query", "header"])
def test_a_token_is_required_and_checked(how: str) -> None:
    server = serve(token="s3cret")
    try:
        with pytest.raises(InvalidStatus, match="401"):
            connect(ws_url(server))
        with pytest.raises(InvalidStatus, match="403"):
            connect(ws_url(server, "?token=wrong")) if how == "query" else \
                connect(ws_url(server), additional_headers={"Authorization": "Bearer wrong"})
        ok = connect(ws_url(server, "?token=s3cret")) if how == "query" else \
            connect(ws_url(server), additional_headers={"Authorization": "Bearer s3cret"})
        assert json.loads(ok.recv(timeout=5))["type"] == "hello"
        ok.close()
        assert server.stats.refused == 2
        assert server.url.endswith("/?token=s3cret")
    finally:
        server.close()


def test_browsers_are_let_in_from_the_page_s_own_origin_only() -> None:
    server = serve(allowed_origins=("https://clinic.example",))
    own = f"http://127.0.0.1:{server.port}"
    try:
        with pytest.raises(InvalidStatus, match="403"):
            connect(ws_url(server), origin="https://evil.example")  # type: ignore[arg-type]
        for origin in (own, "https://clinic.example"):
            ws = connect(ws_url(server), origin=origin)  # type: ignore[arg-type]
            assert json.loads(ws.recv(timeout=5))["type"] == "hello"
            ws.close()
    finally:
        server.close()


def _stalled_client(port: int) -> socket.socket:
    """A WebSocket client that completes the handshake and then never reads (its receive
    buffer made small, so that the server's writes back up at once)."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    s.sendall(b"GET /stream HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
              b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
              b"Sec-WebSocket-Version: 13\r\n\r\n" % port)
    assert b" 101 " in s.recv(1024)
    return s


def test_a_stalled_client_loses_frames_but_slows_nobody(seq: PoseSequence) -> None:
    long = squats(6)
    server = serve()
    stalled = _stalled_client(server.port)
    fast = Client(ws_url(server))
    fast.start()
    try:  # at 500 frames/s, which a client on loopback keeps up with
        result = run(long, [server], on_frame=lambda i: time.sleep(0.002))
    finally:
        server.close(drain_s=0.2)
        stalled.close()
    fast.join(10)
    assert result.stats.frames_processed == long.n_frames
    assert [m["seq"] for m in fast.of("frame")] == list(range(long.n_frames))
    assert len(fast.of("rep")) == result.rep_count == 6
    assert server.stats.dropped > 0  # the stalled client's oldest frames, not the fast one's


def test_ten_clients_coming_and_going_change_nothing_the_session_does(
        seq: PoseSequence, plain: tuple[SessionResult, Recorder]) -> None:
    server = serve()
    events: list[Client] = []

    def churn(index: int) -> None:  # every 5th frame: one client in, the oldest out
        if index % 5 == 0:
            if len(events) >= 10:
                events.pop(0).ws.close()
            c = Client(ws_url(server))
            c.start()
            events.append(c)

    try:
        result = run(seq, [server], on_frame=churn)
    finally:
        server.close()
    assert result.stats.frames_processed == seq.n_frames
    assert [r.rep.score for r in result.reps] == [r.rep.score for r in plain[0].reps]
    assert server.stats.connections == len(range(0, seq.n_frames, 5))
    assert server.stats.clients_max == 10


def test_the_page_and_its_files_are_served_and_nothing_else() -> None:
    server = serve(token="t")
    base = f"http://127.0.0.1:{server.port}"
    try:
        page = urllib.request.urlopen(base + "/?token=t", timeout=5)
        assert page.headers["Content-Type"].startswith("text/html")
        for bad in ("/../pyproject.toml", "/%2e%2e/pyproject.toml", "/nothing.js"):
            with pytest.raises(urllib.error.HTTPError, match="404"):
                urllib.request.urlopen(base + bad, timeout=5)
    finally:
        server.close()


def test_a_port_in_use_and_a_remote_host_are_refused_in_one_line(
        caplog: pytest.LogCaptureFixture) -> None:
    server = serve()
    try:
        with pytest.raises(InputError, match=f"port {server.port} on 127.0.0.1 is in use"):
            StreamServer(ServeOptions(port=server.port)).start()
    finally:
        server.close()
    with pytest.raises(InputError, match="--allow-remote"):
        StreamServer(ServeOptions(host="0.0.0.0", port=0))
    remote = StreamServer(ServeOptions(host="0.0.0.0", port=0, allow_remote=True))
    assert "WITHOUT a token" in caplog.text
    remote.close()  # never started: nothing to stop


def test_no_more_than_max_clients(monkeypatch: pytest.MonkeyPatch) -> None:
    import rehab.stream.server as server_module

    monkeypatch.setattr(server_module, "MAX_CLIENTS", 2)
    server = serve()
    try:
        first, second = Client(ws_url(server)), Client(ws_url(server))
        with pytest.raises(InvalidStatus, match="503"):
            connect(ws_url(server))
        first.ws.close()
        second.ws.close()
    finally:
        server.close()


def test_the_readme_client_prints_each_rep(seq: PoseSequence,
                                           capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's 20-line client, as written, against a session."""
    import re
    import sys
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    block = re.search(r"A client in 20 lines.*?```python\n(.*?)```", readme, re.S)
    assert block is not None and len(block.group(1).splitlines()) <= 20
    server = serve()
    monkeypatch.setattr(sys, "argv", ["client.py", ws_url(server)])
    client = threading.Thread(target=exec, args=(compile(block.group(1), "README", "exec"), {}))
    client.start()
    deadline = time.monotonic() + 10
    while server.clients == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        run(seq, [server])
    finally:
        server.close()
    client.join(10)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "following Squat"
    assert [ln.split(":")[0] for ln in lines if ln.startswith("rep ")] == \
        ["rep 1", "rep 2", "rep 3"]
    assert lines[-1].startswith("ended: ") and lines[-1].endswith(" 3 reps")
    assert any(ln.startswith("t=") and "left hip at [" in ln for ln in lines)
