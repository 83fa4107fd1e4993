# syntax=docker/dockerfile:1
#
# The ragtrace image: every binary of the workspace in one runtime image, used by the app, sim,
# ingest and load-generator services of docker-compose.yml.
#
#   docker build -t ragtrace:local .
#   docker run --rm -p 127.0.0.1:8080:8080 ragtrace:local   # the chat API, fully embedded,
#                                                            # reachable from this machine only
#   (publishing to the network: docs/security.md)
#
# Stages:
#   toolchain  rust + the C toolchain a few dependencies compile with (qdrant-edge, ring, zstd)
#   manifests  Cargo.toml / Cargo.lock of the workspace and of every member, nothing else
#   builder    dependencies first (against stub sources, cached until a manifest changes),
#              then the real sources
#   runtime    debian slim, CA certificates, curl (for healthchecks and the load generator),
#              a non-root user, the binaries and the demo corpus
#
# The release build of the dependencies takes a while on a small machine (qdrant-edge alone is
# about 12 minutes on 2 cores); after the first build, a source change rebuilds the workspace
# crates only.

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=bookworm

# ---------------------------------------------------------------------------------------------
FROM rust:${RUST_VERSION}-slim-${DEBIAN_RELEASE} AS toolchain
# rust:*-slim ships gcc and libc6-dev; the rest is what the workspace's build scripts use
# (the same tools a development machine builds with).
RUN apt-get update \
    && apt-get install -y --no-install-recommends g++ make pkg-config \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src

# ---------------------------------------------------------------------------------------------
# Only the manifests. This stage re-runs on every source change, but its output changes only
# when a Cargo.toml or Cargo.lock does, so the dependency layer below stays cached. New
# workspace members (ingest/) are picked up without editing this file.
FROM toolchain AS manifests
COPY . .
RUN find . -type f ! -name Cargo.toml ! -name Cargo.lock -delete \
    && find . -type d -empty -delete

# ---------------------------------------------------------------------------------------------
FROM toolchain AS builder

# The binaries to build and ship.
ARG BINS="ragtrace ragtrace-sim ragtrace-ingest ragtrace-lab"
# The app and the worker talk to real services here (the simulator runs as its own container),
# so they are built without the embedded simulator: `--no-default-features` leaves out the
# `embedded-sim` feature of `ragtrace` and `ragtrace-ingest`, and the in-process app of
# `ragtrace-lab` (`embedded-app`: in the stack it drives the app container, `load`).
ARG CARGO_FEATURES="--no-default-features"

COPY --from=manifests /src/ ./

# Dependencies, built against stub sources: every member gets an empty lib.rs and a main.rs, so
# `cargo build` compiles exactly the dependency graph of the real build; the stubs are removed
# afterwards and the real sources replace them below. --locked: Cargo.lock is the truth, never
# re-resolved inside an image build.
RUN set -eu; \
    for manifest in */Cargo.toml; do \
        member="${manifest%/Cargo.toml}"; \
        mkdir -p "$member/src"; \
        : > "$member/src/lib.rs"; \
        echo 'fn main() {}' > "$member/src/main.rs"; \
    done; \
    bin_flags=""; for b in $BINS; do bin_flags="$bin_flags --bin $b"; done; \
    cargo build --release --locked --workspace $CARGO_FEATURES $bin_flags; \
    for manifest in */Cargo.toml; do rm -rf "${manifest%/Cargo.toml}/src"; done

# The real sources (.dockerignore keeps target/, .git, .env and the compose-only directories out).
COPY . .

# COPY keeps the files' modification times, which can be older than the stub build: touch the
# members' sources so cargo rebuilds them instead of reusing the stubs' fingerprints.
RUN set -eu; \
    for manifest in */Cargo.toml; do \
        find "${manifest%/Cargo.toml}" -type f \( -name '*.rs' -o -name '*.toml' \) -exec touch {} +; \
    done; \
    bin_flags=""; for b in $BINS; do bin_flags="$bin_flags --bin $b"; done; \
    cargo build --release --locked --workspace $CARGO_FEATURES $bin_flags; \
    mkdir -p /out; \
    for b in $BINS; do cp "target/release/$b" /out/; done

# ---------------------------------------------------------------------------------------------
FROM debian:${DEBIAN_RELEASE}-slim AS runtime

# ca-certificates: TLS to OpenAI or any other real provider.
# curl: the compose healthchecks and the load generator; nothing in the binaries needs it.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 ragtrace \
    && useradd --system --uid 10001 --gid ragtrace --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin ragtrace

WORKDIR /app
COPY --from=builder /out/ /app/bin/
# The demo corpus (docs, product catalog). The binaries also carry it compiled in; the files are
# here for the ingest worker and for anyone who wants to read what the answers come from.
COPY data/ /app/data/

# Embedded state (the qdrant-edge shard when no Qdrant server is configured). A named volume
# mounted here inherits this ownership.
RUN mkdir -p /data && chown ragtrace:ragtrace /data

ENV PATH=/app/bin:$PATH \
    RAGTRACE__SERVER__DATA_DIR=/data

USER ragtrace
EXPOSE 8080
CMD ["ragtrace", "--addr", "0.0.0.0:8080"]
