"""The one shape of a run and its tasks (see ``/mlpipe-lab/runs`` in openapi.yaml), whether it ran
on this machine or on Airflow, and the state words both sides are mapped to."""

from __future__ import annotations

import re
from typing import Any

RUN_STATES = ("queued", "running", "success", "failed", "cancelled", "unknown")
TASK_STATES = (
    "none",
    "scheduled",
    "queued",
    "running",
    "success",
    "cached",
    "failed",
    "upstream_failed",
    "skipped",
    "up_for_retry",
    "cancelled",
    "awaiting_approval",  # an approval gate waiting for a decision
    "rejected",  # an approval gate that was rejected (its downstream is skipped)
)
RUN_DONE = ("success", "failed", "cancelled")
TASK_DONE = ("success", "cached", "failed", "upstream_failed", "skipped", "cancelled", "rejected")

# The runner's verdict starts with "node '<task>' failed: "; the task is named already.
_VERDICT_PREFIX = re.compile(r"^node '[^']*' failed: ")

# Ids that travel in URL segments and name folders: never a path.
_SAFE_ID = re.compile(r"^[A-Za-z0-9_.:+~-]{1,250}$")


def safe_id(value: Any) -> bool:
    return isinstance(value, str) and bool(_SAFE_ID.match(value)) and value not in (".", "..")


def make_task(
    task_id: str,
    *,
    node_id: str | None = None,
    label: str | None = None,
    state: str = "none",
    try_number: int = 0,
    started: str | None = None,
    ended: str | None = None,
    message: str | None = None,
) -> dict[str, Any]:
    return {
        "task_id": task_id,
        "node_id": node_id or None,
        "label": label or None,
        "state": state,
        "try_number": int(try_number or 0),
        "started": started,
        "ended": ended,
        "message": plain_message(message),
    }


def plain_message(message: str | None) -> str | None:
    return _VERDICT_PREFIX.sub("", message) if message else None


def make_run(
    *,
    id: str,
    kind: str,
    runtime_config: str,
    dag_id: str,
    pipeline: str | None,
    state: str,
    started: str | None = None,
    ended: str | None = None,
    params: dict[str, Any] | None = None,
    message: str | None = None,
    links: dict[str, str] | None = None,
    tasks: list[dict[str, Any]] | None = None,
    awaiting: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """``awaiting``: the gates waiting for a decision (``awaiting_gates``); by default read from
    ``tasks``, given separately where a listing carries no tasks."""
    return {
        "id": id,
        "kind": kind,
        "runtime_config": runtime_config,
        "dag_id": dag_id,
        "pipeline": pipeline,
        "state": state,
        "started": started,
        "ended": ended,
        "params": dict(params or {}),
        "message": message or None,
        "links": dict(links or {}),
        "tasks": list(tasks or []),
        "awaiting": list(awaiting if awaiting is not None else awaiting_gates(state, tasks or [])),
    }


def awaiting_gates(run_state: str, tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``[{task_id, label, message}]`` for each approval gate of a running run that waits for a
    decision (a run that is no longer running has nobody to answer it: none)."""
    if run_state != "running":
        return []
    return [
        awaiting_entry(t["task_id"], t.get("label"), (t.get("approval") or {}).get("message"))
        for t in tasks
        if t.get("state") == "awaiting_approval"
    ]


def awaiting_entry(task_id: str, label: str | None, message: str | None) -> dict[str, Any]:
    return {"task_id": task_id, "label": label or task_id, "message": message or None}


def failure_summary(tasks: list[dict[str, Any]]) -> str | None:
    """``Node 'Train' (train) failed: <why>`` for each failed task, or None."""
    parts = []
    for t in tasks:
        if t["state"] == "failed":
            name = (
                f"'{t['label']}' ({t['task_id']})"
                if t.get("label") and t["label"] != t["task_id"]
                else f"'{t['task_id']}'"
            )
            parts.append(f"Node {name} failed" + (f": {t['message']}" if t.get("message") else "."))
    return "\n".join(parts) or None
