"""The live page (rehab/stream/web) in a real browser: Debian's headless Chromium, driven over
the Chrome DevTools Protocol, against a `StreamServer` on loopback fed synthetic squat frames.

Checks that the page loads with no console error or exception and asks nothing of any other
origin, draws frames (the 3D figure's colour is on the screenshot, the HUD shows the reps and
the rep sent), passes its ``?token=`` on, shows the refusal for a wrong token, reconnects
after a drop but not after the session's end. Chromium starts once for the module; skipped
where ``chromium`` is not installed.

``REHAB_STREAM_SCREENSHOT=docs/stream_page.png`` also writes the README's screenshot (a
mid-squat frame with the target zone, the counter and a cue).
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import io
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from rehab.model import Rep, RepKind
from rehab.stream.frames import LiveFrame, RepEvent, hello_message
from rehab.stream.server import ServeOptions, StreamServer
from rehab.synthetic import rep_trajectory, synthetic_sequence

WIDTH, HEIGHT = 1024, 640
TOKEN = "s3cret-T0ken"
REPS_SENT, REPS_GOAL = 3, 10
# WebGL in headless Chromium without a GPU: ANGLE on SwiftShader, the software renderer.
# Chromium 156 falls back to it even without the two swiftshader flags, but that automatic
# fallback is deprecated: ask for it.
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--disable-extensions",
                  "--disable-default-apps", "--mute-audio", "--hide-scrollbars",
                  "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
                  "--remote-debugging-port=0", f"--window-size={WIDTH},{HEIGHT}")


# --- the Chrome DevTools Protocol ------------------------------------------------------------

class _Cdp:
    """One DevTools WebSocket to the browser; `call` a method (on a page's session with
    ``session=``), events kept in `events`."""

    def __init__(self, url: str) -> None:
        from websockets.sync.client import connect

        self._stack = contextlib.ExitStack()
        self.ws = self._stack.enter_context(connect(url, max_size=64 * 2**20, open_timeout=10))
        self.events: list[dict[str, Any]] = []
        self._id = 0

    def call(self, method: str, session: str | None = None, timeout: float = 10.0,
             **params: Any) -> dict[str, Any]:
        self._id += 1
        msg: dict[str, Any] = {"id": self._id, "method": method, "params": params}
        if session is not None:
            msg["sessionId"] = session
        self.ws.send(json.dumps(msg))
        deadline = time.monotonic() + timeout
        while True:
            reply = json.loads(self.ws.recv(timeout=max(0.01, deadline - time.monotonic())))
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def close(self) -> None:
        self._stack.close()


class _Page:
    """A browser tab attached over `_Cdp`, with Runtime, Log, Page and Network events on."""

    def __init__(self, cdp: _Cdp, url: str) -> None:
        self.cdp = cdp
        self.target = cdp.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = cdp.call("Target.attachToTarget", targetId=self.target,
                                flatten=True)["sessionId"]
        for domain in ("Runtime", "Log", "Page", "Network"):
            self.call(f"{domain}.enable")
        self.call("Emulation.setDeviceMetricsOverride", width=WIDTH, height=HEIGHT,
                  deviceScaleFactor=1, mobile=False)
        self.call("Page.navigate", url=url)

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        return self.cdp.call(method, session=self.session, **params)

    def eval(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 8.0) -> Any:
        """Poll ``expression`` until it is truthy; its value (fails after ``timeout``)."""
        deadline = time.monotonic() + timeout
        value = None
        while time.monotonic() < deadline:
            value = self.eval(expression)
            if value:
                return value
            time.sleep(0.1)
        raise AssertionError(f"still false after {timeout:g} s: {expression} "
                             f"(rehabStatus: {self.eval('JSON.stringify(window.rehabStatus)')})")

    def errors(self) -> list[str]:
        """Console errors and uncaught exceptions of this page so far."""
        out = []
        for ev in self.cdp.events:
            if ev.get("sessionId") != self.session:
                continue
            method, params = ev.get("method"), ev.get("params", {})
            if method == "Runtime.exceptionThrown":
                out.append(json.dumps(params["exceptionDetails"])[:500])
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                out.append(f"{params['entry'].get('source')}: {params['entry']['text']}")
            elif method == "Runtime.consoleAPICalled" and params.get("type") == "error":
                out.append(" ".join(str(a.get("value", a.get("description")))
                                    for a in params.get("args", [])))
        return out

    def requests(self) -> list[str]:
        """The URLs this page asked for (HTTP and WebSocket)."""
        out = []
        for ev in self.cdp.events:
            if ev.get("sessionId") == self.session:
                if ev.get("method") == "Network.requestWillBeSent":
                    out.append(ev["params"]["request"]["url"])
                elif ev.get("method") == "Network.webSocketCreated":
                    out.append(ev["params"]["url"])
        return out

    def screenshot(self) -> bytes:
        return base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"])

    def close(self) -> None:
        try:
            self.cdp.call("Target.closeTarget", targetId=self.target)
        except Exception:  # noqa: BLE001 - the browser may be going already
            pass


@pytest.fixture(scope="module")
def browser() -> Iterator[_Cdp]:
    """Headless Chromium, once for the module, killed (its whole process group) after."""
    exe = shutil.which("chromium")
    if exe is None:
        pytest.skip("needs Debian's headless Chromium (`chromium` not on PATH: "
                    "apt-get install chromium)")
    profile = tempfile.mkdtemp(prefix="rehab-chromium-")
    # its config and cache (crash reports) in the temporary profile too, not in ~/.config
    env = {**os.environ, "XDG_CONFIG_HOME": profile, "XDG_CACHE_HOME": profile}
    proc = subprocess.Popen([exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                            start_new_session=True)
    cdp = None
    try:
        port_file = Path(profile) / "DevToolsActivePort"
        deadline = time.monotonic() + 15
        while not (port_file.exists() and len(port_file.read_text().split()) >= 2):
            if proc.poll() is not None:
                pytest.fail(f"chromium exited at start (status {proc.returncode})")
            if time.monotonic() > deadline:
                pytest.fail("chromium wrote no DevToolsActivePort within 15 s")
            time.sleep(0.05)
        port, path = port_file.read_text().split()[:2]
        cdp = _Cdp(f"ws://127.0.0.1:{port}{path}")
        yield cdp
    finally:
        if cdp is not None:
            try:
                cdp.call("Browser.close", timeout=3)
            except Exception:  # noqa: BLE001 - killed below anyway
                pass
            cdp.close()
        try:
            proc.wait(3)
        except subprocess.TimeoutExpired:
            pass
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def page(browser: _Cdp) -> Iterator[Callable[[str], _Page]]:
    """Open a page at a URL (closed after the test)."""
    pages: list[_Page] = []

    def open_page(url: str) -> _Page:
        pages.append(_Page(browser, url))
        return pages[-1]

    yield open_page
    for p in pages:
        p.close()


# --- a server fed a synthetic squat ----------------------------------------------------------

def _squat_frames(fps: float = 30.0) -> list[LiveFrame]:
    """One squat rep and its rest (right knee tracked, the figure turned 15 deg toward the
    camera from a side view), with the HUD fields of the 4th rep of set 1 of 3."""
    t, knee = rep_trajectory(1, fps, rest=5.0, peak=115.0, rep_s=2.4, pause_s=0.0, lead_s=0.5)
    # a balanced squat: shank forward 0.3 K (dorsiflexion), trunk forward 0.35 K (negative
    # lean here), so the thigh is 0.7 K from vertical, the hip 1.05 K, the feet flat
    seq = synthetic_sequence(t, {"knee_flexion": knee, "hip_flexion": 1.05 * knee,
                                 "ankle_plantarflexion": -0.3 * knee,
                                 "shoulder_flexion": (90 + 0.35 * knee) * knee / 115,
                                 "elbow_flexion": 10.0},
                             trunk_lean=-0.35 * knee, view="side", yaw_deg=15.0)
    frames = []
    for i, ti in enumerate(t):
        deg = float(knee[i])
        active = deg > 35.0
        cue, tone = (("Good squat", "good") if deg >= 80.0 else ("Bend your knees a little "
                     "further", "fix")) if active else (None, "info")
        frames.append(LiveFrame(
            t=float(ti), captured=0.0, world=seq.world[i], visibility=seq.visibility[i],
            angle_name="knee_flexion", side="right", angle_deg=deg, target=(80.0, 130.0),
            rest="low", reps_done=REPS_SENT, reps_goal=REPS_GOAL, set_no=1, sets=3,
            state="active" if active else "rest", cue=cue, cue_tone=tone))
    return frames


def _rep_event(index: int) -> RepEvent:
    rep = Rep(index=index, kind=RepKind.COMPLETE, start_frame=0, peak_frame=36, end_frame=72,
              start_s=0.5, peak_s=1.7, end_s=2.9, min_deg=5.0, max_deg=112.0, rom_deg=107.0,
              peak_deg=112.0, target_met=True, duration_s=2.4, time_to_peak_s=1.2,
              tracked_fraction=1.0, compensations={}, score=92, flags=(), side="right")
    return RepEvent(t=2.9, rep=rep, set_no=1, cue="Good squat")


class _Feed:
    """A `StreamServer` on loopback and a thread giving it ``frames`` over and over at 30 fps
    (or only ``hold``, one frame, when set)."""

    def __init__(self, token: str | None = None, port: int = 0) -> None:
        self.server = StreamServer(ServeOptions(port=port, token=token),
                                   hello=hello_message("squat", "Squat", "knee_flexion"))
        self.frames = _squat_frames()
        self.hold: LiveFrame | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        i = 0
        while not self._stop.wait(1 / 30):
            frame = self.hold or self.frames[i % len(self.frames)]
            i += 1
            self.server.frame(dataclasses.replace(frame, captured=time.monotonic()))

    def __enter__(self) -> _Feed:
        self.server.start()
        self._thread.start()
        return self

    def stop_frames(self) -> None:
        self._stop.set()
        self._thread.join(2)

    def __exit__(self, *exc: object) -> None:
        self.stop_frames()
        self.server.close(drain_s=0.2)

    def url(self, token: str | None = None) -> str:
        query = "" if token is None else f"?token={token}"
        return f"http://127.0.0.1:{self.server.port}/{query}"


@pytest.fixture(scope="module")
def feed() -> Iterator[_Feed]:
    with _Feed() as f:
        yield f


def _figure_pixels(png: bytes) -> int:
    """Pixels of the bones' colour in the middle of the screenshot (the figure's body)."""
    import matplotlib.image

    img = matplotlib.image.imread(io.BytesIO(png), format="png")[..., :3]
    h, w = img.shape[:2]
    middle = img[h // 8: h * 7 // 8, w // 4: w * 3 // 4]
    # lit or shaded, the bones stay this hue: blue well above red, green in between
    r, g, b = middle[..., 0], middle[..., 1], middle[..., 2]
    bone = (b > 0.45) & (b - r > 0.3) & (g > r + 0.1) & (g < b)
    return int(bone.sum())


# --- the tests -------------------------------------------------------------------------------

def test_page_draws_the_stream(feed: _Feed, page: Callable[[str], _Page]) -> None:
    p = page(feed.url())
    p.wait_for("window.rehabStatus && window.rehabStatus.frames >= 20")
    status = p.eval("window.rehabStatus")
    assert status["connected"] is True and status["status"] == "live"
    assert status["reps"] == REPS_SENT and isinstance(status["lastSeq"], int)
    assert p.eval("document.getElementById('reps').textContent") == f"{REPS_SENT} / {REPS_GOAL}"
    assert p.eval("document.getElementById('set').textContent") == "set 1 of 3"
    assert p.eval("document.getElementById('status').textContent") == "live"
    assert p.eval("!!document.querySelector('#view canvas')")
    feed.server.rep(_rep_event(REPS_SENT))
    assert "rep 3 · score 92" in p.wait_for("document.getElementById('lastrep').textContent")
    time.sleep(0.3)  # a few frames drawn
    png = p.screenshot()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert _figure_pixels(png) > 400, "no figure on the screenshot (blank canvas?)"
    assert p.errors() == []
    own = (f"http://127.0.0.1:{feed.server.port}/", f"ws://127.0.0.1:{feed.server.port}/")
    asked = p.requests()
    assert any(u.startswith(own[1] + "stream") for u in asked), asked
    assert [u for u in asked if not u.startswith(own) and not u.startswith("data:")] == []

    target = os.environ.get("REHAB_STREAM_SCREENSHOT")
    if target:
        _save_docs_screenshot(feed, p, Path(target))


def _save_docs_screenshot(feed: _Feed, p: _Page, path: Path) -> None:
    """A mid-squat frame held still, written as an optimised PNG."""
    deepest = max(feed.frames, key=lambda f: f.angle_deg)
    mid = min(feed.frames, key=lambda f: abs(f.angle_deg - 98.0)
              if f.t < deepest.t else 1e9)
    feed.hold = mid
    time.sleep(0.8)
    png = p.screenshot()
    feed.hold = None
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png)
    if shutil.which("optipng"):
        subprocess.run(["optipng", "-quiet", "-o2", str(path)], check=False)


def test_token_is_passed_on(page: Callable[[str], _Page]) -> None:
    with _Feed(token=TOKEN) as f:
        good = page(f.url(TOKEN))
        good.wait_for("window.rehabStatus && window.rehabStatus.frames >= 5")
        assert good.eval("window.rehabStatus.status") == "live"
        assert good.errors() == []

        bad = page(f.url("not-the-token"))
        bad.wait_for("window.rehabStatus && window.rehabStatus.status.startsWith('refused')")
        assert bad.eval("window.rehabStatus.status") == "refused: wrong token"
        assert bad.eval("document.getElementById('status').textContent") == \
            "refused: wrong token"
        assert bad.eval("window.rehabStatus.frames") == 0
        assert bad.eval("window.rehabStatus.connected") is False
        assert _figure_pixels(bad.screenshot()) < 50  # no frames, no figure: the check tells


def test_reconnects_after_a_drop_but_not_after_the_end(page: Callable[[str], _Page]) -> None:
    with _Feed() as first:
        port = first.server.port
        p = page(first.url())
        p.wait_for("window.rehabStatus && window.rehabStatus.frames >= 3")
    # the server went without an end message: the page keeps trying, and gets the next one
    p.wait_for("!window.rehabStatus.connected && window.rehabStatus.status === 'connecting'")
    with _Feed(port=port) as second:
        seen = p.eval("window.rehabStatus.frames")
        p.wait_for(f"window.rehabStatus.connected && window.rehabStatus.frames > {seen}")
        assert p.eval("window.rehabStatus.status") == "live"
        second.hold = dataclasses.replace(second.frames[0], world=None, visibility=None)
        p.wait_for("window.rehabStatus.status === 'no person in view'")
        second.stop_frames()
        second.server.end("goal_reached", 7)
        p.wait_for("window.rehabStatus.status === 'session ended'")
        assert p.eval("window.rehabStatus.reps") == 7
    time.sleep(1.2)  # past the first retry's delay: an ended session is not reconnected
    assert p.eval("window.rehabStatus.status") == "session ended"
    assert p.eval("window.rehabStatus.connected") is False
