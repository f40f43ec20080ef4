#!/usr/bin/env bash
# Makes the local stand-ins for the base images this machine cannot pull (no registry is
# reachable here), from Debian's packages (mmdebstrap) and this machine's Rust toolchain, and
# imports them into the engine:
#
#   localhost/superpower-standin/debian:bookworm        Debian 12 minbase + CA certificates
#                                                       (builds the Prometheus image)
#   (every stand-in also trusts the CAs this machine adds in /usr/local/share/ca-certificates)
#   localhost/superpower-standin/rust:1-bookworm        for rust:1-bookworm: that root + gcc,
#                                                       libc6-dev, make, pkg-config, git and the
#                                                       toolchain of `rustc --print sysroot`
#                                                       (docs left out) at /usr/local/rust, with
#                                                       CARGO_HOME=/usr/local/cargo as upstream
#   localhost/superpower-standin/distroless-cc-debian12:nonroot
#                                                       for gcr.io/distroless/cc-debian12:nonroot:
#                                                       only the files of libc6, libgcc-s1,
#                                                       libssl3 and netbase, the CA bundle,
#                                                       /etc/passwd and /etc/group with nonroot
#                                                       (65532), /tmp; no shell, no package manager
#
# Each image carries the hash of its recipe (this script, the toolchain's version) in the label
# superpower.recipe and is rebuilt only when it is missing or the recipe changed. --force
# rebuilds them all.
#
#   deploy/containers/standins.sh [--force]
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
source "$HERE/lib.sh"
force=0
[ "${1:-}" = --force ] && force=1
ensure_engine
[ "$ENGINE" = podman ] || ct_say "CONTAINER_ENGINE=$ENGINE: importing the stand-ins into $ENGINE"

MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SYSROOT="$(rustc --print sysroot)"
recipe="$( { sha256sum "$HERE/standins.sh" /usr/local/share/ca-certificates/*.crt 2>/dev/null | cut -d' ' -f1; rustc -vV; cargo -V; echo "$MIRROR"; } | sha256sum | cut -c1-16)"
WORK="$CT_VAR/standins"

current() { [ "$force" = 0 ] && [ "$(image_label "$1" superpower.recipe)" = "$recipe" ]; }

# debian_root DIR [PACKAGES]: Debian 12 minbase (+ packages) in DIR.
debian_root() {
  rm -rf "$1" && mkdir -p "$(dirname "$1")"
  mmdebstrap --quiet --variant=minbase --include="ca-certificates${2:+,$2}" \
    --aptopt='Acquire::Retries "3"' bookworm "$1" "$MIRROR" >&2
  # This machine's own CAs (a TLS-inspecting proxy's, say) are trusted by the build stand-ins
  # too, so that cargo in a build reaches crates.io the way the host does.
  if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "$1/usr/local/share/ca-certificates/"
    chroot "$1" update-ca-certificates >/dev/null 2>&1
  fi
  # like the upstream images: no apt lists or caches
  rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin "$1"/var/cache/apt/archives/*.deb
}

# import DIR IMAGE CHANGE...: the folder as a one-layer image.
import() {
  local dir="$1" image="$2"
  shift 2
  local changes=(--change "LABEL superpower.recipe=$recipe")
  for c in "$@"; do changes+=(--change "$c"); done
  tar --numeric-owner -C "$dir" -cf - . | ct import -q "${changes[@]}" - "$image" >/dev/null
  ct_say "imported $image ($(du -sh --apparent-size "$dir" | cut -f1))"
}

t0=$SECONDS
if ! current "$DEBIAN_STANDIN" || ! current "$RUNTIME_STANDIN"; then
  debian_root "$WORK/debian" netbase
  import "$WORK/debian" "$DEBIAN_STANDIN" 'CMD ["/bin/bash"]' \
    'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

  # distroless cc: the files of a few packages out of that root, nothing that runs a script
  d="$WORK/distroless"
  rm -rf "$d" && mkdir -p "$d"
  chroot "$WORK/debian" dpkg-query -L libc6 libgcc-s1 libssl3 netbase | sort -u | while read -r p; do
    [ -n "$p" ] && [ "$p" != /. ] || continue
    src="$WORK/debian$p"
    if [ -d "$src" ] && [ ! -L "$src" ]; then
      mkdir -p "$d$p"
    elif [ -e "$src" ] || [ -L "$src" ]; then
      [ -L "$src" ] && [ -d "$src" ] && continue # merged-/usr directory links: real folders here
      mkdir -p "$(dirname "$d$p")" && cp -a "$src" "$d$p"
    fi
  done
  # no locales, docs or the dynamic loader's helper scripts
  rm -rf "$d/usr/share/doc" "$d/usr/share/lintian" "$d/usr/share/locale" "$d/usr/bin" "$d/usr/sbin" "$d/sbin"
  mkdir -p "$d/etc/ssl/certs" "$d/tmp" "$d/home/nonroot" "$d/root"
  cp "$WORK/debian/etc/ssl/certs/ca-certificates.crt" "$d/etc/ssl/certs/"
  chmod 1777 "$d/tmp"
  chown 65532:65532 "$d/home/nonroot"
  chmod 700 "$d/root"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$d/etc/passwd"
  printf 'root:x:0:\nnobody:x:65534:\ntty:x:5:\nstaff:x:50:\nnonroot:x:65532:\n' >"$d/etc/group"
  cp "$WORK/debian/etc/nsswitch.conf" "$d/etc/" 2>/dev/null || true
  [ ! -e "$d/bin/sh" ] && [ ! -e "$d/usr/bin/sh" ] || ct_die "the distroless stand-in has a shell"
  import "$d" "$RUNTIME_STANDIN" 'USER 65532:65532' 'WORKDIR /home/nonroot' \
    'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt'
else
  ct_say "$DEBIAN_STANDIN and $RUNTIME_STANDIN are current (recipe $recipe)"
fi

if ! current "$RUST_STANDIN"; then
  r="$WORK/rust"
  debian_root "$r" gcc,libc6-dev,make,pkg-config,git,curl,xz-utils
  mkdir -p "$r/usr/local/rust" "$r/usr/local/cargo/bin"
  tar -C "$SYSROOT" --exclude=./share/doc -cf - . | tar -C "$r/usr/local/rust" -xf -
  import "$r" "$RUST_STANDIN" \
    'ENV CARGO_HOME=/usr/local/cargo' \
    'ENV PATH=/usr/local/cargo/bin:/usr/local/rust/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    "ENV RUST_VERSION=$(rustc -V | cut -d' ' -f2)" \
    'CMD ["/bin/bash"]'
else
  ct_say "$RUST_STANDIN is current (recipe $recipe)"
fi
rm -rf "$WORK"
engine_check "$DEBIAN_STANDIN"
ct_say "stand-ins ready in $((SECONDS - t0)) s; a container of $DEBIAN_STANDIN runs"
