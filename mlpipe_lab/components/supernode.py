"""Supernodes (pipeline-flow sub-flows) flattened into one pipeline, as a pure transformation.

A ``super_node`` in a pipeline refers to another entry of ``pipelines`` (``subflow_ref``). Its input
ports name an entry ``binding`` node inside the sub-flow (``subflow_node_ref``), whose output the
inner nodes link from; its output ports name an exit binding node, which links from inner nodes.
Outer nodes link to the supernode's output port.

``flatten`` returns a new document whose primary pipeline holds every execution node of every
sub-flow (nested supernodes included) with links rewired through the bindings, so each link that
passed through a binding becomes a direct link between the nodes on either side. Node ids do not
change (problems found on the flat document point at the nodes of the saved one). Each lifted node
records the labels of the supernodes around it in ``GROUP_KEY`` (a key of the node outside its
``app_data``, outermost first), so task ids can be made from them: stable (labels, not positions)
and readable. The document given is
never modified; the saved file stays as the editor wrote it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

SUPER_NODE = "super_node"
BINDING = "binding"
GROUP_KEY = "mlpipe_group"  # in a lifted node of the flat document only (never saved)


@dataclass
class Flattened:
    doc: dict[str, Any]
    groups: dict[str, list[str]] = field(default_factory=dict)  # node id -> supernode labels
    supernodes: list[str] = field(default_factory=list)  # ids of the supernodes expanded
    problems: list[tuple[str, str]] = field(default_factory=list)  # (node id, message)


def has_supernodes(doc: dict[str, Any]) -> bool:
    primary = _primary(doc)
    return any(
        isinstance(n, dict) and n.get("type") == SUPER_NODE
        for n in (primary or {}).get("nodes") or []
    )


def _pipelines(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in doc.get("pipelines") or [] if isinstance(p, dict)]


def _primary(doc: dict[str, Any]) -> dict[str, Any] | None:
    pipelines = _pipelines(doc)
    for p in pipelines:
        if p.get("id") == doc.get("primary_pipeline"):
            return p
    return pipelines[0] if pipelines else None


def _label(node: dict[str, Any]) -> str:
    app = node.get("app_data") if isinstance(node.get("app_data"), dict) else {}
    ui = app.get("ui_data") if isinstance(app.get("ui_data"), dict) else {}
    for value in (app.get("label"), ui.get("label")):
        if isinstance(value, str) and value.strip():
            return value.strip()
    return str(node.get("id", ""))


def _links(port: dict[str, Any]) -> list[dict[str, Any]]:
    return [ln for ln in port.get("links") or [] if isinstance(ln, dict) and ln.get("node_id_ref")]


def flatten(doc: dict[str, Any]) -> Flattened:
    """The document with its primary pipeline's supernodes expanded (see the module doc)."""
    primary = _primary(doc)
    result = Flattened(doc=doc)
    if primary is None or not has_supernodes(doc):
        return result
    by_pipeline = {p.get("id"): p for p in _pipelines(doc)}
    nodes: dict[str, dict[str, Any]] = {}  # every node of every pipeline, by id
    owner: dict[str, str] = {}  # binding node id -> the supernode whose sub-flow holds it
    lifted: list[dict[str, Any]] = []  # execution nodes of the flat pipeline, in order
    groups: dict[str, list[str]] = {}

    def collect(pipeline: dict[str, Any], group: list[str], stack: tuple[str, ...]) -> None:
        for node in pipeline.get("nodes") or []:
            if not isinstance(node, dict):
                continue
            nid = str(node.get("id", ""))
            nodes[nid] = node
            kind = node.get("type")
            if kind == SUPER_NODE:
                result.supernodes.append(nid)
                ref = (node.get("subflow_ref") or {}).get("pipeline_id_ref")
                sub = by_pipeline.get(ref)
                if sub is None or ref in stack:
                    result.problems.append(
                        (
                            nid,
                            "The supernode's sub-pipeline is missing from the file."
                            if sub is None
                            else "The supernode contains itself.",
                        )
                    )
                    continue
                for inner in sub.get("nodes") or []:
                    if isinstance(inner, dict) and inner.get("type") == BINDING:
                        owner[str(inner.get("id", ""))] = nid
                collect(sub, group + [_label(node)], stack + (ref,))
            elif kind == BINDING:
                continue
            else:
                lifted.append(node)
                if group:
                    groups[nid] = group

    collect(primary, [], (str(primary.get("id")),))

    def sources(nid: str, port: str | None, seen: frozenset) -> list[str]:
        """The execution nodes a link from (nid, port) really comes from."""
        if (nid, port) in seen:
            return []
        seen = seen | {(nid, port)}
        node = nodes.get(nid)
        if node is None:
            return [nid]  # a link to a missing node: validation reports it
        kind = node.get("type")
        if kind == SUPER_NODE:
            outs = [p for p in node.get("outputs") or [] if isinstance(p, dict)]
            chosen = [p for p in outs if p.get("id") == port] or outs
            found: list[str] = []
            for p in chosen:
                exit_binding = nodes.get(str(p.get("subflow_node_ref", "")))
                if exit_binding is None:
                    continue
                for inport in exit_binding.get("inputs") or []:
                    for ln in _links(inport):
                        found += sources(str(ln["node_id_ref"]), ln.get("port_id_ref"), seen)
            return found
        if kind == BINDING:
            sup = nodes.get(owner.get(nid, ""))
            if sup is None:
                return []
            found = []
            for p in sup.get("inputs") or []:
                if isinstance(p, dict) and str(p.get("subflow_node_ref", "")) == nid:
                    for ln in _links(p):
                        found += sources(str(ln["node_id_ref"]), ln.get("port_id_ref"), seen)
            return found
        return [nid]

    flat_nodes = []
    for node in lifted:
        new = copy.copy(node)
        new_inputs = []
        for port in node.get("inputs") or []:
            if not isinstance(port, dict):
                continue
            links = []
            seen_sources: set[str] = set()
            for ln in _links(port):
                for src in sources(str(ln["node_id_ref"]), ln.get("port_id_ref"), frozenset()):
                    if src in seen_sources:
                        continue
                    seen_sources.add(src)
                    direct = src == ln["node_id_ref"]
                    links.append(
                        ln if direct else {**ln, "node_id_ref": src, "port_id_ref": "outPort"}
                    )
            new_port = dict(port)
            if "links" in port or links:
                new_port["links"] = links
            new_inputs.append(new_port)
        if "inputs" in node:
            new["inputs"] = new_inputs
        nid = str(node.get("id", ""))
        if nid in groups:
            new[GROUP_KEY] = list(groups[nid])
        flat_nodes.append(new)

    flat_primary = {**primary, "nodes": flat_nodes}
    result.doc = {**doc, "pipelines": [flat_primary]}
    result.groups = groups
    return result
