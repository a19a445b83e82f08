"""What a pipeline becomes, before any code: the DAG id, the tasks in order, their ids and links.

Shared by the compiler and by export (which needs the task ids to name bundles).
"""

from __future__ import annotations

import builtins
import keyword
import posixpath
import re
from dataclasses import dataclass, field
from ..pipeline.graph import Graph
from ..pipeline.ids import slugify, unique_ids
from ..pipeline.model import NOTEBOOK_OP, PYTHON_OP, R_OP, Node, Pipeline

KIND_BY_OP = {NOTEBOOK_OP: "notebook", PYTHON_OP: "python", R_OP: "r"}

# Names the generated module defines or imports; task variables never take them.
MODULE_NAMES = {
    "DAG", "Param", "KubernetesPodOperator", "Secret", "k8s", "pendulum", "timedelta",
    "RUNNER", "POD_SETTINGS", "TASK_ENV", "TASK_LABELS", "STORE_SECRETS", "dag",
    "BashOperator", "TASK_SETTINGS", "NOTEBOOK_PARAMS",
}
_RESERVED = MODULE_NAMES | set(dir(builtins))


@dataclass
class Task:
    node: Node
    task_id: str
    var: str
    kind: str
    file: str  # node file, relative to the pipeline folder, normalised
    upstream: list[str] = field(default_factory=list)  # task ids of direct upstream tasks

    @property
    def node_id(self) -> str:
        return self.node.id


@dataclass
class Plan:
    dag_id: str
    tasks: list[Task]  # topological order, ties broken by position in the file

    @property
    def by_node(self) -> dict[str, Task]:
        return {t.node_id: t for t in self.tasks}


def dag_id_of(pipeline: Pipeline) -> str:
    explicit = pipeline.mlpipe.get("dag_id")
    if isinstance(explicit, str) and explicit:
        return explicit
    return slugify(pipeline.name, fallback="")


def normalise_file(path: str) -> str:
    return posixpath.normpath(path.replace("\\", "/")) if path else path


def make_plan(pipeline: Pipeline) -> Plan:
    """Tasks for the runnable (notebook, Python, R) nodes. Other nodes (e.g. Elyra binding nodes)
    carry nothing to run: links through them are kept as links between the tasks around them."""
    runnable = [n for n in pipeline.nodes if n.is_generic]
    explicit: dict[str, str] = {}
    for node in runnable:
        value = node.mlpipe.get("task_id")
        if isinstance(value, str) and value:
            explicit[node.id] = value
    derived_nodes = [n for n in runnable if n.id not in explicit]
    derived = unique_ids([slugify(n.label) for n in derived_nodes], reserved=set(explicit.values()))
    task_ids = dict(explicit)
    task_ids.update(zip((n.id for n in derived_nodes), derived))

    graph = pipeline.graph
    try:
        order = graph.topological_order()
    except ValueError:  # cycles are validation errors; keep going for a partial plan
        order = [n.id for n in pipeline.nodes]
    variables = _variables([task_ids[nid] for nid in order if nid in task_ids])
    tasks: list[Task] = []
    memo: dict[str, list[str]] = {}
    for nid in order:
        if nid not in task_ids:
            continue
        node = pipeline.node_by_id[nid]
        ups = _upstream_tasks(nid, graph, task_ids, memo)
        tasks.append(
            Task(
                node=node,
                task_id=task_ids[nid],
                var=variables[task_ids[nid]],
                kind=KIND_BY_OP[node.op],
                file=normalise_file(node.filename),
                upstream=[task_ids[u] for u in ups],
            )
        )
    position = {t.task_id: i for i, t in enumerate(tasks)}
    for t in tasks:
        t.upstream.sort(key=position.__getitem__)
    return Plan(dag_id=dag_id_of(pipeline), tasks=tasks)


def _upstream_tasks(nid: str, graph: Graph, task_ids: dict[str, str],
                    memo: dict[str, list[str]]) -> list[str]:
    """Direct upstream tasks, looking through non-task nodes."""
    out: list[str] = []
    seen: set[str] = set()
    for parent in graph.parents(nid):
        found = [parent] if parent in task_ids else _through(parent, graph, task_ids, memo)
        for f in found:
            if f not in seen:
                seen.add(f)
                out.append(f)
    return out


def _through(nid: str, graph: Graph, task_ids: dict[str, str], memo: dict[str, list[str]]) -> list[str]:
    if nid not in memo:
        memo[nid] = []  # guards against cycles among non-task nodes
        memo[nid] = _upstream_tasks(nid, graph, task_ids, memo)
    return memo[nid]


def _variables(task_ids: list[str]) -> dict[str, str]:
    """Python variable names for task ids: readable, unique, never a keyword or a module name."""
    used: set[str] = set()
    out: dict[str, str] = {}
    for tid in task_ids:
        base = re.sub(r"[^A-Za-z0-9_]", "_", tid)
        if not base or base[0].isdigit() or keyword.iskeyword(base) or base in _RESERVED:
            base = "t_" + base
        name, n = base, 1
        while name in used:
            n += 1
            name = f"{base}_{n}"
        used.add(name)
        out[tid] = name
    return out
