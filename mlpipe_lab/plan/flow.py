"""Control flow in the plan (docs/control-flow.md): values known only when a run reaches a node
(``value_from``), which a branch tests and a fan-out maps over.

``value_from`` is ``{"from": "parameter", "parameter": NAME}`` or ``{"from": "result", "node":
NODE_ID, "key": "a.b"}``; :func:`value_from` turns it into a typed :class:`~.model.ValueFrom` with
task ids, or reports why it cannot (a located Problem naming the pipeline, the node and the field)
and returns None. A task whose result is read returns it (``Task.returns_result``; the runner
reads the node's ``mlpipe-result.json``, see ``runner/contract.py``): :func:`finish` marks them
once every task is planned.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..pipeline.model import Node
from ..runner.contract import result_arguments
from .model import FROM_PARAMETER, FROM_RESULT, RUNNER_KINDS, WORKER, ValueFrom

if TYPE_CHECKING:
    from .model import Task
    from .planner import Planner

CODE = "value-from"
XCOM_FILE = "/airflow/xcom/return.json"  # what KubernetesPodOperator pushes (do_xcom_push)


def value_from(planner: Planner, node: Node, raw: Any, path: str) -> ValueFrom | None:
    """The typed value of ``raw`` (a node's ``value_from`` at field ``path``, e.g.
    ``component_parameters/value_from``), or None after reporting what is wrong with it."""

    def refuse(message: str, field: str = "") -> None:
        planner.error(CODE, message, node=node, path=path + ("/" + field if field else ""))

    if not isinstance(raw, dict):
        refuse(
            "Choose where the value comes from: a pipeline parameter or the result of an "
            "upstream node."
        )
        return None
    source = raw.get("from")
    if source == FROM_PARAMETER:
        return _parameter(planner, raw, refuse)
    if source == FROM_RESULT:
        return _result(planner, node, raw, refuse)
    refuse(f"'from' must be 'parameter' or 'result', not {source!r}.", "from")
    return None


def _parameter(planner: Planner, raw: dict[str, Any], refuse) -> ValueFrom | None:
    name = raw.get("parameter")
    declared = [p.name for p in planner.p.parameters]
    if not isinstance(name, str) or not name:
        refuse("Name the pipeline parameter the value comes from.", "parameter")
        return None
    if name not in declared:
        known = ", ".join(declared) if declared else "none"
        refuse(
            f"Unknown pipeline parameter '{name}' (the pipeline declares: {known}).", "parameter"
        )
        return None
    return ValueFrom(FROM_PARAMETER, parameter=name)


def _result(planner: Planner, node: Node, raw: dict[str, Any], refuse) -> ValueFrom | None:
    pipeline = planner.p
    ref = raw.get("node")
    if not isinstance(ref, str) or not ref:
        refuse("Choose the upstream node whose result the value comes from.", "node")
        return None
    source = pipeline.node_by_id.get(ref)
    if source is None:
        refuse(f"There is no node with id '{ref}' in the pipeline.", "node")
        return None
    if ref not in pipeline.graph.ancestors(node.id):
        refuse(
            f"Node '{source.label}' is not upstream of this node: only the result of a node "
            "that runs before it (linked, directly or not) can be read.",
            "node",
        )
        return None
    task_id = planner.layout.task_id_of(ref) if source.is_generic else None  # type: ignore[union-attr]
    if task_id is None:
        refuse(
            f"Node '{source.label}' cannot return a result: only notebook, Python and R nodes "
            "do (by writing mlpipe-result.json in their working folder).",
            "node",
        )
        return None
    key = raw.get("key", "")
    if key is None:
        key = ""
    parts = tuple(key.split(".")) if isinstance(key, str) and key else ()
    if not isinstance(key, str) or any(not p or p != p.strip() for p in parts):
        refuse(
            f"Key {key!r} is not a dotted path such as 'metrics.accuracy' (no empty parts or "
            "surrounding spaces); leave it empty for the whole result.",
            "key",
        )
        return None
    planner.result_tasks.add(task_id)
    return ValueFrom(FROM_RESULT, task_id=task_id, node_id=ref, key=parts)


def finish(planner: Planner, tasks: list[Task]) -> None:
    """Tasks whose result a later task reads return it: the runner reads mlpipe-result.json and
    hands it over where this plan's readers look (``runner/contract.py``, ``--result``): the
    manifest (local runs), the XCom file of a pod, the last stdout line on an Airflow worker."""
    for task in tasks:
        if task.task_id not in planner.result_tasks or task.kind not in RUNNER_KINDS:
            continue
        task.returns_result = True
        if planner.s.type == "local":
            extra = result_arguments()
        elif planner.executor == WORKER:
            extra = result_arguments(stdout=True)
        else:
            extra = result_arguments(xcom_file=XCOM_FILE)
        args = task.command.args
        at = args.index("--task-id") + 2 if "--task-id" in args else len(args)
        task.command.args = [*args[:at], *extra, *args[at:]]  # before --param (kpo.arguments)
