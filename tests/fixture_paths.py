"""Where the test data lives (importable from any test module, unlike conftest): this checkout's
own fixtures, and ``shared/`` (real pipelines, CRDs) found beside the checkout or above it."""

from __future__ import annotations

import os
from pathlib import Path

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
EXAMPLES = REPO / "examples"
FIXTURES = TESTS / "fixtures"
ELYRA_FIXTURES = FIXTURES / "elyra"


def _shared() -> Path:
    """``$MLPIPE_SHARED_DIR``, else the first ``shared/`` folder above the checkout (CI lays it out
    beside the clone; engineers' clones under /work/h/NAME reach /work/shared the same way)."""
    explicit = os.environ.get("MLPIPE_SHARED_DIR")
    if explicit:
        return Path(explicit)
    for parent in REPO.parents:
        if (parent / "shared").is_dir():
            return parent / "shared"
    return REPO.parent / "shared"


SHARED = _shared()
REALWORLD = SHARED / "fixtures" / "elyra-realworld"


def load_airflow_harness():
    """tests/airflow/harness.py as the module ``harness``, loaded by path: putting tests/airflow on
    sys.path would let its conftest shadow tests/conftest for other test modules."""
    import importlib.util
    import sys

    if "harness" in sys.modules:
        return sys.modules["harness"]
    spec = importlib.util.spec_from_file_location("harness", TESTS / "airflow" / "harness.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["harness"] = module
    spec.loader.exec_module(module)
    return module
