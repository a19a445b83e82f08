"""Runs of pipelines, local or on Airflow, in one shape: start, list, follow, logs, cancel.

:class:`RunsService` is what the REST handlers and the CLI use; :mod:`.local` runs pipelines on
this machine in background threads, :mod:`.airflow` follows runs through Airflow's REST API.
"""

from __future__ import annotations

from .service import RunsService

__all__ = ["RunsService"]
