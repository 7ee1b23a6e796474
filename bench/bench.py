#!/usr/bin/env python3
"""todo-api benchmark harness: seeds PostgreSQL, drives the release binary with wrk,
measures pgbench/Argon2 baselines, memory and a soak, and writes bench/results/latest.*.

Run it through `bash bench/run.sh` (or `just bench`), which builds the binary, installs
the tools and the venv, and then runs this file with the venv's Python. Knobs are
environment variables (see `Config` below and bench/README.md).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from slowloris import run as slowloris_run

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
LUA = BENCH / "lua" / "todo.lua"
RESULTS = Path(os.environ.get("BENCH_RESULTS_DIR") or BENCH / "results")
PASSWORD = "Bench#Passw0rd1"
JWT_SECRET = "bench-only-secret-0123456789abcdef0123456789abcdef"

# Every child process (server, wrk, pgbench, perf) so that cleanup can end them all.
CHILDREN: list[subprocess.Popen] = []


def env_int(name: str, default: int) -> int:
    v = os.environ.get(name, "").strip()
    return int(v) if v else default


def env_str(name: str, default: str) -> str:
    v = os.environ.get(name, "").strip()
    return v if v else default


@dataclass
class Config:
    duration: int = field(default_factory=lambda: env_int("BENCH_DURATION", 10))
    warmup: int = field(default_factory=lambda: env_int("BENCH_WARMUP", 3))
    runs: int = field(default_factory=lambda: env_int("BENCH_RUNS", 3))
    connections: int = field(default_factory=lambda: env_int("BENCH_CONNECTIONS", 64))
    threads: int = field(default_factory=lambda: env_int("BENCH_THREADS", 2))
    users: int = field(default_factory=lambda: env_int("BENCH_USERS", 1000))
    todos: int = field(default_factory=lambda: env_int("BENCH_TODOS_PER_USER", 20))
    token_users: int = field(default_factory=lambda: env_int("BENCH_TOKEN_USERS", 200))
    pool_size: int = field(default_factory=lambda: env_int("BENCH_POOL_SIZE", 16))
    hash_workers: str = field(default_factory=lambda: env_str("BENCH_HASH_WORKERS", ""))
    pg_sslmode: str = field(default_factory=lambda: env_str("BENCH_PG_SSLMODE", ""))
    server_env: str = field(default_factory=lambda: env_str("BENCH_SERVER_ENV", ""))
    soak_secs: int = field(default_factory=lambda: env_int("BENCH_SOAK_SECS", 300))
    idle_conns: int = field(default_factory=lambda: env_int("BENCH_IDLE_CONNS", 1000))
    slowloris_conns: int = field(default_factory=lambda: env_int("BENCH_SLOWLORIS_CONNS", 200))
    slowloris_secs: int = field(default_factory=lambda: env_int("BENCH_SLOWLORIS_SECS", 40))
    mixed_login_conns: int = field(default_factory=lambda: env_int("BENCH_MIXED_LOGIN_CONNS", 32))
    mixed_list_conns: int = field(default_factory=lambda: env_int("BENCH_MIXED_LIST_CONNS", 32))
    sqlite: bool = field(default_factory=lambda: env_str("BENCH_SQLITE", "1") != "0")
    profile: list[str] = field(
        default_factory=lambda: [s for s in env_str("BENCH_PROFILE", "").split(",") if s]
    )
    only: list[str] = field(
        default_factory=lambda: [s for s in env_str("BENCH_SCENARIOS", "").split(",") if s]
    )
    pg_host: str = field(default_factory=lambda: env_str("BENCH_PG_HOST", "127.0.0.1"))
    pg_port: str = field(default_factory=lambda: env_str("BENCH_PG_PORT", "5432"))
    pg_user: str = field(default_factory=lambda: env_str("BENCH_PG_USER", "postgres"))
    db: str = field(default_factory=lambda: env_str("BENCH_DB", "todo_bench"))
    binary: Path = field(
        default_factory=lambda: Path(env_str("BENCH_BIN", str(ROOT / "target/release/todo-api")))
    )
    out: Path = field(default_factory=lambda: Path(env_str("BENCH_OUT", str(ROOT / "target/bench"))))

    def wanted(self, scenario: str) -> bool:
        return not self.only or scenario in self.only


# Judged scenarios: (name, baseline key, target ratio). `live` has no baseline.
SCENARIOS = [
    ("live", None, None),
    ("list", "pg_list", 0.6),
    ("get", "pg_get", 0.5),
    ("create", "pg_insert", 0.5),
    ("patch", "pg_insert", 0.5),
    ("login", "argon2_login", 0.8),
]
MIXED_LIST_P99_MS = 25.0
IDLE_RSS_TARGET_MIB = 60.0
SOAK_GROWTH_LIMIT = 0.10


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ---------------------------------------------------------------- processes


def spawn(cmd: list[str], **kw) -> subprocess.Popen:
    p = subprocess.Popen(cmd, start_new_session=True, **kw)
    CHILDREN.append(p)
    return p


def end(p: subprocess.Popen, grace: float = 15.0) -> None:
    """Ends one child (and its process group) that this harness started."""
    if p.poll() is None:
        try:
            os.killpg(p.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            p.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait(timeout=5)
    if p in CHILDREN:
        CHILDREN.remove(p)


def cleanup() -> None:
    for p in list(CHILDREN):
        try:
            end(p, grace=5.0)
        except Exception as e:  # noqa: BLE001 - best effort on the way out
            print(f"cleanup: {e}", file=sys.stderr)


def run(cmd: list[str], check: bool = True, **kw) -> subprocess.CompletedProcess:
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({r.returncode}): {r.stderr.strip()[-2000:]}")
    return r


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- HTTP


def http(method: str, url: str, body: dict | None = None, token: str | None = None,
         timeout: float = 30.0) -> tuple[int, object]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            raw = r.read()
            status = r.status
    except urllib.error.HTTPError as e:
        raw = e.read()
        status = e.code
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw.decode(errors="replace")


# ---------------------------------------------------------------- the server


class Server:
    """One `todo-api serve` process with its JSON log in a file."""

    def __init__(self, cfg: Config, name: str, database_url: str):
        self.cfg, self.name, self.database_url = cfg, name, database_url
        self.port = int(env_str("BENCH_PORT", "0")) or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = cfg.out / f"server-{name}.log"
        self.errors_path = cfg.out / f"server-{name}.errors.log"
        self.proc: subprocess.Popen | None = None

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("OTEL_", "DATABASE_", "ARGON2_", "PASSWORD_HASH_", "DB_"))}
        env.update({
            "DATABASE_URL": self.database_url,
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "APP_ENV": "development",
            "JWT_SECRET_KEY": JWT_SECRET,
            "ACCESS_TOKEN_EXPIRE_MINUTES": "600",
            "AUTH_RATE_LIMIT_PER_MINUTE": "0",
            "LOG_FORMAT": "json",
            "LOG_LEVEL": "info",
            "DATABASE_POOL_SIZE": str(self.cfg.pool_size),
            "MIGRATE_ON_START": "true",
            # As the Dockerfile sets it: huge pages for Argon2's per-hash memory.
            "GLIBC_TUNABLES": "glibc.malloc.hugetlb=1",
        })
        if self.cfg.hash_workers:
            env["PASSWORD_HASH_WORKERS"] = self.cfg.hash_workers
        # Extra variables for experiments, e.g. BENCH_SERVER_ENV="MALLOC_ARENA_MAX=2 LOG_LEVEL=warn".
        for kv in self.cfg.server_env.split():
            k, _, v = kv.partition("=")
            env[k] = v
        return env

    def start(self) -> None:
        self.cfg.out.mkdir(parents=True, exist_ok=True)
        self.errors_path.write_text("")
        logf = open(self.log_path, "wb")  # noqa: SIM115 - handed to the child
        # O_APPEND so that truncating the file between scenarios keeps writes at its end.
        logf.close()
        logf = open(self.log_path, "ab")  # noqa: SIM115
        self.proc = spawn([str(self.cfg.binary), "serve"], env=self.env(), cwd=str(self.cfg.out),
                          stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        logf.close()
        deadline = time.time() + 90
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server {self.name} exited ({self.proc.returncode}); "
                                   f"see {self.log_path}:\n{self.log_path.read_text()[-3000:]}")
            try:
                status, _ = http("GET", self.url + "/health", timeout=2)
                if status == 200:
                    log(f"server {self.name} ready on {self.url} (pid {self.proc.pid})")
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"server {self.name} did not become ready; see {self.log_path}")

    def stop(self) -> None:
        if self.proc:
            end(self.proc)
            self.proc = None

    @property
    def pid(self) -> int:
        assert self.proc
        return self.proc.pid

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def status_fields(self) -> dict[str, str]:
        out = {}
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            k, _, v = line.partition(":")
            out[k] = v.strip()
        return out

    def cpu_secs(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def socket_fds(self) -> int:
        n = 0
        for fd in Path(f"/proc/{self.pid}/fd").iterdir():
            try:
                if os.readlink(fd).startswith("socket:"):
                    n += 1
            except OSError:
                pass
        return n

    def metrics(self) -> dict[str, float]:
        """Counters and sums of /metrics that are useful as deltas."""
        with urllib.request.urlopen(self.url + "/metrics", timeout=10) as r:
            text = r.read().decode()
        out: dict[str, float] = {}
        for line in text.splitlines():
            if line.startswith(("db_query_duration_seconds_sum", "db_query_duration_seconds_count",
                                "http_request_duration_seconds_sum",
                                "http_request_duration_seconds_count")):
                name, _, value = line.rpartition(" ")
                out[name] = float(value)
        return out

    def drain_log(self) -> dict[str, object]:
        """Counts statuses and levels of the log lines written so far, keeps the
        non-2xx/warn/error lines in the errors file, and truncates the log."""
        statuses: dict[str, int] = {}
        levels: dict[str, int] = {}
        lines = 0
        keep = []
        with open(self.log_path, "rb") as f:
            for raw in f:
                lines += 1
                line = raw.decode(errors="replace")
                m = re.search(r'"status":(\d+)', line)
                if m:
                    statuses[m.group(1)] = statuses.get(m.group(1), 0) + 1
                lm = re.search(r'"level":"(\w+)"', line)
                level = lm.group(1) if lm else "?"
                levels[level] = levels.get(level, 0) + 1
                if (m and not m.group(1).startswith(("2", "3"))) or level in ("WARN", "ERROR"):
                    if len(keep) < 200:
                        keep.append(line)
        if keep:
            with open(self.errors_path, "a") as e:
                e.writelines(keep)
        os.truncate(self.log_path, 0)
        return {"log_lines": lines, "statuses": statuses, "levels": levels}


# ---------------------------------------------------------------- wrk


def wrk(cfg: Config, url: str, mode: str, data_dir: Path, secs: int, conns: int,
        threads: int, count: bool = False) -> subprocess.Popen:
    cmd = ["wrk", "-c", str(conns), "-t", str(min(threads, conns)), "-d", f"{secs}s",
           "--timeout", "10s", "--latency", "-s", str(LUA), url, "--", mode, str(data_dir)]
    if count:
        cmd.append("count")
    return spawn(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=str(ROOT))


def wrk_result(p: subprocess.Popen, secs: int) -> dict:
    try:
        out, err = p.communicate(timeout=secs + 120)
    finally:
        end(p)
    m = re.search(r"^BENCH_JSON (\{.*\})$", out, re.M)
    if p.returncode != 0 or not m:
        raise RuntimeError(f"wrk failed ({p.returncode}): {err.strip()[-2000:]}\n{out[-2000:]}")
    r = json.loads(m.group(1))
    r["errors_total"] = sum(r["errors"].values())
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    r["non_2xx_3xx"] = int(non2xx.group(1)) if non2xx else 0
    return r


def wrk_once(cfg: Config, url: str, mode: str, data_dir: Path, secs: int, conns: int,
             threads: int, count: bool = False) -> dict:
    return wrk_result(wrk(cfg, url, mode, data_dir, secs, conns, threads, count), secs)


def med(values: list[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {k: v - before.get(k, 0.0) for k, v in after.items() if v - before.get(k, 0.0) > 0}


def db_breakdown(d: dict[str, float], requests: int) -> dict[str, dict[str, float]]:
    """Per database operation: calls per HTTP request and mean ms per call."""
    out = {}
    for k, v in d.items():
        m = re.match(r'db_query_duration_seconds_count\{operation="([^"]+)"\}', k)
        if m and requests:
            op = m.group(1)
            s = d.get(f'db_query_duration_seconds_sum{{operation="{op}"}}', 0.0)
            out[op] = {"calls_per_request": round(v / requests, 3),
                       "mean_ms": round(1000 * s / v, 3) if v else 0.0}
    return out


SYSCALL_EVENTS = {"send": ["sendto", "sendmsg", "write", "writev"],
                  "recv": ["recvfrom", "recvmsg", "read"],
                  "epoll_wait": ["epoll_wait"], "futex": ["futex"]}


def _ack(fd: int, timeout: float = 20.0) -> bool:
    import select
    ready, _, _ = select.select([fd], [], [], timeout)
    if ready:
        os.read(fd, 64)
    return bool(ready)


def syscall_count_start(cfg: Config, server: Server, name: str):
    """Counts the server's system calls by kind (perf stat on tracepoints), enabled
    through perf's control fifo just before the wrk run and disabled right after it."""
    if not shutil.which("perf") or env_str("BENCH_SYSCALLS", "1") == "0":
        return None
    out = cfg.out / f"syscalls-{name}.csv"
    ctl, ack = cfg.out / "perf-ctl.fifo", cfg.out / "perf-ack.fifo"
    for f in (out, ctl, ack):
        f.unlink(missing_ok=True)
    os.mkfifo(ctl)
    os.mkfifo(ack)
    events = [f"syscalls:sys_enter_{e}" for es in SYSCALL_EVENTS.values() for e in es]
    events.append("raw_syscalls:sys_enter")
    p = spawn(["perf", "stat", "-x", ",", "-o", str(out), "-D", "-1", "--control",
               f"fifo:{ctl},{ack}", "-e", ",".join(events), "-p", str(server.pid)],
              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cfd, afd = os.open(ctl, os.O_RDWR), os.open(ack, os.O_RDWR)
    os.write(cfd, b"enable\n")
    if not _ack(afd):
        os.close(cfd)
        os.close(afd)
        end(p)
        return None
    return p, out, cfd, afd


def syscall_count_result(counter, requests: int) -> dict | None:
    """Stops the count; system calls per request of the run."""
    p, out, cfd, afd = counter
    try:
        os.write(cfd, b"disable\n")
        _ack(afd)
    finally:
        os.close(cfd)
        os.close(afd)
        for f in ("perf-ctl.fifo", "perf-ack.fifo"):
            (out.parent / f).unlink(missing_ok=True)
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        end(p)
    counts: dict[str, float] = {}
    try:
        for ln in out.read_text().splitlines():
            f = ln.split(",")
            if len(f) > 2 and f[0].strip().isdigit():
                counts[f[2].split(":")[-1].replace("sys_enter_", "")] = float(f[0])
    except OSError:
        return None
    if not counts or not requests:
        return None
    res = {k: round(sum(counts.get(e, 0.0) for e in es) / requests, 2)
           for k, es in SYSCALL_EVENTS.items()}
    res["all"] = round(counts.get("sys_enter", 0.0) / requests, 2)
    return res


def perf_start(cfg: Config, name: str, secs: int) -> subprocess.Popen | None:
    if not shutil.which("perf"):
        return None
    path = cfg.out / f"perf-{name}.data"
    return spawn(["perf", "record", "-a", "-F", "499", "-o", str(path), "--", "sleep", str(secs)],
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def perf_report(cfg: Config, name: str, p: subprocess.Popen | None) -> dict | None:
    if p is None:
        return None
    p.wait(timeout=600)
    end(p)
    data = cfg.out / f"perf-{name}.data"
    rep = {}
    for key, sort in (("by_process", "comm"), ("by_dso", "comm,dso")):
        r = run(["perf", "report", "-i", str(data), "--stdio", "--no-children", "--sort", sort,
                 "--percent-limit", "1"], check=False)
        rep[key] = [ln for ln in r.stdout.splitlines() if ln.strip() and not ln.startswith("#")][:25]
    # The server's threads are named after tokio workers, so select them by process id.
    if CURRENT_SERVER_PID:
        r = run(["perf", "report", "-i", str(data), "--stdio", "--no-children", "--pid",
                 str(CURRENT_SERVER_PID[0]), "--sort", "dso,symbol", "--percent-limit", "0.5"],
                check=False)
        lines = [ln for ln in r.stdout.splitlines() if ln.strip() and not ln.startswith("#")]
        rep["server_symbols"] = lines[:60]
        r = run(["perf", "report", "-i", str(data), "--stdio", "--no-children", "--pid",
                 str(CURRENT_SERVER_PID[0]), "--sort", "dso,symbol", "--percent-limit", "0"],
                check=False)
        rep["server_by_crate"] = by_crate(r.stdout)
    (RESULTS / f"profile-{name}.txt").write_text(
        "\n\n".join(f"== {k}\n" + "\n".join(v) for k, v in rep.items()) + "\n")
    return rep


CURRENT_SERVER_PID: list[int] = []


def by_crate(report: str) -> list[str]:
    """Folds a flat `perf report --sort dso,symbol` into crates (server samples only):
    kernel and shared libraries by name, the binary's symbols by their first path segment
    (`<tracing_opentelemetry::layer::… as …>::on_enter` → tracing_opentelemetry)."""
    total: dict[str, float] = {}
    for ln in report.splitlines():
        m = re.match(r"\s*([\d.]+)%\s+(\S+)\s+\[(.)\]\s+(.*?)\s*(?:-\s+-\s*)?$", ln)
        if not m:
            continue
        pct, dso, kind, sym = float(m.group(1)), m.group(2), m.group(3), m.group(4)
        if dso != "todo-api":
            key = "kernel" if kind == "k" else dso
        else:
            cm = re.match(r"^[<&\s]*(?:mut\s+|dyn\s+)?([A-Za-z_][A-Za-z0-9_]*)::", sym)
            key = cm.group(1) if cm else "todo-api (other)"
        total[key] = total.get(key, 0.0) + pct
    s = sum(total.values()) or 1.0
    return [f"{100 * v / s:6.2f}%  {k}" for k, v in sorted(total.items(), key=lambda kv: -kv[1])
            if 100 * v / s >= 0.5]


def _proc_stat_busy() -> float:
    """Busy CPU seconds of the whole machine (all cores) since boot."""
    f = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = f[3] + (f[4] if len(f) > 4 else 0)
    return (sum(f[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _postgres_cpu() -> float:
    """CPU seconds of every live process named postgres (the whole cluster)."""
    total = 0
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            raw = (d / "stat").read_text()
        except OSError:
            continue
        comm = raw[raw.index("(") + 1: raw.rindex(")")]
        if comm == "postgres":
            f = raw.rsplit(")", 1)[1].split()
            total += int(f[11]) + int(f[12])
    return total / os.sysconf("SC_CLK_TCK")


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


class CpuMeter:
    """Where the machine's CPU went during measured windows: the server, PostgreSQL,
    the load generator (reaped children: wrk), and everything else (other users of the
    machine — a noisy neighbour shows up here)."""

    def __init__(self, server: Server):
        self.server = server
        self.acc = {"wall": 0.0, "busy": 0.0, "server": 0.0, "postgres": 0.0, "wrk": 0.0}
        self._snap: dict[str, float] = {}

    def _now(self) -> dict[str, float]:
        return {"wall": time.time(), "busy": _proc_stat_busy(), "server": self.server.cpu_secs(),
                "postgres": _postgres_cpu(), "wrk": _children_cpu()}

    def start(self) -> None:
        self._snap = self._now()

    def stop(self) -> None:
        now = self._now()
        for k in self.acc:
            self.acc[k] += now[k] - self._snap[k]

    def cores(self) -> dict[str, float]:
        w = self.acc["wall"] or 1.0
        c = {k: round(v / w, 2) for k, v in self.acc.items() if k != "wall"}
        c["other"] = round(max(0.0, c["busy"] - c["server"] - c["postgres"] - c["wrk"]), 2)
        return c


def settle(server: Server, max_wait: float = 60.0) -> float:
    """Waits until the server is idle (< 5% of a core over 0.25 s): work queued by a
    previous wrk run (e.g. logins waiting for the hasher after their client left) must
    not leak into the next measurement. Returns the seconds waited."""
    t0 = time.time()
    while time.time() - t0 < max_wait:
        c0 = server.cpu_secs()
        time.sleep(0.25)
        if server.cpu_secs() - c0 < 0.25 * 0.05:
            break
    return round(time.time() - t0, 2)


def scenario(cfg: Config, server: Server, mode: str, data_dir: Path, label: str | None = None,
             count: bool = False) -> dict:
    """Warm-up, then cfg.runs measured runs at cfg.connections; medians of each figure."""
    label = label or mode
    log(f"scenario {label}: warm-up {cfg.warmup}s, {cfg.runs} x {cfg.duration}s "
        f"at -c {cfg.connections} -t {cfg.threads}")
    rss_before = server.rss_kib()
    if cfg.warmup > 0:
        wrk_once(cfg, server.url, mode, data_dir, cfg.warmup, cfg.connections, cfg.threads, count)
    settled = [settle(server)]
    server.drain_log()
    m0 = server.metrics()
    meter = CpuMeter(server)
    sysc = None
    load = Path("/proc/loadavg").read_text().split()[0]
    runs = []
    prof = None
    for i in range(cfg.runs):
        if i == 0 and label in cfg.profile:
            prof = perf_start(cfg, label, max(1, cfg.duration - 1))
        counter = syscall_count_start(cfg, server, label) if i == 0 else None
        meter.start()
        r = wrk_once(cfg, server.url, mode, data_dir, cfg.duration, cfg.connections, cfg.threads,
                     count)
        meter.stop()
        if counter is not None:
            sysc = syscall_count_result(counter, r["requests"])
        if prof is not None and i == 0:
            # Fold the profile now, so that its cost is not inside the next run.
            prof_rep = perf_report(cfg, label, prof)
        settled.append(settle(server))
        runs.append(r)
        log(f"  run {i + 1}: {r['rps']:.0f} req/s p50 {r['p50_us'] / 1000:.2f} ms "
            f"p99 {r['p99_us'] / 1000:.2f} ms errors {r['errors_total']}"
            + (f" statuses {r['statuses']}" if r["statuses"] else ""))
    m1 = server.metrics()
    logs = server.drain_log()
    total_req = sum(r["requests"] for r in runs)
    cores = meter.cores()
    res = {
        "scenario": label,
        "rps": med([r["rps"] for r in runs]),
        "p50_ms": med([r["p50_us"] / 1000 for r in runs]),
        "p90_ms": med([r["p90_us"] / 1000 for r in runs]),
        "p99_ms": med([r["p99_us"] / 1000 for r in runs]),
        "errors": sum(r["errors_total"] for r in runs),
        "non_2xx": sum(r["errors"]["status"] for r in runs),
        "socket_errors": sum(r["errors_total"] - r["errors"]["status"] for r in runs),
        "server_cpu_cores": cores["server"],
        "server_cpu_us_per_request": (round(1e6 * meter.acc["server"] / total_req, 1)
                                      if total_req else None),
        "postgres_cpu_us_per_request": (round(1e6 * meter.acc["postgres"] / total_req, 1)
                                        if total_req else None),
        "cpu_cores": cores,
        # Server system calls per request in the first run (perf stat on tracepoints):
        # every database round trip costs at least one send and one receive.
        "syscalls_per_request": sysc,
        "loadavg_1m_before": float(load),
        "db_per_request": db_breakdown(delta(m0, m1), total_req),
        "rss_before_kib": rss_before,
        "rss_after_kib": server.rss_kib(),
        "settle_secs": settled,
        "server_log": logs,
        "runs": runs,
    }
    if prof is not None:
        res["profile"] = prof_rep
    return res


# ---------------------------------------------------------------- seeding


def psql(cfg: Config, *args: str, db: str | None = None) -> str:
    cmd = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", cfg.pg_host, "-p", cfg.pg_port,
           "-U", cfg.pg_user, "-d", db or cfg.db, *args]
    return run(cmd).stdout


def pg_url(cfg: Config) -> str:
    url = f"postgres://{cfg.pg_user}@{cfg.pg_host}:{cfg.pg_port}/{cfg.db}"
    # BENCH_PG_SSLMODE applies to the server and to pgbench/psql (PGSSLMODE) alike; unset,
    # both use the client default (prefer: TLS when the server offers it).
    mode = env_str("BENCH_PG_SSLMODE", "")
    return f"{url}?sslmode={mode}" if mode else url


def user_id(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


def todo_id(n: int, k: int) -> str:
    return f"00000001-{k:04d}-4000-8000-{n:012d}"


def tag_id(n: int, t: int) -> str:
    return f"00000002-000{t}-4000-8000-{n:012d}"


def email(n: int) -> str:
    return f"bench{n}@example.com"


def reference_hash(cfg: Config, server: Server, fetch_hash) -> str:
    """Registers one user through the API and returns the hash the service stored."""
    addr = f"hash-ref-{uuid.uuid4().hex[:8]}@example.com"
    status, body = http("POST", server.url + "/api/v1/auth/register",
                        {"email": addr, "password": PASSWORD, "name": "Hash reference"})
    if status != 201:
        raise RuntimeError(f"register answered {status}: {body}")
    return fetch_hash(addr)


def seed_pg(cfg: Config, server: Server) -> str:
    def fetch(addr: str) -> str:
        h = psql(cfg, "-Atc", f"SELECT password_hash FROM users WHERE email = '{addr}'").strip()
        psql(cfg, "-c", f"DELETE FROM users WHERE email = '{addr}'")
        return h
    phc = reference_hash(cfg, server, fetch)
    t0 = time.time()
    psql(cfg, "-v", f"nusers={cfg.users}", "-v", f"ntodos={cfg.todos}", "-v", f"hash={phc}",
         "-f", str(BENCH / "seed_pg.sql"))
    counts = psql(cfg, "-Atc", "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM todos), "
                               "(SELECT count(*) FROM todo_tags)").strip()
    log(f"seeded PostgreSQL in {time.time() - t0:.1f}s: users|todos|todo_tags = {counts}")
    return phc


def reset_todos(cfg: Config) -> None:
    """Deletes the todos that scenarios and baselines created (the seeded ids start with
    `00000001-`), so that every list measurement reads the seeded 20 todos per user."""
    psql(cfg, "-c", "DELETE FROM todos WHERE id::text NOT LIKE '00000001-%'")
    psql(cfg, "-c", "VACUUM ANALYZE todos, todo_tags")


# What the SQLite run measures: the reads, and the writes whose cost `SQLITE_SYNCHRONOUS`
# decides.
SQLITE_SCENARIOS = ("list", "get", "create", "patch", "live")


def seed_sqlite(cfg: Config, path: Path, phc: str) -> None:
    """Same rows as seed_pg.sql, in the SQLite encoding sqlx uses (UUID as 16-byte BLOB,
    timestamps as RFC 3339 text with +00:00, booleans as integers)."""
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)

    def ts(t: dt.datetime) -> str:
        return t.isoformat(timespec="microseconds")

    def ub(s: str) -> bytes:
        return uuid.UUID(s).bytes

    con = sqlite3.connect(path, timeout=30)
    try:
        with con:
            created = ts(now - dt.timedelta(days=30))
            con.executemany(
                "INSERT INTO users (id, email, name, password_hash, is_active, last_login_at, "
                "created_at, updated_at) VALUES (?, ?, ?, ?, 1, NULL, ?, ?)",
                [(ub(user_id(n)), email(n), f"Bench user {n}", phc, created, created)
                 for n in range(1, cfg.users + 1)])
            rows = []
            for n in range(1, cfg.users + 1):
                for k in range(1, cfg.todos + 1):
                    title = f"Todo {k} of user {n}" + (": Buy Milk" if k % 3 == 0 else "")
                    desc = (f"Details of todo {k} — with some Unicode: Café" if k % 2 == 0 else None)
                    search = title.lower() + ("\n" + desc.lower() if desc else "")
                    done = k % 4 == 0
                    c = now - dt.timedelta(days=20) + dt.timedelta(hours=k, seconds=n)
                    due = ts(now + dt.timedelta(days=k)) if k % 5 == 0 else None
                    rows.append((ub(todo_id(n, k)), ub(user_id(n)), title, title.lower(), desc, search,
                                 int(done), 1 + k % 3, due,
                                 ts(c + dt.timedelta(hours=1)) if done else None, ts(c), ts(c)))
            con.executemany(
                "INSERT INTO todos (id, user_id, title, title_key, description, search_text, "
                "is_completed, priority, due_date, completed_at, version, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)", rows)
            names = [("Work", "work", "#1F77B4"), ("Home", "home", None), ("Urgent", "urgent", "#D62728")]
            con.executemany(
                "INSERT INTO tags (id, user_id, name, name_key, color, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(ub(tag_id(n, t)), ub(user_id(n)), *names[t - 1], created, created)
                 for n in range(1, cfg.users + 1) for t in (1, 2, 3)])
            links = []
            for n in range(1, cfg.users + 1):
                for k in range(1, cfg.todos + 1):
                    for t, hit in ((1, k % 4 == 1), (2, k % 4 == 2), (3, k % 5 == 0)):
                        if hit:
                            links.append((ub(todo_id(n, k)), ub(tag_id(n, t))))
            con.executemany("INSERT INTO todo_tags (todo_id, tag_id) VALUES (?, ?)", links)
        con.execute("ANALYZE")
    finally:
        con.close()


def login_tokens(cfg: Config, server: Server, data_dir: Path) -> int:
    """Logs in the load users (spread over all seeded users) and writes the wrk data."""
    n_tok = max(1, min(cfg.token_users, cfg.users))
    step = cfg.users / n_tok
    picks = sorted({1 + int(i * step) for i in range(n_tok)})

    def one(n: int) -> tuple[int, str]:
        for attempt in range(5):
            status, body = http("POST", server.url + "/api/v1/auth/login",
                                {"email": email(n), "password": PASSWORD}, timeout=60)
            if status == 200:
                return n, body["access_token"]
            time.sleep(0.5 * (attempt + 1))
        raise RuntimeError(f"login of {email(n)} answered {status}: {body}")

    t0 = time.time()
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as ex:
        tokens = dict(ex.map(one, picks))
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(data_dir / "tokens.tsv", "w") as f:
        for n in picks:
            ids = ",".join(todo_id(n, k) for k in range(1, cfg.todos + 1))
            f.write(f"{tokens[n]}\t{ids}\n")
    with open(data_dir / "users.tsv", "w") as f:
        for n in range(1, cfg.users + 1):
            f.write(f"{email(n)}\t{PASSWORD}\n")
    log(f"logged in {len(picks)} load users in {time.time() - t0:.1f}s")
    # Sanity: every request kind works once before we load it.
    n = picks[0]
    for method, path, body in (("GET", "/api/v1/todos?limit=20", None),
                               ("GET", f"/api/v1/todos/{todo_id(n, 1)}", None)):
        status, resp = http(method, server.url + path, body, token=tokens[n])
        if status != 200:
            raise RuntimeError(f"{method} {path} answered {status}: {resp}")
    return len(picks)


def serial_login_ms(server: Server, n: int = 10) -> float:
    """Median latency of one login at a time: about one Argon2 verify plus 3 queries."""
    times = []
    for i in range(n):
        t0 = time.perf_counter()
        status, _ = http("POST", server.url + "/api/v1/auth/login",
                         {"email": email(1 + i), "password": PASSWORD})
        times.append((time.perf_counter() - t0) * 1000)
        if status != 200:
            raise RuntimeError(f"login answered {status}")
    return round(med(times), 2)


# ---------------------------------------------------------------- baselines


TODO_COLS = ("id, user_id, title, description, is_completed, priority, due_date, completed_at, "
             "version, created_at, updated_at")
UID_SQL = "('00000000-0000-4000-8000-' || lpad(:uid::text, 12, '0'))::uuid"


def todo_sql(k: str) -> str:
    return f"('00000001-' || lpad({k}::text, 4, '0') || '-4000-8000-' || lpad(:uid::text, 12, '0'))::uuid"


def service_scripts(cfg: Config) -> Path:
    """pgbench scripts that replay the statements the service runs for one request
    (same SQL shapes and round trips, as sqlx sends them), for the "service-shaped"
    database ceilings: how fast the request could be if the server itself were free."""
    d = cfg.out / "pgbench"
    d.mkdir(parents=True, exist_ok=True)
    joined = ("g.id AS tag_id, g.user_id AS tag_user_id, g.name AS tag_name, g.color AS tag_color, "
              "g.created_at AS tag_created_at, g.updated_at AS tag_updated_at")
    by_id = (f"SELECT t.*, {joined} FROM (SELECT {TODO_COLS} FROM todos WHERE id = {{id}}) t "
             "LEFT JOIN todo_tags tt ON tt.todo_id = t.id LEFT JOIN tags g ON g.id = tt.tag_id "
             "ORDER BY g.name_key, g.id;")
    order = "ORDER BY created_at DESC NULLS LAST, id DESC"
    head = "\\set uid random(1, :nusers)\n\\set k random(1, :ntodos)\n"
    scripts = {
        "list_service": [
            f"WITH page AS (SELECT {TODO_COLS}, COUNT(*) OVER () AS total_count, "
            f"ROW_NUMBER() OVER ({order}) AS pos FROM todos WHERE user_id = {UID_SQL} {order} "
            f"LIMIT 20 OFFSET 0) SELECT page.*, {joined} FROM page "
            "LEFT JOIN todo_tags tt ON tt.todo_id = page.id LEFT JOIN tags g ON g.id = tt.tag_id "
            "ORDER BY page.pos, g.name_key, g.id;"],
        "get_service": [by_id.format(id=todo_sql(":k"))],
        "create_service": [
            "INSERT INTO todos (id, user_id, title, title_key, description, search_text, is_completed, "
            "priority, due_date, completed_at, version, created_at, updated_at) VALUES (gen_random_uuid(), "
            f"{UID_SQL}, 'Bench todo', 'bench todo', 'Created by the benchmark', "
            "E'bench todo\\ncreated by the benchmark', false, 2, NULL, NULL, 1, now(), now());"],
        "patch_service": [
            by_id.format(id=todo_sql(":k")),
            "UPDATE todos SET title = title, title_key = title_key, description = description, "
            "search_text = search_text, is_completed = NOT is_completed, priority = 3, "
            "due_date = due_date, completed_at = completed_at, version = version + 1, updated_at = now() "
            f"WHERE id = {todo_sql(':k')} AND user_id = {UID_SQL} AND version > 0;"],
    }
    for name, stmts in scripts.items():
        (d / f"{name}.sql").write_text(
            f"-- Generated by bench/bench.py: the statements of one {name.split('_')[0]} request.\n"
            + head + "\n".join(stmts) + "\n")
    return d


def pgbench(cfg: Config, script: str, directory: Path = BENCH / "pgbench",
            clients: int | None = None) -> dict:
    path = directory / f"{script}.sql"
    clients = clients or cfg.connections
    base = ["pgbench", "-h", cfg.pg_host, "-p", cfg.pg_port, "-U", cfg.pg_user, "-M", "prepared",
            "-c", str(clients), "-j", str(min(cfg.threads, clients)), "-n",
            "-D", f"nusers={cfg.users}", "-D", f"ntodos={cfg.todos}", "-f", str(path)]
    tps = []
    lat = []
    for i in range(cfg.runs + (1 if cfg.warmup > 0 else 0)):
        secs = cfg.warmup if (cfg.warmup > 0 and i == 0) else cfg.duration
        p = spawn(base + ["-T", str(secs), cfg.db], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                  text=True)
        out, err = p.communicate(timeout=secs + 120)
        end(p)
        m = re.search(r"tps = ([\d.]+) \(without initial connection time\)", out)
        if p.returncode != 0 or not m:
            raise RuntimeError(f"pgbench {script} failed: {err.strip()[-1500:]}\n{out[-1500:]}")
        if cfg.warmup > 0 and i == 0:
            continue
        tps.append(float(m.group(1)))
        lm = re.search(r"latency average = ([\d.]+) ms", out)
        lat.append(float(lm.group(1)) if lm else float("nan"))
    res = {"tps": med(tps), "runs": tps, "latency_avg_ms": med(lat), "clients": clients}
    log(f"pgbench {script} -c {clients}: {res['tps']:.0f} tps (runs {', '.join(f'{t:.0f}' for t in tps)})")
    return res


def argon2_baseline(cores: int) -> dict:
    try:
        from argon2 import PasswordHasher, Type
    except ImportError:
        log("argon2-cffi is not installed: no login baseline")
        return {}
    ph = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1, hash_len=32, salt_len=16,
                        type=Type.ID)
    ph.hash("warm-up")
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        ph.hash(PASSWORD)
        times.append(time.perf_counter() - t0)
    h = med(times)
    res = {"hash_ms": round(h * 1000, 2), "samples_ms": [round(t * 1000, 2) for t in times],
           "cores": cores, "login_per_s": round(cores / h, 1)}
    log(f"argon2id m=19456,t=2,p=1 (argon2-cffi): median {res['hash_ms']} ms "
        f"-> login baseline {res['login_per_s']}/s on {cores} cores")
    return res


# ---------------------------------------------------------------- memory


async def _idle_connections(port: int, n: int, hold, results: dict) -> None:
    conns = []
    ok = 0
    request = b"GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n"
    sem = asyncio.Semaphore(100)

    async def open_one():
        nonlocal ok
        async with sem:
            try:
                r, w = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 10)
                w.write(request)
                await w.drain()
                head = await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), 10)
                m = re.search(rb"content-length:\s*(\d+)", head, re.I)
                if m:
                    await asyncio.wait_for(r.readexactly(int(m.group(1))), 10)
                if head.startswith(b"HTTP/1.1 200"):
                    ok += 1
                conns.append((r, w))
            except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError) as e:
                results.setdefault("open_errors", []).append(repr(e)[:100])

    await asyncio.gather(*(open_one() for _ in range(n)))
    results["answered_200"] = ok
    await hold()
    still_open = sum(1 for r, _ in conns if not r.at_eof())
    results["still_open_after_hold"] = still_open
    for _, w in conns:
        w.close()
    await asyncio.gather(*(w.wait_closed() for _, w in conns), return_exceptions=True)


def idle_memory(cfg: Config, server: Server) -> dict:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < cfg.idle_conns + 100:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, cfg.idle_conns + 1000), hard))
    settle(server)
    res: dict = {"connections": cfg.idle_conns, "rss_before_kib": server.rss_kib(),
                 "server_fd_limit": server_fd_limit(server)}
    samples = []

    async def hold():
        for _ in range(5):
            await asyncio.sleep(1)
            samples.append(server.rss_kib())
        res["server_sockets"] = server.socket_fds()
        res["threads"] = int(server.status_fields().get("Threads", "0"))

    asyncio.run(_idle_connections(server.port, cfg.idle_conns, hold, res))
    time.sleep(1)
    res["rss_with_conns_kib"] = max(samples)
    res["rss_after_close_kib"] = server.rss_kib()
    res["rss_with_conns_mib"] = round(res["rss_with_conns_kib"] / 1024, 1)
    res["kib_per_connection"] = round(
        (res["rss_with_conns_kib"] - res["rss_before_kib"]) / max(1, res.get("answered_200", 0)), 1)
    res["target_mib"] = IDLE_RSS_TARGET_MIB
    res["pass"] = (res["rss_with_conns_mib"] < IDLE_RSS_TARGET_MIB
                   and res.get("answered_200", 0) == cfg.idle_conns)
    if "open_errors" in res:
        res["open_errors"] = res["open_errors"][:5] + [f"... {len(res['open_errors'])} in all"]
    log(f"idle connections: {res.get('answered_200')}/{cfg.idle_conns} answered, "
        f"server sockets {res.get('server_sockets')}, RSS {res['rss_before_kib'] / 1024:.1f} -> "
        f"{res['rss_with_conns_mib']} MiB (target < {IDLE_RSS_TARGET_MIB})")
    return res


def server_fd_limit(server: Server) -> str:
    for line in Path(f"/proc/{server.pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            return " ".join(line.split()[3:5])
    return "?"


def soak(cfg: Config, server: Server, data_dir: Path) -> dict:
    secs = cfg.soak_secs
    warm = int(env_str("BENCH_SOAK_WARMUP", str(max(5, min(60, secs // 5)))))
    settle(server)
    log(f"soak: {secs}s of mixed load (list/get/create/patch on {cfg.connections - 2} connections "
        f"+ logins on 2), RSS after {warm}s vs at the end")
    server.drain_log()
    rss = [(0.0, server.rss_kib())]
    t0 = time.time()
    main = wrk(cfg, server.url, "soak", data_dir, secs, cfg.connections - 2, cfg.threads)
    logins = wrk(cfg, server.url, "login", data_dir, secs, 2, 1, count=True)
    warm_rss = None
    next_drain = t0 + 30
    while main.poll() is None or logins.poll() is None:
        time.sleep(1)
        el = time.time() - t0
        if el > secs + 120:
            break
        if main.poll() is None:
            rss.append((round(el, 1), server.rss_kib()))
            if warm_rss is None and el >= warm:
                warm_rss = rss[-1][1]
        if time.time() > next_drain:  # keep the log file small during long soaks
            next_drain += 30
            d = server.drain_log()
            for k, v in d["statuses"].items():
                soak_statuses[k] = soak_statuses.get(k, 0) + v
    r_main, r_login = wrk_result(main, secs), wrk_result(logins, secs)
    end_rss = [v for t, v in rss if t <= secs][-1]
    time.sleep(2)
    after = server.rss_kib()
    d = server.drain_log()
    for k, v in d["statuses"].items():
        soak_statuses[k] = soak_statuses.get(k, 0) + v
    warm_rss = warm_rss or rss[-1][1]
    # RSS saw-tooths by one Argon2 block (~19 MiB, mapped per hash) whenever a login is
    # being hashed, so one sample measures luck: compare the medians of a window after
    # the warm-up and of the last window instead.
    window = min(30.0, max(2.0, secs / 10))
    warm_med = statistics.median([v for t, v in rss if warm <= t < warm + window] or [warm_rss])
    end_med = statistics.median([v for t, v in rss if secs - window < t <= secs] or [end_rss])
    growth = (end_med - warm_med) / warm_med
    res = {
        "secs": secs, "warmup_secs": warm, "window_secs": window,
        "rss_warm_median_kib": warm_med, "rss_end_median_kib": end_med,
        "rss_start_kib": rss[0][1], "rss_after_warmup_kib": warm_rss, "rss_end_kib": end_rss,
        "rss_peak_kib": max(v for _, v in rss), "rss_idle_after_kib": after,
        "growth": round(growth, 4), "limit": SOAK_GROWTH_LIMIT,
        "pass": growth <= SOAK_GROWTH_LIMIT,
        "mix": {"rps": r_main["rps"], "p50_ms": r_main["p50_us"] / 1000,
                "p99_ms": r_main["p99_us"] / 1000, "errors": r_main["errors_total"]},
        "logins": {"rps": r_login["rps"], "p99_ms": r_login["p99_us"] / 1000,
                   "errors": r_login["errors_total"], "statuses": r_login["statuses"]},
        "server_statuses": dict(soak_statuses),
        "rss_samples_kib": rss[:: max(1, len(rss) // 60)],
    }
    soak_statuses.clear()
    log(f"soak: RSS median {warm_med / 1024:.1f} MiB after warm-up -> {end_med / 1024:.1f} MiB at the end "
        f"({growth * 100:+.1f}%, peak {res['rss_peak_kib'] / 1024:.1f}); mix {r_main['rps']:.0f} req/s, "
        f"errors {r_main['errors_total']}; logins {r_login['rps']:.1f}/s")
    return res


soak_statuses: dict[str, int] = {}


def mixed(cfg: Config, server: Server, data_dir: Path) -> dict:
    log(f"mixed: logins on {cfg.mixed_login_conns} connections + list on "
        f"{cfg.mixed_list_conns}, {cfg.runs} x {cfg.duration}s")
    settle(server)
    control = wrk_once(cfg, server.url, "list", data_dir, cfg.duration, cfg.mixed_list_conns, 1)
    log(f"  control (list alone on {cfg.mixed_list_conns} connections): {control['rps']:.0f} req/s "
        f"p99 {control['p99_us'] / 1000:.2f} ms")
    server.drain_log()
    runs = []
    for i in range(cfg.runs):
        settle(server)
        lp = wrk(cfg, server.url, "login", data_dir, cfg.duration, cfg.mixed_login_conns, 1, count=True)
        tp = wrk(cfg, server.url, "list", data_dir, cfg.duration, cfg.mixed_list_conns, 1)
        rl, rt = wrk_result(lp, cfg.duration), wrk_result(tp, cfg.duration)
        runs.append({"login": rl, "list": rt})
        log(f"  run {i + 1}: list {rt['rps']:.0f} req/s p99 {rt['p99_us'] / 1000:.2f} ms; "
            f"login {rl['rps']:.1f}/s p99 {rl['p99_us'] / 1000:.0f} ms statuses {rl['statuses']}")
    logs = server.drain_log()
    p99 = med([r["list"]["p99_us"] / 1000 for r in runs])
    res = {
        "list_rps": med([r["list"]["rps"] for r in runs]),
        "list_p50_ms": med([r["list"]["p50_us"] / 1000 for r in runs]),
        "list_p99_ms": p99,
        "list_errors": sum(r["list"]["errors_total"] for r in runs),
        "login_rps": med([r["login"]["rps"] for r in runs]),
        "login_p99_ms": med([r["login"]["p99_us"] / 1000 for r in runs]),
        "login_503": sum(int(r["login"]["statuses"].get("503", 0)) for r in runs),
        "login_errors": sum(r["login"]["errors_total"] for r in runs),
        "target_list_p99_ms": MIXED_LIST_P99_MS,
        "control_list_alone": {"rps": control["rps"], "p50_ms": control["p50_us"] / 1000,
                               "p99_ms": control["p99_us"] / 1000,
                               "errors": control["errors_total"]},
        "pass": p99 < MIXED_LIST_P99_MS and sum(r["list"]["errors_total"] for r in runs) == 0,
        "server_log": logs,
        "runs": runs,
    }
    return res


# ---------------------------------------------------------------- report


def machine_facts(cfg: Config) -> dict:
    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = next((ln.split(":")[1].strip() for ln in Path("/proc/meminfo").read_text().splitlines()
                if ln.startswith("MemTotal")), "?")

    def out(cmd: list[str]) -> str:
        try:
            return run(cmd, check=False).stdout.strip().splitlines()[0]
        except (OSError, IndexError):
            return "?"

    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu,
        "mem_total": mem,
        "kernel": platform.release(),
        "loadavg_at_start": Path("/proc/loadavg").read_text().split()[:3],
        "postgres": out(["psql", "-X", "-Atc", "SHOW server_version", "-h", cfg.pg_host, "-p",
                         cfg.pg_port, "-U", cfg.pg_user, "-d", "postgres"]),
        "wrk": out(["wrk", "-v"]),
        "rustc": out(["rustc", "--version"]),
        "git_commit": out(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"]),
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }


def judge(results: dict) -> list[dict]:
    rows = []
    base = results["baselines"]
    for name, key, target in SCENARIOS:
        s = results["scenarios"].get(name)
        if not s:
            continue
        b = None
        if key == "argon2_login":
            b = base.get("argon2", {}).get("login_per_s")
        elif key:
            b = base.get(key, {}).get("tps")
        ratio = s["rps"] / b if b else None
        if key and b is None:
            ok = None  # no baseline measured in this run: not judged
        else:
            ok = s["errors"] == 0 and (ratio is None or ratio >= target)
        rows.append({"scenario": name, "backend": "postgres", "rps": s["rps"], "p50_ms": s["p50_ms"],
                     "p99_ms": s["p99_ms"], "errors": s["errors"], "baseline": key,
                     "baseline_tps": b, "ratio": ratio, "target": target, "pass": ok})
    for name in SQLITE_SCENARIOS:
        s = results.get("sqlite", {}).get("scenarios", {}).get(name)
        if s:
            rows.append({"scenario": name, "backend": "sqlite", "rps": s["rps"], "p50_ms": s["p50_ms"],
                         "p99_ms": s["p99_ms"], "errors": s["errors"], "baseline": None,
                         "baseline_tps": None, "ratio": None, "target": None, "pass": None})
    return rows


def fmt(v, spec: str = ".0f", dash: str = "–") -> str:
    if v is None or (isinstance(v, float) and v != v):
        return dash
    return format(v, spec)


def table(rows: list[dict]) -> str:
    head = ["scenario", "backend", "req/s", "p50 ms", "p99 ms", "errors", "baseline", "baseline TPS",
            "ratio", "target", "result"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        res = "PASS" if r["pass"] else ("FAIL" if r["pass"] is False else "(not judged)")
        lines.append("| " + " | ".join([
            r["scenario"], r["backend"], fmt(r["rps"]), fmt(r["p50_ms"], ".2f"), fmt(r["p99_ms"], ".2f"),
            str(r["errors"]), r["baseline"] or "–", fmt(r["baseline_tps"]), fmt(r["ratio"], ".2f"),
            f"≥ {r['target']}" if r["target"] else "0 errors" if r["backend"] == "postgres" else "–",
            res]) + " |")
    return "\n".join(lines)


def markdown(results: dict, rows: list[dict]) -> str:
    m = results["machine"]
    c = results["config"]
    out = [f"# todo-api benchmark — {m['date']}", "",
           f"Machine: {m['nproc']} cores, {m['cpu_model']}, {m['mem_total']} RAM, kernel {m['kernel']}, "
           f"load average at start {' '.join(m['loadavg_at_start'])}; PostgreSQL {m['postgres']}; "
           f"{m['wrk']}; {m['rustc']}; commit {m['git_commit']}.", "",
           f"Settings: {c['runs']} run(s) × {c['duration']} s per figure (median), warm-up {c['warmup']} s, "
           f"`wrk -c {c['connections']} -t {c['threads']}`; {c['users']} users × {c['todos']} todos, "
           f"{results.get('load_users', '?')} load users; DATABASE_POOL_SIZE={c['pool_size']}, "
           f"PASSWORD_HASH_WORKERS={c['hash_workers'] or 'default (cores - 1)'}; soak {c['soak_secs']} s.",
           "", "## Throughput and latency", "", table(rows), ""]
    a = results["baselines"].get("argon2", {})
    if a:
        out += [f"Login baseline: one Argon2id hash (m=19456, t=2, p=1, argon2-cffi) takes "
                f"{a['hash_ms']} ms (median of 5) → {a['cores']} cores ÷ {a['hash_ms']} ms = "
                f"{a['login_per_s']} logins/s. One login at a time through the service takes "
                f"{results.get('serial_login_ms', '?')} ms.", ""]
    mx = results.get("mixed")
    if mx:
        out += ["## Mixed: login storm + list", "",
                f"- list on {c['mixed_list_conns']} connections: {mx['list_rps']:.0f} req/s, "
                f"p50 {mx['list_p50_ms']:.2f} ms, **p99 {mx['list_p99_ms']:.2f} ms** "
                f"(target < {mx['target_list_p99_ms']:.0f} ms), errors {mx['list_errors']} → "
                f"**{'PASS' if mx['pass'] else 'FAIL'}**",
                f"- login on {c['mixed_login_conns']} connections: {mx['login_rps']:.1f}/s, "
                f"p99 {mx['login_p99_ms']:.0f} ms, 503 SERVER_001 answers: {mx['login_503']} "
                f"(expected overload behaviour), other errors {mx['login_errors'] - mx['login_503']}",
                f"- control, list alone on {c['mixed_list_conns']} connections (no logins): "
                f"{mx['control_list_alone']['rps']:.0f} req/s, p99 {mx['control_list_alone']['p99_ms']:.2f} ms "
                f"(1 run)", ""]
    mem = results.get("memory")
    sk = results.get("soak")
    sl = results.get("slowloris")
    if mem or sk or sl:
        out += ["## Memory", ""]
        tl = [f"start {results['rss_start_kib'] / 1024:.1f}",
              f"after seeding + {results.get('load_users', '?')} logins "
              f"{results.get('rss_idle_seeded_kib', 0) / 1024:.1f}"]
        tl += [f"after {n} {v['rss_after_kib'] / 1024:.1f}" for n, v in results["scenarios"].items()]
        out += [f"- RSS timeline (MiB): {', '.join(tl)}"]
    if mem:
        out += [f"- {mem['connections']} idle keep-alive connections ({mem.get('answered_200')} answered 200, "
                f"{mem.get('server_sockets')} sockets in the server, {mem.get('threads')} threads): "
                f"RSS {mem['rss_before_kib'] / 1024:.1f} MiB before → **{mem['rss_with_conns_mib']} MiB** with "
                f"them (≈ {mem['kib_per_connection']} KiB per connection) → "
                f"{mem['rss_after_close_kib'] / 1024:.1f} MiB after closing "
                f"(target < {mem['target_mib']:.0f} MiB) → **{'PASS' if mem['pass'] else 'FAIL'}**"]
    if sk:
        out += [f"- soak {sk['secs']} s (list/get/create/patch + 2 login connections): RSS median "
                f"{sk['rss_warm_median_kib'] / 1024:.1f} MiB over the {sk['window_secs']:.0f} s after "
                f"{sk['warmup_secs']} s → {sk['rss_end_median_kib'] / 1024:.1f} MiB over the last "
                f"{sk['window_secs']:.0f} s (**{sk['growth'] * 100:+.1f}%**, limit "
                f"+{sk['limit'] * 100:.0f}%; single samples {sk['rss_after_warmup_kib'] / 1024:.1f} → "
                f"{sk['rss_end_kib'] / 1024:.1f} MiB), peak {sk['rss_peak_kib'] / 1024:.1f} MiB, "
                f"{sk['rss_idle_after_kib'] / 1024:.1f} MiB idle after → **{'PASS' if sk['pass'] else 'FAIL'}**; "
                f"mix {sk['mix']['rps']:.0f} req/s (p99 {sk['mix']['p99_ms']:.1f} ms, errors {sk['mix']['errors']}), "
                f"logins {sk['logins']['rps']:.1f}/s"]
    sl = results.get("slowloris")
    if sl:
        out += [f"- slowloris: {sl['connections']} connections that never finish a request (half trickle "
                f"headers, half a chunked body to an unknown route) for {sl['secs']} s: RSS "
                f"{sl['rss_before_kib'] / 1024:.1f} → peak {sl['rss_peak_kib'] / 1024:.1f} → "
                f"{sl['rss_after_kib'] / 1024:.1f} MiB; a normal client meanwhile: {sl['normal_requests']} "
                f"requests, p50 {sl['normal_p50_ms']} ms, **p99 {sl['normal_p99_ms']} ms**, errors "
                f"{sl['normal_errors']}; {sl['slow_closed_by_server']} slow connections closed by the server "
                f"(median after {sl['slow_closed_median_secs']} s; {sl['server_closed']}) → "
                f"**{'PASS' if sl['pass'] else 'FAIL'}**"]
    if mem or sk or sl:
        out.append("")
    out += ["## Where the time goes (per request, from /proc and /metrics)", "",
            "CPU columns are cores busy during the measured runs (2.00 = the whole machine on 2 "
            "cores): server, all PostgreSQL processes, wrk, and everything else on the machine "
            "(other users — if this is large, the figures are disturbed). DB mean ms includes "
            "waiting for a pool connection.", "",
            "| scenario | server µs/req | postgres µs/req | cores: server / pg / wrk / other | "
            "server syscalls/req: send / recv / all | DB calls per request (mean ms) |",
            "|---|---|---|---|---|---|"]
    for name, s in list(results["scenarios"].items()) + [
            (f"sqlite {k}", v) for k, v in results.get("sqlite", {}).get("scenarios", {}).items()]:
        db = ", ".join(f"{op} ×{v['calls_per_request']:g} ({v['mean_ms']:.2f})"
                       for op, v in sorted(s["db_per_request"].items(), key=lambda kv: -kv[1]["calls_per_request"]))
        cc = s["cpu_cores"]
        sc = s["syscalls_per_request"] or {}
        out.append(f"| {name} | {fmt(s['server_cpu_us_per_request'], '.0f')} | "
                   f"{fmt(s['postgres_cpu_us_per_request'], '.0f')} | "
                   f"{cc['server']:.2f} / {cc['postgres']:.2f} / {cc['wrk']:.2f} / {cc['other']:.2f} | "
                   f"{fmt(sc.get('send'), '.1f')} / {fmt(sc.get('recv'), '.1f')} / "
                   f"{fmt(sc.get('all'), '.1f')} | {db or '–'} |")
    base = results["baselines"]
    out += ["", "## Baselines", ""]
    for k in ("pg_list", "pg_get", "pg_insert"):
        if k in base:
            out.append(f"- {k}: {base[k]['tps']:.0f} tps (runs {', '.join(f'{t:.0f}' for t in base[k]['runs'])}; "
                       f"pgbench -M prepared -c {c['connections']} -j {c['threads']}, avg latency "
                       f"{base[k]['latency_avg_ms']:.2f} ms)")
    shaped = [(n, base[f"pg_{n}_service"]["tps"]) for n in ("list", "get", "create", "patch")
              if f"pg_{n}_service" in base]
    if shaped:
        out += ["", "Service-shaped database ceilings (not judged): pgbench replaying the statements "
                "the service sends for one request (the token check is answered by the session cache; the query with its tags; same "
                "round trips), with as many clients as the server has pool connections "
                f"({c['pool_size']}). The gap between this and the service's req/s is "
                "the cost of the server itself; the gap between this and the plain baseline is the cost "
                "of the query design.", "",
                "| request | service req/s | service-shaped DB TPS | service ÷ shaped | plain baseline ÷ shaped |",
                "|---|---|---|---|---|"]
        plain = {"list": "pg_list", "get": "pg_get", "create": "pg_insert", "patch": "pg_insert"}
        for n, tps in shaped:
            svc = results["scenarios"].get(n, {}).get("rps")
            pb = base.get(plain[n], {}).get("tps")
            out.append(f"| {n} | {fmt(svc)} | {tps:.0f} | {fmt(svc / tps if svc else None, '.2f')} | "
                       f"{fmt(pb / tps if pb else None, '.1f')}× |")
    failed = [r["scenario"] for r in rows if r["pass"] is False]
    failed += [n for n, part in (("mixed", mx), ("idle memory", mem), ("soak", sk),
                                 ("slowloris", results.get("slowloris")))
               if part and not part["pass"]]
    out += ["", f"**Overall: {'PASS' if not failed else 'FAIL (' + ', '.join(failed) + ')'}**",
            "", "Full figures (every run, statuses, DB breakdown): `bench/results/latest.json`.", ""]
    return "\n".join(out)


# ---------------------------------------------------------------- main


def main() -> int:
    cfg = Config()
    if env_str("BENCH_PG_SSLMODE", ""):
        os.environ["PGSSLMODE"] = env_str("BENCH_PG_SSLMODE", "")
    cfg.out.mkdir(parents=True, exist_ok=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    data_dir = cfg.out / "data"
    cores = os.cpu_count() or 1
    results: dict = {"machine": machine_facts(cfg), "config": {
        k: (str(v) if isinstance(v, Path) else v) for k, v in cfg.__dict__.items()},
        "scenarios": {}, "baselines": {}}
    log(f"{cores} cores, {results['machine']['cpu_model']}, load {results['machine']['loadavg_at_start']}")

    results["baselines"]["argon2"] = argon2_baseline(cores)

    log(f"fresh database {cfg.db}")
    pg = ["-h", cfg.pg_host, "-p", cfg.pg_port, "-U", cfg.pg_user]
    run(["dropdb", "--if-exists", "--force", *pg, cfg.db])
    run(["createdb", *pg, cfg.db])
    server = Server(cfg, "pg", pg_url(cfg))
    server.start()
    CURRENT_SERVER_PID[:] = [server.pid]
    results["rss_start_kib"] = server.rss_kib()
    try:
        phc = seed_pg(cfg, server)
        results["load_users"] = login_tokens(cfg, server, data_dir)
        results["serial_login_ms"] = serial_login_ms(server)
        results["rss_idle_seeded_kib"] = server.rss_kib()
        for name, _, _ in SCENARIOS:
            if cfg.wanted(name):
                results["scenarios"][name] = scenario(cfg, server, name, data_dir,
                                                      count=(name == "login"))
        if cfg.wanted("mixed"):
            reset_todos(cfg)  # the create scenario made the load users' lists long
            results["mixed"] = mixed(cfg, server, data_dir)
        if cfg.wanted("memory"):
            results["memory"] = idle_memory(cfg, server)
        if cfg.wanted("slowloris") and cfg.slowloris_secs > 0:
            settle(server)
            results["slowloris"] = slowloris_run(server.port, server.pid, cfg.slowloris_conns,
                                                 cfg.slowloris_secs)
            sl = results["slowloris"]
            log(f"slowloris: {sl['connections']} slow connections for {sl['secs']} s: RSS "
                f"{sl['rss_before_kib'] / 1024:.1f} -> peak {sl['rss_peak_kib'] / 1024:.1f} MiB; "
                f"normal client p99 {sl['normal_p99_ms']} ms, errors {sl['normal_errors']}; "
                f"{sl['slow_closed_by_server']} closed by the server")
        if cfg.wanted("soak") and cfg.soak_secs > 0:
            reset_todos(cfg)
            results["soak"] = soak(cfg, server, data_dir)
    finally:
        server.stop()
        CURRENT_SERVER_PID.clear()

    if cfg.wanted("baselines") or not cfg.only:
        # The scenarios and the insert baselines add rows; every baseline starts from the
        # seeded data, like the measured scenarios, or it would read bigger lists.
        for key, script in (("pg_list", "list"), ("pg_get", "get"), ("pg_insert", "create")):
            reset_todos(cfg)
            results["baselines"][key] = pgbench(cfg, script)
        if env_str("BENCH_SERVICE_SHAPED", "1") != "0":
            d = service_scripts(cfg)
            for name in ("list", "get", "create", "patch"):
                reset_todos(cfg)
                results["baselines"][f"pg_{name}_service"] = pgbench(cfg, f"{name}_service", d,
                                                                     clients=cfg.pool_size)

    if cfg.sqlite and (not cfg.only or cfg.wanted("sqlite")):
        sq_dir = cfg.out / "sqlite"
        shutil.rmtree(sq_dir, ignore_errors=True)
        sq_dir.mkdir(parents=True)
        db_path = sq_dir / "bench.db"
        sserver = Server(cfg, "sqlite", f"sqlite://{db_path}?mode=rwc")
        sserver.start()
        CURRENT_SERVER_PID[:] = [sserver.pid]
        try:
            seed_sqlite(cfg, db_path, phc)
            log("seeded SQLite")
            sq = {"scenarios": {}}
            sq["load_users"] = login_tokens(cfg, sserver, sq_dir / "data")
            for name in SQLITE_SCENARIOS:
                sq["scenarios"][name] = scenario(cfg, sserver, name, sq_dir / "data",
                                                 label=f"sqlite-{name}")
            results["sqlite"] = sq
        finally:
            sserver.stop()
            CURRENT_SERVER_PID.clear()

    rows = judge(results)
    results["table"] = rows
    md = markdown(results, rows)
    (RESULTS / "latest.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    (RESULTS / "latest.md").write_text(md)
    print()
    print(md)
    log(f"wrote {RESULTS / 'latest.md'} and {RESULTS / 'latest.json'}")
    return 0


def _signal(signum, _frame):
    raise KeyboardInterrupt(f"signal {signum}")


if __name__ == "__main__":
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, _signal)
    try:
        sys.exit(main())
    except KeyboardInterrupt as e:
        print(f"interrupted: {e}", file=sys.stderr)
        sys.exit(130)
    finally:
        cleanup()
