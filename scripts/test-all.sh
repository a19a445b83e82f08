#!/usr/bin/env bash
# Every test tier, in order of speed: Python (model, catalogs, handlers, CLI, compiler, publisher
# against real git and S3 servers), the real-Airflow tier (Airflow 3.3 and 2.10 venvs, built once
# and cached), the serving runtime's contract tests against seldon-core 1.19 and MLServer 1.7 (their
# own cached venvs, scripts/peer-venv.sh), the frontend unit tests and lint, then galata in Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
. .venv/bin/activate
step() { printf '\n==> %s\n' "$*"; }

step "auth check: every REST verb is authenticated"
python scripts/check_auth.py
step "ruff: Python lint and format"
ruff check mlpipe_lab tests benchmarks scripts
ruff format --check mlpipe_lab tests benchmarks scripts
step "pytest (all tiers, real Airflow included)"
MLPIPE_REQUIRE_AIRFLOW=${MLPIPE_REQUIRE_AIRFLOW:-1} MLPIPE_REQUIRE_SELDON=${MLPIPE_REQUIRE_SELDON:-1} \
  pytest -q -rs -p no:cacheprovider
step "jest"
jlpm test
step "lint (eslint, prettier, stylelint)"
jlpm lint:check
step "galata (Chromium)"
scripts/test-ui.sh
