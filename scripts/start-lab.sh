#!/usr/bin/env bash
# Start JupyterLab on examples/ with the embedded local runtime: catalogs, the local DAG repo
# (a bare git repo) and the artifact folder live in .mlpipe-dev/, so export and publish work at once.
set -euo pipefail
cd "$(dirname "$0")/.."
. .venv/bin/activate
export MLPIPE_LAB_DATA_DIR=${MLPIPE_LAB_DATA_DIR:-$PWD/.mlpipe-dev}
mkdir -p "$MLPIPE_LAB_DATA_DIR"
# The examples' runtime image, so their pipelines validate clean.
mlpipe catalog show images python-311-slim >/dev/null 2>&1 \
  || mlpipe catalog add images --name python-311-slim --display-name "Python 3.11 (slim)" \
       --image python:3.11-slim --description "Used by the examples"
root_flag=()
[ "$(id -u)" = 0 ] && root_flag=(--allow-root)
echo "mlpipe-lab data (catalogs, local DAG repo, artifacts): $MLPIPE_LAB_DATA_DIR"
exec jupyter lab --ip 127.0.0.1 --notebook-dir examples "${root_flag[@]}" "$@"
