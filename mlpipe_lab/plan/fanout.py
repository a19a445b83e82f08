"""Fan-out in the plan (docs/control-flow.md): a notebook/Python/R node with ``mlpipe.for_each``
runs once per item of a list. :func:`for_each` reads and checks the node's setting into a
:class:`~.model.ForEach`, or reports why it cannot (located Problems) and returns None;
:func:`mapped_tasks` names the fan-out tasks before any is planned, so that their downstream
tasks read every item's files (the runner's ``--upstream-items``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..pipeline.model import Node
from . import flow
from .model import FROM_PARAMETER, FROM_RESULT, RUNNER_KINDS, ForEach

if TYPE_CHECKING:
    from .model import Task
    from .planner import Planner

CODE = "for-each"
PATH = "mlpipe/for_each"
DEFAULT_MAX_PARALLEL = 4
MAX_PARALLEL = 64
DEFAULT_ITEM_PARAMETER = "item"
ITEMS_SUFFIX = "__items"  # the Airflow task that reads the list: "<task id>__items"


def wants(node: Node) -> bool:
    return node.mlpipe.get("for_each") is not None


def mapped_tasks(planner: Planner) -> set[str]:
    """Task ids of the runner tasks that fan out (their settings checked later)."""
    return {
        slot.task_id
        for slot in planner.layout.slots  # type: ignore[union-attr]
        if slot.kind in RUNNER_KINDS and wants(slot.node)
    }


def refuse_others(planner: Planner) -> None:
    """Only notebook, Python and R nodes fan out: say so on any other node that asks."""
    runner_nodes = {
        s.node.id
        for s in planner.layout.slots  # type: ignore[union-attr]
        if s.kind in RUNNER_KINDS
    }
    for node in planner.p.nodes:
        if wants(node) and node.id not in runner_nodes:
            planner.error(
                CODE,
                "Only notebook, Python and R nodes can run once per item; this node (a serve, "
                "operator, component, branch or approval node) cannot fan out. Remove 'for each'.",
                node=node,
                path=PATH,
            )


def refuse_results(planner: Planner, tasks: list[Task]) -> None:
    """A node that runs once per item has no single result for a branch to read."""
    for task in tasks:
        if task.returns_result and task.task_id in planner.mapped:
            planner.error(
                CODE,
                "This node runs once per item, so it has no single result: a later node cannot "
                "read its result. Read the result of a node that runs once.",
                node=planner.p.node_by_id.get(task.node_id),
                path=PATH,
            )


def for_each(planner: Planner, node: Node, task_id: str, taken: set[str]) -> ForEach | None:
    """The node's fan-out, checked (``taken``: every task id of the plan)."""
    raw: Any = node.mlpipe.get("for_each")
    if raw is None:
        return None
    if not isinstance(raw, dict):
        planner.error(CODE, "'for each' must be an object with value_from.", node=node, path=PATH)
        return None
    ok = True
    value = flow.value_from(planner, node, raw.get("value_from"), PATH + "/value_from")
    if value is not None and value.source == FROM_PARAMETER:
        param = next(p for p in planner.p.parameters if p.name == value.parameter)
        if param.type != "list":
            planner.error(
                CODE,
                f"Pipeline parameter '{param.name}' is a {param.type}, not a list: a node runs "
                "once per item of a parameter of type list.",
                node=node,
                path=PATH + "/value_from/parameter",
            )
            ok = False
    if value is not None and value.source == FROM_RESULT:
        source = planner.p.node_by_id.get(value.node_id or "")
        if source is not None and wants(source):
            planner.error(
                CODE,
                f"Node '{source.label}' runs once per item, so it has no single result to map "
                "over; map over a result of a node that runs once.",
                node=node,
                path=PATH + "/value_from/node",
            )
            ok = False
    limit = raw.get("max_parallel", DEFAULT_MAX_PARALLEL)
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_PARALLEL:
        planner.error(
            CODE,
            f"Items at a time (max_parallel) must be a whole number from 1 to {MAX_PARALLEL}, "
            f"not {limit!r}.",
            node=node,
            path=PATH + "/max_parallel",
        )
        ok = False
    name = raw.get("item_parameter", DEFAULT_ITEM_PARAMETER)
    if not isinstance(name, str) or not name.isidentifier() or len(name) > 128:
        planner.error(
            CODE,
            f"Item parameter {name!r} must be a Python identifier (letters, digits, _).",
            node=node,
            path=PATH + "/item_parameter",
        )
        ok = False
    elif name in {p.name for p in planner.p.node_parameters(node)}:
        planner.error(
            CODE,
            f"Item parameter '{name}' is also a pipeline parameter this node receives; "
            "choose another name.",
            node=node,
            path=PATH + "/item_parameter",
        )
        ok = False
    items_task = task_id + ITEMS_SUFFIX
    if items_task in taken:
        planner.error(
            CODE,
            f"Task id '{items_task}' (the task that reads this node's items on Airflow) is "
            "already used by another node; rename one of them.",
            node=node,
            path=PATH,
        )
        ok = False
    if value is None or not ok:
        return None
    return ForEach(value=value, max_parallel=limit, item_parameter=name, items_task=items_task)
