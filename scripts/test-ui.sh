#!/usr/bin/env bash
# galata (Playwright) tests in Debian's Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-chromium.sh
. .venv/bin/activate
cd ui-tests
jlpm install
CI=1 jlpm playwright test "$@"
