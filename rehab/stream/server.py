"""The WebSocket stream of a live session, and the page that shows it: `StreamServer`.

One port serves both: ``GET /`` and its scripts (the 3D page of `rehab/stream/web`, three.js
shipped with the package) and the WebSocket ``/stream``, which sends each client a
``hello`` message, then a ``frame`` message per processed frame, a ``rep`` message per
counted rep and an ``end`` message (`rehab.stream.frames`).

The server runs its own asyncio loop on a thread. The session's thread only hands each
frame to the loop (nothing at all while no client is connected), which encodes its message
once for every client; each
client has its own bounded queue, where a new frame pushes out the oldest frame not yet
sent (rep and end messages are never dropped), so a slow or vanished client never slows
the pipeline or the other clients. Binds to loopback unless told otherwise; with a token,
every WebSocket client must present it (``?token=`` or ``Authorization: Bearer``). Browsers
are let in only from the server's own page (or the origins allowed), so that another web
site open in the patient's browser cannot read the stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import errno
import hmac
import ipaddress
import json
import logging
import socket
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Callable
from http import HTTPStatus
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rehab.errors import InputError
from rehab.stream import DEFAULT_HOST, DEFAULT_PORT
from rehab.stream.frames import (LiveFrame, RepEvent, end_message, frame_message,
                                 rep_message)

if TYPE_CHECKING:
    from websockets.asyncio.server import ServerConnection
    from websockets.http11 import Request, Response

log = logging.getLogger(__name__)

QUEUE_FRAMES = 8
"""Frames waiting per client before the oldest is dropped (a quarter second at 30 fps)."""
SEND_BUFFER = 32 * 1024
"""Each client's socket send buffer (Linux doubles it): small, so that a slow client is
sent the newest frames rather than seconds of backlog held by the operating system."""
MAX_CLIENTS = 32
CLOSE_S = 0.5
"""How long closing waits for the clients' closing handshakes before cutting them off."""
STREAM_PATH = "/stream"
WEB_DIR = Path(__file__).with_name("web")
_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
          ".css": "text/css; charset=utf-8", ".png": "image/png", ".txt": "text/plain"}


@dataclasses.dataclass(frozen=True)
class ServeOptions:
    """Where and to whom a session is streamed."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    """0: any free port (the one taken is logged and in `StreamServer.port`)."""
    token: str | None = None
    """Every WebSocket client must present it; None: no token."""
    allow_remote: bool = False
    """Needed to bind to anything but loopback."""
    allowed_origins: tuple[str, ...] = ()
    """Web origins (``https://app.example``) besides the server's own page allowed to
    connect from a browser."""


def is_loopback(host: str) -> bool:
    """``host`` names this machine's loopback only (``localhost``, 127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_options(options: ServeOptions) -> None:
    """`InputError` for options that must be refused before the session starts."""
    if not is_loopback(options.host) and not options.allow_remote:
        raise InputError(f"--host {options.host}: anyone on the network could watch the "
                         f"stream; add --allow-remote (and --token) to serve beyond this "
                         f"machine")
    if options.token is not None and (not options.token or not options.token.isprintable()
                                      or " " in options.token):
        raise InputError("--token must be a non-empty word of printable characters")


@dataclasses.dataclass(eq=False)
class _Client:
    queue: deque[tuple[str, float | None]]
    ready: asyncio.Event
    dropped: int = 0


@dataclasses.dataclass
class StreamStats:
    """What the server did (`StreamServer.stats`)."""

    connections: int = 0
    refused: int = 0
    clients_max: int = 0
    frames: int = 0
    """Frames offered while at least one client was connected."""
    sent: int = 0
    """Messages sent, over all clients."""
    dropped: int = 0
    """Frames dropped for clients too slow to take them."""
    latencies_ms: deque[float] = dataclasses.field(
        default_factory=lambda: deque(maxlen=100_000))
    """Capture to sent (handed to the operating system), per frame and client."""

    def to_dict(self) -> dict[str, Any]:
        import numpy as np

        lat = np.asarray(self.latencies_ms, np.float64)

        def q(p: float) -> float | None:
            return round(float(np.percentile(lat, p)), 2) if lat.size else None

        return {"connections": self.connections, "refused": self.refused,
                "clients_max": self.clients_max, "frames": self.frames, "sent": self.sent,
                "dropped": self.dropped, "latency_ms_p50": q(50), "latency_ms_p95": q(95)}


class StreamServer:
    """Serves one live session (a `rehab.stream.frames.LiveSink`): `start`, then the
    session calls `frame`, `rep` and `end`; `close` when done.

        server = StreamServer(ServeOptions(port=0), hello=hello_message(...))
        server.start()
        print(server.url)   # http://127.0.0.1:PORT/
    """

    name = "websocket"

    def __init__(self, options: ServeOptions = ServeOptions(), *,
                 hello: dict[str, Any] | None = None, queue_frames: int = QUEUE_FRAMES,
                 web_dir: Path = WEB_DIR) -> None:
        check_options(options)
        if not is_loopback(options.host):
            log.warning("the stream is open to the network on %s:%d%s", options.host,
                        options.port, "" if options.token else
                        " WITHOUT a token: anyone who reaches it can watch (use --token)")
        self.options = options
        self.hello = json.dumps(hello or {"type": "hello"}, separators=(",", ":"))
        self.queue_frames = queue_frames
        self.stats = StreamStats()
        self._files = _web_files(web_dir)
        self._clients: set[_Client] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopped: asyncio.Event | None = None
        self._seq = 0
        self.port = options.port

    # --- the session's side (any thread) ---------------------------------------------------

    @property
    def clients(self) -> int:
        """Clients connected now."""
        return len(self._clients)

    @property
    def url(self) -> str:
        """The page's address."""
        host = self.options.host
        host = f"[{host}]" if ":" in host else host
        query = f"?token={urllib.parse.quote(self.options.token)}" if self.options.token else ""
        return f"http://{host}:{self.port}/{query}"

    def frame(self, frame: LiveFrame) -> None:
        """Queue ``frame`` for every connected client (returns at once: the message is
        encoded on the server's thread)."""
        seq = self._seq
        self._seq += 1
        if self._clients:
            self.stats.frames += 1
            self._post(frame_message, (frame, seq), frame.captured)

    def rep(self, event: RepEvent) -> None:
        """Queue the ``rep`` message of a counted rep (never dropped)."""
        if self._clients:
            self._post(rep_message, (event,), None)

    def end(self, reason: str, reps: int) -> None:
        """Queue the ``end`` message (never dropped)."""
        if self._clients:
            self._post(end_message, (reason, reps), None)

    def counts(self) -> dict[str, Any]:
        """`stats` as the ``--stats`` document has them."""
        return self.stats.to_dict()

    def _post(self, make: Callable[..., dict[str, Any]], args: tuple[Any, ...],
              captured: float | None) -> None:
        loop = self._loop
        if loop is None:
            return
        try:
            loop.call_soon_threadsafe(self._fan_out, make, args, captured)
        except RuntimeError:  # the loop closed meanwhile
            pass

    # --- start and stop ---------------------------------------------------------------------

    def start(self, timeout: float = 10.0) -> None:
        """Bind and start serving on a thread; `InputError` if the port cannot be had."""
        ready = threading.Event()
        failure: list[BaseException] = []
        self._thread = threading.Thread(target=self._run, args=(ready, failure),
                                        name="rehab-stream", daemon=True)
        self._thread.start()
        if not ready.wait(timeout):
            raise InputError(f"the stream server did not start within {timeout:g} s")
        if failure:
            self._thread.join(timeout)
            raise failure[0]
        log.info("streaming: page %s  WebSocket ws://%s:%d%s", self.url, self.options.host,
                 self.port, STREAM_PATH)

    def close(self, drain_s: float = 1.0) -> None:
        """Send what is queued (up to ``drain_s``), close every connection, stop the thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        deadline = time.monotonic() + drain_s
        while time.monotonic() < deadline and any(c.queue for c in list(self._clients)):
            time.sleep(0.01)
        stopped = self._stopped
        if stopped is not None:
            try:
                loop.call_soon_threadsafe(stopped.set)
            except RuntimeError:
                pass
        thread.join(5.0)
        self._loop = None

    def __enter__(self) -> StreamServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self, ready: threading.Event, failure: list[BaseException]) -> None:
        try:
            asyncio.run(self._main(ready, failure))
        except BaseException as exc:  # noqa: BLE001 - reported to start(), or logged
            if not ready.is_set():
                failure.append(exc)
                ready.set()
            else:
                log.error("the stream server stopped: %s", exc)

    async def _main(self, ready: threading.Event, failure: list[BaseException]) -> None:
        from websockets.asyncio.server import serve

        self._stopped = asyncio.Event()
        try:
            server = await serve(
                self._handle, self.options.host, self.options.port,
                process_request=self._process_request, compression=None,
                server_header=None, max_size=4096, ping_interval=10, ping_timeout=10,
                close_timeout=CLOSE_S)
        except OSError as exc:
            failure.append(_bind_error(self.options, exc))
            ready.set()
            return
        self._loop = asyncio.get_running_loop()
        self.port = server.sockets[0].getsockname()[1]
        ready.set()
        try:
            await self._stopped.wait()
        finally:
            server.close(close_connections=True)
            closed = asyncio.ensure_future(server.wait_closed())
            _, pending = await asyncio.wait({closed}, timeout=CLOSE_S)
            if pending:  # a client that reads nothing cannot take its close frame
                for connection in list(server.all_connections):
                    connection.transport.abort()
                await closed

    # --- the loop's side --------------------------------------------------------------------

    def _fan_out(self, make: Callable[..., dict[str, Any]], args: tuple[Any, ...],
                 captured: float | None) -> None:
        if not self._clients:
            return
        data = json.dumps(make(*args), separators=(",", ":"), allow_nan=False)
        for client in self._clients:
            q = client.queue
            if captured is not None and sum(1 for _, c in q if c is not None) \
                    >= self.queue_frames:
                for i, (_, c) in enumerate(q):  # the oldest frame goes, never a rep
                    if c is not None:
                        del q[i]
                        break
                client.dropped += 1
                self.stats.dropped += 1
            q.append((data, captured))
            client.ready.set()

    def _process_request(self, connection: ServerConnection,
                         request: Request) -> Response | None:
        path, _, query = request.path.partition("?")
        if path != STREAM_PATH:
            return self._static(connection, request, path)
        problem = self._refusal(request, query)
        if problem is not None:
            status, text = problem
            self.stats.refused += 1
            log.warning("stream client refused (%s): %s", _peer(connection), text)
            return connection.respond(status, text + "\n")
        return None

    def _refusal(self, request: Request, query: str) -> tuple[HTTPStatus, str] | None:
        """Why this WebSocket request is refused, if it is."""
        token = self.options.token
        if token is not None:
            given = urllib.parse.parse_qs(query).get("token", [None])[-1]
            auth = request.headers.get("Authorization", "")
            if given is None and auth.lower().startswith("bearer "):
                given = auth[7:].strip()
            if given is None:
                return HTTPStatus.UNAUTHORIZED, "a token is required (?token= or Authorization: Bearer)"
            if not hmac.compare_digest(given.encode(), token.encode()):
                return HTTPStatus.FORBIDDEN, "wrong token"
        origin = request.headers.get("Origin")
        if origin is not None and not self._origin_allowed(origin, request):
            return HTTPStatus.FORBIDDEN, f"origin {origin} is not allowed"
        if len(self._clients) >= MAX_CLIENTS:
            return HTTPStatus.SERVICE_UNAVAILABLE, f"{MAX_CLIENTS} clients already connected"
        return None

    def _origin_allowed(self, origin: str, request: Request) -> bool:
        if origin in self.options.allowed_origins:
            return True
        host = request.headers.get("Host")
        parsed = urllib.parse.urlsplit(origin)
        return host is not None and parsed.scheme in ("http", "https") \
            and parsed.netloc == host

    def _static(self, connection: ServerConnection, request: Request,
                path: str) -> Response:
        from websockets.datastructures import Headers
        from websockets.http11 import Response

        name = "index.html" if path in ("/", "/index.html") else path.lstrip("/")
        file = self._files.get(name)
        if file is None:
            return connection.respond(HTTPStatus.NOT_FOUND, "not found\n")
        body = file.read_bytes()
        headers = Headers([("Content-Type", _TYPES.get(file.suffix, "application/octet-stream")),
                           ("Content-Length", str(len(body))), ("Cache-Control", "no-cache"),
                           ("X-Content-Type-Options", "nosniff"), ("Connection", "close")])
        return Response(200, "OK", headers, body)

    async def _handle(self, connection: ServerConnection) -> None:
        from websockets.exceptions import ConnectionClosed

        client = _Client(deque(), asyncio.Event())
        self._clients.add(client)
        self.stats.connections += 1
        self.stats.clients_max = max(self.stats.clients_max, len(self._clients))
        log.info("stream client connected (%s); %d now", _peer(connection), len(self._clients))
        sock = connection.transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
        sender = asyncio.create_task(self._send(connection, client))
        try:
            await connection.send(self.hello)
            async for _ in connection:  # nothing is expected from clients
                pass
        except ConnectionClosed:
            pass
        finally:
            self._clients.discard(client)
            sender.cancel()
            log.info("stream client gone (%s); %d left%s", _peer(connection),
                     len(self._clients),
                     f"; {client.dropped} frames dropped for it" if client.dropped else "")

    async def _send(self, connection: ServerConnection, client: _Client) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            while True:
                await client.ready.wait()
                client.ready.clear()
                while client.queue:
                    data, captured = client.queue.popleft()
                    await connection.send(data)
                    self.stats.sent += 1
                    if captured is not None:
                        self.stats.latencies_ms.append(1000.0 * (time.monotonic() - captured))
        except ConnectionClosed:
            pass


def _web_files(web_dir: Path) -> dict[str, Path]:
    """The page's files by URL path (nothing outside ``web_dir`` can be asked for)."""
    if not web_dir.is_dir():
        return {}
    return {p.relative_to(web_dir).as_posix(): p for p in sorted(web_dir.rglob("*"))
            if p.is_file() and not p.name.startswith(".")}


def _peer(connection: ServerConnection) -> str:
    addr = connection.remote_address
    return f"{addr[0]}:{addr[1]}" if isinstance(addr, tuple) and len(addr) >= 2 else str(addr)


def _bind_error(options: ServeOptions, exc: OSError) -> InputError:
    """The one-line error for a port that cannot be bound."""
    if exc.errno == errno.EADDRINUSE:
        return InputError(f"port {options.port} on {options.host} is in use (another "
                          f"'rehab live --serve'?); choose another with --port")
    if exc.errno in (errno.EADDRNOTAVAIL, errno.EACCES) or isinstance(exc, socket.gaierror):
        return InputError(f"cannot serve on {options.host}:{options.port}: {exc.strerror or exc}")
    return InputError(f"cannot serve on {options.host}:{options.port}: {exc}")


__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "ServeOptions", "StreamServer", "StreamStats",
           "check_options", "is_loopback"]
