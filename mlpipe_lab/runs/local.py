"""Local runs behind the runs API: each one a background thread running the localrun engine.

What a run looks like is always read back from its record folder (``run.json``, ``events.jsonl``,
``result.json`` under ``<artifacts>/<dag_id>/runs/<run_id>/_mlpipe_local``), so a run started
here, one started by ``mlpipe run`` in a terminal and one left over from before a server restart
are shown the same way. Memory only holds what the folder cannot: the cancel switch of runs this
process started, and runs whose folder does not exist yet (the export before the first event).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ServiceError
from .model import (
    awaiting_gates,
    failure_summary,
    make_run,
    make_task,
    plain_message,
    safe_id,
)

RECORD = "_mlpipe_local"  # = localrun.run.RECORD (not imported: that module is heavy)
LOG_CHUNK = 256 * 1024  # bytes of log per request; the UI asks again from the returned offset

# localrun's words -> the contract's
_RUN_STATE = {
    "running": "running",
    "succeeded": "success",
    "failed": "failed",
    "cancelled": "cancelled",
}
_TASK_STATE = {
    "queued": "queued",
    "running": "running",
    "succeeded": "success",
    "cached": "cached",  # finished at once: an earlier run's results reused (step caching)
    "failed": "failed",
    "cancelled": "cancelled",
    "skipped": "skipped",
    "awaiting_approval": "awaiting_approval",  # an approval gate waiting for a decision
    "rejected": "rejected",
}
DECIDED_WAIT_SECONDS = 3.0  # how long decide() waits to show the gate decided


@dataclass
class _Active:
    """A run this process started: its cancel switch, and what to show before its folder exists."""

    run_id: str
    dag_id: str
    run_dir: Path
    runtime_config: str
    pipeline: str | None
    params: dict[str, Any]
    tasks: list[dict[str, Any]]
    cancel: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    error: str | None = None
    started: str | None = None

    @property
    def alive(self) -> bool:
        return self.thread is not None and self.thread.is_alive()


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _read_events(path: Path) -> list[dict[str, Any]]:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    events = []
    for line in lines:
        try:  # the last line may be half written
            events.append(json.loads(line))
        except ValueError:
            continue
    return events


def _pid_alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class LocalRuns:
    def __init__(self, *, max_parallel: int = 2):
        self.max_parallel = max_parallel
        self._active: dict[str, _Active] = {}
        self._lock = threading.Lock()

    # -- starting ----------------------------------------------------------------------------

    def start(
        self,
        *,
        file: Path,
        text: str | None,
        params: dict[str, Any],
        runtime_config: str,
        artifacts_root: Path,
        dag_id: str,
        pipeline: str | None,
        tasks: list[dict[str, Any]],
        images: list[dict[str, Any]],
        python: str | None = None,
        env: dict[str, str] | None = None,
        root: Path | None = None,
        cache: bool = True,
        partial: dict[str, list[str]] | None = None,
    ) -> dict[str, Any]:
        """Start the run in a thread and return it as it is now (queued). ``root``: the project
        root, below which the pipeline may use files."""
        from ..localrun.run import iso, new_run_id, utc_now

        run_id = new_run_id()
        active = _Active(
            run_id=run_id,
            dag_id=dag_id,
            run_dir=artifacts_root / dag_id / "runs" / run_id,
            runtime_config=runtime_config,
            pipeline=pipeline,
            params=dict(params),
            tasks=[
                make_task(t["task_id"], node_id=t.get("node_id"), label=t.get("label"))
                for t in tasks
            ],
            started=iso(utc_now()),
        )

        def work() -> None:
            from ..localrun.run import run_pipeline

            try:
                run_pipeline(
                    file,
                    text=text,
                    params=params,
                    artifacts_root=artifacts_root,
                    run_id=run_id,
                    max_parallel=self.max_parallel,
                    cancel_event=active.cancel,
                    images=images,
                    python=python,
                    env=env,
                    meta={"kind": "local", "runtime_config": runtime_config, "source": pipeline},
                    project_root=root,
                    cache=cache,
                    only=(partial or {}).get("only"),
                    start=(partial or {}).get("from"),
                    end=(partial or {}).get("to"),
                )
            except Exception as exc:  # shown as the run's message: the request has long returned
                active.error = getattr(exc, "message", None) or str(exc) or type(exc).__name__
                problems = getattr(exc, "problems", None)
                if problems:
                    active.error = "; ".join(p.describe() for p in problems[:5])

        active.thread = threading.Thread(
            target=work, name=f"mlpipe-local-run-{run_id}", daemon=True
        )
        with self._lock:
            self._active[run_id] = active
        active.thread.start()
        return self._pending(active)

    def _pending(self, active: _Active) -> dict[str, Any]:
        state, message, ended = "queued", None, None
        if active.error:
            state, message, ended = (
                "failed",
                f"The run could not start: {active.error}",
                active.started,
            )
        elif active.cancel.is_set():
            state = "cancelled"
        return make_run(
            id=active.run_id,
            kind="local",
            runtime_config=active.runtime_config,
            dag_id=active.dag_id,
            pipeline=active.pipeline,
            state=state,
            started=active.started,
            ended=ended,
            params=active.params,
            message=message,
            links={"artifacts": str(active.run_dir)},
            tasks=active.tasks,
        )

    # -- reading records ---------------------------------------------------------------------

    def read(
        self,
        run_dir: Path,
        *,
        runtime_config: str,
        display: Callable[[str], str | None],
        with_tasks: bool = True,
    ) -> dict[str, Any] | None:
        """The run recorded in ``run_dir`` (None when there is none)."""
        record = run_dir / RECORD
        active = self._active.get(run_dir.name)
        if active is not None and active.run_dir != run_dir:
            active = None
        info = _read_json(record / "run.json")
        result = _read_json(record / "result.json")
        if info is None and result is None:
            return self._pending(active) if active is not None else None
        info = info or {}
        result = result or {}
        events = _read_events(record / "events.jsonl")
        tasks: dict[str, dict[str, Any]] = {}
        state = "queued"
        ended = result.get("finished_at")
        for e in events:
            if e.get("event") == "run":
                state = _RUN_STATE.get(e.get("status"), "unknown")
                if state != "running":
                    ended = e.get("time")
            elif e.get("event") == "node" and isinstance(e.get("task_id"), str):
                t = tasks.setdefault(
                    e["task_id"],
                    make_task(e["task_id"], node_id=e.get("node_id"), label=e.get("label")),
                )
                status = e.get("status")
                t["state"] = _TASK_STATE.get(status, "none")
                if status == "skipped" and e.get("reason") == "upstream_failed":
                    t["state"] = "upstream_failed"
                if status == "skipped" and e.get("reason") == "branch":  # a branch chose others
                    t["reason"] = "branch"
                if isinstance(e.get("items"), dict):  # a fan-out node: its items' counts
                    t["items"] = e["items"]
                if status == "running" and t.get("started"):
                    pass  # a fan-out node says "running" again as its items go on
                elif status in ("running", "awaiting_approval"):
                    t["started"], t["try_number"] = e.get("time"), 1
                    t["pid"] = e.get("pid")
                elif status in ("succeeded", "failed", "cancelled", "skipped", "rejected"):
                    t["ended"] = e.get("time")
                elif status == "cached":
                    t["started"] = t["ended"] = e.get("time")
                t["message"] = plain_message(e.get("message"))
                if status == "awaiting_approval":  # a gate: what it asks, until when
                    t["approval"] = {**(e.get("approval") or {}), "decision": None}
                elif "approval" in t and e.get("decision"):
                    t["approval"].update(
                        {k: e.get(k) for k in ("decision", "comment", "by", "timed_out")}
                    )
        if not events and result.get("nodes"):  # a record from before events were kept
            for n in result["nodes"]:
                tasks[n["task_id"]] = make_task(
                    n["task_id"],
                    node_id=n.get("node_id"),
                    label=n.get("label"),
                    state=_TASK_STATE.get(n.get("status"), "none"),
                    try_number=1 if n.get("started_at") else 0,
                    started=n.get("started_at"),
                    ended=n.get("finished_at"),
                    message=n.get("message"),
                )
        if result.get("status"):
            state = _RUN_STATE.get(result["status"], "unknown")
        message = None
        if state in ("queued", "running"):
            in_this_process = active is not None and active.alive
            elsewhere = info.get("pid") != os.getpid() and _pid_alive(info.get("pid"))
            if not (in_this_process or elsewhere):
                state = "unknown"
                message = (
                    "The process running this run stopped before it finished (for example the "
                    "server was restarted); its nodes' last known states are shown."
                )
        for t in tasks.values():
            t.pop("pid", None)
        task_list = list(tasks.values())
        if state == "failed":
            message = failure_summary(task_list) or "The run failed."
        elif state == "cancelled":
            message = "The run was cancelled."
        pipeline = info.get("pipeline") or result.get("pipeline")
        return make_run(
            id=run_dir.name,
            kind="local",
            runtime_config=info.get("runtime_config") or runtime_config,
            dag_id=info.get("dag_id") or result.get("dag_id") or run_dir.parent.parent.name,
            pipeline=display(pipeline) if pipeline else None,
            state=state,
            started=info.get("started_at") or result.get("started_at"),
            ended=ended,
            params=info.get("params") or result.get("params") or {},
            message=message,
            links={"artifacts": str(run_dir)},
            tasks=task_list if with_tasks else [],
            # a listing carries no tasks, but which gates wait (read from these same events)
            awaiting=awaiting_gates(state, task_list),
        )

    def run_dir(self, root: Path, dag_id: str, run_id: str) -> Path:
        if not safe_id(dag_id) or not safe_id(run_id):
            raise ServiceError("Run not found.", 404)
        return root / dag_id / "runs" / run_id

    def get(
        self,
        root: Path,
        dag_id: str,
        run_id: str,
        *,
        runtime_config: str,
        display: Callable[[str], str | None],
    ) -> dict[str, Any]:
        run = self.read(
            self.run_dir(root, dag_id, run_id), runtime_config=runtime_config, display=display
        )
        if run is None:
            raise ServiceError(
                f"No local run '{run_id}' of DAG '{dag_id}' in runtime configuration "
                f"'{runtime_config}'.",
                404,
            )
        return run

    def list(
        self,
        roots: list[tuple[str, Path]],
        *,
        display: Callable[[str], str | None],
        dag_id: str | None = None,
        limit: int = 50,
        match: Callable[[dict[str, Any]], bool] | None = None,
    ) -> list[dict[str, Any]]:
        """The newest ``limit`` runs (that ``match``) under the artifacts folders ``(runtime config,
        folder)``. Run ids start with their UTC start time, so only that many records are read."""
        if dag_id and not safe_id(dag_id):
            return []
        seen: set[Path] = set()
        candidates: list[tuple[str, Path, str, Path]] = []
        pending: dict[tuple[Path, str, str], dict[str, Any]] = {}  # (root, DAG id, run id) -> run
        for name, root in roots:
            root = root.resolve()
            if root in seen:
                continue
            seen.add(root)
            # started, folder not written yet (the artifacts folder itself may not exist yet either)
            with self._lock:
                starting = [
                    a
                    for a in self._active.values()
                    if a.run_dir.parent.parent.parent.resolve() == root
                    and not a.run_dir.exists()
                    and (not dag_id or a.dag_id == dag_id)
                ]
            for a in starting:
                pending[(root, a.dag_id, a.run_dir.name)] = {**self._pending(a), "tasks": []}
            if root.is_dir():
                for run_dir in root.glob(f"{dag_id}/runs/*" if dag_id else "*/runs/*"):
                    candidates.append((run_dir.name, run_dir, name, root))
        runs: list[dict[str, Any]] = []
        for run_id, run_dir, name, root in sorted(candidates, key=lambda c: c[0], reverse=True):
            if len(runs) >= limit:
                break
            run = self.read(run_dir, runtime_config=name, display=display, with_tasks=False)
            if run is not None:
                # A run whose folder appeared since it was seen starting is listed once, from the folder.
                pending.pop((root, run_dir.parent.parent.name, run_id), None)
                if match is None or match(run):
                    runs.append(run)
        runs += [r for r in pending.values() if match is None or match(r)]
        runs.sort(key=lambda r: (r["started"] or "", r["id"]), reverse=True)
        return runs[:limit]

    # -- logs and cancel ---------------------------------------------------------------------

    def logs(
        self,
        root: Path,
        dag_id: str,
        run_id: str,
        task_id: str,
        *,
        offset: int,
        runtime_config: str,
        display: Callable[[str], str | None],
    ) -> dict[str, Any]:
        run = self.get(root, dag_id, run_id, runtime_config=runtime_config, display=display)
        task = next((t for t in run["tasks"] if t["task_id"] == task_id), None)
        if task is None or not safe_id(task_id):
            raise ServiceError(f"Run '{run_id}' has no task '{task_id}'.", 404)
        path = self.run_dir(root, dag_id, run_id) / RECORD / "logs" / f"{task_id}.log"
        finished = task["state"] in (
            "success",
            "cached",
            "failed",
            "cancelled",
            "skipped",
            "upstream_failed",
            "rejected",
        ) or run["state"] in ("success", "failed", "cancelled", "unknown")
        try:
            with open(path, "rb") as fh:
                fh.seek(offset)
                data = fh.read(LOG_CHUNK)
                more = bool(fh.read(1))
        except FileNotFoundError:
            return {"text": "", "offset": offset, "complete": finished}
        # never split a UTF-8 character between two answers
        cut = len(data)
        if more or not finished:
            while cut > 0 and cut > len(data) - 4 and (data[cut - 1] & 0xC0) == 0x80:
                cut -= 1
            if cut > 0 and data[cut - 1] >= 0xC0:
                cut -= 1
        text = data[:cut].decode("utf-8", errors="replace")
        return {"text": text, "offset": offset + cut, "complete": finished and not more}

    def cancel(
        self,
        root: Path,
        dag_id: str,
        run_id: str,
        *,
        runtime_config: str,
        display: Callable[[str], str | None],
    ) -> dict[str, Any]:
        run = self.get(root, dag_id, run_id, runtime_config=runtime_config, display=display)
        if run["state"] in ("success", "failed", "cancelled"):
            raise ServiceError(f"Run '{run_id}' has already finished ({run['state']}).", 409)
        active = self._active.get(run_id)
        if active is None or not active.alive:
            raise ServiceError(
                f"Run '{run_id}' was not started by this server (it runs in another process, "
                "e.g. `mlpipe run` in a terminal: stop it there with Ctrl-C).",
                409,
            )
        active.cancel.set()
        active.thread.join(timeout=15)  # the engine stops its nodes: SIGTERM, then SIGKILL
        return self.get(root, dag_id, run_id, runtime_config=runtime_config, display=display)

    def decide(
        self,
        root: Path,
        dag_id: str,
        run_id: str,
        task_id: str,
        decision: str,
        comment: str | None,
        *,
        by: str | None,
        runtime_config: str,
        display: Callable[[str], str | None],
    ) -> dict[str, Any]:
        """Write the gate's decision file (once: a second decision is a conflict) and return the
        run as soon as the engine has seen it (or after DECIDED_WAIT_SECONDS)."""
        from ..localrun.run import write_decision

        run = self.get(root, dag_id, run_id, runtime_config=runtime_config, display=display)
        task = next((t for t in run["tasks"] if t["task_id"] == task_id), None)
        if task is None:
            raise ServiceError(f"Run '{run_id}' has no task '{task_id}'.", 404)
        if task["state"] != "awaiting_approval":
            raise ServiceError(
                f"Task '{task_id}' of run '{run_id}' is not waiting for approval "
                f"(it is {task['state']}).",
                409,
            )
        if run["state"] != "running":
            raise ServiceError(
                f"Run '{run_id}' is not running any more ({run['state']}): nobody waits for the "
                f"decision of task '{task_id}'.",
                409,
            )
        record = self.run_dir(root, dag_id, run_id) / RECORD
        try:
            write_decision(record, task_id, decision, comment, by)
        except FileExistsError:
            raise ServiceError(
                f"Task '{task_id}' of run '{run_id}' has been decided already.", 409
            ) from None
        except OSError as exc:
            raise ServiceError(
                f"Cannot record the decision for task '{task_id}' of run '{run_id}': "
                f"{exc.strerror or exc}.",
                409,
            ) from None
        deadline = time.monotonic() + DECIDED_WAIT_SECONDS
        while True:
            run = self.get(root, dag_id, run_id, runtime_config=runtime_config, display=display)
            state = next((t["state"] for t in run["tasks"] if t["task_id"] == task_id), None)
            if state != "awaiting_approval" or time.monotonic() > deadline:
                return run
            time.sleep(0.1)

    def wait(self, run_id: str, timeout: float | None = None) -> None:
        """For tests and the CLI: until the thread of a run started here ends."""
        active = self._active.get(run_id)
        if active is not None and active.thread is not None:
            active.thread.join(timeout)
