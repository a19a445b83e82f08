#!/usr/bin/env bash
# Create (or reuse) a cached virtualenv with a pinned Apache Airflow for the real-Airflow tests.
#
#   scripts/airflow-venv.sh VERSION        # VERSION: 3.3 | 2.10
#
# The venv lives at
#   ${MLPIPE_CACHE_DIR:-$HOME/.cache/mlpipe-lab}/venvs/airflow-<VERSION>-<sha256(lock)[:12]>
# and is built from tests/airflow/requirements-airflow-<VERSION>.txt (a `pip freeze` lock).
# A changed lock file gives a new directory, so stale venvs are never reused.
#
# Stdout: the venv path, as the last (and only) line. Progress goes to stderr.
# The build happens in a temporary sibling directory that is renamed into place and only then
# marked complete (`.complete`), under an flock, so a half-built venv is never reused and
# concurrent callers wait for one build instead of racing.
#
# Environment:
#   MLPIPE_CACHE_DIR         cache root (default $HOME/.cache/mlpipe-lab)
#   MLPIPE_AIRFLOW_PYTHON    interpreter used to create the venv (default: python3.11)
set -euo pipefail

die() { echo "airflow-venv: error: $*" >&2; exit 1; }
log() { echo "airflow-venv: $*" >&2; }

[ $# -eq 1 ] || die "usage: $0 VERSION   (VERSION = 3.3 | 2.10)"
VERSION=$1
case "$VERSION" in
  3.3|2.10) ;;
  *) die "unsupported Airflow version '$VERSION' (expected 3.3 or 2.10)" ;;
esac

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LOCK="$ROOT/tests/airflow/requirements-airflow-$VERSION.txt"
[ -f "$LOCK" ] || die "lock file not found: $LOCK"

HASH=$(sha256sum "$LOCK" | cut -c1-12)
CACHE_ROOT=${MLPIPE_CACHE_DIR:-${HOME:-/tmp}/.cache/mlpipe-lab}
VENVS="$CACHE_ROOT/venvs"
NAME="airflow-$VERSION-$HASH"
VENV="$VENVS/$NAME"

is_complete() { [ -f "$1/.complete" ] && [ -x "$1/bin/python" ]; }

# Fast path: nothing to do (no lock, no interpreter start-up).
if is_complete "$VENV"; then
  echo "$VENV"
  exit 0
fi

mkdir -p "$VENVS" || die "cannot create cache directory $VENVS"

# Serialise builders of the same venv. fd 9 stays open until the script exits.
exec 9>"$VENVS/.$NAME.lock"
if command -v flock >/dev/null 2>&1; then
  if ! flock -n 9; then
    log "another process is building $NAME; waiting for it"
    flock 9
  fi
fi
if is_complete "$VENV"; then   # built by whoever held the lock
  echo "$VENV"
  exit 0
fi

PY=${MLPIPE_AIRFLOW_PYTHON:-}
if [ -z "$PY" ]; then
  if command -v python3.11 >/dev/null 2>&1; then PY=python3.11; else PY=python3; fi
fi
command -v "$PY" >/dev/null 2>&1 || die "'$PY' not found (set MLPIPE_AIRFLOW_PYTHON to a Python 3.11 interpreter)"
PYVER=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])') || die "'$PY' does not run"
[ "$PYVER" = "3.11" ] || log "warning: the locks were made with Python 3.11, '$PY' is Python $PYVER"

# Holding the lock, leftovers of crashed builds of this venv are ours to remove.
rm -rf "$VENVS/.tmp-$NAME-"* "$VENV"

TMP="$VENVS/.tmp-$NAME-$$"
CHILD=
cleanup() { rm -rf "$TMP"; }
on_signal() { [ -z "$CHILD" ] || kill "$CHILD" 2>/dev/null || true; exit 130; }
trap cleanup EXIT
trap on_signal INT TERM
# Run a long step in the background so a signal is handled at once (and the step is stopped).
bg() { "$@" & CHILD=$!; local rc=0; wait "$CHILD" || rc=$?; CHILD=; return "$rc"; }

START=$(date +%s)
log "building $VENV from $(basename "$LOCK") (takes 1-2 minutes)"
bg "$PY" -m venv "$TMP" >&2 || die "'$PY -m venv' failed"

# pip's output goes to stderr, minus the per-package noise of index URLs that do not exist here.
pip_() {
  bg "$TMP/bin/python" -m pip --disable-pip-version-check --no-input -q "$@" \
    2> >(grep -v "^WARNING: Location '.*' is ignored: it is neither a file nor a directory" >&2) >&2
}
if ! pip_ install --no-deps -r "$LOCK"; then
  log "'pip install --no-deps' failed; retrying with dependency resolution"
  pip_ install -r "$LOCK" \
    || die "pip could not install $LOCK (is PyPI reachable? see pip's messages above)"
fi
pip_ check || log "warning: 'pip check' reports inconsistent dependencies (see above)"

# Smoke test before publishing.
"$TMP/bin/python" -c 'import airflow, airflow.providers.cncf.kubernetes, kubernetes' >&2 \
  || die "the new venv cannot import airflow"

mv -T "$TMP" "$VENV" || die "cannot move $TMP to $VENV"
trap - EXIT

# Console scripts and activate* carry the absolute build path: point them at the final one.
# (Only text files in bin/ do; the python symlinks and site-packages are location-independent.)
{ grep -rlIF -- "$TMP" "$VENV/bin" "$VENV/pyvenv.cfg" 2>/dev/null || true; } | while IFS= read -r f; do
  sed -i "s#$TMP#$VENV#g" "$f"
done

{
  echo "version=$VERSION"
  echo "lock_sha256=$(sha256sum "$LOCK" | cut -d' ' -f1)"
  echo "python=$("$VENV/bin/python" -c 'import sys; print(sys.version.split()[0])')"
  echo "airflow=$("$VENV/bin/python" -c 'from importlib.metadata import version; print(version("apache-airflow"))')"
  echo "built_seconds=$(( $(date +%s) - START ))"
} > "$VENV/.complete.tmp"
mv "$VENV/.complete.tmp" "$VENV/.complete"

log "built $VENV in $(( $(date +%s) - START )) s"
echo "$VENV"
