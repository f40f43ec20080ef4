#!/usr/bin/env bash
# Installs what the project's scripts need, once, idempotently. Source it, then call:
#   ensure_apt PKG...        Debian packages (apt-get update runs once per machine boot of this script)
#   ensure_prometheus_installed   prometheus and promtool (Debian package prometheus), not as a service
#   ensure_venv              Python venv at var/venv with chaostoolkit + extensions + validators
#   ensure_oha               the oha load tool (cargo install --locked, plain HTTP only)
#   ensure_cargo_tool CRATE BIN   a cargo subcommand (cargo install --locked), e.g. cargo-machete
#   ensure_nightly           the nightly toolchain (cargo fuzz needs it)
#   ensure_release_build     cargo build --release of the three binaries
# Every function prints what it does to stderr and fails loudly.

ROOT="${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
VENV="$ROOT/var/venv"
OHA_VERSION=1.16.0

log() { printf '[tools] %s\n' "$*" >&2; }

# root_prefix: prints "" as root, "sudo" for a user who has it; fails with a clear error otherwise.
root_prefix() {
  [ "$(id -u)" -eq 0 ] && return 0
  command -v sudo >/dev/null 2>&1 || { log "error: not root, and sudo is not installed: installing packages needs one of them"; return 1; }
  echo sudo
}

ensure_apt() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "apt-get install ${missing[*]}"
  local sudo
  sudo="$(root_prefix)" || return 1
  if [ ! -f /var/lib/apt/lists/.superpower-updated ] || [ -z "$(ls /var/lib/apt/lists/ 2>/dev/null | grep -v lock)" ]; then
    $sudo apt-get update -qq >&2 && $sudo touch /var/lib/apt/lists/.superpower-updated
  fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

# A prometheus and promtool already on PATH (Debian's, or any other) are used as they are: no apt,
# no root needed.
# Where systemd runs, Debian's package starts its own prometheus.service on :9090 when it is
# installed; that one scrapes nothing of ours and holds the port the local fleet's Prometheus
# listens on (deploy/local/lib.sh), so the service this call just installed is stopped and
# disabled. A service the machine had before is left alone.
ensure_prometheus_installed() {
  command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 && return 0
  local had=0
  dpkg-query -W -f='${Status}' prometheus 2>/dev/null | grep -q "install ok installed" && had=1
  ensure_apt prometheus || return 1
  [ "$had" = 0 ] || return 0
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet prometheus 2>/dev/null; then
    log "stopping and disabling Debian's prometheus.service: it would hold :9090, and the fleet runs its own"
    local sudo
    sudo="$(root_prefix)" || return 1
    $sudo systemctl disable --now prometheus >&2
  fi
}

ensure_venv() {
  local want="$ROOT/scripts/requirements.txt"
  local stamp="$VENV/.requirements.sha"
  local sha
  sha=$(sha256sum "$want" | cut -d' ' -f1)
  if [ -x "$VENV/bin/chaos" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$sha" ]; then return 0; fi
  log "python venv at $VENV"
  # Debian's python3 makes venvs only with python3-venv (ensurepip); deploy/local/up.sh needs the
  # venv too (the visitors), so a fresh machine gets it here.
  python3 -c 'import ensurepip' 2>/dev/null || ensure_apt python3-venv
  python3 -m venv "$VENV" >&2
  # uv resolves chaostoolkit-opentracing's OpenTelemetry pins in seconds (pip backtracks for
  # over ten minutes on them)
  "$VENV/bin/pip" install -q --disable-pip-version-check uv >&2
  "$VENV/bin/uv" pip install -q --python "$VENV/bin/python" -r "$want" >&2
  echo "$sha" > "$stamp"
}

ensure_oha() {
  command -v oha >/dev/null 2>&1 && return 0
  [ -x "$HOME/.cargo/bin/oha" ] && { export PATH="$HOME/.cargo/bin:$PATH"; return 0; }
  # Plain HTTP is all the project sends: with the system's OpenSSL (native-tls) instead of its
  # default rustls + aws-lc, oha builds in about 3 minutes on 2 cores instead of 9.
  ensure_apt libssl-dev pkg-config
  log "cargo install --locked oha $OHA_VERSION, native-tls (about 3 minutes on 2 cores)"
  cargo install --locked oha --version "$OHA_VERSION" --no-default-features --features native-tls >&2
  export PATH="$HOME/.cargo/bin:$PATH"
}

ensure_cargo_tool() {
  local crate="$1" bin="$2"
  command -v "$bin" >/dev/null 2>&1 && return 0
  [ -x "$HOME/.cargo/bin/$bin" ] && return 0
  log "cargo install --locked $crate"
  cargo install --locked "$crate" >&2
}

ensure_nightly() {
  rustup toolchain list 2>/dev/null | grep -q '^nightly' && return 0
  log "rustup toolchain install nightly (cargo fuzz builds with nightly)"
  rustup toolchain install nightly --profile minimal >&2 || {
    log "cannot install the nightly toolchain: the fuzz step needs it (rustup toolchain install nightly)"
    return 1
  }
}

ensure_release_build() {
  log "cargo build --release"
  (cd "$ROOT" && cargo build --release --locked -q -p powersource -p superpower -p loader) >&2
}
