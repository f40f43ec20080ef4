# syntax=docker/dockerfile:1
#
# One image, `superpower:latest`, holding the three binaries: powersource, superpower, loader.
# There is no ENTRYPOINT: each Kubernetes container picks its binary with `command`
# (see deploy/kubernetes/base), and `docker run superpower:latest powersource --help` works too.
#
# The image holds no data files: `loader ingest --store PATH` with no `--data` ingests the
# built-in sample dataset. A collected Marvel dataset is mounted and passed with `--data`
# (docs/kubernetes.md).
#
# Build:  docker build -t superpower:latest .
#
# The suite builds this file unchanged with podman and local stand-ins for the two base images
# (no registry is reachable there): deploy/containers/image.sh passes RUST_IMAGE and
# RUNTIME_IMAGE (deploy/containers/standins.sh makes them).
#
# Stages:
#   chef     Rust toolchain + cargo-chef (LukeMathWalker's dependency-caching helper).
#   planner  reduces the workspace manifests to a recipe; it changes only when a Cargo.toml or
#            Cargo.lock changes.
#   builder  compiles the dependencies from the recipe (a cached layer), then the workspace.
#   runtime  distroless cc (glibc, libgcc, CA certificates, no shell) as a fixed non-root uid.

ARG RUST_IMAGE=rust:1-bookworm
ARG RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot

FROM ${RUST_IMAGE} AS chef
RUN cargo install cargo-chef --locked --version 0.1.78
WORKDIR /src

# Only the workspace manifests and crate folders: editing docs/, deploy/ or dashboards/ does not
# invalidate the build. deploy/kubernetes/test_invariants.py checks that every workspace member
# is copied here.
FROM chef AS planner
COPY Cargo.toml Cargo.lock rustfmt.toml ./
COPY common ./common
COPY service ./service
COPY testkit ./testkit
COPY powersource ./powersource
COPY superpower ./superpower
COPY probe ./probe
COPY loader ./loader
COPY bench ./bench
COPY traces/tools ./traces/tools
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
COPY --from=planner /src/recipe.json recipe.json
RUN cargo chef cook --release --locked --recipe-path recipe.json
COPY Cargo.toml Cargo.lock rustfmt.toml ./
COPY common ./common
COPY service ./service
COPY testkit ./testkit
COPY powersource ./powersource
COPY superpower ./superpower
COPY probe ./probe
COPY loader ./loader
COPY bench ./bench
COPY traces/tools ./traces/tools
RUN cargo build --release --locked --bin powersource --bin superpower --bin loader \
 && mkdir -p /out/data \
 && cp target/release/powersource target/release/superpower target/release/loader /out/

FROM ${RUNTIME_IMAGE} AS runtime
# distroless "nonroot" is uid/gid 65532; the manifests run with the same ids (runAsUser 65532).
USER 65532:65532
COPY --from=builder /out/powersource /out/superpower /out/loader /usr/local/bin/
# An empty /data owned by the image user: a named volume mounted there (docker/podman, compose)
# starts with that owner, as fsGroup gives the pods' store volume, so `loader ingest --store
# /data/store` can write to it. Kubernetes mounts its own volume over it.
COPY --from=builder --chown=65532:65532 /out/data /data
# powersource listens on 6061, superpower on 30280 (docs/CONTRACTS.md).
EXPOSE 6061 30280
CMD ["superpower", "--help"]
