#!/usr/bin/env python3
"""Re-runs issue #16's attacks against a built binary (the release build by default).

Black-box: each check starts `todo-api serve` with the configuration it needs (SQLite
or PostgreSQL), attacks it over HTTP/TCP and prints what it saw. Exit status 1 when a
rule did not hold. Standard library only.

    cargo build --release && python3 bench/security_repro.py [--bin target/release/todo-api]
        [--backend sqlite|postgres|both]
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid

PG = os.environ.get("REPRO_PG", "postgres://postgres@127.0.0.1:5432")
PASSWORD = "Str0ng#Passw0rd"
SECRET = "k9Qv2xL7pR4tW8zB1nM6cF3hJ5dS0gYa"  # a test key, never a real one
RESULTS: list[tuple[str, str, bool]] = []


class Server:
    """One `todo-api serve` child over a fresh database; its port is read from its log."""

    def __init__(self, binary: str, backend: str, env: dict[str, str] | None = None,
                 url: str | None = None):
        self.dir = tempfile.mkdtemp(prefix="repro-")
        self.own_db = url is None
        if url:
            pass
        elif backend == "sqlite":
            url = f"sqlite://{self.dir}/todo.db?mode=rwc"
        else:
            self.db = "repro_" + uuid.uuid4().hex[:12]
            subprocess.run(["psql", PG + "/postgres", "-qc", f"CREATE DATABASE {self.db}"], check=True)
            url = f"{PG}/{self.db}"
        self.backend, self.url = backend, url
        full = {"PATH": os.environ["PATH"], "DATABASE_URL": url, "PORT": "0", "HOST": "127.0.0.1",
                "LOG_FORMAT": "json", "LOG_LEVEL": "info", "JWT_SECRET_KEY": SECRET,
                "AUTH_RATE_LIMIT_PER_MINUTE": "0", "LOGIN_FAILURES_PER_ACCOUNT": "0",
                "MAIL_ENABLED": "false"}
        full.update(env or {})
        self.proc = subprocess.Popen([binary, "serve"], env=full, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, start_new_session=True)
        for line in self.proc.stdout:
            if '"listening"' in line:
                event = json.loads(line)
                self.port = event.get("fields", event)["port"]
                # Keep reading its log, or a full pipe would stall the server.
                threading.Thread(target=self.proc.stdout.read, daemon=True).start()
                return
        raise RuntimeError("the server did not start")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)
        if self.backend == "postgres" and self.own_db:
            subprocess.run(["psql", PG + "/postgres", "-qc", f"DROP DATABASE {self.db} WITH (FORCE)"], check=True)

    def call(self, method: str, path: str, body=None, token: str | None = None,
             headers: dict[str, str] | None = None) -> tuple[int, dict, dict]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        h = dict(headers or {})
        data = None
        if body is not None:
            data = body if isinstance(body, (bytes, str)) else json.dumps(body)
            h.setdefault("Content-Type", "application/json")
        if token:
            h["Authorization"] = f"Bearer {token}"
        conn.request(method, path, body=data, headers=h)
        r = conn.getresponse()
        raw = r.read()
        conn.close()
        try:
            parsed = json.loads(raw) if raw else {}
        except ValueError:
            parsed = {"raw": raw[:200].decode(errors="replace")}
        return r.status, {k.lower(): v for k, v in r.getheaders()}, parsed

    def user(self, email: str | None = None) -> tuple[str, dict]:
        email = email or f"u{uuid.uuid4().hex[:10]}@example.com"
        s, _, _ = self.call("POST", "/api/v1/auth/register", {"email": email, "password": PASSWORD})
        assert s == 201, s
        return email, self.login(email, PASSWORD)[2]

    def login(self, email: str, password: str):
        return self.call("POST", "/api/v1/auth/login", {"email": email, "password": password})


def report(item: str, seen: str, ok: bool) -> None:
    RESULTS.append((item, seen, ok))
    print(f"[{'held' if ok else 'FAILED'}] {item}: {seen}", flush=True)


def race(srv: Server, trials: int) -> None:
    """1: logins with the old password racing a password change leave no live session."""
    survivors = answered = 0
    for _ in range(trials):
        email, pair = srv.user()
        with cf.ThreadPoolExecutor(12) as pool:
            change = pool.submit(srv.call, "POST", "/api/v1/auth/change-password",
                                 {"current_password": PASSWORD, "new_password": "N3w#Passw0rd!"},
                                 pair["access_token"])
            logins = [pool.submit(srv.login, email, PASSWORD) for _ in range(10)]
            assert change.result()[0] == 200
            got = [f.result() for f in logins]
        for status, _, body in got:
            if status == 200:
                answered += 1
                if srv.call("GET", "/api/v1/auth/me", token=body["access_token"])[0] == 200:
                    survivors += 1
    report(f"1 change-password race ({srv.backend})",
           f"{trials} changes x 10 concurrent old-password logins: {answered} logins answered 200, "
           f"{survivors} of their sessions usable after the change", survivors == 0)


def guessing(srv: Server) -> None:
    """2: current-password guesses with a stolen token hit 429 after 5 failures."""
    _, pair = srv.user()
    statuses = [srv.call("POST", "/api/v1/auth/change-password",
                         {"current_password": f"Wr0ng#{i}xx", "new_password": "N3w#Passw0rd!"},
                         pair["access_token"])[0] for i in range(8)]
    right = srv.call("POST", "/api/v1/auth/change-password",
                     {"current_password": PASSWORD, "new_password": "N3w#Passw0rd!"}, pair["access_token"])
    report(f"2 current-password guessing ({srv.backend})",
           f"8 wrong guesses -> {statuses}; then the right one -> {right[0]} "
           f"(Retry-After {right[1].get('retry-after')})", statuses.count(429) >= 3 and right[0] == 429)


def ipv6_keys(binary: str, backend: str) -> None:
    """3: one IPv6 /64 is one bucket; IPv4-mapped is its IPv4 address."""
    srv = Server(binary, backend, {"AUTH_RATE_LIMIT_PER_MINUTE": "3", "TRUSTED_PROXIES": "127.0.0.1"})
    try:
        body = {"email": "nobody@example.com", "password": "x"}
        v6 = [srv.call("POST", "/api/v1/auth/login", body,
                       headers={"X-Forwarded-For": f"2001:db8:1:2::{i:x}"})[0] for i in range(1, 6)]
        v4 = [srv.call("POST", "/api/v1/auth/login", body, headers={"X-Forwarded-For": a})[0]
              for a in ["10.9.9.0", "::ffff:10.9.9.0", "0:0:0:0:0:ffff:a09:900", "::ffff:a09:900", "10.9.9.0"]]
    finally:
        srv.stop()
    report(f"3 rate-limit keys ({backend})",
           f"5 addresses of one /64 -> {v6}; 10.9.9.0 in 5 spellings -> {v4}",
           v6[3:] == [429, 429] and v4[3:] == [429, 429])


def cardinality(srv: Server) -> None:
    """4: unknown methods share one metrics label."""
    before = metrics_size(srv)
    for i in range(100):
        with socket.create_connection(("127.0.0.1", srv.port)) as s:
            s.sendall(b"X" * 2000 + str(i).encode() + b" /api/v1/todos HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            s.recv(4096)
    after = metrics_size(srv)
    report(f"4 metrics cardinality ({srv.backend})",
           f"/metrics {before} bytes -> {after} bytes after 100 requests with 2 KB unknown methods",
           after - before < 20_000)


def metrics_size(srv: Server) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
    conn.request("GET", "/metrics")
    n = len(conn.getresponse().read())
    conn.close()
    return n


def keep_alive(srv: Server) -> None:
    """7: a response sent without reading the body leaves the connection usable or says close."""
    broken = 0
    for i in range(40):
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
        path = "/api/v1/todos" if i % 2 else "/nowhere"
        conn.request("POST", path, body=b'{"title":"' + b"x" * 50_000 + b'"}',
                     headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        r.read()
        closing = (r.getheader("connection") or "").lower() == "close"
        if not closing:
            try:
                conn.request("GET", "/health/live")
                conn.getresponse().read()
            except (http.client.HTTPException, OSError):
                broken += 1
        conn.close()
    report(f"7 keep-alive after unread bodies ({srv.backend})",
           f"40 unauthenticated/unknown-route POSTs with 50 KB bodies, each followed by a request on "
           f"the same connection: {broken} next requests failed", broken == 0)


def headers_and_inputs(srv: Server) -> None:
    """9, 11, 12, 13: security headers, canonical emails, errors in format, input checks."""
    s, h, _ = srv.call("POST", "/api/v1/auth/login", {"email": "a@b.co", "password": "x"})
    report(f"9 security headers ({srv.backend})",
           f"login {s}: nosniff={h.get('x-content-type-options')}, cache-control={h.get('cache-control')}",
           h.get("x-content-type-options") == "nosniff" and "no-store" in h.get("cache-control", ""))
    base = f"e{uuid.uuid4().hex[:8]}"
    srv.user(f"{base}@example.com")
    fullwidth = "".join(chr(ord(c) + 0xFEE0) for c in base)
    spellings = [f"{fullwidth}@example.com", f"{base}@EXAMPLE.com", f"{base}\u200b@example.com"]
    got = [srv.call("POST", "/api/v1/auth/register", {"email": e, "password": PASSWORD})[0] for e in spellings]
    report(f"11 ambiguous emails ({srv.backend})", f"fullwidth, upper-case, zero-width spellings -> {got}",
           got == [409, 409, 422])
    dup = srv.call("POST", "/api/v1/auth/login", '{"email":"a@b.co","password":"x","password":"y"}')
    _, pair = srv.user()
    bad_q = srv.call("GET", "/api/v1/todos?q=%FF%FE", token=pair["access_token"])
    report(f"13 duplicate keys / invalid UTF-8 ({srv.backend})",
           f"duplicate key -> {dup[0]} {dup[2].get('error_code')}; q=%FF%FE -> {bad_q[0]} {bad_q[2].get('error_code')}",
           (dup[0], dup[2].get("error_code"), bad_q[0], bad_q[2].get("error_code"))
           == (422, "VALIDATION_004", 422, "VALIDATION_009"))
    with socket.create_connection(("127.0.0.1", srv.port)) as sock:
        sock.sendall(b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                     b"Content-Length: 7\r\n\r\nabcdefg")
        answer = sock.recv(65536).decode(errors="replace")
    head = answer.split("\r\n", 1)[0]
    # hyper answers these before the service sees them; README "Errors outside the format".
    report(f"12 malformed framing ({srv.backend})",
           f"conflicting Content-Length -> {head!r} (documented as outside the error format)",
           head.startswith("HTTP/1.1 400"))


def claims(binary: str, backend: str) -> None:
    """8: with JWT_ISSUER/JWT_AUDIENCE set, tokens without them are refused."""
    plain = Server(binary, backend)
    try:
        _, pair = plain.user()
        # The same database and key, now with JWT_ISSUER/JWT_AUDIENCE required.
        strict = Server(binary, backend, {"JWT_ISSUER": "https://issuer.test", "JWT_AUDIENCE": "todo"},
                        url=plain.url)
        try:
            s, _, body = strict.call("GET", "/api/v1/auth/me", token=pair["access_token"])
        finally:
            strict.stop()
    finally:
        plain.stop()
    report(f"8 iss/aud required ({backend})",
           f"a token without iss/aud (same key) -> {s} {body.get('error_code')}", s == 401)


def weak_secret(binary: str) -> None:
    """10: production refuses a low-entropy secret."""
    env = {"PATH": os.environ["PATH"], "APP_ENV": "production", "JWT_SECRET_KEY": "a" * 32,
           "DATABASE_URL": "sqlite::memory:", "MAIL_ENABLED": "false", "PORT": "0"}
    try:
        p = subprocess.run([binary, "serve"], env=env, capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired:
        report("10 weak secrets", "APP_ENV=production JWT_SECRET_KEY=a*32 -> still serving after 20 s", False)
        return
    line = (p.stderr or p.stdout).strip().splitlines()[-1][:160]
    report("10 weak secrets", f"APP_ENV=production JWT_SECRET_KEY=a*32 -> exit {p.returncode}: {line}",
           p.returncode != 0)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/release/todo-api")
    ap.add_argument("--backend", default="both", choices=["sqlite", "postgres", "both"])
    ap.add_argument("--trials", type=int, default=20)
    args = ap.parse_args()
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    for backend in backends:
        srv = Server(args.bin, backend)
        try:
            race(srv, args.trials)
            guessing(srv)
            cardinality(srv)
            keep_alive(srv)
            headers_and_inputs(srv)
        finally:
            srv.stop()
        ipv6_keys(args.bin, backend)
        claims(args.bin, backend)
    weak_secret(args.bin)
    failed = [r for r in RESULTS if not r[2]]
    print(f"\n{len(RESULTS) - len(failed)}/{len(RESULTS)} held")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
