#!/usr/bin/env bash
# The cached seldon-core 1.19 venv (Python 3.12, numpy<2): the Seldon v1 peer of the serving
# contract test and benchmark. Prints its path. See scripts/peer-venv.sh.
exec "$(dirname "${BASH_SOURCE[0]}")/peer-venv.sh" seldon "$@"
