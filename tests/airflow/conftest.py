"""Fixtures for the real-Airflow tests: cached Airflow venvs per version (see harness.py)."""

from __future__ import annotations

import pathlib
import sys

import pytest

_HERE = str(pathlib.Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

import harness  # noqa: E402


@pytest.fixture(scope="session")
def airflow3() -> pathlib.Path:
    """Venv path of Airflow 3.3 (skips loudly if it cannot be built; error if MLPIPE_REQUIRE_AIRFLOW=1)."""
    return harness.require_airflow("3.3")


@pytest.fixture(scope="session")
def airflow2() -> pathlib.Path:
    """Venv path of Airflow 2.10 (skips loudly if it cannot be built; error if MLPIPE_REQUIRE_AIRFLOW=1)."""
    return harness.require_airflow("2.10")


@pytest.fixture(scope="session", params=harness.VERSIONS)
def airflow_version(request) -> str:
    """Parametrises a test over "3.3" and "2.10" (each skipped loudly if its venv is unavailable)."""
    harness.require_airflow(request.param)
    return request.param
