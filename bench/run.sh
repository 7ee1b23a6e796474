#!/usr/bin/env bash
# todo-api benchmark: `just bench` or `bash bench/run.sh`. See bench/README.md.
#
# Builds the release binary, makes sure PostgreSQL, wrk, pgbench and the Python venv
# (argon2-cffi, for the login baseline) are there, then runs bench/bench.py, which
# seeds a fresh `todo_bench` database, drives the server and writes
# bench/results/latest.{md,json}. Knobs (environment): BENCH_DURATION (10),
# BENCH_WARMUP (3), BENCH_RUNS (3), BENCH_SOAK_SECS (300), BENCH_USERS (1000),
# BENCH_TOKEN_USERS (200), BENCH_POOL_SIZE (16), BENCH_CONNECTIONS (64), BENCH_THREADS (2),
# BENCH_HASH_WORKERS (service default), BENCH_SQLITE (1), BENCH_PROFILE (e.g. list,create),
# BENCH_SCENARIOS (subset, e.g. list,get,mixed), BENCH_SKIP_BUILD (0).
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[bench] %s\n' "$*"; }

if [[ "${BENCH_SKIP_BUILD:-0}" != 1 ]]; then
  log "cargo build --release --bin todo-api"
  cargo build --release --bin todo-api
fi
test -x target/release/todo-api || { echo "target/release/todo-api is missing" >&2; exit 1; }

# Tools: wrk and the PostgreSQL client programs (pgbench, psql, createdb, dropdb).
missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v pgbench >/dev/null || missing+=(postgresql-contrib)
command -v psql >/dev/null || missing+=(postgresql-client)
if ((${#missing[@]})); then
  log "installing ${missing[*]}"
  apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# PostgreSQL on 127.0.0.1:5432 (the local cluster, started if it is down).
PGHOST_="${BENCH_PG_HOST:-127.0.0.1}"
PGPORT_="${BENCH_PG_PORT:-5432}"
if ! pg_isready -q -h "$PGHOST_" -p "$PGPORT_"; then
  if [[ -d /etc/postgresql ]] && command -v pg_ctlcluster >/dev/null; then
    log "starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start
    for _ in $(seq 30); do pg_isready -q -h "$PGHOST_" -p "$PGPORT_" && break; sleep 1; done
  fi
  pg_isready -h "$PGHOST_" -p "$PGPORT_" || { echo "PostgreSQL is not reachable" >&2; exit 1; }
fi

# Python venv with argon2-cffi (pinned) for the login baseline.
VENV=target/bench-venv
if ! "$VENV/bin/python" -c 'import argon2' 2>/dev/null; then
  log "creating $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q argon2-cffi==25.1.0
fi

exec "$VENV/bin/python" bench/bench.py "$@"
