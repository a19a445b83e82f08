"""Local runs: a pipeline executed on this machine, node by node, by the same runner pods use.

:func:`run_pipeline` exports the pipeline offline for the ``local`` store (a DAG file, kept as a
record, and node bundles) and executes the tasks of the plan the DAG was rendered from: each
task's command with the run's values filled in (run id, parameters), started as
``<python> -m mlpipe_lab.runner ... --store local --root <artifacts>``.
Outputs travel between nodes through the artifacts folder exactly as they do through S3 in a
cluster. Independent branches run in parallel (at most ``max_parallel`` nodes at once); trigger
rules decide what runs after a failure; a cancel stops running nodes and cancels the rest.

Folder of a run (``<artifacts>/<dag_id>/runs/<run_id>/``, the run prefix the runner writes to)::

    <task>/                    the runner's files: outputs/, manifest.json, <task>.log, notebooks
    _mlpipe_local/dag.py       the DAG the run was made from, and its node bundles
    _mlpipe_local/logs/<task>.log   everything the node's runner printed (written live)
    _mlpipe_local/run.json     who started the run, with what (written when it starts)
    _mlpipe_local/events.jsonl one status event per line
    _mlpipe_local/result.json  the final RunResult
    _mlpipe_local/decisions/<task>.json  an approval gate's decision (the runs service writes it)

An approval gate runs no process: it is ``awaiting_approval`` until its decision file appears
(approve: success and its downstream runs; reject: ``rejected`` and the tasks right after it are
skipped, as Airflow's ApprovalOperator does), its timeout passes (``on_timeout`` decides) or the
run is cancelled. Its waiter sleeps between looks at the file, so it neither burns a core nor holds
a slot of ``max_parallel``.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import queue
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import MLPipeError
from ..plan.model import APPROVAL, APPROVE, BRANCH, Plan, Task
from ..plan.values import ItemCount, Join, local_resolver, resolve
from .params import resolve_params

RECORD = "_mlpipe_local"
STATUSES = (
    "queued",
    "running",
    "awaiting_approval",
    "succeeded",
    "cached",
    "failed",
    "skipped",
    "rejected",
    "cancelled",
)
TERMINAL = ("succeeded", "cached", "failed", "skipped", "rejected", "cancelled")
DECISIONS = "decisions"  # <record>/decisions/<task id>.json: a gate's decision
DECISION_POLL_SECONDS = 0.2  # how often a waiting gate looks for its decision file
RUN_STATUSES = ("running", "succeeded", "failed", "cancelled")
RESULT_PREFIX = "mlpipe-runner: "
TRIGGER_RULES = (
    "all_success",
    "all_failed",
    "all_done",
    "all_skipped",
    "one_success",
    "one_failed",
    "one_done",
    "none_failed",
    "none_failed_min_one_success",
    "none_skipped",
    "always",
)

Event = dict[str, Any]


class LocalRunError(MLPipeError, ValueError):
    """The run cannot start (bad parameters, an unusable plan, a bad folder): a message to show."""


def utc_now() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


def iso(moment: _dt.datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_run_id(now: _dt.datetime | None = None) -> str:
    """``local__<UTC timestamp>__<6 random hex digits>``, e.g. ``local__20250102T030405Z__a1b2c3``."""
    moment = now or utc_now()
    return f"local__{moment.strftime('%Y%m%dT%H%M%SZ')}__{secrets.token_hex(3)}"


@dataclass
class NodeResult:
    task_id: str
    node_id: str
    label: str
    kind: str
    file: str
    upstream: list[str]
    trigger_rule: str
    status: str = "queued"
    queued_at: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    exit_code: int | None = None
    message: str = ""
    log: str = ""  # the runner's whole output, written while it runs
    folder: str = ""  # the node's files in the run folder (outputs, manifest, executed notebook)
    notebook: str | None = None
    html: str | None = None
    outputs: list[str] = field(default_factory=list)  # the node's own outputs (relative paths)
    reason: str | None = None  # why it was skipped: "branch" (not chosen), "not_chosen", ...
    # a fan-out node: {total, success, failed, running} of its items (docs/control-flow.md)
    items: dict[str, int] | None = None

    @property
    def duration(self) -> float | None:
        if not (self.started_at and self.finished_at):
            return None
        start = _dt.datetime.fromisoformat(self.started_at.replace("Z", "+00:00"))
        end = _dt.datetime.fromisoformat(self.finished_at.replace("Z", "+00:00"))
        return (end - start).total_seconds()

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["duration"] = self.duration
        return data


@dataclass
class RunResult:
    run_id: str
    dag_id: str
    pipeline: str
    status: str
    started_at: str
    finished_at: str | None
    run_dir: str
    artifacts_root: str
    params: dict[str, Any]
    nodes: list[NodeResult]
    warnings: list[str] = field(default_factory=list)
    partial: dict[str, Any] | None = None  # a partial run: what was asked for and selected

    @property
    def ok(self) -> bool:
        return self.status == "succeeded"

    def node(self, task_id: str) -> NodeResult:
        for n in self.nodes:
            if n.task_id == task_id:
                return n
        raise KeyError(task_id)

    @property
    def failures(self) -> list[NodeResult]:
        return [n for n in self.nodes if n.status == "failed"]

    def report(self) -> str:
        """A few lines for people: the verdict, each failed node with its cause and log, what was
        skipped or cancelled."""
        lines = [f"Run {self.run_id} of {self.dag_id}: {self.status}"]
        for n in self.failures:
            lines.append(f"  FAILED {n.label} ({n.task_id}): {n.message or 'no message'}")
            lines.append(f"    log: {n.log}")
        skipped = [n for n in self.nodes if n.status == "skipped"]
        if skipped:
            lines.append("  skipped: " + ", ".join(f"{n.task_id} ({n.message})" for n in skipped))
        rejected = [n for n in self.nodes if n.status == "rejected"]
        if rejected:
            lines.append("  rejected: " + ", ".join(f"{n.task_id} ({n.message})" for n in rejected))
        cancelled = [n.task_id for n in self.nodes if n.status == "cancelled"]
        if cancelled:
            lines.append("  cancelled: " + ", ".join(cancelled))
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "dag_id": self.dag_id,
            "pipeline": self.pipeline,
            "status": self.status,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "run_dir": self.run_dir,
            "artifacts_root": self.artifacts_root,
            "params": self.params,
            "nodes": [n.to_json() for n in self.nodes],
            "warnings": list(self.warnings),
            "partial": self.partial,
            "failures": [
                {"task_id": n.task_id, "label": n.label, "message": n.message, "log": n.log}
                for n in self.failures
            ],
        }


def default_artifacts_root() -> Path:
    """Where the built-in ``local`` runtime keeps artifacts: ``<data dir>/local/artifacts``."""
    from ..catalog.store import LOCAL_BUILTIN, default_data_dir

    return default_data_dir() / LOCAL_BUILTIN["local"]["artifacts_path"]


# -- trigger rules --------------------------------------------------------------------------------


def decide(rule: str, states: list[str]) -> str:
    """What a task does once all its upstream tasks are done, as Airflow decides it.

    ``states`` are Airflow states of the upstream tasks (success, failed, upstream_failed,
    skipped). Returns "run", "skipped" or "upstream_failed"."""
    n = len(states)
    if n == 0 or rule in ("always", "all_done"):
        return "run"
    s = states.count("success")
    f = states.count("failed")
    uf = states.count("upstream_failed")
    sk = states.count("skipped")
    if rule == "all_success":
        return "upstream_failed" if f or uf else "skipped" if sk else "run"
    if rule == "all_failed":
        return "run" if f + uf == n else "skipped"
    if rule == "all_skipped":
        return "run" if sk == n else "skipped"
    if rule == "one_success":
        return "run" if s else "upstream_failed" if f + uf == n else "skipped"
    if rule == "one_failed":
        return "run" if f + uf else "skipped"
    if rule == "one_done":
        return "run" if s + f else "skipped"
    if rule == "none_failed":
        return "upstream_failed" if f or uf else "run"
    if rule == "none_failed_min_one_success":
        return "upstream_failed" if f or uf else "run" if s else "skipped"
    if rule == "none_skipped":
        return "skipped" if sk else "run"
    raise LocalRunError(f"unknown trigger rule {rule!r}")


# -- preparing the run --------------------------------------------------------------------------


@dataclass
class _Task:
    node: NodeResult
    argv: list[str]
    env: dict[str, str]
    timeout: float | None
    upstream: list[str]
    inputs: list[str] = field(default_factory=list)  # tasks whose outputs it receives
    cache: bool = False  # may reuse earlier results (and records its own)
    max_age: int | None = None  # of results it reuses, in seconds
    material: dict[str, Any] | None = None  # what its cache key is made of, besides inputs
    key: str | None = None  # its cache key, once its inputs are known
    looked_up: bool = False
    # partial runs: "run" (as usual), "force" (chosen: runs even when cached), "reuse" (not
    # chosen, but its outputs are inputs: earlier results reused) or "skip" (not part of the run)
    mode: str = "run"
    # a branch: no process; the engine decides it (plan/branching.py) from this spec
    branch: dict[str, Any] | None = None
    targets: list[str] = field(default_factory=list)  # a branch: the tasks linked after it
    for_each: Any = None  # a fan-out node's ForEach: the engine runs one process per item
    parent: str | None = None  # an item of a fan-out: its node's task id ("<task>/<index>" its own)
    index: int | None = None
    gate: Gate | None = None  # an approval gate: no process, it waits for a decision
    # a downstream of a fan-out: its command given the item counts of this run (runner
    # ``--upstream-items TASK=COUNT``), known only once the fan-out expanded
    argv_with: Callable[[Mapping[str, int]], list[str]] | None = None


@dataclass
class Gate:
    """An approval gate of this run: its message (parameters filled in) and timeout outcome."""

    message: str
    on_timeout: str  # "approve" | "reject"
    downstream: list[str] = field(default_factory=list)  # the tasks right after it


def _install_bundles(bundles: Mapping[str, Any], root: Path) -> None:
    """Put each exported bundle at its key in the artifacts folder (content-addressed: a bundle
    already there is kept)."""
    for ref in bundles.values():
        target = root / ref.key
        if target.is_file() and target.stat().st_size == ref.size:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".tmp-{os.getpid()}-{threading.get_ident()}-{target.name}")
        shutil.copyfile(ref.path, tmp)
        os.replace(tmp, target)


def _argv(task: Task, python: str, fill: Callable[[Any], str]) -> list[str]:
    """The task's command on this machine: its Python program started with ``python``."""
    program = task.command.program
    if len(program) < 3 or program[1] != "-m":
        raise LocalRunError(
            f"task {task.task_id} does not start a Python module, so it cannot run locally"
        )
    return [
        python,
        *program[1:],
        *(resolve(v, fill) for v in (*task.command.shared, *task.command.args)),
    ]


def _counts_items(value: Any) -> bool:
    parts = value.parts if isinstance(value, Join) else (value,)
    return any(isinstance(p, ItemCount) for p in parts)


# -- the run ------------------------------------------------------------------------------------


class _Run:
    def __init__(
        self,
        *,
        run_id: str,
        tasks: list[_Task],
        result: RunResult,
        record: Path,
        max_parallel: int,
        on_event: Callable[[Event], Any] | None,
        cancel_event: threading.Event | None,
        grace_seconds: float,
        root: Path | None = None,
        use_cache: bool = False,
    ):
        from .cache import CacheIndex

        self.root = root
        self.run_dir = Path(result.run_dir)
        self.use_cache = use_cache
        self.index = CacheIndex(root) if root is not None else None
        self.run_id = run_id
        self.tasks = {t.node.task_id: t for t in tasks}
        self.order = [t.node.task_id for t in tasks]
        self.result = result
        self.record = record
        self.max_parallel = max_parallel
        self.on_event = on_event
        self.cancel_event = cancel_event or threading.Event()
        self.grace = grace_seconds
        self.state: dict[str, str] = {}  # Airflow state of finished tasks
        self.procs: dict[str, subprocess.Popen] = {}
        self.done: queue.Queue = queue.Queue()
        self.threads: list[threading.Thread] = []
        self.items: dict[str, list[_Task]] = {}  # fan-out nodes' items, once expanded
        self.item_counts: dict[str, int] = {}  # fan-out task -> items it ran over (0: none)
        self._events = open(record / "events.jsonl", "a", encoding="utf-8")
        self._lock = threading.Lock()
        self.waiting: dict[str, threading.Thread] = {}  # approval gates waiting for a decision
        for t in tasks:
            if t.gate is not None:
                tid = t.node.task_id
                t.gate.downstream = [d for d in self.order if tid in self.tasks[d].upstream]

    # events
    def emit(self, event: Event) -> None:
        moment = utc_now()
        event = {
            "event": event.pop("event"),
            "run_id": self.run_id,
            "time": iso(moment),
            "ts": moment.timestamp(),
            **event,
        }
        self._events.write(json.dumps(event, default=str) + "\n")
        self._events.flush()
        if self.on_event is not None:
            try:
                self.on_event(event)
            except Exception as exc:  # a listener's bug must not break the run
                sys.stderr.write(f"mlpipe run: event listener failed: {exc}\n")

    def set_status(self, task_id: str, status: str, message: str = "", **extra: Any) -> None:
        if self.tasks[task_id].parent is not None:
            self._item_status(task_id, status, message, **extra)
            return
        node = self.tasks[task_id].node
        node.status = status
        if message:
            node.message = message
        if status == "skipped" and extra.get("reason"):
            node.reason = extra["reason"]
        stamp = iso(utc_now())
        if status == "queued":
            node.queued_at = stamp
        elif status == "running":
            node.started_at = node.started_at or stamp  # a fan-out node says it per item
        elif status in TERMINAL:
            node.finished_at = stamp
        self.emit(
            {
                "event": "node",
                "task_id": task_id,
                "node_id": node.node_id,
                "label": node.label,
                "status": status,
                "message": node.message,
                "log": node.log,
                "exit_code": node.exit_code,
                **({"items": dict(node.items)} if node.items is not None else {}),
                **extra,
            }
        )

    # fan-out (docs/control-flow.md): a node's items run as processes of their own, "<task>/<i>"
    def expand(self, task: _Task) -> None:
        """A fan-out node whose upstream tasks are done: its items become processes to run (or
        the node ends: its value is not a list, or the list is empty)."""
        from ..plan.items import local_items
        from .cache import read_json

        tid = task.node.task_id
        fe = task.for_each
        self.counted(task)  # a fan-out downstream of another

        def result(task_id: str) -> Any:
            manifest = read_json(self.run_dir / task_id / "manifest.json")
            return manifest.get("result") if isinstance(manifest, dict) else None

        try:
            values, arguments = local_items(
                tid,
                fe,
                self.result.params,
                {t: result(t) for t in ([fe.value.task_id] if fe.value.task_id else [])},
            )
        except ValueError as exc:
            self.item_counts[tid] = 0
            self.state[tid] = "failed"
            self.set_status(tid, "failed", str(exc))  # names the node and its value
            return
        self.item_counts[tid] = len(values)
        if not values:  # as Airflow does with an empty list
            self.state[tid] = "skipped"
            self.set_status(tid, "skipped", "the list to run over is empty", reason="empty")
            return
        logs = Path(task.node.log).with_suffix("")
        logs.mkdir(parents=True, exist_ok=True)
        self.items[tid] = []
        for index, (value, args) in enumerate(zip(values, arguments)):
            item_id = f"{tid}/{index}"
            material = None
            if task.material is not None:
                text = json.dumps(value, sort_keys=True)
                material = {**task.material, "item": [fe.item_parameter, text]}
            item = _Task(
                node=NodeResult(
                    task_id=item_id,
                    node_id=task.node.node_id,
                    label=f"{task.node.label} [{index}]",
                    kind=task.node.kind,
                    file=task.node.file,
                    upstream=[],
                    trigger_rule="all_success",
                    log=str(logs / f"{index}.log"),
                    folder=str(self.run_dir / tid / str(index)),
                ),
                argv=[*task.argv, *args],
                env=task.env,
                timeout=task.timeout,
                upstream=[],
                inputs=task.inputs,
                cache=task.cache,
                max_age=task.max_age,
                material=material,
                mode=task.mode,
                parent=tid,
                index=index,
            )
            self.tasks[item_id] = item
            self.items[tid].append(item)
        task.node.items = {"total": len(values), "success": 0, "failed": 0, "running": 0}
        with open(task.node.log, "w", encoding="utf-8") as fh:
            fh.write(
                f"{RESULT_PREFIX}node '{tid}' runs once per item: {len(values)} item(s), at most "
                f"{fe.max_parallel} at a time; each item's log follows when it ends (and is in "
                f"{logs.name}/<index>.log)\n"
            )
        self.set_status(tid, "running")

    def _item_status(self, item_id: str, status: str, message: str = "", **extra: Any) -> None:
        item = self.tasks[item_id]
        node = item.node
        node.status = status
        if message:
            node.message = message
        stamp = iso(utc_now())
        if status == "running":
            node.started_at = stamp
        elif status in TERMINAL:
            node.finished_at = stamp
        parent = self.tasks[item.parent]  # type: ignore[index]
        self.emit(
            {
                "event": "item",
                "task_id": parent.node.task_id,
                "index": item.index,
                "status": status,
                "message": node.message,
                "log": node.log,
                "exit_code": node.exit_code,
                **extra,
            }
        )
        items = self.items[parent.node.task_id]
        counts = {
            "total": len(items),
            "success": sum(i.node.status in ("succeeded", "cached") for i in items),
            "failed": sum(i.node.status == "failed" for i in items),  # queued/cancelled: none
            "running": sum(i.node.status == "running" for i in items),
        }
        if status in TERMINAL:
            self._append_item_log(parent, item)
        parent.node.items = counts
        if all(i.node.status in TERMINAL for i in items):
            self._aggregate(parent)
        elif status != "queued":
            self.set_status(parent.node.task_id, "running")

    @staticmethod
    def _append_item_log(parent: _Task, item: _Task) -> None:
        try:
            text = Path(item.node.log).read_bytes()
        except OSError:
            text = b""
        head = f"\n---- item {item.index}: {item.node.status} ----\n".encode()
        with open(parent.node.log, "ab") as fh:
            fh.write(head + text)

    def _aggregate(self, parent: _Task) -> None:
        """Every item ended: the node's state (any failed: failed), and a manifest listing every
        item's outputs under <task>/<index>/ (what a downstream runner receives), for the cache
        keys and the runs API."""
        from .cache import read_json

        tid = parent.node.task_id
        items = self.items[tid]
        failed = [i for i in items if i.node.status == "failed"]
        cancelled = [i for i in items if i.node.status == "cancelled"]
        if failed or cancelled:
            self.state[tid] = "failed"
            if failed:
                first = failed[0]
                message = (
                    f"{len(failed)} of {len(items)} items failed; item {first.index}: "
                    f"{first.node.message or 'no message'}"
                )
                self.set_status(tid, "failed", message)
            else:
                self.set_status(tid, "cancelled", "cancelled while running")
            return
        outputs: dict[str, dict[str, Any]] = {}
        own: list[str] = []
        for item in items:
            manifest = read_json(self.run_dir / item.node.task_id / "manifest.json")
            if not isinstance(manifest, dict):
                continue
            mine = set(manifest.get("own_outputs") or [])
            for entry in manifest.get("outputs") or []:
                if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
                    continue
                path = entry["path"]
                if path in mine:
                    path = f"{item.node.task_id}/{path}"
                    own.append(path)
                outputs.setdefault(path, {**entry, "path": path})
        _write_json(
            self.run_dir / tid / "manifest.json",
            {
                "task_id": tid,
                "status": "succeeded",
                "finished": iso(utc_now()),
                "outputs": [outputs[p] for p in sorted(outputs)],
                "own_outputs": sorted(own),
                "items": len(items),
            },
        )
        node = parent.node
        node.outputs = sorted(own)
        self.state[tid] = "success"
        all_cached = all(i.node.status == "cached" for i in items)
        self.set_status(tid, "cached" if all_cached else "succeeded")

    def schedule_items(self) -> bool:
        """Start the items that may start: within the run's parallelism and their node's
        max_parallel; items with cached results end at once. True when an item ended."""
        progressed = False
        for tid in self.order:
            items = self.items.get(tid)
            if not items or self.tasks[tid].node.status != "running":
                continue
            limit = self.tasks[tid].for_each.max_parallel
            for item in items:
                if item.node.status != "queued":
                    continue
                if self.try_cache(item):
                    progressed = True
                    continue
                running = sum(i.node.status == "running" for i in items)
                if running >= limit or len(self.procs) >= self.max_parallel:
                    break
                self.launch(item)
        return progressed

    def counted(self, task: _Task) -> None:
        """The task's command with the item counts of its upstream fan-outs filled in."""
        if task.argv_with is not None:
            task.argv = task.argv_with(self.item_counts)

    # processes
    def launch(self, task: _Task) -> None:
        self.counted(task)
        log_path = Path(task.node.log)
        with open(log_path, "wb") as fh:
            try:
                proc = subprocess.Popen(
                    task.argv,
                    stdout=fh,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    env=task.env,
                    cwd=self.record,
                    start_new_session=True,
                )
            except OSError as exc:
                message = f"node '{task.node.task_id}' failed: cannot start {task.argv[0]}: {exc.strerror or exc}"
                fh.write((RESULT_PREFIX + message + "\n").encode())
                self.state[task.node.task_id] = "failed"
                self.set_status(task.node.task_id, "failed", message)
                return
        with self._lock:
            self.procs[task.node.task_id] = proc
        self.set_status(task.node.task_id, "running", pid=proc.pid)
        thread = threading.Thread(
            target=self._wait,
            args=(task, proc),
            daemon=True,
            name=f"mlpipe-run-{task.node.task_id}",
        )
        thread.start()
        self.threads.append(thread)

    def _wait(self, task: _Task, proc: subprocess.Popen) -> None:
        timed_out = False
        try:
            proc.wait(timeout=task.timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            self._stop(proc)
        self.done.put((task.node.task_id, proc.returncode, timed_out))

    def _stop(self, proc: subprocess.Popen) -> None:
        """SIGTERM to the runner (it stops its node and uploads the log), SIGKILL to its process
        group after the grace period."""
        if proc.poll() is None:
            try:
                proc.send_signal(signal.SIGTERM)
            except OSError:
                pass
            try:
                proc.wait(timeout=self.grace)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # leftovers of the node (the runner's group)
        except OSError:
            pass
        proc.wait()

    def stop_all(self) -> None:
        with self._lock:
            procs = list(self.procs.values())
        stoppers = [threading.Thread(target=self._stop, args=(p,), daemon=True) for p in procs]
        for t in stoppers:
            t.start()
        for t in stoppers:
            t.join()

    # results
    def finish(self, task_id: str, code: int | None, timed_out: bool, cancelled: bool) -> None:
        with self._lock:
            self.procs.pop(task_id, None)
        task = self.tasks[task_id]
        node = task.node
        node.exit_code = code
        self._read_node_files(node)
        if code == 0:  # finished (even if a cancel came in meanwhile)
            self.state[task_id] = "success"
            self._remember(task)
            self.set_status(task_id, "succeeded")
        elif cancelled:
            self.state[task_id] = "failed"
            self.set_status(task_id, "cancelled", "cancelled while running")
        else:
            self.state[task_id] = "failed"
            if timed_out:
                message = f"node '{task_id}' timed out after {task.timeout:g} s (execution timeout)"
            else:
                message = (
                    _verdict(Path(node.log))
                    or f"node '{task_id}': the runner exited with status {code}"
                )
            self.set_status(task_id, "failed", message)

    def _read_node_files(self, node: NodeResult) -> None:
        folder = Path(node.folder)
        manifest = folder / "manifest.json"
        if manifest.is_file():
            try:
                data = json.loads(manifest.read_text(encoding="utf-8"))
                node.outputs = list(data.get("own_outputs") or [])
            except (OSError, ValueError):
                pass
        if node.kind == "notebook":
            name = Path(node.file).name
            if (folder / name).is_file():
                node.notebook = str(folder / name)
            html = (folder / name).with_suffix(".html")
            if html.is_file():
                node.html = str(html)

    # step caching
    def _key(self, task: _Task) -> str | None:
        """The task's cache key, from its upstream tasks' manifests in this run (None: an
        upstream task left none, or the task has no key material)."""
        from .cache import cache_key, received_inputs

        if task.material is None:
            return None
        received = received_inputs(self.run_dir, task.inputs)
        if received is None:
            return None
        hashes = {p: str(e.get("sha256")) for p, e in received.items()}
        return cache_key(task.material, hashes)

    def _last_success(self, task_id: str):
        """The task's results in the newest earlier run of this DAG where it succeeded."""
        from .cache import finished_task

        runs = self.run_dir.parent
        try:
            names = sorted((p.name for p in runs.iterdir() if p.name != self.run_id), reverse=True)
        except OSError:
            return None
        prefix = runs.relative_to(self.root).as_posix()  # type: ignore[arg-type]
        for name in names:
            hit = finished_task(self.root, f"{prefix}/{name}", task_id)  # type: ignore[arg-type]
            if hit is not None:
                return hit
        return None

    def try_cache(self, task: _Task) -> bool:
        """Reuse an earlier run's results of the task's cache key (or, for a task a partial run
        did not choose, of its last successful run): True when it did (the task is done,
        "cached")."""
        from .cache import received_inputs, reuse

        if task.looked_up or self.index is None:
            return False
        task.looked_up = True
        if task.cache:
            task.key = self._key(task)
        tid = task.node.task_id
        key = task.key
        hit = None
        if key is not None and task.mode != "force" and (self.use_cache or task.mode == "reuse"):
            hit = self.index.lookup(key, task.max_age)
        if hit is not None:
            assert key is not None
            source = f"run {hit.run_id}" + (f", task {hit.task_id}" if hit.task_id != tid else "")
            note = (
                f"node {tid}: cached, nothing changed since {source} finished at {hit.finished} "
                f"(cache key {key[:12]}); its outputs and executed notebook are reused"
            )
            message = f"results of {source} (finished {hit.finished})"
            if task.mode == "reuse":
                note = f"node {tid}: not chosen for this partial run; " + note.split(": ", 1)[1]
                message = "not chosen: " + message + ", unchanged since"
        elif task.mode == "reuse":
            hit = self._last_success(tid)
            if hit is None:
                self.result.warnings.append(
                    f"task {tid} was not chosen, but the chosen tasks need its outputs and no "
                    "earlier run has them: it runs too"
                )
                return False
            note = (
                f"node {tid}: not chosen for this partial run; the outputs of its last successful "
                f"run (run {hit.run_id}, finished {hit.finished}) are reused"
            )
            message = f"not chosen: results of its last successful run {hit.run_id} reused"
        else:
            return False
        try:
            reuse(
                hit,
                run_dir=self.run_dir,
                task_id=tid,
                received=received_inputs(self.run_dir, task.inputs) or {},
                note=note,
                log_path=Path(task.node.log),
            )
        except OSError as exc:  # the earlier files went away meanwhile: run it
            sys.stderr.write(f"mlpipe run: cannot reuse cached results of {tid}: {exc}\n")
            shutil.rmtree(self.run_dir / tid, ignore_errors=True)
            return False
        self._read_node_files(task.node)
        self.state[tid] = "success"
        task.node.started_at = iso(utc_now())
        self.set_status(tid, "cached", message, cached_from=hit.run_id)
        return True

    def _remember(self, task: _Task) -> None:
        """A task that ran and succeeded: its key now names this run's results."""
        if not task.cache or self.index is None:
            return
        if task.key is None:
            task.key = self._key(task)
        if task.key is None:
            return
        from .cache import read_json

        manifest = read_json(self.run_dir / task.node.task_id / "manifest.json")
        if not isinstance(manifest, dict):
            return
        prefix = self.run_dir.relative_to(self.root).as_posix()  # type: ignore[arg-type]
        try:
            self.index.record(task.key, prefix, task.node.task_id, manifest.get("finished"))
        except OSError as exc:
            sys.stderr.write(
                f"mlpipe run: cannot record the cache entry of {task.node.task_id}: {exc}\n"
            )

    # branches
    def decide_branch(self, task: _Task) -> None:
        """Decide a branch without a process (the DAG's BranchPythonOperator does the same with
        the same functions): the linked tasks it does not choose are skipped (reason "branch"),
        their descendants then follow their trigger rules."""
        from ..plan.branching import mlpipe_branch_choose, mlpipe_branch_value

        spec = task.branch
        assert spec is not None
        tid = task.node.task_id
        task.node.started_at = iso(utc_now())
        log = Path(task.node.log)

        def pull(upstream: str) -> Any:
            manifest = _read_manifest(self.run_dir / upstream / "manifest.json")
            return manifest.get("result") if isinstance(manifest, dict) else None

        try:
            value = mlpipe_branch_value(spec, self.result.params, pull)
            chosen, index = mlpipe_branch_choose(spec, value)
        except (ValueError, TypeError) as exc:
            message = f"node '{tid}' failed: branch: {exc}"
            log.write_text(RESULT_PREFIX + message + "\n", encoding="utf-8")
            self.state[tid] = "failed"
            self.set_status(tid, "failed", message)
            return
        rule = "otherwise" if index is None else f"rule {index + 1}"
        runs = ", ".join(chosen) if chosen else "nothing"
        message = f"value {value!r}: {rule}, runs {runs}"
        log.write_text(f"{RESULT_PREFIX}branch {tid}: {message}\n", encoding="utf-8")
        self.state[tid] = "success"
        self.set_status(tid, "succeeded", message, chosen=chosen)
        for other in task.targets:
            if other in chosen or self.tasks[other].node.status != "queued":
                continue
            if self.tasks[other].mode == "force":  # a partial run chose it: it runs regardless
                continue
            self.state[other] = "skipped"
            self.set_status(other, "skipped", f"not chosen by branch {tid}", reason="branch")

    # approval gates
    def decision_path(self, task_id: str) -> Path:
        return self.record / DECISIONS / f"{task_id}.json"

    def _gate_log(self, task: _Task, line: str) -> None:
        try:
            with open(task.node.log, "a", encoding="utf-8") as fh:
                fh.write(f"{iso(utc_now())} {line}\n")
        except OSError:
            pass

    def await_gate(self, task: _Task) -> None:
        """The gate starts waiting for its decision file, in a thread of its own."""
        gate = task.gate
        assert gate is not None
        tid = task.node.task_id
        if task.mode == "reuse":  # a partial run did not choose it: its downstream is wanted
            self.state[tid] = "success"
            self.set_status(tid, "succeeded", "not chosen for this partial run: not asked again")
            return
        deadline = None if task.timeout is None else time.monotonic() + task.timeout
        approval: dict[str, Any] = {"message": gate.message, "on_timeout": gate.on_timeout}
        if task.timeout is not None:
            approval["timeout_at"] = iso(utc_now() + _dt.timedelta(seconds=task.timeout))
        self._gate_log(task, f"waiting for approval: {gate.message}")
        self.set_status(tid, "awaiting_approval", gate.message, approval=approval)
        thread = threading.Thread(
            target=self._wait_gate, args=(task, deadline), daemon=True, name=f"mlpipe-gate-{tid}"
        )
        with self._lock:
            self.waiting[tid] = thread
        thread.start()
        self.threads.append(thread)

    def _wait_gate(self, task: _Task, deadline: float | None) -> None:
        """Look for the decision file every DECISION_POLL_SECONDS (asleep on the cancel switch in
        between: a cancel ends the wait at once) until it is there or the timeout passes."""
        tid = task.node.task_id
        path = self.decision_path(tid)
        while not self.cancel_event.is_set():
            decision = read_decision(path)
            if decision is not None:
                self.done.put((tid, decision, False))
                return
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                self.done.put((tid, None, True))
                return
            pause = DECISION_POLL_SECONDS if left is None else min(DECISION_POLL_SECONDS, left)
            self.cancel_event.wait(pause)

    def decided(self, task_id: str, decision: dict[str, Any] | None, timed_out: bool) -> None:
        """Approve: the gate succeeded. Reject (or a timeout whose outcome is reject): the gate is
        rejected and the tasks right after it are skipped; theirs follow their trigger rules (as
        the gate is a success for Airflow's trigger rules, as ApprovalOperator's task is)."""
        with self._lock:
            if self.waiting.pop(task_id, None) is None:
                return  # cancelled meanwhile
        task = self.tasks[task_id]
        gate = task.gate
        assert gate is not None
        if timed_out or decision is None:
            choice = gate.on_timeout
            word = "approved" if choice == APPROVE else "rejected"
            why = f"no decision within {task.timeout:g} s: {word} (on_timeout)"
            extra: dict[str, Any] = {"decision": choice, "timed_out": True}
        else:
            choice = decision["decision"]
            who, comment = decision.get("by"), decision.get("comment")
            why = ("approved" if choice == APPROVE else "rejected") + (f" by {who}" if who else "")
            # one line in the gate's log and message (a newline would forge a log line); the
            # comment stays whole in the task's approval facts
            why += f": {' '.join(str(comment).splitlines())}" if comment else ""
            extra = {"decision": choice, "comment": comment or None, "by": who or None}
        self._gate_log(task, why)
        self.state[task_id] = "success"
        if choice == APPROVE:
            self.set_status(task_id, "succeeded", why, **extra)
            return
        self.set_status(task_id, "rejected", why, **extra)
        for down in gate.downstream:
            if self.tasks[down].node.status == "queued":
                self.state[down] = "skipped"
                self.set_status(
                    down, "skipped", f"approval gate {task_id} was rejected", reason="rejected"
                )

    def cancel_gates(self) -> None:
        with self._lock:
            waiting, self.waiting = list(self.waiting), {}
        for tid in waiting:
            self.state[tid] = "failed"
            self.set_status(tid, "cancelled", "the run was cancelled before a decision")

    # scheduling
    def ready(self) -> list[str]:
        """Tasks whose upstream tasks are all done; skip those whose trigger rule says so."""
        out = []
        changed = True
        while changed:
            changed = False
            for tid in self.order:
                node = self.tasks[tid].node
                if node.status != "queued" or tid in out:
                    continue
                ups = self.tasks[tid].upstream
                if any(u not in self.state for u in ups):
                    continue
                verdict = decide(node.trigger_rule, [self.state[u] for u in ups])
                if verdict == "run":
                    out.append(tid)
                    continue
                self.state[tid] = verdict
                failed = [u for u in ups if self.state[u] == "failed"]
                held = [u for u in ups if self.state[u] == "upstream_failed"]
                if verdict == "upstream_failed" and failed:
                    why = f"upstream {', '.join(failed)} failed"
                elif verdict == "upstream_failed" and held:
                    why = f"upstream {', '.join(held)} did not run after a failure"
                else:
                    why = f"trigger rule {node.trigger_rule}"
                self.set_status(tid, "skipped", why, reason=verdict)
                changed = True
        return out

    def run(self) -> None:
        self.emit(
            {
                "event": "run",
                "status": "running",
                "run_dir": self.result.run_dir,
                "dag_id": self.result.dag_id,
            }
        )
        for tid in self.order:
            self.set_status(tid, "queued")
        for tid in self.order:
            if self.tasks[tid].mode == "skip":
                self.state[tid] = "skipped"
                self.set_status(
                    tid, "skipped", "not chosen for this partial run", reason="not_chosen"
                )
        cancelled = False
        try:
            while True:
                if self.cancel_event.is_set() and not cancelled:
                    cancelled = True
                    for tid in self.order:
                        if self.tasks[tid].node.status == "queued":
                            self.set_status(tid, "cancelled", "the run was cancelled")
                    for items in self.items.values():
                        for item in items:
                            if item.node.status == "queued":
                                self.set_status(
                                    item.node.task_id, "cancelled", "the run was cancelled"
                                )
                    self.cancel_gates()
                    self.stop_all()
                if not cancelled:
                    progressed = False
                    for tid in self.ready():
                        if self.tasks[tid].branch is not None:  # decided here, no process
                            self.decide_branch(self.tasks[tid])
                            progressed = True
                            continue
                        if self.tasks[tid].for_each is not None:
                            self.expand(self.tasks[tid])
                            progressed = True
                            continue
                        if self.tasks[tid].gate is not None:  # no process: never waits for a slot
                            self.await_gate(self.tasks[tid])
                            progressed = progressed or self.tasks[tid].node.status in TERMINAL
                            continue
                        if self.try_cache(self.tasks[tid]):
                            progressed = True
                            continue
                        if len(self.procs) >= self.max_parallel:
                            break
                        self.launch(self.tasks[tid])
                    if self.schedule_items():
                        progressed = True
                    if progressed:  # their descendants may be ready now
                        continue
                with self._lock:
                    running = len(self.procs) + len(self.waiting)
                if not running and self.done.empty():
                    if cancelled or all(self.tasks[t].node.status in TERMINAL for t in self.order):
                        break
                try:
                    tid, code, timed_out = self.done.get(timeout=0.05)
                except queue.Empty:
                    continue
                if self.tasks[tid].gate is not None:
                    self.decided(tid, code, timed_out)
                    continue
                self.finish(tid, code, timed_out, cancelled)
        finally:
            self.stop_all()  # never leave a node running (an exception, Ctrl-C)
            for t in self.threads:
                t.join(timeout=self.grace + 5)
            while not self.done.empty():
                tid, code, timed_out = self.done.get()
                if self.tasks[tid].node.status == "running" and self.tasks[tid].gate is None:
                    self.finish(tid, code, timed_out, True)
            for items in self.items.values():
                for item in items:
                    if item.node.status in ("queued", "running"):
                        self.set_status(item.node.task_id, "cancelled", "the run was cancelled")
            for tid in self.order:
                if self.tasks[tid].node.status in ("queued", "running", "awaiting_approval"):
                    self.set_status(tid, "cancelled", "the run was cancelled")
        statuses = [self.tasks[t].node.status for t in self.order]
        if cancelled:
            status = "cancelled"
        elif "failed" in statuses:
            status = "failed"
        else:
            status = "succeeded"
        self.result.status = status
        self.result.finished_at = iso(utc_now())
        self.emit(
            {
                "event": "run",
                "status": status,
                "run_dir": self.result.run_dir,
                "dag_id": self.result.dag_id,
                "failed": [n.task_id for n in self.result.failures],
            }
        )
        self._events.close()


def _read_manifest(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _verdict(log: Path) -> str:
    """The runner's last one-line verdict in its log (``node 'x' failed: ...``)."""
    try:
        with open(log, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 65536))
            text = fh.read().decode("utf-8", "replace")
    except OSError:
        return ""
    lines = text.splitlines()
    for line in reversed(lines):
        if line.startswith(RESULT_PREFIX + "node '"):
            return line[len(RESULT_PREFIX) :].strip()
    for line in reversed(lines):
        if line.strip():
            return line.strip()[:300]
    return ""


def run_pipeline(
    pipeline_path: str | os.PathLike[str],
    *,
    params: Mapping[str, Any] | None = None,
    artifacts_root: str | os.PathLike[str] | None = None,
    max_parallel: int = 2,
    on_event: Callable[[Event], Any] | None = None,
    cancel_event: threading.Event | None = None,
    run_id: str | None = None,
    images: list[dict[str, Any]] | None = None,
    python: str | None = None,
    env: Mapping[str, str] | None = None,
    grace_seconds: float = 10.0,
    text: str | None = None,
    meta: Mapping[str, Any] | None = None,
    project_root: str | os.PathLike[str] | None = None,
    cache: bool = True,
    only: str | list[str] | None = None,
    start: str | list[str] | None = None,
    end: str | list[str] | None = None,
) -> RunResult:
    """Run a pipeline on this machine and return when it has finished (or was cancelled).

    ``params``: parameter values by name (text is converted to the declared type); the others
    take their defaults. ``artifacts_root``: the local store (default: the built-in ``local``
    runtime's artifacts folder). ``on_event`` is called (in this thread) with each status event:
    ``{"event": "run"|"node", "run_id", "time" (ISO UTC), "ts" (epoch seconds), ...}``; node
    events carry ``task_id, node_id, label, status, message, log, exit_code``. Setting
    ``cancel_event`` stops running nodes and cancels the rest. ``python``: the interpreter for the
    runner (default: this one); ``env``: extra environment for the nodes. ``text``: the pipeline's
    unsaved content (its files are still read next to ``pipeline_path``). ``meta``: extra facts
    kept in the run's ``run.json`` (e.g. the runtime configuration that started it).
    ``project_root``: below it the pipeline may use files (default: the pipeline's folder).
    ``cache``: tasks whose cache key (localrun/cache.py) matches an earlier finished task reuse
    its results and end "cached" (False: every task runs; results are still recorded).
    ``only`` / ``start`` / ``end``: a partial run (localrun/partial.py): the chosen nodes run, the
    tasks whose outputs they need reuse earlier results (the cache, else their last successful
    run: "cached"), the others are skipped.

    Raises PipelineError (the pipeline has errors), ParameterError (bad values) or LocalRunError.
    """
    from ..compiler.export import export
    from ..pipeline import document
    from ..pipeline.model import Pipeline
    from ..pipeline.problems import PipelineError, Problem
    from ..plan import layout_for

    if not isinstance(max_parallel, int) or max_parallel < 1:
        raise LocalRunError("max_parallel must be a whole number of at least 1")
    path = Path(pipeline_path).resolve()
    try:
        if text is None:
            text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PipelineError(
            [
                Problem(
                    code="file",
                    message=f"Cannot read the pipeline file: {exc}.",
                    pipeline=path.name,
                )
            ]
        ) from None
    pipeline = Pipeline(document.parse(text, pipeline=path.name), path.name)
    values = resolve_params(pipeline.parameters, params)
    run_id = run_id or new_run_id()
    if not run_id or "/" in run_id or run_id in (".", "..") or any(ord(c) < 32 for c in run_id):
        raise LocalRunError(f"invalid run id {run_id!r}")
    root = (
        Path(artifacts_root).expanduser().resolve()
        if artifacts_root
        else default_artifacts_root().resolve()
    )
    config = local_run_config(root)
    dag_id = layout_for(pipeline, config).dag_id
    if not dag_id:
        raise LocalRunError("the pipeline has no name to derive a DAG id from")
    run_dir = root / dag_id / "runs" / run_id
    if run_dir.exists():
        raise LocalRunError(f"run {run_id} already exists in {run_dir.parent}")
    record = run_dir / RECORD
    started = utc_now()
    try:
        exported = export(
            path,
            config=config,
            images=images or [],
            output=record / "dag.py",
            text=text,
            root=Path(project_root).resolve() if project_root is not None else None,
            dag=False,  # run here with this machine's Python: no runtime image needed
        )
    except BaseException:
        shutil.rmtree(run_dir, ignore_errors=True)
        raise
    plan = exported.plan
    assert plan is not None
    foreign = [t.label for t in plan.tasks if t.kind in ("operator", "kfp")]
    if foreign:  # they run Airflow operators or component images, not the node runner
        shutil.rmtree(run_dir, ignore_errors=True)
        raise LocalRunError(
            "Local runs do not run operator and component nodes yet ("
            + ", ".join(foreign)
            + "); run the pipeline on an Airflow runtime configuration."
        )
    from .partial import SelectionError, select

    try:
        selection = select(plan, only=only, start=start, end=end)
    except SelectionError as exc:
        shutil.rmtree(run_dir, ignore_errors=True)
        raise LocalRunError(str(exc)) from None
    partial = None
    if selection is not None:
        partial = {
            "only": _listed(only),
            "from": _listed(start),
            "to": _listed(end),
            "selected": selection.selected,
            "reused": selection.needed,
        }
    _install_bundles(exported.bundles, root)
    (record / "logs").mkdir(parents=True, exist_ok=True)
    # Readers (the runs service, another process) learn from this file who runs it and with what,
    # before any event: the pid tells a live run from one whose process died.
    info = {
        **dict(meta or {}),
        "run_id": run_id,
        "dag_id": plan.dag_id,
        "pipeline": str(path),
        "params": values,
        "started_at": iso(started),
        "pid": os.getpid(),
        **({"partial": partial} if partial else {}),
    }
    _write_json(record / "run.json", info)

    warnings = [p.describe() for p in exported.problems if p.code != "runtime-image"]
    bundles = {ref.node_id: ref.sha256 for ref in exported.bundles.values()}
    tasks = _tasks(
        plan, run_id, values, record, run_dir, python or sys.executable, env, warnings, bundles
    )
    if selection is not None:
        modes = {
            **dict.fromkeys(selection.others, "skip"),
            **dict.fromkeys(selection.needed, "reuse"),
            **dict.fromkeys(selection.forced, "force"),
        }
        for t in tasks:
            t.mode = modes.get(t.node.task_id, "run")
    result = RunResult(
        run_id=run_id,
        dag_id=plan.dag_id,
        pipeline=str(path),
        status="running",
        started_at=iso(started),
        finished_at=None,
        run_dir=str(run_dir),
        artifacts_root=str(root),
        params=values,
        nodes=[t.node for t in tasks],
        warnings=warnings,
        partial=partial,
    )
    runner = _Run(
        run_id=run_id,
        tasks=tasks,
        result=result,
        record=record,
        max_parallel=max_parallel,
        on_event=on_event,
        cancel_event=cancel_event,
        grace_seconds=grace_seconds,
        root=root,
        use_cache=cache,
    )
    try:
        runner.run()
    finally:
        if result.finished_at is None:
            result.status = "cancelled"
            result.finished_at = iso(utc_now())
        _write_json(record / "result.json", result.to_json())
    return result


def _listed(value: str | list[str] | None) -> list[str]:
    if value is None:
        return []
    items = [value] if isinstance(value, str) else list(value)
    return [p.strip() for item in items for p in str(item).split(",") if p.strip()]


def local_run_config(root: Path) -> dict[str, Any]:
    """The runtime configuration a local run plans with: the local store at ``root``."""
    return {"name": "local-run", "type": "local", "local": {"artifacts_path": str(root)}}


def _tasks(
    plan: Plan,
    run_id: str,
    values: dict[str, Any],
    record: Path,
    run_dir: Path,
    python: str,
    env: Mapping[str, str] | None,
    warnings: list[str],
    bundles: Mapping[str, str] | None = None,
) -> list[_Task]:
    """The plan's tasks as processes of this run: run id and parameter values filled in.
    ``bundles``: node id -> SHA-256 of its bundle (for cache keys)."""
    from .cache import task_material

    fill = local_resolver(run_id, values)
    fixed = local_resolver("", values)  # cache keys: everything but the run id
    base_env = {**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"}
    tasks: list[_Task] = []
    for task in plan.tasks:
        if task.task_id == RECORD:
            raise LocalRunError(f"task id {RECORD!r} is reserved for local runs; rename the node")
        rule = task.effective_trigger_rule
        if rule not in TRIGGER_RULES:
            raise LocalRunError(f"task {task.task_id}: unknown trigger rule {rule!r}")
        if task.secrets:
            names = ", ".join(s.secret for s in task.secrets)
            warnings.append(
                f"task {task.task_id}: environment variables from Kubernetes secrets ({names}) "
                "are not set in local runs"
            )
        node = NodeResult(
            task_id=task.task_id,
            node_id=task.node_id,
            label=task.label,
            kind=task.kind,
            file=task.file,
            upstream=list(task.upstream),
            trigger_rule=rule,
            log=str(record / "logs" / f"{task.task_id}.log"),
            folder=str(run_dir / task.task_id),
        )
        if task.kind == APPROVAL and task.approval is not None:
            gate = task.approval  # its own timeout only, never the DAG's execution timeout
            tasks.append(
                _Task(
                    node=node,
                    argv=[],
                    env={},
                    timeout=float(gate.timeout) if gate.timeout is not None else None,
                    upstream=list(task.upstream),
                    gate=Gate(message=resolve(gate.message, fill), on_timeout=gate.on_timeout),
                )
            )
            continue
        if task.kind == BRANCH:  # no process: the engine decides it (_Run.decide_branch)
            if task.branch is None:
                raise LocalRunError(f"branch {task.task_id} has nothing to decide")
            tasks.append(
                _Task(
                    node=node,
                    argv=[],
                    env={},
                    timeout=None,
                    upstream=list(task.upstream),
                    branch=task.branch.spec(task.task_id),
                    targets=list(task.branch.targets),
                )
            )
            continue
        timeout = plan.timeout(task)
        cache, max_age = plan.caching(task, default=True)
        material = None
        if cache and (bundles or {}).get(task.node_id):
            try:
                material = task_material(
                    kind=task.kind,
                    file=task.file,
                    bundle_sha256=(bundles or {})[task.node_id],
                    args=[resolve(v, fixed) for v in task.command.args],
                    env={k: resolve(v, fixed) for k, v in task.env.items()},
                    image=task.image.ref if task.image is not None else None,
                )
            except KeyError:  # a value only known while the run goes on (an upstream result)
                material = None
        counted = None
        if any(_counts_items(v) for v in task.command.args):

            def counted(items: Mapping[str, int], task: Task = task) -> list[str]:
                return _argv(task, python, local_resolver(run_id, values, items=items))

        tasks.append(
            _Task(
                node=node,
                argv=_argv(task, python, fill),
                argv_with=counted,
                env={**base_env, **{k: resolve(v, fill) for k, v in task.env.items()}},
                timeout=float(timeout) if timeout is not None else None,
                upstream=list(task.upstream),
                inputs=list(task.inputs),
                cache=material is not None,
                max_age=max_age,
                material=material,
                for_each=task.for_each,
            )
        )
    return tasks


def read_decision(path: Path) -> dict[str, Any] | None:
    """A gate's decision file (written whole, by rename): None while there is none, or when what
    is there is not a decision."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("decision") not in ("approve", "reject"):
        return None
    return data


def write_decision(
    record: Path, task_id: str, decision: str, comment: str | None = None, by: str | None = None
) -> Path:
    """Write a gate's decision where the engine looks for it (atomically: the engine never reads
    half a file); the runs service's side of the exchange."""
    path = record / DECISIONS / f"{task_id}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "decision": decision,
        "comment": comment or None,
        "by": by or None,
        "at": iso(utc_now()),
    }
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps(data) + "\n", encoding="utf-8")
    try:  # a hard link appears whole and only once: a second decision raises FileExistsError
        os.link(tmp, path)
    finally:
        os.unlink(tmp)
    return path


def _write_json(path: Path, data: Any) -> None:
    """Atomically: readers polling the folder never see half a file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)
