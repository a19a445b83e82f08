"""Partial runs: which tasks of a plan a run of "one node", "a selection", "from here" or "up to
here" runs, for local runs and for clearing tasks of an Airflow run alike.

Nodes are named by task id, node id or label. ``only``: those nodes; ``start`` ("from"): the
node and its descendants; ``end`` ("to"): the node and its ancestors; ``start`` and ``end``
together: the tasks between them. The nodes named by ``only`` and ``start`` are *forced*: they
run even when the cache has their results (that is why they were chosen).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ..errors import MLPipeError


class SelectionError(MLPipeError, ValueError):
    """A partial run names nodes the pipeline does not have, or asks for nothing."""


@dataclass
class Selection:
    selected: list[str]  # task ids that run, in the plan's order
    forced: set[str] = field(default_factory=set)  # run even when cached
    needed: list[str] = field(default_factory=list)  # not selected, but their outputs are inputs
    others: list[str] = field(default_factory=list)  # neither: not part of this run

    def describe(self) -> str:
        return ", ".join(self.selected)


def _names(values: str | Iterable[str] | None) -> list[str]:
    if values is None:
        return []
    items = [values] if isinstance(values, str) else list(values)
    out: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise SelectionError("Nodes are named by task id, node id or label (text).")
        out += [part.strip() for part in item.split(",") if part.strip()]
    return out


def resolve_nodes(plan, names: Sequence[str], what: str) -> list[str]:
    """Task ids of the named nodes (a serve node names all its tasks)."""
    found: list[str] = []
    for name in names:
        hits = [t.task_id for t in plan.tasks if t.task_id == name]
        if not hits:
            hits = [t.task_id for t in plan.tasks if t.node_id == name]
        if not hits:
            hits = [t.task_id for t in plan.tasks if t.label == name]
            nodes = {t.node_id for t in plan.tasks if t.label == name}
            if len(nodes) > 1:
                raise SelectionError(
                    f"{what}: several nodes of pipeline '{plan.pipeline}' are labelled "
                    f"'{name}'; name one by its task id ({', '.join(hits)})."
                )
        if not hits:
            known = ", ".join(t.task_id for t in plan.tasks) or "none"
            raise SelectionError(
                f"{what}: pipeline '{plan.pipeline}' has no node '{name}' (its tasks: {known})."
            )
        found += [h for h in hits if h not in found]
    return found


def _closure(start: Iterable[str], edges: dict[str, list[str]]) -> set[str]:
    seen: set[str] = set()
    todo = list(start)
    while todo:
        tid = todo.pop()
        if tid in seen:
            continue
        seen.add(tid)
        todo += edges.get(tid, [])
    return seen


def select(
    plan,
    *,
    only: str | Iterable[str] | None = None,
    start: str | Iterable[str] | None = None,
    end: str | Iterable[str] | None = None,
) -> Selection | None:
    """The selection, or None when nothing was asked for (the whole pipeline runs)."""
    only_names, start_names, end_names = _names(only), _names(start), _names(end)
    if not (only_names or start_names or end_names):
        return None
    if only_names and (start_names or end_names):
        raise SelectionError("Give either the nodes to run (only) or from/to, not both.")
    order = [t.task_id for t in plan.tasks]
    up = {t.task_id: list(t.upstream) for t in plan.tasks}
    down: dict[str, list[str]] = {tid: [] for tid in order}
    for tid, ups in up.items():
        for u in ups:
            down.setdefault(u, []).append(tid)
    forced: set[str] = set()
    if only_names:
        chosen = set(resolve_nodes(plan, only_names, "only"))
        forced = set(chosen)
    else:
        chosen = set(order)
        if start_names:
            first = resolve_nodes(plan, start_names, "from")
            chosen &= _closure(first, down)
            forced = set(first)
        if end_names:
            last = resolve_nodes(plan, end_names, "to")
            chosen &= _closure(last, up)
        if not chosen:
            raise SelectionError(
                f"Pipeline '{plan.pipeline}': no task lies between from "
                f"({', '.join(start_names)}) and to ({', '.join(end_names)})."
            )
        forced &= chosen
    ancestors = _closure([u for tid in chosen for u in up[tid]], up) - chosen
    return Selection(
        selected=[t for t in order if t in chosen],
        forced=forced,
        needed=[t for t in order if t in ancestors],
        others=[t for t in order if t not in chosen and t not in ancestors],
    )
