"""Graph utilities over a pipeline's nodes and links: order, neighbours, cycles, subgraphs."""

from __future__ import annotations

import copy
import heapq
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # model.py builds a Graph lazily; no import cycle at run time
    from .model import Pipeline


class Graph:
    """Adjacency of a pipeline. Links to unknown nodes are ignored here (validation reports them)."""

    def __init__(self, pipeline: Pipeline):
        self.pipeline = pipeline
        self.order_index = {n.id: n.index for n in pipeline.nodes}
        self._parents: dict[str, list[str]] = {n.id: [] for n in pipeline.nodes}
        self._children: dict[str, list[str]] = {n.id: [] for n in pipeline.nodes}
        for link in pipeline.links:
            if link.source in self._parents and link.target in self._parents:
                if link.source not in self._parents[link.target]:
                    self._parents[link.target].append(link.source)
                    self._children[link.source].append(link.target)

    def parents(self, node_id: str) -> list[str]:
        return list(self._parents.get(node_id, []))

    def children(self, node_id: str) -> list[str]:
        return list(self._children.get(node_id, []))

    def ancestors(self, node_id: str) -> set[str]:
        return self._reach(node_id, self._parents)

    def descendants(self, node_id: str) -> set[str]:
        return self._reach(node_id, self._children)

    @staticmethod
    def _reach(start: str, edges: dict[str, list[str]]) -> set[str]:
        seen: set[str] = set()
        stack = list(edges.get(start, []))
        while stack:
            cur = stack.pop()
            if cur not in seen:
                seen.add(cur)
                stack.extend(edges.get(cur, []))
        return seen

    def topological_order(self) -> list[str]:
        """Kahn's algorithm; ties broken by position in the file, so the order is stable.

        Raises ValueError naming the nodes left over when there is a cycle.
        """
        indegree = {nid: len(ps) for nid, ps in self._parents.items()}
        ready = [(self.order_index[n], n) for n, d in indegree.items() if d == 0]
        heapq.heapify(ready)
        out: list[str] = []
        while ready:
            _, nid = heapq.heappop(ready)
            out.append(nid)
            for child in self._children[nid]:
                indegree[child] -= 1
                if indegree[child] == 0:
                    heapq.heappush(ready, (self.order_index[child], child))
        if len(out) != len(indegree):
            raise ValueError(f"cycle among {sorted(set(indegree) - set(out))}")
        return out

    def cycles(self) -> list[list[str]]:
        """Each cycle as the node ids on it, in link order (from strongly connected components)."""
        index: dict[str, int] = {}
        low: dict[str, int] = {}
        on_stack: set[str] = set()
        stack: list[str] = []
        components: list[list[str]] = []
        counter = 0
        for root in sorted(self._parents, key=self.order_index.__getitem__):
            if root in index:
                continue
            # Iterative Tarjan: recursion would overflow on long chains.
            work = [(root, iter(self._children[root]))]
            index[root] = low[root] = counter
            counter += 1
            stack.append(root)
            on_stack.add(root)
            while work:
                node, it = work[-1]
                advanced = False
                for child in it:
                    if child not in index:
                        index[child] = low[child] = counter
                        counter += 1
                        stack.append(child)
                        on_stack.add(child)
                        work.append((child, iter(self._children[child])))
                        advanced = True
                        break
                    if child in on_stack:
                        low[node] = min(low[node], index[child])
                if advanced:
                    continue
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    comp = []
                    while True:
                        top = stack.pop()
                        on_stack.discard(top)
                        comp.append(top)
                        if top == node:
                            break
                    if len(comp) > 1 or node in self._children[node]:
                        components.append(self._cycle_path(set(comp)))
        return components

    def _cycle_path(self, members: set[str]) -> list[str]:
        """A concrete cycle through the component, starting from its first node in file order."""
        start = min(members, key=self.order_index.__getitem__)
        path, seen, cur = [start], {start}, start
        while True:
            nxt = min(
                (c for c in self._children[cur] if c in members),
                key=self.order_index.__getitem__,
            )
            if nxt == start or nxt in seen:
                if nxt != start:  # walked into an inner loop: cut the path there
                    path = path[path.index(nxt) :]
                return path
            path.append(nxt)
            seen.add(nxt)
            cur = nxt


def subgraph(
    pipeline: Pipeline, node_ids: Iterable[str], with_ancestors: bool = False
) -> dict[str, Any]:
    """A new document holding only the chosen nodes (plus, optionally, everything upstream),
    keeping the links among them and dropping links that point outside."""
    graph = pipeline.graph
    keep = {nid for nid in node_ids if nid in pipeline.node_by_id}
    if with_ancestors:
        for nid in list(keep):
            keep |= graph.ancestors(nid)
    doc = copy.deepcopy(pipeline.doc)
    primary_id = pipeline.primary.get("id")
    for p in doc.get("pipelines", []):
        if p.get("id") != primary_id:
            continue
        p["nodes"] = [n for n in p.get("nodes", []) if n.get("id") in keep]
        for node in p["nodes"]:
            for port in node.get("inputs") or []:
                if "links" in port:
                    port["links"] = [ln for ln in port["links"] if ln.get("node_id_ref") in keep]
    return doc
