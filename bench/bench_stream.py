"""Stream benchmark: `rehab live --serve` latency to a client, and frame rate with 0/1/10 clients.

The clip is bench_live's (the demo recording letterboxed to 640x480 at 30 frames/s). Every
session runs in a fresh process (`rehab live --source CLIP --headless --serve --port P
--stats S.json`); the WebSocket clients run in another process (`multiprocessing`, spawn;
one thread per client: the first a full `websockets.sync.client` that decodes every frame,
the others reading raw bytes, as cheap as a client can be, since they share the session's
two cores), connecting by retry until the server is up (the server starts before the
model loads, so they are connected when playback starts: checked with the server's own
count of frames offered while a client was connected).

1. Latency, 1 client, clip in real time: the server's capture -> message handed to the OS
   (``streams.websocket.latency_ms_p50/p95`` of --stats), next to the session's capture ->
   overlay latency. The message carries no capture time, so on the client side only what
   needs no shared clock: inter-arrival times, and each frame's receive time minus its
   recording time ``t`` (the source is paced by ``t``), above the fastest frame's.
2. Frame rate when the pipeline is the bottleneck: the clip (repeated ``--repeat`` times)
   played at ``--speed`` (default 4: 120 frames/s, more than the model keeps up with; the
   live source drops stale frames). fps = frames_processed / playback wall time, the time
   between the source's first frame and its end, from the session's log lines ("playing ...
   as a live source", "... no more frames after N grabs") timestamped by this process as
   they arrive. Configurations alternate (0, 1, 10[, churn], 0, 1, 10, ...) for ``--runs``
   rounds to cancel drift; medians and ratios against 0 clients (server on, nobody
   connected). Goal: fps(10 clients) at most 5% below fps(0); exit 1 if missed.
   "churn": 10 clients connecting, reading 0.2-0.8 s, disconnecting, again (not a goal).
3. The stream's own CPU per frame, without the model (`stream_cpu_per_frame`): what the
   session's thread spends handing a frame over, and what the server's thread spends
   encoding and sending it, with 0, 1 and 10 clients.

    .venv/bin/python bench/bench_stream.py [--video PATH] [--runs N] [--speed X]
        [--repeat K] [--no-churn] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import queue
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from bench_live import DEFAULT_VIDEO, FPS, SIZE, letterboxed_input  # noqa: E402

GOAL_RATIO_10 = 0.95
"""fps with 10 clients / fps with 0 clients, at least."""
CONNECT_TIMEOUT_S = 60.0
START_LINE = "as a live source"
END_LINE = "no more frames after"


# --- clients (run in a separate, spawned process) ---------------------------------------------

def _connect(url: str, deadline: float):
    from websockets.sync.client import connect

    while True:
        try:
            return connect(url, open_timeout=5, close_timeout=1, max_size=2 ** 22)
        except (OSError, TimeoutError) as exc:  # not up yet (refused) or too slow
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url}: no server ({exc})") from None
            time.sleep(0.02)


def _steady_client(url: str, deadline: float, record: bool, out: dict[str, Any]) -> None:
    """Connect once, read until the ``end`` message or the connection closes."""
    from websockets.exceptions import ConnectionClosed

    frames = 0
    first = last = None
    arrivals: list[tuple[float, int, float]] = []  # (receive time, seq, t) when recording
    ws = _connect(url, deadline)
    out["connected_at"] = time.monotonic()
    ended = False
    try:
        while True:
            msg = ws.recv()
            now = time.monotonic()
            if msg.startswith('{"type":"frame"'):
                frames += 1
                if record or first is None:
                    m = json.loads(msg)
                    if first is None:
                        first = (now, m["seq"])
                    if record:
                        arrivals.append((now, m["seq"], m["t"]))
                last = now, msg
            elif msg.startswith('{"type": "end"') or msg.startswith('{"type":"end"'):
                ended = True
                break
    except ConnectionClosed:
        pass
    finally:
        ws.close()
    out.update(frames=frames, ended=ended, arrivals=arrivals)
    if first is not None and last is not None:
        out.update(first_t=first[0], first_seq=first[1], last_t=last[0],
                   last_seq=json.loads(last[1])["seq"])


def _raw_client(url: str, deadline: float, out: dict[str, Any]) -> None:
    """A client that costs next to nothing here: the WebSocket handshake by hand, then the
    bytes read and counted, not decoded (a headset decodes on its own processor; the clients
    of this benchmark share the session's two cores). Counts frame messages by their
    opening bytes; stops at the ``end`` message or when the server closes."""
    import urllib.parse

    u = urllib.parse.urlsplit(url)
    while True:
        try:
            sock = socket.create_connection((u.hostname, u.port), timeout=5)
            break
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url}: no server") from None
            time.sleep(0.02)
    sock.sendall(f"GET {u.path} HTTP/1.1\r\nHost: {u.netloc}\r\nUpgrade: websocket\r\n"
                 f"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                 f"Sec-WebSocket-Version: 13\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(4096)
    if b" 101 " not in head.split(b"\r\n", 1)[0]:
        raise RuntimeError(f"handshake refused: {head[:60]!r}")
    out["connected_at"] = time.monotonic()
    frame, end = b'{"type":"frame"', b'{"type":"end"'
    buf = head.split(b"\r\n\r\n", 1)[1]
    frames, ended = 0, False
    sock.settimeout(None)
    while True:
        frames += buf.count(frame)
        if end in buf:
            ended = True
            break
        tail = buf[-(len(frame) - 1):]  # a marker cut in two is counted once, with the next
        data = sock.recv(1 << 18)
        if not data:
            break
        buf = tail + data
    sock.close()
    out.update(frames=frames, ended=ended)


def _churn_client(url: str, deadline: float, seed: int, out: dict[str, Any]) -> None:
    """Connect, read 0.2-0.8 s, disconnect, wait a little, again; until the session ends."""
    from websockets.exceptions import ConnectionClosed, InvalidStatus

    rng = random.Random(seed)
    connections = frames = 0
    served = False
    while True:
        try:
            ws = _connect(url, deadline if not served else time.monotonic() + 0.5)
        except TimeoutError:
            break  # the server is gone (or never came)
        except InvalidStatus as exc:  # 503: the session is ending, the server closing
            if served and exc.response.status_code == 503:
                break
            raise
        served = True
        connections += 1
        stop = time.monotonic() + rng.uniform(0.2, 0.8)
        ended = False
        try:
            while time.monotonic() < stop:
                try:
                    msg = ws.recv(timeout=max(0.01, stop - time.monotonic()))
                except TimeoutError:
                    break
                if msg.startswith('{"type":"frame"'):
                    frames += 1
                elif '"end"' in msg[:20]:
                    ended = True
                    break
        except ConnectionClosed:
            ended = True
        finally:
            ws.close()
        if ended:
            break
        time.sleep(rng.uniform(0.02, 0.1))
    out.update(frames=frames, connections=connections)


def run_clients(url: str, n: int, mode: str, results: Any) -> None:
    """Entry point of the client process: ``n`` clients on threads; puts their results."""
    deadline = time.monotonic() + CONNECT_TIMEOUT_S
    outs: list[dict[str, Any]] = [{} for _ in range(n)]
    errors: list[str] = []

    def one(i: int) -> None:
        try:
            if mode == "churn":
                _churn_client(url, deadline, i, outs[i])
            elif i == 0:  # one full client: every frame decoded and its arrival recorded
                _steady_client(url, deadline, record=True, out=outs[i])
            else:
                _raw_client(url, deadline, outs[i])
        except Exception as exc:  # noqa: BLE001 - reported to the parent
            errors.append(f"client {i}: {type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    results.put({"clients": outs, "errors": errors, "cpu_s": time.process_time()})


# --- the session --------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def repeat_clip(clip: Path, out: Path, times: int) -> int:
    """``clip`` played ``times`` times in a row, as one video; returns the frame count."""
    import cv2

    writer = cv2.VideoWriter(str(out), cv2.VideoWriter.fourcc(*"mp4v"), FPS, SIZE)
    n = 0
    for _ in range(times):
        cap = cv2.VideoCapture(str(clip))
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            writer.write(frame)
            n += 1
        cap.release()
    writer.release()
    return n


def run_session(clip: Path, work: Path, speed: float, clients: int, mode: str = "steady"
                ) -> dict[str, Any]:
    """One ``rehab live --serve`` session with ``clients`` clients; its stats and timings."""
    port = free_port()
    stats = work / f"stats-{port}.json"
    cmd = [str(Path(sys.executable).with_name("rehab")), "live",
           "--exercise", "shoulder_abduction", "--source", str(clip), "--headless",
           "--reps", "1000", "--sets", "1",  # never "complete": it plays the whole clip
           "--speed", f"{speed:g}", "--serve", "--port", str(port), "--stats", str(stats)]
    ctx = mp.get_context("spawn")
    results = ctx.Queue()
    proc_clients = None
    if clients:
        proc_clients = ctx.Process(target=run_clients, daemon=True,
                                   args=(f"ws://127.0.0.1:{port}/stream", clients, mode,
                                         results))
        proc_clients.start()
    lines: list[tuple[float, str]] = []
    session = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True, bufsize=1)

    def read_stderr() -> None:
        assert session.stderr is not None
        for line in session.stderr:
            lines.append((time.monotonic(), line.rstrip("\n")))

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    _, status, usage = os.wait4(session.pid, 0)  # its CPU time too
    rc = session.returncode = os.waitstatus_to_exitcode(status)
    reader.join(5)
    client_results: dict[str, Any] = {"clients": [], "errors": [], "cpu_s": 0.0}
    if proc_clients is not None:
        try:
            client_results = results.get(timeout=15)
        except queue.Empty:
            client_results = {"clients": [], "errors": ["the clients did not report"],
                              "cpu_s": 0.0}
        proc_clients.join(5)
        if proc_clients.is_alive():
            proc_clients.terminate()
            proc_clients.join()
    if rc != 0:
        text = "\n".join(line for _, line in lines[-20:])
        raise SystemExit(f"rehab live failed ({rc}):\n{text}")
    if client_results["errors"]:
        raise SystemExit("clients failed:\n" + "\n".join(client_results["errors"]))
    s = json.loads(stats.read_text())
    start = next((t for t, line in lines if START_LINE in line), None)
    end = next((t for t, line in lines if END_LINE in line), None)
    if start is None or end is None:
        raise SystemExit("the session's log lies: no start or end of playback line")
    return {"stats": s, "playback_s": end - start, "clients": client_results["clients"],
            "session_cpu_s": usage.ru_utime + usage.ru_stime,
            "clients_cpu_s": client_results["cpu_s"]}


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    import numpy as np

    return round(float(np.percentile(np.asarray(values, np.float64), p)), 2)


# --- the measurements ---------------------------------------------------------------------------

def measure_latency(clip: Path, work: Path) -> dict[str, Any]:
    r = run_session(clip, work, speed=1.0, clients=1)
    s, ws = r["stats"], r["stats"]["streams"]["websocket"]
    c = r["clients"][0]
    arr = c.get("arrivals", [])
    gaps = [1000.0 * (b[0] - a[0]) for a, b in zip(arr, arr[1:])]
    med_gap = statistics.median(gaps) if gaps else float("nan")
    jitter = [abs(g - med_gap) for g in gaps]
    delay = [1000.0 * (t_recv - t_rec) for t_recv, _, t_rec in arr]  # offset unknown
    floor = min(delay) if delay else 0.0
    above = [d - floor for d in delay]
    return {
        "frames_in": s["frames_in"], "frames_processed": s["frames_processed"],
        "frames_dropped": s["frames_dropped"],
        "server_send_latency_ms": {"p50": ws["latency_ms_p50"], "p95": ws["latency_ms_p95"]},
        "overlay_latency_ms": s["latency_ms"],
        "websocket": ws, "client_frames": c.get("frames", 0),
        "client_interarrival_ms": {"p50": percentile(gaps, 50), "p95": percentile(gaps, 95)},
        "client_jitter_ms_p95": percentile(jitter, 95),
        "client_delay_above_fastest_ms": {"p50": percentile(above, 50),
                                          "p95": percentile(above, 95)},
    }


def fps_run(clip: Path, work: Path, speed: float, config: str) -> dict[str, Any]:
    clients = {"0": 0, "1": 1, "10": 10, "churn": 10}[config]
    r = run_session(clip, work, speed, clients, mode="churn" if config == "churn" else "steady")
    s, ws = r["stats"], r["stats"]["streams"]["websocket"]
    out: dict[str, Any] = {
        "config": config, "frames_in": s["frames_in"], "frames_processed": s["frames_processed"],
        "playback_s": round(r["playback_s"], 3),
        "nominal_playback_s": round((s["frames_in"] - 1) / (FPS * speed), 3),
        "fps": round(s["frames_processed"] / r["playback_s"], 2),
        "overlay_latency_ms": s["latency_ms"],
        "websocket": ws,
        "coverage": round(ws["frames"] / max(1, s["frames_processed"]), 3),
        "session_cpu_s": round(r["session_cpu_s"], 2),
        "clients_cpu_s": round(r["clients_cpu_s"], 2),
    }
    cs = r["clients"]
    if cs:
        out["client_frames_min"] = min(c.get("frames", 0) for c in cs)
        if config == "churn":
            out["client_connections"] = sum(c.get("connections", 0) for c in cs)
        else:  # the pipeline's rate as a client sees it: frames processed (seq) per second
            c = cs[0]
            if "last_t" in c and c["last_t"] > c["first_t"]:
                out["client_seen_fps"] = round(
                    (c["last_seq"] - c["first_seq"]) / (c["last_t"] - c["first_t"]), 2)
    return out


_COST_CLIENTS = r"""
import sys, threading
from websockets.sync.client import connect
def one():
    with connect(sys.argv[1], max_size=2 ** 22) as ws:
        for m in ws:
            if m.startswith('{"type":"end"'):
                break
ts = [threading.Thread(target=one) for _ in range(int(sys.argv[2]))]
[t.start() for t in ts]
[t.join() for t in ts]
"""


def stream_cpu_per_frame(n_clients: int, frames: int = 600) -> dict[str, float]:
    """The stream's own CPU per frame, without the model: a `StreamServer` in this process
    fed ``frames`` frame messages at 120 frames/s, ``n_clients`` websockets clients in
    another process; CPU time of the caller's thread in `StreamServer.frame` and of the
    server's thread (`time.thread_time`, read on that thread before and after)."""
    import numpy as np

    from rehab.stream.frames import LiveFrame, hello_message
    from rehab.stream.server import ServeOptions, StreamServer

    server = StreamServer(ServeOptions(port=0), hello=hello_message("squat", "Squat",
                                                                    "knee_flexion"))
    server.start()
    proc = None
    if n_clients:
        proc = subprocess.Popen([sys.executable, "-c", _COST_CLIENTS,
                                 f"ws://127.0.0.1:{server.port}/stream", str(n_clients)])
        deadline = time.monotonic() + CONNECT_TIMEOUT_S
        while server.clients < n_clients and time.monotonic() < deadline:
            time.sleep(0.01)
    rng = np.random.default_rng(0)
    world = rng.normal(0, 0.3, (33, 3)).astype(np.float32)
    vis = rng.random(33).astype(np.float32)
    marks: dict[str, float] = {}
    loop = server._loop  # noqa: SLF001 - the benchmark reads the server thread's clock
    assert loop is not None

    def mark(key: str) -> None:
        marks[key] = time.thread_time()

    loop.call_soon_threadsafe(mark, "start")
    caller = 0.0
    for i in range(frames):
        f = LiveFrame(t=i / 30, captured=time.monotonic(), world=world, visibility=vis,
                      angle_name="knee_flexion", side="left", angle_deg=42.0,
                      target=(80.0, 120.0), rest="low", reps_done=1, reps_goal=10, set_no=1,
                      sets=3, state="active", cue="Good squat", cue_tone="good")
        c0 = time.thread_time()
        server.frame(f)
        caller += time.thread_time() - c0
        time.sleep(1 / 120)
    time.sleep(0.3)
    loop.call_soon_threadsafe(mark, "stop")
    time.sleep(0.1)
    server.end("complete", 1)
    server.close()
    if proc is not None:
        proc.wait(10)
    return {"caller_ms": round(1000 * caller / frames, 3),
            "server_ms": round(1000 * (marks["stop"] - marks["start"]) / frames, 3),
            "sent": server.stats.sent, "dropped": server.stats.dropped}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, default=DEFAULT_VIDEO)
    parser.add_argument("--runs", type=int, default=3, help="rounds of the fps configurations")
    parser.add_argument("--speed", type=float, default=4.0,
                        help="playback speed of the fps runs (default 4: 120 frames/s)")
    parser.add_argument("--repeat", type=int, default=2,
                        help="the clip played this many times in a row in the fps runs")
    parser.add_argument("--no-churn", action="store_true", help="skip the churn variant")
    parser.add_argument("--no-latency", action="store_true", help="skip the latency run")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the results here")
    args = parser.parse_args()
    if not args.video.is_file():
        raise SystemExit(f"{args.video}: not found (pass --video)")
    import cv2

    configs = ["0", "1", "10"] + ([] if args.no_churn else ["churn"])
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    machine = {"platform": platform.platform(), "machine": platform.machine(),
               "cpus": os.cpu_count(), "load_avg_1min_before": round(load, 2),
               "python": platform.python_version(), "opencv": cv2.__version__}
    result: dict[str, Any] = {"machine": machine, "speed": args.speed, "repeat": args.repeat}
    with tempfile.TemporaryDirectory(prefix="bench-stream-") as tmp:
        work = Path(tmp)
        clip, n = letterboxed_input(args.video, work)
        print(f"machine: {machine['platform']}, {machine['cpus']} cpus (load average "
              f"{load:.2f} before the run), python {machine['python']}, opencv "
              f"{machine['opencv']}")
        sys.stdout.flush()

        if not args.no_latency:
            lat = measure_latency(clip, work)
            result["latency"] = lat
            print(f"\nlatency, 1 client, real time ({lat['frames_processed']} of "
                  f"{lat['frames_in']} frames processed, {lat['client_frames']} received):")
            rows = [("server: capture -> sent to the OS (--stats)",
                     lat["server_send_latency_ms"]),
                    ("session: capture -> overlay (--stats)", lat["overlay_latency_ms"]),
                    ("client: inter-arrival", lat["client_interarrival_ms"]),
                    ("client: receive delay above the fastest frame",
                     lat["client_delay_above_fastest_ms"])]
            for name, v in rows:
                print(f"  {name:<48} p50 {v['p50']:>7} ms  p95 {v['p95']:>7} ms")
            print(f"  {'client: inter-arrival jitter |gap - median|':<48} "
                  f"{'':16}p95 {lat['client_jitter_ms_p95']:>7} ms")
            sys.stdout.flush()

        long_clip = work / f"input_x{args.repeat}.mp4"
        m = repeat_clip(clip, long_clip, args.repeat)
        print(f"\nframe rate: {m} frames ({args.repeat} x the clip) played at speed "
              f"{args.speed:g} ({FPS * args.speed:g} frames/s offered, "
              f"{m / FPS / args.speed:.1f} s); fps = frames processed / playback wall time")
        print("  (client fps: frames processed per second as the first client saw them, from "
              "the seq numbers it received; coverage: share of the processed frames offered "
              "while a client was connected; sent/dropped/ws p95: the server's --stats; cpu s: "
              "user+system CPU of the session process, startup included, and of the client "
              "process)")
        print(f"  {'run':>3} {'clients':>7} {'processed':>9} {'playback s':>10} {'fps':>7} "
              f"{'client fps':>10} {'coverage':>8} {'sent':>6} {'dropped':>7} {'ws p95 ms':>9} "
              f"{'cpu s session/clients':>21}")
        runs: list[dict[str, Any]] = []
        for k in range(args.runs):
            for config in configs:
                r = fps_run(long_clip, work, args.speed, config)
                r["run"] = k + 1
                runs.append(r)
                ws = r["websocket"]
                extra = f"  ({r['client_connections']} connections)" \
                    if "client_connections" in r else ""
                print(f"  {k + 1:>3} {config:>7} {r['frames_processed']:>9} "
                      f"{r['playback_s']:>10.2f} {r['fps']:>7.2f} "
                      f"{r.get('client_seen_fps', '-'):>10} "
                      f"{r['coverage'] if config != '0' else '-':>8} {ws['sent']:>6} "
                      f"{ws['dropped']:>7} {ws['latency_ms_p95'] or '-':>9} "
                      f"{r['session_cpu_s']:>13.2f}/{r['clients_cpu_s']:<7.2f}{extra}")
                sys.stdout.flush()
    med = {c: statistics.median(r["fps"] for r in runs if r["config"] == c) for c in configs}
    cost = {str(n): stream_cpu_per_frame(n) for n in (0, 1, 10)}
    result["stream_cpu_per_frame"] = cost
    print("\nthe stream's own CPU per frame (no model; session thread / server thread):")
    for n, c in cost.items():
        print(f"  {n:>2} clients: {c['caller_ms']:.3f} ms / {c['server_ms']:.3f} ms "
              f"({c['sent']} sent, {c['dropped']} dropped)")
    ratios = {c: med[c] / med["0"] for c in configs if c != "0"}
    ok = ratios["10"] >= GOAL_RATIO_10
    print("\nmedians: " + ", ".join(f"{c} clients {med[c]:.2f} fps" if c != "churn"
                                    else f"churn {med[c]:.2f} fps" for c in configs))
    print("ratios: " + ", ".join(f"fps({c})/fps(0) {ratios[c]:.3f}" for c in ratios)
          + f"; goal fps(10)/fps(0) >= {GOAL_RATIO_10:g}: {'ok' if ok else 'MISSED'}")
    short = [r for r in runs if r["config"] in ("1", "10") and r["coverage"] < 0.95]
    if short:
        print(f"warning: in {len(short)} runs the clients were connected for less than 95% "
              f"of the processed frames")
    slow = [r for r in runs if r["playback_s"] > 1.05 * r["nominal_playback_s"]]
    if slow:
        print(f"warning: in {len(slow)} runs playback took over 5% longer than the clip at "
              f"speed {args.speed:g} (the reader fell behind)")
    result.update(runs=runs, median_fps=med, ratios=ratios,
                  goal={"fps10_over_fps0_min": GOAL_RATIO_10, "ok": ok})
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))
        print(f"results: {args.json}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
