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

import math
from typing import TYPE_CHECKING, Any

from ..pipeline.model import Node
from ..runner.contract import result_arguments
from .model import (
    BRANCH,
    BRANCH_JOIN_RULE,
    BRANCH_OPS,
    FROM_PARAMETER,
    FROM_RESULT,
    RUNNER_KINDS,
    WORKER,
    Branch,
    BranchRule,
    Command,
    Task,
    ValueFrom,
)

if TYPE_CHECKING:
    from .layout import Slot
    from .planner import Planner

CODE = "value-from"
CP = "component_parameters/"
NO_VALUE = ("is true", "is false")
ORDERED = ("<", "<=", ">", ">=")
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


# -- branch nodes -----------------------------------------------------------------------------


def branch_task(planner: Planner, slot: Slot) -> Task:
    """A branch node's task: no process; ``Task.branch`` says what it decides, in task ids."""
    node = slot.node
    props = node.parameters
    task = Task(
        task_id=slot.task_id,
        node_id=node.id,
        label=node.label,
        kind=BRANCH,
        command=Command([], [], []),
        display_name=node.label if node.label != slot.task_id else None,
        doc=node.description or None,
        upstream=slot.upstream,
    )
    planner.airflow_settings(task, node.mlpipe)
    value = value_from(planner, node, props.get("value_from"), CP + "value_from")
    # the tasks linked directly after it: what BranchPythonOperator may choose among
    after = {s.node.id: s.task_id for s in planner.layout.slots if slot.task_id in s.upstream}  # type: ignore[union-attr]
    errors = len(planner.errors_of(node))
    rules = _rules(planner, node, props.get("rules"), after)
    otherwise = _targets(planner, node, props.get("otherwise", []), after, CP + "otherwise")
    named = {t for r in rules for t in r.run} | set(otherwise)
    for node_id, task_id in after.items():
        if task_id not in named:
            planner.warn(
                "branch",
                f"Node '{planner.p.node_by_id[node_id].label}' is linked after this branch but "
                "no rule (nor otherwise) names it, so it never runs.",
                node=node,
                path=CP + "rules",
            )
    if value is not None and len(planner.errors_of(node)) == errors:
        task.branch = Branch(value, rules, otherwise, targets=list(after.values()))
    return task


def _rules(planner: Planner, node: Node, raw: Any, after: dict[str, str]) -> list[BranchRule]:
    path = CP + "rules"
    if not isinstance(raw, list) or not raw:
        planner.error(
            "branch",
            "A branch needs at least one rule (a test of the value and the nodes it runs).",
            node=node,
            path=path,
        )
        return []
    out = []
    for i, rule in enumerate(raw):
        where = f"{path}/{i}"
        if not isinstance(rule, dict):
            planner.error("branch", f"Rule {i + 1} is not a rule.", node=node, path=where)
            continue
        op = rule.get("op")
        if op not in BRANCH_OPS:
            planner.error(
                "branch",
                f"Rule {i + 1}: the test {op!r} is not one of {', '.join(BRANCH_OPS)}.",
                node=node,
                path=where + "/op",
            )
            continue
        message = _value_problem(op, rule)
        if message:
            planner.error(
                "branch", f"Rule {i + 1} ({op}): {message}", node=node, path=where + "/value"
            )
            continue
        run = _targets(planner, node, rule.get("run"), after, where + "/run")
        out.append(BranchRule(op=op, value=rule.get("value"), run=run))
    return out


def _value_problem(op: str, rule: dict[str, Any]) -> str | None:
    """What is wrong with a rule's value for its test, or None."""
    has, value = "value" in rule, rule.get("value")
    if not _finite(value):
        return "the value must be finite."
    if op in NO_VALUE:
        return "this test takes no value; remove it." if has and value is not None else None
    if not has:
        return "give the value to compare with."
    if op in ("in", "not in"):
        return None if isinstance(value, list) else "the value must be a list of values."
    if op in ORDERED and not (
        isinstance(value, str) or (isinstance(value, (int, float)) and not isinstance(value, bool))
    ):
        return "the value must be a number or a text."
    return None


def _finite(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(_finite(v) for v in value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    return True


def _targets(planner: Planner, node: Node, raw: Any, after: dict[str, str], path: str) -> list[str]:
    """Node ids a rule (or otherwise) runs -> their task ids; each must be linked directly after
    the branch."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        planner.error("branch", "Give a list of node ids.", node=node, path=path)
        return []
    out: list[str] = []
    for j, ref in enumerate(raw):
        if isinstance(ref, str) and ref in after:
            if after[ref] not in out:
                out.append(after[ref])
            continue
        other = planner.p.node_by_id.get(ref) if isinstance(ref, str) else None
        what = f"node '{other.label}'" if other is not None else f"{ref!r} (no such node)"
        planner.error(
            "branch",
            f"A branch can only choose nodes linked directly after it; {what} is not.",
            node=node,
            path=f"{path}/{j}",
        )
    return out


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
    _joins(tasks)


def _joins(tasks: list[Task]) -> None:
    """Below a branch, a task with several upstream tasks runs when none failed and one
    succeeded (the path not taken is skipped), unless its node sets a trigger rule."""
    below: set[str] = set()  # branch tasks and their descendants
    for task in tasks:  # in topological order
        after_branch = any(u in below for u in task.upstream)
        if after_branch and len(task.upstream) > 1 and task.trigger_rule is None:
            task.trigger_rule = BRANCH_JOIN_RULE
        if task.kind == BRANCH or after_branch:
            below.add(task.task_id)
