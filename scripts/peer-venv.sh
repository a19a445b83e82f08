#!/usr/bin/env bash
# Create (or reuse) the cached virtualenv of a peer model server that the serving contract tests
# and the serving benchmark compare our runtime with:
#
#   scripts/peer-venv.sh seldon     # seldon-core 1.19 (Python 3.12, numpy<2): the Seldon v1 peer
#   scripts/peer-venv.sh mlserver   # MLServer 1.7 + mlserver-mlflow (Python 3.11): the V2 peer
#
# prints the venv path (last and only stdout line). scripts/seldon-venv.sh and
# scripts/mlserver-venv.sh are shortcuts for the two.
#
# The venv lives at ${MLPIPE_CACHE_DIR:-$HOME/.cache/mlpipe-lab}/venvs/<peer>-<sha256(lock)[:12]>
# and is installed from tests/serving/requirements-<peer>.txt, a `pip freeze` lock: a changed lock
# gives a new directory, so a stale venv is never reused. Once built, nothing touches the network.
# It is built in a temporary sibling directory under an flock and renamed into place only after a
# smoke test, then marked `.complete`, so concurrent callers wait for one build and a half-built
# venv is never used.
#
# Environment:
#   MLPIPE_CACHE_DIR        cache root (default $HOME/.cache/mlpipe-lab)
#   MLPIPE_PEER_PYTHON      the interpreter to build with (default: pyenv's, see below)
#   MLPIPE_PEER_RELOCK=1    resolve tests/serving/requirements-<peer>.in again and rewrite the lock
#                           (MLPIPE_SELDON_RELOCK=1 still works for seldon)
set -euo pipefail

die() { echo "peer-venv: error: $*" >&2; exit 1; }
log() { echo "peer-venv: $*" >&2; }

PEER=${1:-}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
case "$PEER" in
  seldon)
    # seldon-core 1.19 declares Requires-Python >=3.12 and pins numpy<2 (docs/serving-facts.md)
    WANT_PY=3.12; PYENV_PY=3.12.1; PREFIX=seldon-1.19; BIN=seldon-core-microservice
    SMOKE='import numpy, seldon_core.microservice, mlflow.pyfunc, sklearn, skops
assert numpy.__version__.startswith("1."), numpy.__version__'
    INFO='from importlib.metadata import version as v; print("seldon_core=" + v("seldon-core"))'
    RELOCK=${MLPIPE_PEER_RELOCK:-${MLPIPE_SELDON_RELOCK:-}}
    ;;
  mlserver)
    # MLServer's MLflow runtime installs with the model's own pins (numpy 2) on 3.11
    WANT_PY=3.11; PYENV_PY=3.11.7; PREFIX=mlserver-1.7; BIN=mlserver
    SMOKE='import mlserver, mlserver_mlflow, mlflow.pyfunc, sklearn, skops, uvloop
assert tuple(int(x) for x in uvloop.__version__.split(".")[:2]) < (0, 22), uvloop.__version__'
    INFO='from importlib.metadata import version as v; print("mlserver=" + v("mlserver")); print("mlserver_mlflow=" + v("mlserver-mlflow"))'
    RELOCK=${MLPIPE_PEER_RELOCK:-}
    ;;
  *) die "usage: scripts/peer-venv.sh seldon|mlserver" ;;
esac

LOCK="$ROOT/tests/serving/requirements-$PEER.txt"
INPUT="$ROOT/tests/serving/requirements-$PEER.in"
[ -f "$LOCK" ] || die "lock file not found: $LOCK"

HASH=$(sha256sum "$LOCK" | cut -c1-12)
CACHE_ROOT=${MLPIPE_CACHE_DIR:-${HOME:-/tmp}/.cache/mlpipe-lab}
VENVS="$CACHE_ROOT/venvs"
NAME="$PREFIX-$HASH"
VENV="$VENVS/$NAME"

is_complete() { [ -f "$1/.complete" ] && [ -x "$1/bin/python" ] && [ -x "$1/bin/$BIN" ]; }

if [ -z "$RELOCK" ] && is_complete "$VENV"; then
  echo "$VENV"
  exit 0
fi

mkdir -p "$VENVS" || die "cannot create cache directory $VENVS"
exec 9>"$VENVS/.$NAME.lock"
if command -v flock >/dev/null 2>&1 && ! flock -n 9; then
  log "another process is building $NAME; waiting for it"
  flock 9
fi
if [ -z "$RELOCK" ] && is_complete "$VENV"; then
  echo "$VENV"
  exit 0
fi

find_python() {
  if [ -n "${MLPIPE_PEER_PYTHON:-${MLPIPE_SELDON_PYTHON:-}}" ]; then
    echo "${MLPIPE_PEER_PYTHON:-$MLPIPE_SELDON_PYTHON}"; return
  fi
  if command -v pyenv >/dev/null 2>&1 && PYENV_VERSION=$PYENV_PY pyenv which "python$WANT_PY" >/dev/null 2>&1; then
    PYENV_VERSION=$PYENV_PY pyenv which "python$WANT_PY"; return
  fi
  if PYENV_VERSION=$PYENV_PY "python$WANT_PY" -c '' >/dev/null 2>&1; then
    PYENV_VERSION=$PYENV_PY command -v "python$WANT_PY"; return
  fi
  echo "python$WANT_PY"
}
PY=$(find_python)
PYVER=$(PYENV_VERSION=$PYENV_PY "$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null) \
  || die "no Python $WANT_PY found ('$PY') for the $PEER peer. Install it (e.g. pyenv install $PYENV_PY) or set MLPIPE_PEER_PYTHON"
[ "$PYVER" = "$WANT_PY" ] || die "'$PY' is Python $PYVER; the $PEER peer needs $WANT_PY (set MLPIPE_PEER_PYTHON)"

rm -rf "$VENVS/.tmp-$NAME-"*
TMP="$VENVS/.tmp-$NAME-$$"
CHILD=
trap 'rm -rf "$TMP"' EXIT
trap '[ -z "$CHILD" ] || kill "$CHILD" 2>/dev/null || true; exit 130' INT TERM
# Long steps run in the background so that a signal is handled at once.
bg() { "$@" & CHILD=$!; local rc=0; wait "$CHILD" || rc=$?; CHILD=; return "$rc"; }
pip_() {
  bg "$TMP/bin/python" -m pip --disable-pip-version-check --no-input -q "$@" \
    2> >(grep -v "^WARNING: Location '.*' is ignored" >&2) >&2
}

START=$(date +%s)
log "building $VENV with $PY (pip download and install: 1-3 minutes)"
PYENV_VERSION=$PYENV_PY bg "$PY" -m venv "$TMP" >&2 || die "'$PY -m venv' failed"

if [ -n "$RELOCK" ]; then
  # Resolve the unpinned input again and write the new lock (then the venv is built from it).
  pip_ install -r "$INPUT" || die "pip cannot resolve $INPUT (is PyPI reachable?)"
  { echo "# pip freeze of tests/serving/requirements-$PEER.in (Python $PYVER); regenerate with"
    echo "# MLPIPE_PEER_RELOCK=1 scripts/$PEER-venv.sh"
    "$TMP/bin/python" -m pip freeze --disable-pip-version-check --exclude-editable; } > "$LOCK.tmp"
  mv "$LOCK.tmp" "$LOCK"
  HASH=$(sha256sum "$LOCK" | cut -c1-12)
  NAME="$PREFIX-$HASH"
  VENV="$VENVS/$NAME"
  log "lock rewritten: $LOCK"
else
  if ! pip_ install --no-deps -r "$LOCK"; then
    die "pip could not install $LOCK (is PyPI reachable? see pip's messages above)"
  fi
fi
pip_ check || die "'pip check' reports inconsistent dependencies in the lock (see above)"

# Smoke test before publishing: the peer server and MLflow's sklearn loader import.
"$TMP/bin/python" -c "$SMOKE" >&2 || die "the new venv fails its smoke test (imports of the $PEER peer)"

rm -rf "$VENV"
mv -T "$TMP" "$VENV" || die "cannot move $TMP to $VENV"
trap - EXIT
# Console scripts carry the build path in their shebang: point them at the final directory.
{ grep -rlIF -- "$TMP" "$VENV/bin" "$VENV/pyvenv.cfg" 2>/dev/null || true; } | while IFS= read -r f; do
  sed -i "s#$TMP#$VENV#g" "$f"
done
{
  echo "lock_sha256=$(sha256sum "$LOCK" | cut -d' ' -f1)"
  echo "python=$("$VENV/bin/python" -c 'import sys; print(sys.version.split()[0])')"
  "$VENV/bin/python" -c "$INFO"
  echo "built_seconds=$(( $(date +%s) - START ))"
} > "$VENV/.complete.tmp"
mv "$VENV/.complete.tmp" "$VENV/.complete"
log "built $VENV in $(( $(date +%s) - START )) s"
echo "$VENV"
