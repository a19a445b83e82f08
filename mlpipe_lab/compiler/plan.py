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
from ..pipeline.model import NOTEBOOK_OP, PYTHON_OP, R_OP, SERVE_OP, Node, Pipeline

KIND_BY_OP = {NOTEBOOK_OP: "notebook", PYTHON_OP: "python", R_OP: "r", SERVE_OP: "serve"}


def serve_steps(node: Node, local: bool) -> tuple[str, ...]:
    """The tasks a serve node becomes, in order: its typed serving spec decides (see
    ``mlpipe_lab.serving.spec.ServeSpec.steps``)."""
    from ..serving.spec import ServeSpec

    return ServeSpec.from_properties(node.parameters).steps(local)


# Names the generated module defines or imports; task variables never take them.
MODULE_NAMES = {
    "DAG",
    "Param",
    "KubernetesPodOperator",
    "Secret",
    "k8s",
    "pendulum",
    "timedelta",
    "RUNNER",
    "POD_SETTINGS",
    "TASK_ENV",
    "TASK_LABELS",
    "STORE_SECRETS",
    "dag",
    "BashOperator",
    "TASK_SETTINGS",
    "NOTEBOOK_PARAMS",
    "RUNNER_POD",
    "RUNNER_IN_IMAGE",
    "RUNNER_COPIED",
}
_RESERVED = MODULE_NAMES | set(dir(builtins))


@dataclass
class Task:
    node: Node
    task_id: str
    var: str
    kind: str
    file: str  # node file inside its bundle, whose root is the file's folder: its base name
    upstream: list[str] = field(default_factory=list)  # task ids of direct upstream tasks
    step: str | None = None  # for serve nodes: which of serving.spec.STEPS / LOCAL_STEPS
    steps: dict[str, str] = field(default_factory=dict)  # serve nodes: step -> task id of the node
    # Tasks whose outputs this task receives (the runner's --upstream): serve tasks have no
    # outputs, so the tasks before a serve node stand in for it.
    data_upstream: list[str] = field(default_factory=list)

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


def make_plan(pipeline: Pipeline, local: bool = False) -> Plan:
    """Tasks for the runnable (notebook, Python, R) nodes and the tasks serve nodes expand into
    (``local``: the expansion without Kubernetes). Other nodes (e.g. Elyra binding nodes) carry
    nothing to run: links through them are kept as links between the tasks around them."""
    runnable = [n for n in pipeline.nodes if n.is_task]
    explicit: dict[str, str] = {}
    for node in runnable:
        value = node.mlpipe.get("task_id")
        if isinstance(value, str) and value:
            explicit[node.id] = value
    derived_nodes = [n for n in runnable if n.id not in explicit]
    derived = unique_ids([slugify(n.label) for n in derived_nodes], reserved=set(explicit.values()))
    task_ids = dict(explicit)
    task_ids.update(zip((n.id for n in derived_nodes), derived))

    # A serve node's tasks are <id>_<step>; they give way to the ids of other nodes.
    steps: dict[str, dict[str, str]] = {}
    taken = {task_ids[n.id] for n in runnable if not n.is_serve}
    for node in runnable:
        if node.is_serve:
            names = serve_steps(node, local)
            ids = unique_ids([f"{task_ids[node.id][:240]}_{s}" for s in names], reserved=taken)
            taken.update(ids)
            steps[node.id] = dict(zip(names, ids))
    last = {
        nid: (list(steps[nid].values())[-1] if nid in steps else tid)
        for nid, tid in task_ids.items()
    }

    graph = pipeline.graph
    try:
        order = graph.topological_order()
    except ValueError:  # cycles are validation errors; keep going for a partial plan
        order = [n.id for n in pipeline.nodes]
    ordered_ids = [
        tid
        for nid in order
        if nid in task_ids
        for tid in (steps[nid].values() if nid in steps else [task_ids[nid]])
    ]
    variables = _variables(ordered_ids)
    tasks: list[Task] = []
    memo: dict[str, list[str]] = {}
    data_of: dict[str, list[str]] = {}  # serve node -> the data upstream it passes on
    for nid in order:
        if nid not in task_ids:
            continue
        node = pipeline.node_by_id[nid]
        parents = _upstream_tasks(nid, graph, task_ids, memo)
        ups = [last[u] for u in parents]
        data_ups = list(dict.fromkeys(d for u in parents for d in data_of.get(u, [task_ids[u]])))
        if nid not in steps:
            tasks.append(
                Task(
                    node=node,
                    task_id=task_ids[nid],
                    var=variables[task_ids[nid]],
                    kind=KIND_BY_OP[node.op],
                    file=posixpath.basename(normalise_file(node.filename)),
                    upstream=ups,
                    data_upstream=data_ups,
                )
            )
            continue
        data_of[nid] = data_ups
        previous = ups
        for step, tid in steps[nid].items():
            tasks.append(
                Task(
                    node=node,
                    task_id=tid,
                    var=variables[tid],
                    kind="serve",
                    file="",
                    upstream=previous,
                    step=step,
                    steps=steps[nid],
                )
            )
            previous = [tid]
    position = {t.task_id: i for i, t in enumerate(tasks)}
    for t in tasks:
        t.upstream.sort(key=position.__getitem__)
        t.data_upstream.sort(key=position.__getitem__)
    return Plan(dag_id=dag_id_of(pipeline), tasks=tasks)


def _upstream_tasks(
    nid: str, graph: Graph, task_ids: dict[str, str], memo: dict[str, list[str]]
) -> list[str]:
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


def _through(
    nid: str, graph: Graph, task_ids: dict[str, str], memo: dict[str, list[str]]
) -> list[str]:
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
