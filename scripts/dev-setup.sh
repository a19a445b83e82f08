#!/usr/bin/env bash
# Create .venv, install mlpipe-lab editable with its test extras, build the frontend and link it.
# Idempotent; pip and yarn caches make a second run quick.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3.11}
VENV=${VENV:-.venv}
command -v "$PYTHON" >/dev/null || PYTHON=python3
step() { printf '\n==> %s\n' "$*"; }

if [ ! -x "$VENV/bin/python" ]; then
  step "creating $VENV with $($PYTHON --version)"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/pip" install -q -U pip
fi
. "$VENV/bin/activate"
step "installing JupyterLab 4.6 and mlpipe-lab (editable, with test extras)"
pip install -q "jupyterlab==4.6.*"
pip install -q -e ".[test,serve-test]"
step "linking and building the frontend"
jupyter-builder develop . --overwrite
jlpm build:prod
jupyter server extension list 2>&1 | grep -ie "mlpipe_lab.*OK" \
  || { echo "mlpipe-lab server extension is not enabled" >&2; exit 1; }
jupyter labextension list 2>&1 | grep -ie "mlpipe-lab.*OK" \
  || { echo "mlpipe-lab frontend extension is not installed" >&2; exit 1; }
