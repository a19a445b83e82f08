"""Airflow runs behind the runs API: trigger, follow, logs and cancel through Airflow's REST API, and
"has Airflow imported this DAG at this commit" after a publish.

Which commit Airflow imported: Airflow 3 with a GitDagBundle reports it as the DAG's
``bundle_version``. Without one (a DAG folder synced from the repo, Airflow 2) the DAG source Airflow
parsed (``/dagSources``) is compared with the DAG file at that commit in the publisher's clone.

Node ids and labels of tasks come from the pipeline (compiled again: task ids are deterministic)
when its path is known; runs triggered here remember their pipeline in a small index file.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..airflowapi import AirflowAPIError, AirflowClient
from ..errors import MLPipeError as ServiceError
from ..plan.fanout import ITEMS_SUFFIX
from ..plan.model import BRANCH
from .model import (
    awaiting_entry,
    awaiting_gates,
    failure_summary,
    make_run,
    make_task,
    plain_message,
    safe_id,
)

IMPORT_TIMEOUT = (
    300.0  # seconds to wait for Airflow to import a pushed commit (bundle refresh ≤ 300 s)
)
POLL_SECONDS = 2.0
RUNNER_VERDICT = "mlpipe-runner: node '"

_RUN_STATE = {"queued": "queued", "running": "running", "success": "success", "failed": "failed"}
_TASK_STATE = {
    None: "none",
    "none": "none",
    "scheduled": "scheduled",
    "queued": "queued",
    "running": "running",
    "success": "success",
    "failed": "failed",
    "upstream_failed": "upstream_failed",
    "skipped": "skipped",
    "up_for_retry": "up_for_retry",
    "up_for_reschedule": "up_for_retry",
    "restarting": "up_for_retry",
    "deferred": "running",
    "removed": "skipped",
    "awaiting_input": "awaiting_approval",  # Airflow 3.3+: a human-in-the-loop task parked
}
_ITEM_DONE = ("success", "failed", "upstream_failed", "skipped", "removed")


def merge_mapped(tis: list[dict[str, Any]], nodes: dict[str, Any]) -> list[dict[str, Any]]:
    """A fan-out node's mapped task instances (``map_index`` >= 0) as one task with ``items``
    ``{total, success, failed, running}`` and the aggregate state (any failed: failed; else
    any not done: running); its ``<task>__items`` helper task is left out when the plan knows
    the node (docs/control-flow.md)."""
    out: list[dict[str, Any]] = []
    mapped: dict[str, list[dict[str, Any]]] = {}
    for ti in tis:
        task_id = ti.get("task_id") or ""
        if task_id.endswith(ITEMS_SUFFIX) and task_id[: -len(ITEMS_SUFFIX)] in nodes:
            continue
        if isinstance(ti.get("map_index"), int) and ti["map_index"] >= 0:
            if task_id not in mapped:
                mapped[task_id] = []
                out.append({"task_id": task_id})  # its place; filled in below
            mapped[task_id].append(ti)
            continue
        out.append(ti)
    for entry in out:
        items = mapped.get(entry["task_id"])
        if items is None or len(entry) > 1:
            continue
        states = [i.get("state") for i in items]
        failed = sum(s in ("failed", "upstream_failed") for s in states)
        success = states.count("success")
        running = sum(s not in _ITEM_DONE for s in states)
        state = (
            "failed" if failed else "running" if running else "success" if success else "skipped"
        )
        starts = [i["start_date"] for i in items if i.get("start_date")]
        ends = [i["end_date"] for i in items if i.get("end_date")]
        entry.update(
            {
                "state": state,
                "task_display_name": items[0].get("task_display_name"),
                "try_number": max((i.get("try_number") or 0) for i in items),
                "start_date": min(starts) if starts else None,
                "end_date": max(ends) if ends and not running else None,
                "items": {
                    "total": len(items),
                    "success": success,
                    "failed": failed,
                    "running": running,
                },
            }
        )
    return out


def mark_branch_skips(tasks: list[dict[str, Any]], nodes: dict[str, Any]) -> None:
    """Give a skipped task right after a branch ``reason: "branch"``, as local runs do: Airflow
    only says "skipped", but the plan knows the branch was what decided it."""
    branches = {tid for tid, n in nodes.items() if n.get("kind") == BRANCH}
    for task in tasks:
        upstream = nodes.get(task["task_id"], {}).get("upstream", ())
        if task["state"] == "skipped" and branches.intersection(upstream):
            task["reason"] = "branch"


# An approval gate's task (compiler/approval.py): its human-in-the-loop detail says what it asks
# and what was decided (Airflow keeps a rejected gate "success" and skips its downstream).
GATE_OPERATOR = "ApprovalOperator"
GATE_WAITING = ("awaiting_input", "deferred")  # 3.3+, 3.1-3.2
# Airflow 3.3.2 fails a gate answered before its scheduler has handled the end of the process that
# parked it ("task state changed externally"; seen ~4 s after parking on a loaded host): a
# decision waits until the parking attempt started this many seconds ago (docs/approval-gates.md).
GATE_SETTLE_SECONDS = 12.0


def settle_wait(started: Any, now: float, settle: float = GATE_SETTLE_SECONDS) -> float:
    """Seconds a decision should still wait for a gate whose attempt started at ``started``
    (Airflow's ISO time; unknown or unreadable: no wait), ``now`` being ``time.time()``."""
    import datetime as dt

    if not isinstance(started, str) or not started:
        return 0.0
    try:
        moment = dt.datetime.fromisoformat(started.replace("Z", "+00:00"))
    except ValueError:
        return 0.0
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return max(0.0, min(settle, moment.timestamp() + settle - now))


OPTION = {"approve": "Approve", "reject": "Reject"}

_index_lock = threading.Lock()


def _client_for(config: dict[str, Any]) -> AirflowClient:
    airflow = config.get("airflow") or {}
    base = airflow.get("api_endpoint") or ""
    auth = airflow.get("auth") or {"type": "none"}
    version = str(airflow.get("version") or "auto")
    try:
        api = {"3": "v2", "2": "v1"}.get(version) or AirflowClient.detect_api(base, timeout=30.0)
    except AirflowAPIError as exc:
        raise unreachable(base, exc) from None
    kind = auth.get("type", "none")
    if kind == "basic":
        return AirflowClient(base, auth.get("username"), auth.get("password") or "", api=api)
    if kind == "token":
        return AirflowClient(base, None, None, api=api, token=auth.get("token"))
    return AirflowClient(base, None, None, api=api)


def unreachable(base: str, exc: AirflowAPIError) -> ServiceError:
    from ..networds import network_reason

    reason = network_reason(str(exc).split(": ", 1)[-1])
    return ServiceError(
        f"Airflow at {base} cannot be reached: {reason}. Check that it is running and the "
        "runtime configuration's Airflow URL.",
        502,
        field="runtime_config",
    )


class AirflowRuns:
    def __init__(self, name: str, config: dict[str, Any], services: Any):
        self.name = name
        self.config = config  # with secrets: only handed to the client, never returned
        self.services = services
        self.base = (config.get("airflow") or {}).get("api_endpoint", "").rstrip("/")
        self._client: AirflowClient | None = None
        self._lock = threading.Lock()

    # -- the client, with errors in plain words ------------------------------------------------

    @property
    def client(self) -> AirflowClient:
        with self._lock:
            if self._client is None:
                self._client = _client_for(self.config)
            return self._client

    def call(
        self, what: str, fn: Callable[..., Any], *args: Any, missing: str | None = None, **kw: Any
    ) -> Any:
        try:
            return fn(*args, **kw)
        except AirflowAPIError as exc:
            raise self.error(what, exc, missing) from None

    def error(self, what: str, exc: AirflowAPIError, missing: str | None = None) -> ServiceError:
        if exc.status is None:
            return unreachable(self.base, exc)
        if exc.status in (401, 403):
            return ServiceError(
                f"Airflow at {self.base} refused the credentials of runtime configuration "
                f"'{self.name}' (HTTP {exc.status}) while trying to {what}. Check its "
                "Airflow sign-in settings.",
                400,
                field="airflow.auth",
            )
        if exc.status == 404 and missing:
            return ServiceError(missing, 404)
        detail = str(exc).split(": HTTP ", 1)[-1][:400]
        return ServiceError(f"Airflow could not {what}: HTTP {detail}", 502)

    # -- pipeline index (dag id -> pipeline path; runs cancelled from here) ----------------------

    def _index_path(self) -> Path:
        return self.services.catalogs.folder / "runs" / "airflow-index.json"

    def _index(self) -> dict[str, Any]:
        try:
            data = json.loads(self._index_path().read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {}
        return data.get(self.name) or {"pipelines": {}, "cancelled": []}

    def _remember(
        self,
        *,
        dag_id: str | None = None,
        pipeline: str | None = None,
        cancelled: str | None = None,
    ) -> None:
        with _index_lock:
            path = self._index_path()
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                data = {}
            mine = data.setdefault(self.name, {"pipelines": {}, "cancelled": []})
            if dag_id and pipeline:
                mine["pipelines"][dag_id] = pipeline
            if cancelled:
                mine["cancelled"] = (mine["cancelled"] + [cancelled])[-500:]
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
            tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
            os.replace(tmp, path)

    def _tasks_of(
        self, dag_id: str, pipeline: str | None
    ) -> tuple[str | None, dict[str, dict[str, Any]]]:
        """(pipeline path, {task_id: {node_id, label, kind, upstream}}) when the pipeline of the
        DAG is known.
        The plan is made once per content of the file (each poll of a run asks again)."""
        pipeline = pipeline or self._index()["pipelines"].get(dag_id)
        if not pipeline:
            return None, {}
        planned = self.services.pipelines.tasks(pipeline, self.name)
        if planned is None or planned[0] != dag_id:  # moved or changed: what Airflow knows
            return pipeline, {}
        return pipeline, {t["task_id"]: t for t in planned[1]}

    # -- runs --------------------------------------------------------------------------------

    def _link(self, dag_id: str, run_id: str) -> str:
        from urllib.parse import quote

        if self.client.api == "v2":
            return f"{self.base}/dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')}"
        return f"{self.base}/dags/{quote(dag_id, safe='')}/grid?dag_run_id={quote(run_id, safe='')}"

    def _run(
        self,
        dag_id: str,
        dr: dict[str, Any],
        *,
        pipeline: str | None,
        nodes: dict[str, dict[str, str]],
        tis: list[dict[str, Any]] | None,
    ) -> dict[str, Any]:
        run_id = dr.get("dag_run_id") or dr.get("run_id") or ""
        state = _RUN_STATE.get(dr.get("state"), "unknown")
        if state == "failed" and run_id in self._index()["cancelled"]:
            state = "cancelled"
        tasks = []
        for ti in sorted(
            merge_mapped(tis or [], nodes),
            key=lambda t: (t.get("start_date") or "~", t.get("task_id") or ""),
        ):
            known = nodes.get(ti.get("task_id"), {})
            tasks.append(
                make_task(
                    ti.get("task_id") or "",
                    node_id=known.get("node_id"),
                    label=known.get("label") or ti.get("task_display_name"),
                    state=_TASK_STATE.get(ti.get("state"), "none"),
                    try_number=ti.get("try_number") or 0,
                    started=ti.get("start_date"),
                    ended=ti.get("end_date"),
                )
            )
            if "items" in ti:
                tasks[-1]["items"] = ti["items"]
        mark_branch_skips(tasks, nodes)
        links = {"airflow": self._link(dag_id, run_id)}
        if dr.get("bundle_version"):
            links["commit"] = dr["bundle_version"]
        conf = dr.get("conf") if isinstance(dr.get("conf"), dict) else {}
        message = None
        if state == "cancelled":
            message = "The run was cancelled (Airflow marked it failed)."
        elif state == "failed":
            message = failure_summary(tasks) or "The run failed."
        return make_run(
            id=run_id,
            kind="airflow",
            runtime_config=self.name,
            dag_id=dag_id,
            pipeline=pipeline,
            state=state,
            started=dr.get("start_date"),
            ended=dr.get("end_date"),
            params=conf,
            message=message,
            links=links,
            tasks=tasks,
        )

    def list(
        self, dag_id: str, *, limit: int = 50, pipeline: str | None = None
    ) -> list[dict[str, Any]]:
        pipeline, _ = self._tasks_of(dag_id, pipeline)
        runs = self.call(
            f"list the runs of DAG '{dag_id}'",
            self.client.dag_runs,
            dag_id,
            limit,
            missing=f"DAG '{dag_id}' is not in Airflow (not published, or not imported yet).",
        )
        listed = [self._run(dag_id, dr, pipeline=pipeline, nodes={}, tis=None) for dr in runs]
        waiting = self._waiting_gates(
            dag_id, pipeline, [r for r in listed if r["state"] == "running"]
        )
        for run in listed:
            run["awaiting"] = waiting.get(run["id"], [])
        return listed

    def _waiting_gates(
        self, dag_id: str, pipeline: str | None, running: list[dict[str, Any]]
    ) -> dict[str, list[dict[str, Any]]]:
        """{run id: gates waiting for a decision} for the running runs of a list, from one request
        for the DAG's unanswered human-in-the-loop requests (Airflow 3.1+ over REST v2; Airflow 2
        has no gates). An Airflow that cannot answer it leaves the runs without: the list is
        still shown, and GET of one run reads each gate."""
        if not running or self.client.api != "v2":
            return {}
        try:
            details = self.client.waiting_hitl(dag_id, limit=max(100, 2 * len(running)))
        except AirflowAPIError:
            return {}
        wanted = {r["id"] for r in running}
        _, nodes = self._tasks_of(dag_id, pipeline) if details else (None, {})
        out: dict[str, list[dict[str, Any]]] = {}
        for detail in details:
            ti = detail.get("task_instance") if isinstance(detail, dict) else None
            if not isinstance(ti, dict) or ti.get("state") not in GATE_WAITING:
                continue
            run_id, task_id = ti.get("dag_run_id") or ti.get("run_id"), ti.get("task_id")
            if run_id not in wanted or not isinstance(task_id, str):
                continue
            label = (nodes.get(task_id) or {}).get("label") or ti.get("task_display_name")
            out.setdefault(run_id, []).append(awaiting_entry(task_id, label, detail.get("subject")))
        return out

    def get(self, dag_id: str, run_id: str, *, pipeline: str | None = None) -> dict[str, Any]:
        if not safe_id(dag_id) or not safe_id(run_id):
            raise ServiceError("Run not found.", 404)
        missing = f"Airflow has no run '{run_id}' of DAG '{dag_id}'."
        dr = self.call("read the run", self.client.dag_run, dag_id, run_id, missing=missing)
        tis = self.call(
            "read the run's tasks", self.client.task_instances, dag_id, run_id, missing=missing
        )
        pipeline, nodes = self._tasks_of(dag_id, pipeline)
        run = self._run(dag_id, dr, pipeline=pipeline, nodes=nodes, tis=tis)
        gates = {
            ti.get("task_id")
            for ti in tis or []
            if GATE_OPERATOR in (ti.get("operator"), ti.get("operator_name"))
        }
        for task in run["tasks"]:
            if task["task_id"] in gates:
                self._gate(dag_id, run_id, task)
        for task in run["tasks"]:  # why each failed node failed, in its own words
            if task["state"] == "failed" and task["try_number"]:
                line = self._failure_line(dag_id, run_id, task["task_id"], task["try_number"])
                task["message"] = plain_message(line)
        if run["state"] == "failed":
            run["message"] = failure_summary(run["tasks"]) or run["message"]
        run["awaiting"] = awaiting_gates(run["state"], run["tasks"])  # the gates as read above
        return run

    def _gate(self, dag_id: str, run_id: str, task: dict[str, Any]) -> None:
        """An approval gate's state and message from its human-in-the-loop detail: waiting
        (``awaiting_approval`` with its subject), rejected, or approved."""
        if task["state"] not in ("awaiting_approval", "running", "success"):
            return
        try:
            detail = self.client.hitl_detail(dag_id, run_id, task["task_id"])
        except AirflowAPIError:  # not asked yet (no detail), or an Airflow without the API
            return
        chosen = detail.get("chosen_options") or []
        user = detail.get("responded_by_user") or detail.get("responded_by") or {}
        params = detail.get("params_input") or {}
        task["approval"] = {
            "message": detail.get("subject") or "",
            "decision": {"Approve": "approve", "Reject": "reject"}.get(chosen[0])
            if chosen
            else None,
            "comment": params.get("comment") if isinstance(params.get("comment"), str) else None,
            "by": user.get("name") if isinstance(user, dict) else None,
        }
        if not detail.get("response_received"):
            if task["state"] == "running":  # Airflow 3.1-3.2: deferred while it waits
                task["state"] = "awaiting_approval"
            task["message"] = task["approval"]["message"] or None
            return
        decision = task["approval"]["decision"]
        if task["state"] == "success" and decision == "reject":
            task["state"] = "rejected"
        word = "approved" if decision == "approve" else "rejected"
        by = task["approval"]["by"]
        comment = task["approval"]["comment"]
        task["message"] = word + (f" by {by}" if by else "") + (f": {comment}" if comment else "")

    def decide(
        self, dag_id: str, run_id: str, task_id: str, decision: str, comment: str | None
    ) -> dict[str, Any]:
        """Answer the gate's human-in-the-loop request (Airflow 3.1+: REST v2
        ``PATCH .../taskInstances/{task_id}/-1/hitlDetails``); the comment travels as the
        response's ``params_input.comment``."""
        if not all(safe_id(x) for x in (dag_id, run_id, task_id)):
            raise ServiceError(f"Run '{run_id}' has no task '{task_id}'.", 404)
        if self.client.api != "v2":
            raise ServiceError(
                f"Approval gates need Airflow 3.1 or newer; runtime configuration '{self.name}' "
                f"talks to Airflow 2, so task '{task_id}' of run '{run_id}' cannot be one.",
                409,
            )
        missing = f"Airflow has no task '{task_id}' in run '{run_id}' of DAG '{dag_id}'."
        tis = self.call(
            "read the run's tasks", self.client.task_instances, dag_id, run_id, missing=missing
        )
        ti = next((t for t in tis if t.get("task_id") == task_id), None)
        if ti is None:
            raise ServiceError(missing, 404)
        if ti.get("state") not in GATE_WAITING:
            state = _TASK_STATE.get(ti.get("state"), "none")
            raise ServiceError(
                f"Task '{task_id}' of run '{run_id}' is not waiting for approval (it is {state}).",
                409,
            )
        pause = settle_wait(ti.get("start_date"), time.time())
        if pause:  # this runs in the server's worker threads, never on its event loop
            time.sleep(pause)
        try:
            self.client.hitl_respond(
                dag_id,
                run_id,
                task_id,
                [OPTION[decision]],
                {"comment": comment} if comment else {},
            )
        except AirflowAPIError as exc:
            if exc.status == 404:
                raise ServiceError(
                    f"Task '{task_id}' of run '{run_id}' is not an approval gate (Airflow has no "
                    "human-in-the-loop request for it).",
                    409,
                ) from None
            if exc.status == 409:
                raise ServiceError(
                    f"Task '{task_id}' of run '{run_id}' has been decided already.", 409
                ) from None
            if exc.status in (400, 422):
                detail = str(exc).split(": HTTP ", 1)[-1][:300]
                raise ServiceError(
                    f"Airflow refused the decision for task '{task_id}' of run '{run_id}': "
                    f"HTTP {detail}",
                    400,
                ) from None
            raise self.error(f"record the decision for task '{task_id}'", exc) from None
        return self.get(dag_id, run_id)

    def _failure_line(self, dag_id: str, run_id: str, task_id: str, try_number: int) -> str | None:
        try:
            text = self.client.task_log(dag_id, run_id, task_id, try_number)
        except AirflowAPIError:
            return None
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        for line in reversed(lines):
            at = line.find(RUNNER_VERDICT)
            if at >= 0:
                return line[at + len("mlpipe-runner: ") :][:500]
        errors = [ln for ln in lines if "Error" in ln or "ERROR" in ln or "Traceback" in ln]
        return " | ".join((errors or lines)[-3:])[:500] or None

    def logs(
        self, dag_id: str, run_id: str, task_id: str, *, try_number: int | None, offset: int
    ) -> dict[str, Any]:
        if not all(safe_id(x) for x in (dag_id, run_id, task_id)):
            raise ServiceError("Task not found.", 404)
        missing = f"Airflow has no task '{task_id}' in run '{run_id}' of DAG '{dag_id}'."
        tis = self.call(
            "read the run's tasks", self.client.task_instances, dag_id, run_id, missing=missing
        )
        mine = [t for t in tis if t.get("task_id") == task_id]
        if any(isinstance(t.get("map_index"), int) and t["map_index"] >= 0 for t in mine):
            return self._item_logs(dag_id, run_id, task_id, mine, offset, missing)
        ti = next(iter(mine), None)
        if ti is None:
            raise ServiceError(missing, 404)
        tries = int(ti.get("try_number") or 0)
        number = tries if try_number in (None, 0) else try_number
        if number < 1 or number > max(tries, 1):
            raise ServiceError(
                f"Task '{task_id}' has no try {number} (it has {tries}).", 404, field="try_number"
            )
        finished = (
            _TASK_STATE.get(ti.get("state"))
            in ("success", "failed", "upstream_failed", "skipped", "rejected")
            or number < tries
        )
        if tries == 0:
            return {"text": "", "offset": 0, "complete": finished}
        text = self.call(
            "read the task's log",
            self.client.task_log,
            dag_id,
            run_id,
            task_id,
            number,
            missing=missing,
        )
        # offsets count characters of the whole log Airflow returns (it has no byte ranges)
        return {"text": text[offset:], "offset": max(offset, len(text)), "complete": finished}

    def _item_logs(
        self,
        dag_id: str,
        run_id: str,
        task_id: str,
        tis: list[dict[str, Any]],
        offset: int,
        missing: str,
    ) -> dict[str, Any]:
        """A fan-out node's log: each item's latest try, in index order, under a heading (what a
        local run's node log holds)."""
        parts, finished = [], True
        for ti in sorted(tis, key=lambda t: t.get("map_index") or 0):
            state = _TASK_STATE.get(ti.get("state"))
            finished = finished and state in ("success", "failed", "upstream_failed", "skipped")
            tries = int(ti.get("try_number") or 0)
            text = ""
            if tries:
                text = self.call(
                    "read the task's log",
                    self.client.task_log,
                    dag_id,
                    run_id,
                    task_id,
                    tries,
                    int(ti["map_index"]),
                    missing=missing,
                )
            parts.append(f"---- item {ti['map_index']}: {state} ----\n{text}")
        text = "\n".join(parts)
        return {"text": text[offset:], "offset": max(offset, len(text)), "complete": finished}

    def cancel(self, dag_id: str, run_id: str) -> dict[str, Any]:
        run = self.get(dag_id, run_id)
        if run["state"] in ("success", "failed", "cancelled"):
            raise ServiceError(f"Run '{run_id}' has already finished ({run['state']}).", 409)
        self._remember(cancelled=run_id)
        self.call("stop the run", self.client.set_run_state, dag_id, run_id, "failed")
        return self.get(dag_id, run_id)

    def clear(self, dag_id: str, run_id: str, asked: dict[str, list[str]]) -> dict[str, Any]:
        """A partial run on Airflow: clear the chosen tasks of an existing run (``asked``: only /
        from / to, as for local runs), so that Airflow runs them again *in that run*, where the
        tasks not chosen keep their states and their outputs (what the chosen ones receive).
        A task the chosen ones need that did not succeed in that run is cleared too. Returns the
        run, its message saying what was cleared and which earlier outputs are reused."""
        from types import SimpleNamespace

        from ..localrun.partial import SelectionError, select

        run = self.get(dag_id, run_id)
        if run["state"] in ("queued", "running"):
            raise ServiceError(
                f"Run '{run_id}' is still {run['state']}; wait until it ends (or cancel it) "
                "before running part of it again.",
                409,
            )
        tasks = self.call("read the DAG's tasks", self.client.dag_tasks, dag_id)
        upstream: dict[str, list[str]] = {t["task_id"]: [] for t in tasks if t.get("task_id")}
        for t in tasks:
            for down in t.get("downstream_task_ids") or []:
                if down in upstream:
                    upstream[down].append(t["task_id"])
        nodes = {t["task_id"]: t for t in run["tasks"]}
        order = [t["task_id"] for t in run["tasks"] if t["task_id"] in upstream]
        order += [tid for tid in upstream if tid not in order]
        plan = SimpleNamespace(
            pipeline=run.get("pipeline") or dag_id,
            tasks=[
                SimpleNamespace(
                    task_id=tid,
                    node_id=(nodes.get(tid) or {}).get("node_id"),
                    label=(nodes.get(tid) or {}).get("label"),
                    upstream=upstream[tid],
                )
                for tid in order
            ],
        )
        try:
            selection = select(
                plan, only=asked.get("only"), start=asked.get("from"), end=asked.get("to")
            )
        except SelectionError as exc:
            field = next((n for n in asked if f"{n}:" in str(exc)), next(iter(asked), None))
            raise ServiceError(str(exc), 400, field=field) from None
        if selection is None:
            raise ServiceError("Choose the tasks to run again (only, from or to).", 400)
        # A fan-out's `<task>__items` follows its node: cleared whenever the node is, so the
        # list is read again (its source may run again in this clear; reading it is cheap) and
        # Airflow maps the node over that list. Clearing the node by task id clears every
        # mapped instance.
        items_of = {t + ITEMS_SUFFIX: t for t in upstream if t + ITEMS_SUFFIX in upstream}
        state = {tid: (nodes.get(tid) or {}).get("state") for tid in upstream}
        needed = [t for t in selection.needed if t not in items_of]
        reused = [t for t in needed if state.get(t) == "success"]
        redo = [t for t in needed if state.get(t) != "success"]
        chosen = {t for t in selection.selected if t not in items_of} | set(redo)
        cleared = [t for t in order if t in chosen or items_of.get(t) in chosen]
        self.call("clear the chosen tasks", self.client.clear_tasks, dag_id, run_id, cleared)
        after = self.get(dag_id, run_id)
        shown = [t for t in cleared if t not in items_of]
        words = f"Cleared {', '.join(shown)}: Airflow runs them again in run '{run_id}'."
        fanned = [t for t in shown if t + ITEMS_SUFFIX in items_of]
        if fanned:
            words += f" The items of {', '.join(fanned)} are read again."
        if reused:
            words += f" Outputs of {', '.join(reused)} from this run are reused."
        if redo:
            words += f" {', '.join(redo)} had not succeeded in this run, so they run again too."
        after["message"] = words
        return after

    # -- publish, import, trigger --------------------------------------------------------------

    def expected_source(self, dag_id: str, commit: str) -> str | None:
        """The DAG file at ``commit`` from the publisher's clone (None when not there)."""
        from ..publish import cache_dir_for
        from ..publish.gitrepo import GitDagRepo

        repo = self.config.get("dag_repo") or {}
        try:
            git = GitDagRepo(
                repo.get("url", ""),
                cache_dir=cache_dir_for(self.services.catalogs.folder),
                branch=repo.get("branch") or "main",
                subfolder=repo.get("subfolder", "dags"),
            )
            path = git.path_for(dag_id)
        except Exception:
            return None
        proc = subprocess.run(
            ["git", "-C", str(git.clone_dir), "show", f"{commit}:{path}"],
            capture_output=True,
            text=True,
            timeout=30,
            env={**os.environ, "GIT_TERMINAL_PROMPT": "0"},
        )
        return proc.stdout if proc.returncode == 0 else None

    def import_status(self, dag_id: str, commit: str | None) -> dict[str, Any]:
        """One look: "imported" (at ``commit`` when given), "import_error" or "waiting"."""
        errors = self.call("read import errors", self.client.import_errors, filename_pattern=dag_id)
        mine = [
            {
                "filename": e.get("filename") or "",
                "message": (e.get("stack_trace") or "").strip()[-4000:],
            }
            for e in errors
            if os.path.basename(e.get("filename") or "") == f"{dag_id}.py"
        ]
        if mine:
            return {
                "state": "import_error",
                "commit": commit,
                "errors": mine,
                "message": f"Airflow cannot import {mine[0]['filename']}: "
                f"{mine[0]['message'].splitlines()[-1] if mine[0]['message'] else 'see its log'}",
            }
        try:
            dag = self.client.get_dag(dag_id)
        except AirflowAPIError as exc:
            if exc.status == 404:
                return {
                    "state": "waiting",
                    "commit": commit,
                    "errors": [],
                    "message": f"Airflow has not imported DAG '{dag_id}' yet.",
                }
            raise self.error("read the DAG", exc) from None
        if not commit:
            return {"state": "imported", "commit": dag.get("bundle_version"), "errors": []}
        version = dag.get("bundle_version")
        if version:
            if version.startswith(commit) or commit.startswith(version):
                return {"state": "imported", "commit": version, "errors": []}
            return {
                "state": "waiting",
                "commit": commit,
                "errors": [],
                "message": f"Airflow still has DAG '{dag_id}' at commit {version[:12]}, not {commit[:12]}.",
            }
        expected = self.expected_source(dag_id, commit)
        if expected is None:
            return {
                "state": "waiting",
                "commit": commit,
                "errors": [],
                "message": f"Commit {commit[:12]} is not in the local clone of the DAG repository; cannot "
                "compare it with what Airflow parsed.",
            }
        source = self.call("read the DAG's source", self.client.dag_source, dag)
        if source.strip() == expected.strip():
            return {"state": "imported", "commit": commit, "errors": []}
        return {
            "state": "waiting",
            "commit": commit,
            "errors": [],
            "message": f"Airflow has not parsed DAG '{dag_id}' as of commit {commit[:12]} yet.",
        }

    def wait_imported(
        self,
        dag_id: str,
        commit: str | None,
        timeout: float = IMPORT_TIMEOUT,
        on_poll: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            status = self.import_status(dag_id, commit)
            if on_poll:
                on_poll(status)
            if status["state"] == "imported":
                return status
            if status["state"] == "import_error":
                raise ServiceError(
                    status["message"] + "\n" + status["errors"][0]["message"][-1500:],
                    422,
                    field="dag",
                )
            if time.monotonic() > deadline:
                path = f"{(self.config.get('dag_repo') or {}).get('subfolder', 'dags')}/{dag_id}.py"
                at = f" at commit {commit}" if commit else ""
                raise ServiceError(
                    f"Airflow did not import {path}{at} within {timeout:g} s "
                    f"({status.get('message') or 'still waiting'}). Check that Airflow reads "
                    "this repository and branch, and its DAG processor.",
                    504,
                )
            time.sleep(POLL_SECONDS)

    def trigger(
        self, dag_id: str, params: dict[str, Any], *, pipeline: str | None
    ) -> dict[str, Any]:
        dag = self.call(
            "read the DAG",
            self.client.get_dag,
            dag_id,
            missing=f"DAG '{dag_id}' is not in Airflow: publish it first (or wait until "
            "Airflow has imported it).",
        )
        if dag.get("has_import_errors"):
            status = self.import_status(dag_id, None)
            if status["state"] == "import_error":
                raise ServiceError(status["message"], 409, field="dag")
        if dag.get("is_paused"):
            self.call("unpause the DAG", self.client.unpause, dag_id)
        dr = self.call("trigger the DAG", self.client.trigger, dag_id, params)
        if pipeline:
            self._remember(dag_id=dag_id, pipeline=pipeline)
        _, nodes = self._tasks_of(dag_id, pipeline)
        return self._run(dag_id, dr, pipeline=pipeline, nodes=nodes, tis=[])

    def start(self, runs: Any, body: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        """``POST runs`` for Airflow: [publish, wait for the import of the pushed commit,] trigger."""
        path, dag_id, pipeline = body.get("path"), body.get("dag_id"), None
        timeout = body.get("import_timeout", IMPORT_TIMEOUT)
        if (
            not isinstance(timeout, (int, float))
            or isinstance(timeout, bool)
            or not 0 < timeout <= 3600
        ):
            raise ServiceError(
                "'import_timeout' must be a number of seconds (at most 3600).",
                400,
                field="import_timeout",
            )
        if path:
            if body.get("content") is not None:
                raise ServiceError(
                    "Save the pipeline before running it on Airflow (it runs what was published).",
                    400,
                    field="content",
                )
            pipeline = self.services.workspace.relative(self.services.workspace.resolve(path))
            # the file's own problems stop a run; what the published DAG needs was checked when
            # it was published (a publish below plans it: once, by exporting)
            publish = bool(body.get("publish"))
            file, checked = self.services.pipelines.check(path, None, self.name, not publish)
            if checked.pipeline is None or any(p.severity == "error" for p in checked.structural):
                raise ServiceError(
                    f"Pipeline '{path}' has errors; fix them before running.",
                    422,
                    problems=[p for p in checked.structural if p.severity == "error"],
                )
            params = runs.resolve_params(path, checked.pipeline, params)
            if checked.plan is not None:
                dag_id = checked.plan.dag_id
        elif not safe_id(dag_id):
            raise ServiceError("Give the pipeline path (or the DAG id) to run.", 400, field="path")
        commit = None
        if body.get("publish"):
            if not path:
                raise ServiceError("Publishing needs the pipeline path.", 400, field="path")
            published = self.services.publishing.submit(path, self.name)
            dag_id, commit = published["dag_id"], published.get("commit")
            self._remember(dag_id=dag_id, pipeline=pipeline)
            self.wait_imported(dag_id, commit, timeout=float(timeout))
        run = self.trigger(dag_id, params, pipeline=pipeline)
        if commit:
            run["links"].setdefault("commit", commit)
        return run
