"""The pipeline model: read-only views over a parsed .pipeline document.

Views never rewrite the underlying JSON, so saving the document loses nothing. Every historical
Elyra format is read the way Elyra's own migrations (pipeline-editor ``migration/migrateV1..V8``)
read it, without migrating the file: pre-version-1 property names (``artifact``, ``image``,
``vars``...), properties stored directly in app_data (before version 4), ``"KEY=value"`` list
entries (before version 8, and 7.5 dev builds), and ``null``/``""`` for unset properties and list
entries (Elyra 3 wrote them). Version-1 file paths (relative to the Jupyter root) are resolved by
files.py, which knows the project root.
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
# A branch (docs/control-flow.md): no file; chooses which of the nodes linked after it run.
BRANCH_OP = "mlpipe:branch"
# An approval gate (no file): a task that waits for a person's decision (docs/control-flow.md).
APPROVAL_OP = "mlpipe:approval"
TASK_OPS = GENERIC_OPS + (SERVE_OP, BRANCH_OP, APPROVAL_OP)

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
# Properties whose value is a list of strings (patterns, names): entries are kept as strings.
STRING_LISTS = ("dependencies", "outputs", "pipeline_parameters")
# Names of properties before format version 1 (migrateV1), and what they are called now.
LEGACY_NAMES = {
    "artifact": "filename",
    "notebook": "filename",
    "image": "runtime_image",
    "docker_image": "runtime_image",
    "vars": "env_vars",
    "file_dependencies": "dependencies",
    "recursive_dependencies": "include_subdirectories",
}
# app_data keys that are not node properties when a file keeps the properties in app_data.
_NOT_PROPERTIES = ("ui_data", "label", "component_parameters", "mlpipe")
# Elyra's format version; files without one are read as version 0 (as Elyra's migrate does).
CURRENT_VERSION = 8


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
        kind = str(self.raw.get("type", ""))
        return "execution_node" if kind == "pipeline_node" else kind  # before version 1

    @property
    def op(self) -> str:
        op = self.raw.get("op")
        if not op and self.raw.get("type") == "pipeline_node":
            return NOTEBOOK_OP  # before version 1 every node ran a notebook (migrateV1)
        return str(op or "")

    @property
    def is_generic(self) -> bool:
        return self.type == "execution_node" and self.op in GENERIC_OPS

    @property
    def is_serve(self) -> bool:
        return self.type == "execution_node" and self.op == SERVE_OP

    @property
    def is_branch(self) -> bool:
        return self.type == "execution_node" and self.op == BRANCH_OP

    @property
    def is_approval(self) -> bool:
        return self.type == "execution_node" and self.op == APPROVAL_OP

    @property
    def is_component(self) -> bool:
        """An Airflow operator or KFP component node (any other op): the planner resolves it
        from the component catalogs (``mlpipe_lab.components``)."""
        return self.type == "execution_node" and bool(self.op) and self.op not in TASK_OPS

    @property
    def is_task(self) -> bool:
        """Becomes one or more Airflow tasks."""
        return (
            self.is_generic
            or self.is_serve
            or self.is_branch
            or self.is_approval
            or self.is_component
        )

    @property
    def group(self) -> list[str]:
        """Labels of the supernodes around the node (outermost first), when it was lifted out of
        a sub-pipeline (see ``components.supernode``)."""
        group = self.raw.get("mlpipe_group")  # components.supernode.GROUP_KEY
        return [g for g in group if isinstance(g, str)] if isinstance(group, list) else []

    @cached_property
    def app_data(self) -> dict[str, Any]:
        data = self.raw.get("app_data")
        return data if isinstance(data, dict) else {}

    @cached_property
    def stored_parameters(self) -> dict[str, Any]:
        """The node's own properties (Elyra's component_parameters) exactly as stored."""
        params = self.app_data.get("component_parameters")
        if isinstance(params, dict):
            return params
        # Before format version 4 the properties lived directly in app_data.
        if any(k in self.app_data for k in ("filename", *LEGACY_NAMES)):
            return {k: v for k, v in self.app_data.items() if k not in _NOT_PROPERTIES}
        return {}

    @cached_property
    def _read(self) -> tuple[dict[str, Any], dict[str, list[int]]]:
        return read_properties(self.stored_parameters)

    @property
    def parameters(self) -> dict[str, Any]:
        """The node's own properties in today's format (see read_properties); do not mutate."""
        return self._read[0]

    def stored_path(self, path: str) -> str:
        """A field path into ``parameters`` as the path of the stored value: list entries that
        were left out because they are unset (``null``, ``""``) shift the later indexes."""
        parts = path.split("/")
        if len(parts) >= 3 and parts[0] == "component_parameters" and parts[2].isdigit():
            kept = self._read[1].get(parts[1])
            if kept is not None and int(parts[2]) < len(kept):
                parts[2] = str(kept[int(parts[2])])
        return "/".join(parts)

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
        # (node id, message) of supernodes that cannot be expanded
        self.supernode_problems: list[tuple[str, str]] = []

    @cached_property
    def primary(self) -> dict[str, Any]:
        """The primary pipeline, its supernodes expanded (sub-pipelines flattened; the document
        itself is never changed)."""
        from ..components.supernode import flatten, has_supernodes

        doc = self.doc
        if isinstance(doc.get("pipelines"), list) and has_supernodes(doc):
            flat = flatten(doc)
            self.supernode_problems = flat.problems
            doc = flat.doc
        pipelines = [p for p in doc.get("pipelines") or [] if isinstance(p, dict)]
        wanted = doc.get("primary_pipeline")
        for p in pipelines:
            if p.get("id") == wanted:
                return p
        return pipelines[0] if pipelines else {}

    @property
    def app_data(self) -> dict[str, Any]:
        data = self.primary.get("app_data")
        return data if isinstance(data, dict) else {}

    @property
    def version(self) -> int | float | None:
        """``app_data.version`` as stored (Elyra dev builds wrote 7.5); None when absent."""
        value = self.app_data.get("version")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None
        return value

    @property
    def format_version(self) -> float:
        """The format the file is read as: its version, 0 when it has none (as Elyra does)."""
        value = self.version
        return 0 if value is None else value

    @property
    def paths_from_root(self) -> bool:
        """File paths of versions before 2 are relative to the Jupyter root, not to the file."""
        return self.format_version < 2

    @property
    def properties(self) -> dict[str, Any]:
        props = self.app_data.get("properties")
        return props if isinstance(props, dict) else {}

    @cached_property
    def _defaults(self) -> tuple[dict[str, Any], dict[str, list[int]]]:
        value = self.properties.get("pipeline_defaults")
        return read_properties(value if isinstance(value, dict) else {})

    @property
    def defaults(self) -> dict[str, Any]:
        """pipeline_defaults in today's format (see read_properties); do not mutate."""
        return self._defaults[0]

    def stored_defaults_path(self, path: str) -> str:
        """Like Node.stored_path, for ``properties/pipeline_defaults/<kind>/<i>/...``."""
        parts = path.split("/")
        if len(parts) >= 4 and parts[:2] == ["properties", "pipeline_defaults"]:
            kept = self._defaults[1].get(parts[2])
            if kept is not None and parts[3].isdigit() and int(parts[3]) < len(kept):
                parts[3] = str(kept[int(parts[3])])
        return "/".join(parts)

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

    def node_parameters(self, node: Node) -> list[Parameter]:
        """The pipeline parameters a node receives: the ones it selects, in the pipeline's order.
        A node that selects none gets none (as in Elyra)."""
        wanted = self.node_properties(node).get("pipeline_parameters")
        if not isinstance(wanted, list) or not wanted:
            return []
        names = {n for n in wanted if isinstance(n, str)}
        return [p for p in self.parameters if p.name in names]

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
    """List property entries as dicts, accepting Elyra's pre-v8 string forms; unset entries
    (``null``, ``""``) are left out."""
    if not isinstance(value, list):
        return []
    out = []
    for item in value:
        entry = _entry(kind, item)
        if entry is not None:
            out.append(entry)
    return out


def _entry(kind: str, item: Any) -> Any:
    """One list entry in today's format, or None when it is unset."""
    if kind in STRING_LISTS:
        if isinstance(item, str):
            return item if item.strip() else None
        return item  # None: unset; other types are left for the schema to report
    if isinstance(item, dict):
        if any(v is None for v in item.values()):
            return {k: v for k, v in item.items() if v is not None} or None
        return item
    if isinstance(item, str):
        return _from_legacy_string(kind, item.strip()) if item.strip() else None
    return None  # not an entry (a number, a list): the schema check of the raw value reports it


def _from_legacy_string(kind: str, text: str) -> dict[str, Any]:
    """Elyra <= 7 list entries (migrateV8 turns them into objects the same way)."""
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
    if kind == "kubernetes_tolerations":  # TOL_ID=key:operator:value:effect
        head, sep, rest = text.partition("=")
        if sep and ":" not in head:
            text = rest
        parts = (text.split(":") + ["", "", "", ""])[:4]
        return dict(zip(("key", "operator", "value", "effect"), (p.strip() for p in parts)))
    return {"value": text}


def read_properties(stored: dict[str, Any]) -> tuple[dict[str, Any], dict[str, list[int]]]:
    """Node properties (or pipeline_defaults) in today's format, and for each list that lost
    unset entries the stored index of every kept entry.

    Pre-v1 names become today's names (the stored value wins if both are present); ``null`` or
    ``""`` for a property means it is not set; list entries that are ``null``/``""`` are left
    out, ``"KEY=value"`` strings become objects, and ``null`` fields of objects are unset. A
    property already in today's format is the stored object itself (no copy)."""
    if not _needs_reading(stored):
        return stored, {}
    out: dict[str, Any] = {}
    kept: dict[str, list[int]] = {}
    for key, value in stored.items():
        name = LEGACY_NAMES.get(key, key)
        if name != key and name in stored:
            continue
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        if isinstance(value, list) and (name in LIST_MERGE_KEYS or name in STRING_LISTS):
            entries: list[Any] = []
            index: list[int] = []
            for i, item in enumerate(value):
                entry = _entry(name, item)
                if entry is not None:
                    entries.append(entry)
                    index.append(i)
            if len(index) != len(value):
                kept[name] = index
            value = entries
        elif isinstance(value, dict) and any(v is None for v in value.values()):
            value = {k: v for k, v in value.items() if v is not None}
        out[name] = value
    return out, kept


def _needs_reading(stored: dict[str, Any]) -> bool:
    for key, value in stored.items():
        if key in LEGACY_NAMES or value is None:
            return True
        if isinstance(value, str):
            if not value.strip():
                return True
        elif isinstance(value, list):
            strings = key in STRING_LISTS
            for item in value:
                if item is None or (isinstance(item, str) and (not strings or not item.strip())):
                    return True
                if isinstance(item, dict) and any(v is None for v in item.values()):
                    return True
        elif isinstance(value, dict) and any(v is None for v in value.values()):
            return True
    return False


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
