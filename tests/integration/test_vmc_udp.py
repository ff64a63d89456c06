"""`VmcSender` over real UDP on loopback: one well-formed VMC bundle per frame (address
patterns, argument types, all 17 bones, the quaternions `vmc_pose` computes), nothing for a
frame without a person, no exception towards a port nobody listens on, a bad host refused
at construction, the thread stopped by close."""

from __future__ import annotations

import dataclasses
import socket
import time

import numpy as np
import pytest
from pythonosc.osc_bundle import OscBundle
from pythonosc.osc_packet import OscPacket

from rehab.errors import InputError
from rehab.stream.frames import LiveFrame
from rehab.stream.vmc import BONES, VmcSender, vmc_pose
from rehab.synthetic import synthetic_sequence


def live_frame(t: float, world: np.ndarray | None) -> LiveFrame:
    values = dict(t=t, captured=time.monotonic(), world=world,
                  visibility=None if world is None else np.ones(33, np.float32),
                  angle_name="knee_flexion", side="left", angle_deg=float("nan"),
                  target=(0.0, 90.0), rest="low", reps_done=0, reps_goal=10, set_no=1, sets=1,
                  state="rest", cue=None)
    names = {f.name for f in dataclasses.fields(LiveFrame)}
    return LiveFrame(**{k: v for k, v in values.items() if k in names})  # type: ignore[arg-type]


@pytest.fixture
def receiver():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(2.0)
    yield sock
    sock.close()


def receive(sock: socket.socket, n: int) -> list[bytes]:
    return [sock.recvfrom(65536)[0] for _ in range(n)]


def squat_world(knee: float) -> np.ndarray:
    seq = synthetic_sequence(np.array([0.0]), {"knee_flexion": knee, "hip_flexion": knee / 2},
                             view="side", yaw_deg=20.0)
    return seq.world[0]


def wait_sent(sender: VmcSender, n: int) -> None:
    deadline = time.monotonic() + 2.0
    while sender.sent + sender.skipped < n and time.monotonic() < deadline:
        time.sleep(0.002)


def test_one_well_formed_bundle_per_frame(receiver: socket.socket) -> None:
    sender = VmcSender("127.0.0.1", receiver.getsockname()[1])
    worlds = [squat_world(k) for k in (0.0, 45.0, 90.0)]
    try:
        for i, w in enumerate(worlds):
            sender.frame(live_frame(0.5 * i, w))
            wait_sent(sender, i + 1)  # one at a time: none replaced in the mailbox
        datagrams = receive(receiver, 3)
    finally:
        sender.close()
    assert (sender.sent, sender.dropped, sender.errors) == (3, 0, 0)
    for i, (dgram, w) in enumerate(zip(datagrams, worlds)):
        assert OscBundle.dgram_is_bundle(dgram)
        assert len(dgram) <= 1472  # one IPv4 datagram in a 1500-byte Ethernet frame
        msgs = [m.message for m in OscPacket(dgram).messages]
        addresses = [m.address for m in msgs]
        assert addresses[:3] == ["/VMC/Ext/OK", "/VMC/Ext/T", "/VMC/Ext/Root/Pos"]
        assert addresses[3:] == ["/VMC/Ext/Bone/Pos"] * len(BONES)
        ok, t, root, *bones = msgs
        assert ok.params == [1, 3, 0] and all(type(p) is int for p in ok.params)
        assert len(t.params) == 1 and type(t.params[0]) is float
        assert t.params[0] == pytest.approx(0.5 * i)
        for m in (root, *bones):
            assert len(m.params) == 8 and type(m.params[0]) is str
            assert all(type(p) is float for p in m.params[1:])
        assert root.params == ["root", 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]
        assert [m.params[0] for m in bones] == list(BONES)
        pose = vmc_pose(w)
        assert pose is not None
        for m in bones:  # float32 on the wire
            b = pose.bones[m.params[0]]
            assert np.allclose(m.params[4:], b.rotation, atol=1e-6)
            assert np.allclose(m.params[1:4], b.position, atol=1e-6)
        # frames of a squat: the left knee bends on the wire too
        knee = dict((m.params[0], m.params[4:]) for m in bones)["LeftLowerLeg"]
        assert abs(knee[3]) == pytest.approx(np.cos(np.deg2rad([0, 45, 90][i]) / 2), abs=1e-3)


def test_no_person_sends_nothing(receiver: socket.socket) -> None:
    sender = VmcSender("127.0.0.1", receiver.getsockname()[1])
    try:
        sender.frame(live_frame(0.0, None))
        wait_sent(sender, 1)
        sender.frame(live_frame(0.1, squat_world(30.0)))
        wait_sent(sender, 2)
        first = receive(receiver, 1)[0]
        receiver.settimeout(0.05)
        with pytest.raises(TimeoutError):
            receiver.recvfrom(65536)
    finally:
        sender.close()
    assert (sender.sent, sender.skipped) == (1, 1)
    t = OscPacket(first).messages[1].message
    assert t.address == "/VMC/Ext/T" and t.params[0] == pytest.approx(0.1)


def test_newest_frame_wins_and_close_sends_what_is_queued(receiver: socket.socket) -> None:
    sender = VmcSender("127.0.0.1", receiver.getsockname()[1])
    frames = [live_frame(0.01 * i, squat_world(40.0)) for i in range(200)]
    with sender._cond:  # the mailbox held (reentrant lock): the thread takes none meanwhile
        t0 = time.perf_counter()
        for f in frames:
            sender.frame(f)
        spent = time.perf_counter() - t0
    sender.close()
    assert spent < 0.5  # frame() only queues
    assert (sender.sent, sender.dropped, sender.errors) == (1, 199, 0)
    t = OscPacket(receive(receiver, 1)[0]).messages[1].message.params[0]
    assert t == pytest.approx(0.01 * 199)  # the newest frame won, and close sent it
    assert not sender.running


def test_frames_faster_than_sent_are_dropped_not_queued(receiver: socket.socket) -> None:
    sender = VmcSender("127.0.0.1", receiver.getsockname()[1])
    frames = [live_frame(0.001 * i, squat_world(40.0)) for i in range(300)]
    for f in frames:
        sender.frame(f)
    sender.close()
    assert sender.sent + sender.dropped == 300 and sender.sent >= 1
    assert len(receive(receiver, sender.sent)) == sender.sent


def test_nobody_listening_does_not_raise() -> None:
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # a port nobody listens on now
    sender = VmcSender("127.0.0.1", port)
    try:
        for i in range(5):
            sender.frame(live_frame(0.1 * i, squat_world(20.0)))
            wait_sent(sender, i + 1)
    finally:
        sender.close()
    assert sender.sent + sender.errors + sender.dropped == 5


def test_send_errors_are_counted_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    sender = VmcSender("127.0.0.1", 39539)
    sender._sock.close()  # every send now fails with OSError
    try:
        for i in range(3):
            sender.frame(live_frame(0.1 * i, squat_world(20.0)))
            deadline = time.monotonic() + 2.0
            while sender.errors < i + 1 and time.monotonic() < deadline:
                time.sleep(0.002)
    finally:
        sender.close()
    assert (sender.errors, sender.sent) == (3, 0)
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "VMC" in warnings[0].getMessage()


def test_bad_host_is_an_input_error() -> None:
    with pytest.raises(InputError) as err:
        VmcSender("no-such-host.invalid", 39539)
    assert "\n" not in str(err.value) and "no-such-host.invalid" in str(err.value)
    with pytest.raises(InputError):
        VmcSender("127.0.0.1", 0)


def test_close_stops_the_thread_and_is_idempotent() -> None:
    sender = VmcSender()
    assert sender.running
    sender.rep(None)  # type: ignore[arg-type]
    sender.end("done", 3)
    assert not sender.running
    sender.close()
    sender.frame(live_frame(0.0, squat_world(0.0)))  # after close: ignored
    assert not sender.running and sender.sent == 0
