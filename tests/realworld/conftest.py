"""The real-pipeline tier prints its result table at the end of the run (see corpus.py)."""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

import corpus  # noqa: E402


def pytest_terminal_summary(terminalreporter):
    report = corpus.REPORT
    if not report.get("results"):
        return
    terminalreporter.section("real Elyra pipelines (shared/fixtures/elyra-realworld)")
    terminalreporter.write_line(corpus.table(report["results"], report.get("airflow") or None))
    for line in report.get("timings", []):
        terminalreporter.write_line(line)
