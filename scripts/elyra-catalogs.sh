#!/usr/bin/env bash
# Install Elyra's example component catalogs (PyPI packages elyra-examples-kfp-catalog and
# elyra-examples-airflow-catalog, as Elyra users install them) into a cached folder, for the tests
# that resolve real Elyra pipelines against them. Nothing of theirs is imported: mlpipe-lab reads
# their component files.
#
#   scripts/elyra-catalogs.sh        # prints the site-packages folder (last line of stdout)
set -euo pipefail
CACHE_ROOT=${MLPIPE_CACHE_DIR:-${HOME:-/tmp}/.cache/mlpipe-lab}
DEST="$CACHE_ROOT/elyra-catalogs-0.1.0/site-packages"
if [ -f "$DEST/.complete" ]; then echo "$DEST"; exit 0; fi
mkdir -p "$(dirname "$DEST")"
exec 9>"$(dirname "$DEST")/.lock"
flock 9
if [ -f "$DEST/.complete" ]; then echo "$DEST"; exit 0; fi
TMP="$DEST.tmp-$$"
rm -rf "$TMP"
trap 'rm -rf "$TMP"' EXIT
PY=${PYTHON:-python3}
"$PY" -m pip --disable-pip-version-check --no-input -q install --no-deps --no-compile \
  --target "$TMP" elyra-examples-kfp-catalog==0.1.0 elyra-examples-airflow-catalog==0.1.0 \
  2> >(grep -v "^WARNING: Location '.*' is ignored" >&2) >&2
rm -rf "$DEST"
mv "$TMP" "$DEST"
touch "$DEST/.complete"
trap - EXIT
echo "$DEST"
