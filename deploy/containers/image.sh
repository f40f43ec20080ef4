#!/usr/bin/env bash
# Builds the images the container fleet and the compose test run, here, without a registry:
#
#   1. the base-image stand-ins (standins.sh; cached, rebuilt when their recipe changes);
#   2. superpower:latest from the repository's Dockerfile, unchanged, with
#        --build-arg RUST_IMAGE=localhost/superpower-standin/rust:1-bookworm
#        --build-arg RUNTIME_IMAGE=localhost/superpower-standin/distroless-cc-debian12:nonroot
#      tagged localhost/superpower:latest (the manifests' superpower:latest); cargo's registry
#      is a cache folder mounted into the build's RUN steps (var/containers/cargo-registry), and
#      the engine's layer cache keeps the cargo-chef and dependency layers between runs;
#   3. the Prometheus image from Debian's package in the prom/prometheus layout
#      (prometheus/Containerfile), tagged localhost/superpower-standin/prometheus:debian.
#   4. the Locust image (compose's visitors): Debian's python3 + `pip install locust==` the
#      version of scripts/requirements.txt, in the locustio/locust layout (locust/Containerfile),
#      tagged localhost/superpower-standin/locust:2.47.0. Like the stand-ins it carries the hash
#      of its recipe (the Containerfile, the version, the Debian stand-in's recipe) in the label
#      superpower.recipe and is built only when it is missing or that changed (--no-cache too).
#   5. the balancer's image: Debian's haproxy package (2.6) in the layout of the official
#      haproxy:2.6 image (haproxy/Containerfile), tagged localhost/superpower-standin/haproxy:2.6,
#      built like the Prometheus image (the layer cache keeps it).
# Then it checks the images: the three binaries run as uid 65532, and there is no shell; each
# stand-in runs its program, of the version its tag says, as the upstream image's user.
# Build times and the image size go to var/containers/image.env.
#
#   deploy/containers/image.sh [--no-cache]    --no-cache: a cold build of the two images
#                                              (stand-ins and cargo registry stay cached)
#
# With Docker and the upstream images, the same Dockerfile builds with `docker build -t
# superpower:latest .` (docs/kubernetes.md).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
source "$HERE/lib.sh"
cache=()
[ "${1:-}" = --no-cache ] && cache=(--no-cache)
ensure_engine
"$HERE/standins.sh"

mkdir -p "$CT_VAR/cargo-registry"
volume=()
# podman mounts the cache into RUN steps; docker build has no such flag (BuildKit cache mounts
# would need a Dockerfile change), so there the layer cache alone applies.
[ "$ENGINE" = podman ] && volume=(--volume "$CT_VAR/cargo-registry:/usr/local/cargo/registry")

ct_say "building $IMAGE from the Dockerfile (log: var/containers/image-build.log)"
t0=$(date +%s.%N)
if ! ct build "${cache[@]}" "${volume[@]}" --layers \
  --build-arg RUST_IMAGE="$RUST_STANDIN" --build-arg RUNTIME_IMAGE="$RUNTIME_STANDIN" \
  -t "$IMAGE" -f "$ROOT/Dockerfile" "$ROOT" >"$CT_VAR/image-build.log" 2>&1; then
  tail -n 30 "$CT_VAR/image-build.log" >&2
  ct_die "the image build failed (log: var/containers/image-build.log)"
fi
# build_on_debian IMAGE DIR: IMAGE from DIR's Containerfile on the Debian stand-in (its package
# of the tool), log in var/containers/DIR-build.log.
build_on_debian() {
  local image="$1" dir="$2"
  ct_say "building $image (log: var/containers/$dir-build.log)"
  if ! ct build "${cache[@]}" --layers --build-arg DEBIAN_IMAGE="$DEBIAN_STANDIN" \
    -t "$image" "$HERE/$dir" >"$CT_VAR/$dir-build.log" 2>&1; then
    tail -n 30 "$CT_VAR/$dir-build.log" >&2
    ct_die "the build of $image failed (log: var/containers/$dir-build.log)"
  fi
}
t1=$(date +%s.%N)
build_on_debian "$PROMETHEUS_IMAGE" prometheus
t2=$(date +%s.%N)
locust_version="$(sed -n 's/^locust==//p' "$ROOT/scripts/requirements.txt")"
[ -n "$locust_version" ] || ct_die "scripts/requirements.txt pins no locust=="
[ "${LOCUST_STANDIN##*:}" = "$locust_version" ] || ct_die "$LOCUST_STANDIN is not tagged with the locust of scripts/requirements.txt ($locust_version)"
locust_recipe="$( { sha256sum "$HERE/locust/Containerfile" | cut -d' ' -f1; echo "$locust_version"; image_label "$DEBIAN_STANDIN" superpower.recipe; } | sha256sum | cut -c1-16)"
if [ ${#cache[@]} -eq 0 ] && [ "$(image_label "$LOCUST_STANDIN" superpower.recipe)" = "$locust_recipe" ]; then
  ct_say "$LOCUST_STANDIN is current (recipe $locust_recipe)"
else
  ct_say "building $LOCUST_STANDIN (log: var/containers/locust-build.log)"
  if ! ct build "${cache[@]}" --layers --build-arg DEBIAN_IMAGE="$DEBIAN_STANDIN" \
    --build-arg LOCUST_VERSION="$locust_version" --label "superpower.recipe=$locust_recipe" \
    -t "$LOCUST_STANDIN" "$HERE/locust" >"$CT_VAR/locust-build.log" 2>&1; then
    tail -n 30 "$CT_VAR/locust-build.log" >&2
    ct_die "the Locust image build failed (log: var/containers/locust-build.log)"
  fi
fi
t3=$(date +%s.%N)
build_on_debian "$HAPROXY_STANDIN" haproxy
t4=$(date +%s.%N)

# --- what the image must be ---------------------------------------------------------------------
for b in powersource superpower loader; do
  ct run --rm --read-only "$IMAGE" "$b" --version >/dev/null 2>&1 ||
    ct run --rm --read-only "$IMAGE" "$b" --help >/dev/null || ct_die "$b does not run in $IMAGE"
done
user="$(ct image inspect --format '{{ .Config.User }}' "$IMAGE")"
[ "$user" = 65532:65532 ] || ct_die "$IMAGE runs as '$user', not 65532:65532 (the manifests' runAsUser)"
if ct run --rm --entrypoint /bin/sh "$IMAGE" -c true >/dev/null 2>&1; then
  ct_die "$IMAGE has a shell: the runtime stage is not the distroless one"
fi
ct run --rm "$PROMETHEUS_IMAGE" --version >/dev/null || ct_die "prometheus does not run in $PROMETHEUS_IMAGE"
[ "$(ct image inspect --format '{{ .Config.User }}' "$PROMETHEUS_IMAGE")" = nobody ] || ct_die "$PROMETHEUS_IMAGE does not run as nobody"
[ "$(ct run --rm "$LOCUST_STANDIN" --version 2>&1 | awk '{print $2; exit}')" = "$locust_version" ] ||
  ct_die "$LOCUST_STANDIN does not run locust $locust_version"
[ "$(ct image inspect --format '{{ .Config.User }}' "$LOCUST_STANDIN")" = locust ] || ct_die "$LOCUST_STANDIN does not run as locust"
# `haproxy -v` through the entrypoint (which adds -W -db, as upstream's): "HAProxy version 2.6.12-1+deb12u1 ..."
haproxy_version="$(ct run --rm "$HAPROXY_STANDIN" haproxy -v 2>&1 | sed -n 's/^HA-\{0,1\}Proxy version \([0-9]*\.[0-9]*\)\..*/\1/p' | head -1)"
[ "$haproxy_version" = "${HAPROXY_STANDIN##*:}" ] || ct_die "$HAPROXY_STANDIN runs HAProxy '${haproxy_version:-nothing}', not ${HAPROXY_STANDIN##*:}"
haproxy_user="$(ct run --rm --entrypoint id "$HAPROXY_STANDIN")"
[[ "$haproxy_user" == "uid=99(haproxy) gid=99(haproxy)"* ]] ||
  ct_die "$HAPROXY_STANDIN runs as '$haproxy_user', not haproxy (99:99, the official image's user)"

size="$(ct image inspect --format '{{ .Size }}' "$IMAGE")"
psize="$(ct image inspect --format '{{ .Size }}' "$PROMETHEUS_IMAGE")"
{
  echo "IMAGE_BUILD_SECONDS=$(awk "BEGIN{printf \"%.0f\", $t1 - $t0}")"
  echo "PROMETHEUS_BUILD_SECONDS=$(awk "BEGIN{printf \"%.0f\", $t2 - $t1}")"
  echo "IMAGE_BYTES=$size"
  echo "PROMETHEUS_IMAGE_BYTES=$psize"
  echo "LOCUST_BUILD_SECONDS=$(awk "BEGIN{printf \"%.0f\", $t3 - $t2}")"
  echo "LOCUST_IMAGE_BYTES=$(ct image inspect --format '{{ .Size }}' "$LOCUST_STANDIN")"
  echo "HAPROXY_BUILD_SECONDS=$(awk "BEGIN{printf \"%.0f\", $t4 - $t3}")"
  echo "HAPROXY_IMAGE_BYTES=$(ct image inspect --format '{{ .Size }}' "$HAPROXY_STANDIN")"
  echo "CACHE=$([ ${#cache[@]} -eq 0 ] && echo layers || echo none)"
} >"$CT_VAR/image.env"
ct_say "$IMAGE: $((size / 1000000)) MB, built in $(awk "BEGIN{printf \"%.0f\", $t1 - $t0}") s ($([ ${#cache[@]} -eq 0 ] && echo "layer cache on" || echo "--no-cache"))"
ct_say "$PROMETHEUS_IMAGE: $((psize / 1000000)) MB, built in $(awk "BEGIN{printf \"%.0f\", $t2 - $t1}") s"
ct_say "$LOCUST_STANDIN: $(($(ct image inspect --format '{{ .Size }}' "$LOCUST_STANDIN") / 1000000)) MB, $(awk "BEGIN{printf \"%.0f\", $t3 - $t2}") s"
ct_say "$HAPROXY_STANDIN: HAProxy $haproxy_version, $(($(ct image inspect --format '{{ .Size }}' "$HAPROXY_STANDIN") / 1000000)) MB, $(awk "BEGIN{printf \"%.0f\", $t4 - $t3}") s"
ct_say "binaries run as 65532:65532, no shell in the image"
