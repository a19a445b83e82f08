#!/usr/bin/env bash
# The cached MLServer 1.7 + mlserver-mlflow venv (Python 3.11): the Open Inference Protocol (V2)
# peer of the serving contract test and benchmark. Prints its path. See scripts/peer-venv.sh.
exec "$(dirname "${BASH_SOURCE[0]}")/peer-venv.sh" mlserver "$@"
