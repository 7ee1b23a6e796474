#!/usr/bin/env python3
"""The slowloris scenario of bench.py: `conns` connections that never finish a request,
held for `secs`, while one normal client sends `GET /health/live` on a keep-alive
connection, one request at a time, and measures each latency.

Half the slow connections send a request line and then one header line every
`trickle` seconds, never the blank line that ends the headers (bounded by
HEADER_READ_TIMEOUT_SECONDS); the other half send a chunked body to an unknown route, a
1 KiB chunk every `trickle` seconds, never the last chunk (answered 404 at once; the
body is read into nothing, not buffered, until BODY_READ_TIMEOUT_SECONDS closes it). Reported: the server's RSS before, at its peak and after; the normal
client's p50/p99/max latency and errors; how many slow connections the server closed,
and after how long; and the server's `http_connections_closed_total`.

Standalone, against a running server (e.g. one started with short timeouts):
    python3 bench/slowloris.py --port 8000 --pid $(pgrep -n todo-api) --conns 20 --secs 5
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
import urllib.request
from pathlib import Path

LIVE = b"GET /health/live HTTP/1.1\r\nHost: bench\r\n\r\n"


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def closed_total(port: int) -> dict[str, float]:
    """`http_connections_closed_total` by reason."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        if line.startswith("http_connections_closed_total{"):
            labels, _, value = line.rpartition(" ")
            out[labels.split('"')[1]] = float(value)
    return out


async def _slow(port: int, kind: str, trickle: float, stop: asyncio.Event, t0: float,
                closed: list[float]) -> None:
    """One slow connection; appends the time the server closed it to `closed`."""
    try:
        r, w = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        closed.append(0.0)
        return
    try:
        if kind == "headers":
            w.write(b"GET /health/live HTTP/1.1\r\nHost: bench\r\n")
        else:
            w.write(b"POST /bench/nowhere HTTP/1.1\r\nHost: bench\r\n"
                    b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
        await w.drain()
        while not stop.is_set():
            try:
                if not await asyncio.wait_for(r.read(4096), trickle):
                    closed.append(time.monotonic() - t0)
                    return
                continue  # an answer (404): read on until the close
            except asyncio.TimeoutError:
                pass
            w.write(b"X-Slow: 1\r\n" if kind == "headers" else b"400\r\n" + b" " * 1024 + b"\r\n")
            await w.drain()
    except OSError:
        closed.append(time.monotonic() - t0)
    finally:
        w.close()


async def _normal(port: int, stop: asyncio.Event, latencies: list[float], errors: list[str]) -> None:
    """Keep-alive GET /health/live, one at a time, reconnecting when closed."""
    conn = None
    while not stop.is_set():
        t = time.monotonic()
        try:
            if conn is None:
                conn = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 5)
            r, w = conn
            w.write(LIVE)
            await w.drain()
            head = await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), 5)
            length = next((int(x.split(b":")[1]) for x in head.lower().split(b"\r\n")
                           if x.startswith(b"content-length:")), 0)
            await asyncio.wait_for(r.readexactly(length), 5)
            if not head.startswith(b"HTTP/1.1 200"):
                errors.append(head.split(b"\r\n")[0].decode())
            latencies.append((time.monotonic() - t) * 1000)
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError) as e:
            errors.append(type(e).__name__)
            conn = None
        await asyncio.sleep(0.01)


async def _scenario(port: int, pid: int, conns: int, secs: float, trickle: float) -> dict:
    stop = asyncio.Event()
    t0 = time.monotonic()
    closed: list[float] = []
    latencies: list[float] = []
    errors: list[str] = []
    rss = [rss_kib(pid)]
    slow = [asyncio.create_task(_slow(port, "headers" if i % 2 == 0 else "body", trickle,
                                      stop, t0, closed)) for i in range(conns)]
    normal = asyncio.create_task(_normal(port, stop, latencies, errors))
    while time.monotonic() - t0 < secs:
        await asyncio.sleep(0.5)
        rss.append(rss_kib(pid))
    stop.set()
    await asyncio.gather(normal, *slow, return_exceptions=True)
    return {"rss": rss, "closed": closed, "latencies": latencies, "errors": errors}


def run(port: int, pid: int, conns: int = 200, secs: float = 40.0, trickle: float = 5.0) -> dict:
    """The scenario's figures (see the module docstring)."""
    before = closed_total(port)
    raw = asyncio.run(_scenario(port, pid, conns, secs, trickle))
    after = closed_total(port)
    lat = sorted(raw["latencies"]) or [0.0]
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
    res = {
        "connections": conns, "secs": secs, "trickle_secs": trickle,
        "rss_before_kib": raw["rss"][0], "rss_peak_kib": max(raw["rss"]),
        "rss_after_kib": rss_kib(pid),
        "normal_requests": len(raw["latencies"]), "normal_errors": len(raw["errors"]),
        "normal_p50_ms": round(statistics.median(lat), 2), "normal_p99_ms": round(p99, 2),
        "normal_max_ms": round(lat[-1], 2),
        "slow_closed_by_server": len(raw["closed"]),
        "slow_closed_median_secs": round(statistics.median(raw["closed"]), 1) if raw["closed"] else None,
        "server_closed": {k: v - before.get(k, 0.0) for k, v in after.items()},
    }
    res["pass"] = res["normal_errors"] == 0 and res["slow_closed_by_server"] == conns
    return res


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--pid", type=int, required=True, help="the server's pid (for its RSS)")
    p.add_argument("--conns", type=int, default=200)
    p.add_argument("--secs", type=float, default=40.0)
    p.add_argument("--trickle", type=float, default=5.0)
    a = p.parse_args()
    print(json.dumps(run(a.port, a.pid, a.conns, a.secs, a.trickle), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
