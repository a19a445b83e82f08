#!/usr/bin/env bash
# Root file systems that stand in for container images in the emulated-pods tier (tests/pods).
#
#   scripts/pod-rootfs.sh IMAGE     # builds it if absent; prints its path (last and only stdout line)
#
# IMAGE is one of
#   bare      debootstrap --variant=minbase bookworm: a Debian userland without python3
#   python3   bare + Debian's python3                     (a stock "python3 only" image)
#   ipykernel python3 + Debian's python3-ipykernel       (a stock Jupyter-kernel image)
#   runner    python3 + pip + the dependencies of the checkout's wheel and its [runner] extra; the
#             tests install the checkout's wheel itself on top (pip, from the local file, --no-deps)
#             in a per-session layer, like `pip install` in images/runner/Dockerfile
#
# They live in ${MLPIPE_CACHE_DIR:-$HOME/.cache/mlpipe-lab}/rootfs/<image>-<key>, where the key
# hashes RECIPE below (bump it when a build step changes) and, for runner, the dependency list of
# pyproject.toml: a change gives a new folder, a stale one is never reused. Each is built in a temporary sibling under an flock and
# renamed into place when complete (marked .complete), so concurrent callers wait for one build
# and a half-built tree is never used. Needs root, debootstrap (installed with apt-get when
# missing) and Debian's package mirror; runner also needs PyPI (pip's default index).
set -euo pipefail

die() { echo "pod-rootfs: error: $*" >&2; exit 1; }
log() { echo "pod-rootfs: $*" >&2; }

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
IMAGE=${1:-}
case "$IMAGE" in bare | python3 | ipykernel | runner) ;; *) die "usage: $0 bare|python3|ipykernel|runner" ;; esac
[ "$(id -u)" = 0 ] || die "building root file systems needs root (debootstrap, chroot)"

CACHE=${MLPIPE_CACHE_DIR:-${HOME:-/tmp}/.cache/mlpipe-lab}/rootfs
SUITE=bookworm
MIRROR=${MLPIPE_DEBIAN_MIRROR:-http://deb.debian.org/debian}
mkdir -p "$CACHE"

RECIPE="1 $SUITE minbase; python3; python3-ipykernel; python3-pip ca-certificates"
key_of() {
  case "$1" in
    runner) { echo "$RECIPE"; runner_requirements; } | sha256sum | cut -c1-12 ;;
    *) echo "$RECIPE" | sha256sum | cut -c1-12 ;;
  esac
}

# The wheel's own dependencies and its [runner] extra, read from pyproject.toml (the wheel itself is
# installed by the tests, so a code change does not rebuild this image).
runner_requirements() {
  python3 - "$ROOT/pyproject.toml" <<'EOF'
import sys, tomllib
project = tomllib.load(open(sys.argv[1], "rb"))["project"]
for req in project.get("dependencies", []) + project.get("optional-dependencies", {}).get("runner", []):
    print(req)
EOF
}

is_complete() { [ -f "$1/.complete" ]; }

# chroot with /proc, /dev and the host's DNS, for apt-get and pip; everything unmounted afterwards
in_chroot() {
  local dir=$1
  shift
  cp -L /etc/resolv.conf "$dir/etc/resolv.conf"
  unshare --mount --fork bash -c '
    set -e
    dir=$1; shift
    mount -t proc proc "$dir/proc"
    mount --rbind /dev "$dir/dev"
    exec chroot "$dir" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
      DEBIAN_FRONTEND=noninteractive "$@"
  ' _ "$dir" "$@"
}

apt_install() {
  local dir=$1
  shift
  in_chroot "$dir" apt-get update -q >&2
  in_chroot "$dir" apt-get install -y -q --no-install-recommends "$@" >&2
  in_chroot "$dir" apt-get clean
  rm -rf "$dir"/var/lib/apt/lists/*
}

build() {
  local image=$1 tmp=$2
  case "$image" in
    bare)
      command -v debootstrap >/dev/null || {
        log "installing debootstrap"
        apt-get install -y -q debootstrap >&2 || { apt-get update -q >&2 && apt-get install -y -q debootstrap >&2; }
      }
      debootstrap --variant=minbase "$SUITE" "$tmp" "$MIRROR" >&2
      rm -rf "$tmp"/var/cache/apt/archives/*.deb "$tmp"/var/lib/apt/lists/*
      ;;
    python3)
      cp -a "$(ensure bare)/." "$tmp/"
      apt_install "$tmp" python3
      ;;
    ipykernel)
      cp -a "$(ensure python3)/." "$tmp/"
      apt_install "$tmp" python3-ipykernel
      ;;
    runner)
      cp -a "$(ensure python3)/." "$tmp/"
      apt_install "$tmp" python3-pip ca-certificates
      runner_requirements > "$tmp/tmp/requirements.txt"
      # pip inside trusts what this machine's pip trusts (PIP_CERT: e.g. a proxy's CA)
      local cert=${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}
      [ -f "$cert" ] && cp -L "$cert" "$tmp/tmp/ca.crt"
      # Debian marks its python3 as externally managed; a container image's pip installs anyway.
      in_chroot "$tmp" /usr/bin/env PIP_CERT=/tmp/ca.crt PIP_DISABLE_PIP_VERSION_CHECK=1 \
        python3 -m pip install -q --break-system-packages --no-cache-dir \
        -r /tmp/requirements.txt >&2
      rm -f "$tmp/tmp/requirements.txt" "$tmp/tmp/ca.crt"
      ;;
  esac
  rm -f "$tmp/etc/resolv.conf"
  touch "$tmp/.complete"
}

ensure() {
  local image=$1
  local target="$CACHE/$image-$(key_of "$image")"
  if is_complete "$target"; then
    echo "$target"
    return
  fi
  exec {lock}>"$CACHE/.$image.lock"
  flock "$lock"
  if ! is_complete "$target"; then
    local started=$SECONDS tmp="$target.tmp.$$"
    rm -rf "$target" "$tmp"
    mkdir -p "$tmp"
    TMPS+=("$tmp")
    build "$image" "$tmp"
    mv "$tmp" "$target"
    log "built $image in $((SECONDS - started)) s: $target"
  fi
  flock -u "$lock"
  echo "$target"
}

TMPS=()
trap 'for t in "${TMPS[@]}"; do rm -rf "$t"; done' EXIT
ensure "$IMAGE"
