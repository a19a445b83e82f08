"""The pipeline model: read-only views over a parsed .pipeline document.

Views never copy or rewrite the underlying JSON, so saving the document loses nothing. Elyra files
of format versions 1-8 are read as they are: older list formats ("KEY=value" strings) and
properties stored directly in app_data (before version 7) are normalised when read, not written.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any

NOTEBOOK_OP = "execute-notebook-node"
PYTHON_OP = "execute-python-node"
R_OP = "execute-r-node"
GENERIC_OPS = (NOTEBOOK_OP, PYTHON_OP, R_OP)
# mlpipe-lab's own node type: no file; the compiler expands it into several tasks. A file holding
# it is still a valid pipeline-flow v3 document (op is free text there), Elyra just cannot run it.
SERVE_OP = "mlpipe:serve-mlflow-model"
TASK_OPS = GENERIC_OPS + (SERVE_OP,)

# Properties every node inherits from pipeline_defaults, and how list entries are keyed
# when a node's list is merged with the default list (the node's entry wins on the same key).
LIST_MERGE_KEYS = {
    "env_vars": ("env_var",),
    "kubernetes_secrets": ("env_var",),
    "mounted_volumes": ("path",),
    "kubernetes_pod_annotations": ("key",),
    "kubernetes_pod_labels": ("key",),
    "kubernetes_tolerations": ("key", "operator", "value", "effect"),
}
SCALAR_DEFAULTS = ("runtime_image", "kubernetes_shared_mem_size")


@dataclass(frozen=True)
class Link:
    source: str  # upstream node id
    target: str  # downstream node id
    id: str = ""


class Node:
    """A view of one node dict of the primary pipeline."""

    def __init__(self, raw: dict[str, Any], index: int):
        self.raw = raw
        self.index = index
        # read on every graph and plan lookup; the model never changes a document it views, so
        # the properties below are computed once (validation, bundling and the compiler all ask)
        self.id = str(raw.get("id", ""))

    @property
    def type(self) -> str:
        return str(self.raw.get("type", ""))

    @property
    def op(self) -> str:
        return str(self.raw.get("op", ""))

    @property
    def is_generic(self) -> bool:
        return self.type == "execution_node" and self.op in GENERIC_OPS

    @property
    def is_serve(self) -> bool:
        return self.type == "execution_node" and self.op == SERVE_OP

    @property
    def is_task(self) -> bool:
        """Becomes one or more Airflow tasks."""
        return self.is_generic or self.is_serve

    @cached_property
    def app_data(self) -> dict[str, Any]:
        data = self.raw.get("app_data")
        return data if isinstance(data, dict) else {}

    @cached_property
    def parameters(self) -> dict[str, Any]:
        """The node's own properties (Elyra's component_parameters), as stored."""
        params = self.app_data.get("component_parameters")
        if isinstance(params, dict):
            return params
        # Elyra formats before version 7 kept the properties directly in app_data.
        if "filename" in self.app_data:
            return {k: v for k, v in self.app_data.items() if k not in ("ui_data", "label")}
        return {}

    @cached_property
    def mlpipe(self) -> dict[str, Any]:
        extra = self.app_data.get("mlpipe")
        return extra if isinstance(extra, dict) else {}

    @cached_property
    def ui_data(self) -> dict[str, Any]:
        ui = self.app_data.get("ui_data")
        return ui if isinstance(ui, dict) else {}

    @cached_property
    def filename(self) -> str:
        value = self.parameters.get("filename")
        return value if isinstance(value, str) else ""

    @cached_property
    def label(self) -> str:
        for value in (self.app_data.get("label"), self.ui_data.get("label")):
            if isinstance(value, str) and value.strip():
                return value.strip()
        if self.filename:
            return posixpath.basename(self.filename)
        return self.id

    @property
    def description(self) -> str:
        value = self.ui_data.get("description")
        return value if isinstance(value, str) else ""

    def input_links(self) -> Iterator[Link]:
        for port in self.raw.get("inputs") or []:
            if not isinstance(port, dict):
                continue
            for link in port.get("links") or []:
                if isinstance(link, dict) and isinstance(link.get("node_id_ref"), str):
                    yield Link(
                        source=link["node_id_ref"], target=self.id, id=str(link.get("id", ""))
                    )

    def __repr__(self) -> str:
        return f"Node({self.id!r}, {self.label!r})"


@dataclass(frozen=True)
class Parameter:
    name: str
    type: str = "string"
    default: Any = None
    description: str = ""
    required: bool = False
    enum: tuple | None = None
    minimum: float | None = None
    maximum: float | None = None


_ELYRA_PARAM_TYPES = {
    "String": "string",
    "Integer": "integer",
    "Float": "number",
    "Bool": "boolean",
}


class Pipeline:
    """A view of a whole .pipeline document, centred on its primary pipeline."""

    def __init__(self, doc: dict[str, Any], source: str = ""):
        self.doc = doc
        self.source = source  # path of the file, as the user knows it (for messages)
        self._merged: dict[int, tuple[Node, dict[str, Any]]] = {}

    @cached_property
    def primary(self) -> dict[str, Any]:
        pipelines = [p for p in self.doc.get("pipelines") or [] if isinstance(p, dict)]
        wanted = self.doc.get("primary_pipeline")
        for p in pipelines:
            if p.get("id") == wanted:
                return p
        return pipelines[0] if pipelines else {}

    @property
    def app_data(self) -> dict[str, Any]:
        data = self.primary.get("app_data")
        return data if isinstance(data, dict) else {}

    @property
    def version(self) -> int | None:
        value = self.app_data.get("version")
        return value if isinstance(value, int) else None

    @property
    def properties(self) -> dict[str, Any]:
        props = self.app_data.get("properties")
        return props if isinstance(props, dict) else {}

    @property
    def defaults(self) -> dict[str, Any]:
        value = self.properties.get("pipeline_defaults")
        return value if isinstance(value, dict) else {}

    @property
    def mlpipe(self) -> dict[str, Any]:
        extra = self.app_data.get("mlpipe")
        return extra if isinstance(extra, dict) else {}

    @property
    def name(self) -> str:
        name = self.properties.get("name")
        if isinstance(name, str) and name.strip():
            return name.strip()
        stem = posixpath.basename(self.source.replace("\\", "/"))
        return stem[: -len(".pipeline")] if stem.endswith(".pipeline") else (stem or "pipeline")

    @property
    def description(self) -> str:
        value = self.properties.get("description")
        return value if isinstance(value, str) else ""

    @cached_property
    def nodes(self) -> list[Node]:
        raw_nodes = self.primary.get("nodes") or []
        return [Node(n, i) for i, n in enumerate(raw_nodes) if isinstance(n, dict)]

    @cached_property
    def node_by_id(self) -> dict[str, Node]:
        return {n.id: n for n in self.nodes}

    @cached_property
    def links(self) -> list[Link]:
        return [link for node in self.nodes for link in node.input_links()]

    @cached_property
    def graph(self):
        """The adjacency of the nodes (built once per view: validation and compile share it)."""
        from .graph import Graph

        return Graph(self)

    @property
    def parameters(self) -> list[Parameter]:
        """Typed pipeline parameters: ours, else Elyra's (KFP-style) ones."""
        ours = self.mlpipe.get("parameters")
        out: list[Parameter] = []
        if isinstance(ours, list):
            for p in ours:
                if isinstance(p, dict) and isinstance(p.get("name"), str):
                    out.append(
                        Parameter(
                            name=p["name"],
                            type=p.get("type", "string"),
                            default=p.get("default"),
                            description=p.get("description", "") or "",
                            required=bool(p.get("required", False)),
                            enum=tuple(p["enum"]) if isinstance(p.get("enum"), list) else None,
                            minimum=p.get("minimum"),
                            maximum=p.get("maximum"),
                        )
                    )
            return out
        for p in self.properties.get("pipeline_parameters") or []:
            if isinstance(p, dict) and isinstance(p.get("name"), str):
                dv = p.get("default_value") if isinstance(p.get("default_value"), dict) else {}
                out.append(
                    Parameter(
                        name=p["name"],
                        type=_ELYRA_PARAM_TYPES.get(dv.get("type", "String"), "string"),
                        default=dv.get("value"),
                        description=p.get("description", "") or "",
                        required=bool(p.get("required", False)),
                    )
                )
        return out

    def node_properties(self, node: Node) -> dict[str, Any]:
        """The node's properties with pipeline_defaults merged the way Elyra merges them.
        Computed once per node (validation, bundling and the compiler each ask): do not mutate."""
        merged = self._merged.get(id(node))
        if merged is None or merged[0] is not node:
            merged = self._merged[id(node)] = (node, merge_defaults(node.parameters, self.defaults))
        return merged[1]


def _entry_key(kind: str, entry: dict[str, Any]) -> tuple:
    return tuple(str(entry.get(k, "") or "") for k in LIST_MERGE_KEYS[kind])


def normalise_entries(kind: str, value: Any) -> list[dict[str, Any]]:
    """List property entries as dicts, accepting Elyra's pre-v8 string forms."""
    out = []
    for item in value or []:
        if isinstance(item, dict):
            out.append(item)
        elif isinstance(item, str) and item.strip():
            out.append(_from_legacy_string(kind, item.strip()))
    return out


def _from_legacy_string(kind: str, text: str) -> dict[str, Any]:
    if kind == "env_vars" or kind in ("kubernetes_pod_annotations", "kubernetes_pod_labels"):
        key, _, value = text.partition("=")
        field = "env_var" if kind == "env_vars" else "key"
        return {field: key.strip(), "value": value.strip()}
    if kind == "kubernetes_secrets":  # ENV=secret-name:key
        env, _, ref = text.partition("=")
        name, _, key = ref.partition(":")
        return {"env_var": env.strip(), "name": name.strip(), "key": key.strip()}
    if kind == "mounted_volumes":  # /path=pvc-name
        path, _, pvc = text.partition("=")
        return {"path": path.strip(), "pvc_name": pvc.strip()}
    if kind == "kubernetes_tolerations":  # key:operator:value:effect
        parts = (text.split(":") + ["", "", "", ""])[:4]
        return dict(zip(("key", "operator", "value", "effect"), (p.strip() for p in parts)))
    return {"value": text}


def merge_defaults(node_params: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    merged = dict(node_params)
    for key in SCALAR_DEFAULTS:
        if merged.get(key) in (None, "", {}) and defaults.get(key) not in (None, "", {}):
            merged[key] = defaults[key]
    for kind in LIST_MERGE_KEYS:
        if kind not in node_params and kind not in defaults:
            continue
        by_key: dict[tuple, dict[str, Any]] = {}
        for entry in normalise_entries(kind, defaults.get(kind)):
            by_key[_entry_key(kind, entry)] = entry
        for entry in normalise_entries(kind, node_params.get(kind)):
            by_key[_entry_key(kind, entry)] = entry
        # Entries without a key (e.g. an env var with no name) are half-filled form rows.
        merged[kind] = [e for k, e in by_key.items() if any(k)]
    return merged


def load(doc: dict[str, Any], source: str = "") -> Pipeline:
    return Pipeline(doc, source)
