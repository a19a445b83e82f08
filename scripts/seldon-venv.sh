#!/usr/bin/env bash
# Create (or reuse) a cached Python 3.12 virtualenv with seldon-core 1.19 and what the generated
# MLflow Predictor needs (mlflow, scikit-learn, skops, numpy<2), for the serving contract test and
# the serving benchmark (they run the same Predictor under seldon-core and under our runtime).
#
#   scripts/seldon-venv.sh            # prints the venv path (last and only stdout line)
#
# The venv lives at ${MLPIPE_CACHE_DIR:-$HOME/.cache/mlpipe-lab}/venvs/seldon-1.19-<sha256(lock)[:12]>
# and is installed from tests/serving/requirements-seldon.txt, a `pip freeze` lock: a changed lock
# gives a new directory, so a stale venv is never reused. Once built, nothing touches the network.
# It is built in a temporary sibling directory under an flock and renamed into place only after a
# smoke test, then marked `.complete`, so concurrent callers wait for one build and a half-built
# venv is never used.
#
# Environment:
#   MLPIPE_CACHE_DIR        cache root (default $HOME/.cache/mlpipe-lab)
#   MLPIPE_SELDON_PYTHON    a Python 3.12 interpreter (default: pyenv's 3.12.1, else python3.12)
#
# seldon-core 1.19 declares Requires-Python >=3.12 and pins numpy<2 (see docs/serving-facts.md);
# the lock has pandas 3.0.x, which still accepts numpy 1.26. The lock is resolved by pip, not by hand:
# regenerate it with `MLPIPE_SELDON_RELOCK=1 scripts/seldon-venv.sh`.
set -euo pipefail

die() { echo "seldon-venv: error: $*" >&2; exit 1; }
log() { echo "seldon-venv: $*" >&2; }

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LOCK="$ROOT/tests/serving/requirements-seldon.txt"
INPUT="$ROOT/tests/serving/requirements-seldon.in"
[ -f "$LOCK" ] || die "lock file not found: $LOCK"

HASH=$(sha256sum "$LOCK" | cut -c1-12)
CACHE_ROOT=${MLPIPE_CACHE_DIR:-${HOME:-/tmp}/.cache/mlpipe-lab}
VENVS="$CACHE_ROOT/venvs"
NAME="seldon-1.19-$HASH"
VENV="$VENVS/$NAME"

is_complete() { [ -f "$1/.complete" ] && [ -x "$1/bin/python" ] && [ -x "$1/bin/seldon-core-microservice" ]; }

if [ -z "${MLPIPE_SELDON_RELOCK:-}" ] && is_complete "$VENV"; then
  echo "$VENV"
  exit 0
fi

mkdir -p "$VENVS" || die "cannot create cache directory $VENVS"
exec 9>"$VENVS/.$NAME.lock"
if command -v flock >/dev/null 2>&1 && ! flock -n 9; then
  log "another process is building $NAME; waiting for it"
  flock 9
fi
if [ -z "${MLPIPE_SELDON_RELOCK:-}" ] && is_complete "$VENV"; then
  echo "$VENV"
  exit 0
fi

find_python() {
  if [ -n "${MLPIPE_SELDON_PYTHON:-}" ]; then echo "$MLPIPE_SELDON_PYTHON"; return; fi
  if command -v pyenv >/dev/null 2>&1 && PYENV_VERSION=3.12.1 pyenv which python3.12 >/dev/null 2>&1; then
    PYENV_VERSION=3.12.1 pyenv which python3.12; return
  fi
  if PYENV_VERSION=3.12.1 python3.12 -c '' >/dev/null 2>&1; then
    PYENV_VERSION=3.12.1 command -v python3.12; return
  fi
  echo python3.12
}
PY=$(find_python)
PYVER=$(PYENV_VERSION=3.12.1 "$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null) \
  || die "no Python 3.12 found ('$PY'); seldon-core 1.19 needs Python >= 3.12. Install it (e.g. pyenv install 3.12.1) or set MLPIPE_SELDON_PYTHON"
[ "$PYVER" = "3.12" ] || die "'$PY' is Python $PYVER; seldon-core 1.19 needs 3.12 (set MLPIPE_SELDON_PYTHON)"

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
PYENV_VERSION=3.12.1 bg "$PY" -m venv "$TMP" >&2 || die "'$PY -m venv' failed"

if [ -n "${MLPIPE_SELDON_RELOCK:-}" ]; then
  # Resolve the unpinned input again and write the new lock (then the venv is built from it).
  pip_ install -r "$INPUT" || die "pip cannot resolve $INPUT (is PyPI reachable?)"
  { echo "# pip freeze of tests/serving/requirements-seldon.in (Python $PYVER); regenerate with"
    echo "# MLPIPE_SELDON_RELOCK=1 scripts/seldon-venv.sh"
    "$TMP/bin/python" -m pip freeze --disable-pip-version-check --exclude-editable; } > "$LOCK.tmp"
  mv "$LOCK.tmp" "$LOCK"
  HASH=$(sha256sum "$LOCK" | cut -c1-12)
  NAME="seldon-1.19-$HASH"
  VENV="$VENVS/$NAME"
  log "lock rewritten: $LOCK"
else
  if ! pip_ install --no-deps -r "$LOCK"; then
    die "pip could not install $LOCK (is PyPI reachable? see pip's messages above)"
  fi
fi
pip_ check || die "'pip check' reports inconsistent dependencies in the lock (see above)"

# Smoke test before publishing: the peer server, numpy<2 and MLflow's sklearn loader import.
"$TMP/bin/python" - >&2 <<'EOF' || die "the new venv cannot import seldon_core/mlflow/sklearn"
import numpy, seldon_core.microservice, mlflow.pyfunc, sklearn, skops
assert numpy.__version__.startswith("1."), numpy.__version__
EOF

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
  echo "seldon_core=$("$VENV/bin/python" -c 'from importlib.metadata import version as v; print(v("seldon-core"))')"
  echo "built_seconds=$(( $(date +%s) - START ))"
} > "$VENV/.complete.tmp"
mv "$VENV/.complete.tmp" "$VENV/.complete"
log "built $VENV in $(( $(date +%s) - START )) s"
echo "$VENV"
