"""The identity of a plan: the DAG id, each task's id, its node, its links. Cheap, and the one place
ids are derived (export needs them to name bundles before the rest of the plan is made)."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field

from ..pipeline.graph import Graph
from ..pipeline.ids import slugify, unique_ids
from ..pipeline.model import (
    APPROVAL_OP,
    BRANCH_OP,
    NOTEBOOK_OP,
    PYTHON_OP,
    R_OP,
    SERVE_OP,
    Node,
    Pipeline,
)

KIND_BY_OP = {
    NOTEBOOK_OP: "notebook",
    PYTHON_OP: "python",
    R_OP: "r",
    SERVE_OP: "serve",
    BRANCH_OP: "branch",
    APPROVAL_OP: "approval",
}
# An operator or KFP component node: the planner tells which (model.OPERATOR or model.KFP).
COMPONENT = "component"


def wanted_id(node: Node) -> str:
    """The task id a node's label gives; a node lifted out of supernodes is prefixed with their
    labels (``Preprocess_Filter_rows``): stable and readable."""
    return "_".join(slugify(part) for part in [*node.group, node.label])


def serve_steps(node: Node, local: bool) -> tuple[str, ...]:
    """The tasks a serve node becomes, in order: its typed serving spec decides (see
    ``mlpipe_lab.serving.spec.ServeSpec.steps``); ``local``: without Kubernetes."""
    from ..serving.spec import ServeSpec

    return ServeSpec.from_properties(node.parameters).steps(local)


@dataclass
class Slot:
    """A task's place in the DAG, before its settings are known."""

    node: Node
    task_id: str
    kind: str
    file: str  # node file inside its bundle, whose root is the file's folder: its base name
    upstream: list[str] = field(default_factory=list)  # task ids of direct upstream tasks
    step: str | None = None  # serve nodes: which of serving.spec.STEPS / LOCAL_STEPS
    steps: dict[str, str] = field(default_factory=dict)  # serve nodes: step -> task id
    # Tasks whose outputs this task receives (the runner's --upstream): serve tasks have no
    # outputs, so the tasks before a serve node stand in for it.
    inputs: list[str] = field(default_factory=list)

    @property
    def node_id(self) -> str:
        return self.node.id


@dataclass
class Layout:
    dag_id: str
    slots: list[Slot]  # topological order, ties broken by position in the file
    local: bool  # serve nodes expanded without Kubernetes
    clashes: list[Clash] = field(default_factory=list)

    def task_id_of(self, node_id: str) -> str | None:
        """The node's (first) task id; None for a node that runs nothing."""
        for slot in self.slots:
            if slot.node.id == node_id:
                return slot.task_id
        return None


def dag_id_of(pipeline: Pipeline) -> str:
    explicit = pipeline.mlpipe.get("dag_id")
    if isinstance(explicit, str) and explicit:
        return explicit
    return slugify(pipeline.name, fallback="")


def normalise_file(path: str) -> str:
    return posixpath.normpath(path.replace("\\", "/")) if path else path


def task_ids(pipeline: Pipeline) -> tuple[dict[str, str], list[Clash]]:
    """node id -> the node's task id (a serve node's tasks are ``<it>_<step>``), and the clashes.
    Explicit ids (``mlpipe.task_id``) are kept; derived ones give way to them and to each other
    (``a``, ``a_2``; case-insensitively, as pod names are)."""
    runnable = [n for n in pipeline.nodes if n.is_task]
    explicit: dict[str, str] = {}
    clashes: list[Clash] = []
    owner: dict[str, Node] = {}
    for node in runnable:
        value = node.mlpipe.get("task_id")
        if isinstance(value, str) and value:
            explicit[node.id] = value
            if value.lower() in owner:
                clashes.append(Clash(node, owner[value.lower()], value, value, explicit=True))
            else:
                owner[value.lower()] = node
    derived_nodes = [n for n in runnable if n.id not in explicit]
    wanted = [wanted_id(n) for n in derived_nodes]
    derived = unique_ids(wanted, reserved=set(explicit.values()))
    for node, want, got in zip(derived_nodes, wanted, derived):
        if want != got:
            clashes.append(Clash(node, owner.get(want.lower(), node), want, got, explicit=False))
        owner.setdefault(got.lower(), node)
    ids = dict(explicit)
    ids.update(zip((n.id for n in derived_nodes), derived))
    return ids, clashes


@dataclass
class Clash:
    """Two nodes wanting the same task id: ``node`` got ``got`` instead of ``wanted`` (derived
    ids), or keeps a duplicate explicit id (an error)."""

    node: Node
    other: Node
    wanted: str
    got: str
    explicit: bool


def layout(pipeline: Pipeline, local: bool = False) -> Layout:
    """Slots for the runnable (notebook, Python, R) nodes and the tasks serve nodes expand into
    (``local``: the expansion without Kubernetes). Other nodes (e.g. Elyra binding nodes) carry
    nothing to run: links through them are kept as links between the tasks around them."""
    runnable = [n for n in pipeline.nodes if n.is_task]
    ids, clashes = task_ids(pipeline)

    # A serve node's tasks are <id>_<step>; they give way to the ids of other nodes.
    steps: dict[str, dict[str, str]] = {}
    taken = {ids[n.id] for n in runnable if not n.is_serve}
    for node in runnable:
        if node.is_serve:
            names = serve_steps(node, local)
            step_ids = unique_ids([f"{ids[node.id][:240]}_{s}" for s in names], reserved=taken)
            taken.update(step_ids)
            steps[node.id] = dict(zip(names, step_ids))
    last = {
        nid: (list(steps[nid].values())[-1] if nid in steps else tid) for nid, tid in ids.items()
    }

    graph = pipeline.graph
    try:
        order = graph.topological_order()
    except ValueError:  # cycles are validation errors; keep going for a partial plan
        order = [n.id for n in pipeline.nodes]
    slots: list[Slot] = []
    memo: dict[str, list[str]] = {}
    data_of: dict[str, list[str]] = {}  # serve node, gate -> the data upstream it passes on
    for nid in order:
        if nid not in ids:
            continue
        node = pipeline.node_by_id[nid]
        parents = _upstream_tasks(nid, graph, ids, memo)
        ups = [last[u] for u in parents]
        data_ups = list(dict.fromkeys(d for u in parents for d in data_of.get(u, [ids[u]])))
        if node.is_branch:  # no outputs: the nodes after it receive those before it
            data_of[nid] = data_ups
        if node.is_approval:  # a gate has no outputs: the tasks before it pass theirs on
            data_of[nid] = data_ups
            data_ups = []
        if nid not in steps:
            slots.append(
                Slot(
                    node=node,
                    task_id=ids[nid],
                    kind=KIND_BY_OP.get(node.op, COMPONENT),
                    file=posixpath.basename(normalise_file(node.filename))
                    if node.is_generic
                    else "",
                    upstream=ups,
                    inputs=data_ups,
                )
            )
            continue
        data_of[nid] = data_ups
        previous = ups
        for step, tid in steps[nid].items():
            slots.append(
                Slot(
                    node=node,
                    task_id=tid,
                    kind="serve",
                    file="",
                    upstream=previous,
                    step=step,
                    steps=steps[nid],
                )
            )
            previous = [tid]
    position = {s.task_id: i for i, s in enumerate(slots)}
    for s in slots:
        s.upstream.sort(key=position.__getitem__)
        s.inputs.sort(key=position.__getitem__)
    return Layout(dag_id=dag_id_of(pipeline), slots=slots, local=local, clashes=clashes)


def _upstream_tasks(
    nid: str, graph: Graph, ids: dict[str, str], memo: dict[str, list[str]]
) -> list[str]:
    """Direct upstream tasks, looking through non-task nodes."""
    out: list[str] = []
    seen: set[str] = set()
    for parent in graph.parents(nid):
        found = [parent] if parent in ids else _through(parent, graph, ids, memo)
        for f in found:
            if f not in seen:
                seen.add(f)
                out.append(f)
    return out


def _through(nid: str, graph: Graph, ids: dict[str, str], memo: dict[str, list[str]]) -> list[str]:
    if nid not in memo:
        memo[nid] = []  # guards against cycles among non-task nodes
        memo[nid] = _upstream_tasks(nid, graph, ids, memo)
    return memo[nid]
