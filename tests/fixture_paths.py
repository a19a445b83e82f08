"""Where the test data lives (importable from any test module, unlike conftest)."""

from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"
ELYRA_FIXTURES = FIXTURES / "elyra"
