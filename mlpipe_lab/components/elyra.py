"""How Elyra names components and stores their values in a node, in every version it wrote.

Component ids (``op``):

- ``<catalog type>:<hash>`` and ``<catalog type>:<hash>:<Class>`` (Elyra 3.3+): ``hash`` is the
  first 12 hex digits of sha256 over the catalog entry's reference values joined by ``:``
  (``path`` for file and directory catalogs, ``url`` for URL catalogs, ``file`` for Airflow package
  catalogs, ``provider`` and ``file`` for provider package catalogs, ``component-id`` for Elyra's
  example catalogs); ``:<Class>`` is added when the file holds several operators.
- ``<component id>_<Class>`` (Elyra 3.0-3.2, e.g. ``bash-operator_BashOperator``) and a bare
  ``<component id>`` (Elyra 2.x, e.g. ``bash-operator``, with ``elyra_airflow_class_name``).

Values (``component_parameters``): ``{"widget": ..., "value": ...}`` (format 8), the form
controls ``{"activeControl": "StringControl", "StringControl": ...}`` (formats 6-7), plain values
(formats 4-5), and before format 7 values kept in ``app_data`` under ``<class lower>_<name>``
(``bashoperator_bash_command``; ``elyra_dict_`` marked a dict given as text). A value taken from a
parent node is ``{"value": <node id>, "option": <output>}`` in all of them.
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

#: Elyra's catalog types (schema names) and the keys of an entry reference they hash.
HASH_KEYS: dict[str, tuple[str, ...]] = {
    "local-file-catalog": ("path",),
    "local-directory-catalog": ("path",),
    "url-catalog": ("url",),
    "airflow-package-catalog": ("file",),
    "airflow-provider-package-catalog": ("provider", "file"),
    "elyra-kfp-examples-catalog": ("component-id",),
    "elyra-airflow-examples-catalog": ("component-id",),
}
_OP_HASH = re.compile(r"^(?P<type>[a-z0-9][a-z0-9_-]*):(?P<hash>[0-9a-f]{12})(?::(?P<cls>\w+))?$")
_OP_LEGACY = re.compile(r"^(?P<id>[A-Za-z0-9][\w-]*?)_(?P<cls>[A-Z]\w*)$")


def elyra_hash(reference: dict[str, Any], keys: tuple[str, ...]) -> str:
    """Elyra's 12-digit id hash of a catalog entry reference (keys without a value are left
    out, as Elyra does)."""
    parts = [str(reference[k]) for k in keys if reference.get(k)]
    return hashlib.sha256(":".join(parts).encode()).hexdigest()[:12]


def elyra_id(catalog_type: str, reference: dict[str, Any], class_name: str = "") -> str:
    keys = HASH_KEYS.get(catalog_type, ())
    base = f"{catalog_type}:{elyra_hash(reference, keys)}"
    return f"{base}:{class_name}" if class_name else base


@dataclass(frozen=True)
class OpRef:
    """What an ``op`` says about the component a node uses."""

    op: str
    catalog_type: str = ""  # Elyra catalog type ("" for the legacy forms)
    hash: str = ""
    class_name: str = ""  # operator class, when the op names one
    legacy_id: str = ""  # Elyra 2.x-3.2 component id ("bash-operator", "filter-text", ...)


def parse_op(op: str) -> OpRef:
    match = _OP_HASH.match(op)
    if match:
        return OpRef(op, match["type"], match["hash"], match["cls"] or "")
    match = _OP_LEGACY.match(op)
    if match:
        return OpRef(op, class_name=match["cls"], legacy_id=match["id"])
    return OpRef(op, legacy_id=op)


def component_source(app_data: dict[str, Any]) -> dict[str, Any]:
    """``app_data.component_source`` as ``{"catalog_type", "component_ref": {...}}``; a URL or a
    path (older Elyra) becomes ``{"url": ...}`` / ``{"path": ...}``. Elyra wrote it as JSON, as a
    Python dict's repr (single quotes) or as plain text."""
    raw = app_data.get("component_source")
    if isinstance(raw, dict):
        return raw
    if not isinstance(raw, str) or not raw.strip():
        return {}
    text = raw.strip()
    if text.startswith("{"):
        for reader in (json.loads, ast.literal_eval):
            try:
                value = reader(text)
            except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                continue
            if isinstance(value, dict):
                return value
        return {}
    if "://" in text:
        return {"url": text}
    return {"path": text}


# -- values -------------------------------------------------------------------------------------

VALUE = "value"  # a literal
REF = "ref"  # the output of a parent node
PARAMETER = "parameter"  # a pipeline parameter
FILE = "file"  # the contents of a file (Elyra's "file" widget)
UNSET = "unset"


@dataclass(frozen=True)
class NodeValue:
    kind: str
    value: Any = None  # VALUE: the literal; PARAMETER: its name; FILE: the path
    node_id: str = ""  # REF: the parent node
    output: str = ""  # REF: which output ("" = the parent's return value / XCom)
    widget: str = ""  # as Elyra stored it ("string", "number", "inputpath", ...)


_CONTROL_VALUE = {
    "StringControl": "string",
    "NumberControl": "number",
    "BooleanControl": "boolean",
    "NestedEnumControl": "inputpath",
    "EnumControl": "string",
}


def read_value(raw: Any) -> NodeValue:
    """One stored value, whatever Elyra version wrote it."""
    if isinstance(raw, dict):
        if "widget" in raw:
            widget = str(raw.get("widget") or "")
            value = raw.get("value")
            if widget == "inputpath" or (isinstance(value, dict) and "option" in value):
                return _ref(value, widget or "inputpath")
            if widget == "parameter":
                return NodeValue(PARAMETER, value, widget=widget) if value else NodeValue(UNSET)
            if widget == "file":
                return NodeValue(FILE, value, widget=widget) if value else NodeValue(UNSET)
            return _literal(value, widget)
        if "activeControl" in raw:
            control = str(raw.get("activeControl") or "")
            value = raw.get(control)
            widget = _CONTROL_VALUE.get(control, "")
            if widget == "inputpath":
                return _ref(value, widget)
            return _literal(value, widget)
        if "option" in raw and "value" in raw:
            return _ref(raw, "inputpath")
    return _literal(raw, "")


def _literal(value: Any, widget: str) -> NodeValue:
    if value is None:
        return NodeValue(UNSET, widget=widget)
    return NodeValue(VALUE, value, widget=widget)


def _ref(value: Any, widget: str) -> NodeValue:
    if not isinstance(value, dict) or not value.get("value"):
        return NodeValue(UNSET, widget=widget)
    option = value.get("option") if isinstance(value.get("option"), str) else ""
    if option.startswith("elyra_"):  # formats <= 7 prefixed the output's key
        option = option[len("elyra_") :]
    return NodeValue(REF, node_id=str(value["value"]), output=option, widget=widget)


# Properties Elyra keeps among a component node's parameters that are not the component's.
ELYRA_NODE_PROPERTIES = frozenset(
    {
        "label",
        "runtime_image",
        "mounted_volumes",
        "kubernetes_pod_annotations",
        "kubernetes_pod_labels",
        "kubernetes_shared_mem_size",
        "kubernetes_tolerations",
        "kubernetes_secrets",
        "env_vars",
        "disable_node_caching",
        "inputs",
        "outputs",
    }
)
# Keys of pre-format-7 app_data that are not component values.
_LEGACY_APP_DATA = frozenset(
    {
        "ui_data",
        "label",
        "component_source",
        "component_source_type",
        "component_description",
        "elyra_airflow_class_name",
        "runtime_image",
        "mlpipe",
        "component_parameters",
        "invalidNodeError",
    }
)


def node_values(app_data: dict[str, Any], class_name: str = "") -> dict[str, NodeValue]:
    """The component values a node stores, by parameter name (Elyra's own node properties, such
    as mounted volumes, left out)."""
    params = app_data.get("component_parameters")
    out: dict[str, NodeValue] = {}
    if isinstance(params, dict):
        for key, raw in params.items():
            if key not in ELYRA_NODE_PROPERTIES:
                out[key] = read_value(raw)
        return out
    # Elyra 2.x: "<class lower>_<name>" in app_data ("bashoperator_bash_command"); a dict given
    # as text was marked "<class lower>_elyra_dict_<name>".
    prefix = (class_name or str(app_data.get("elyra_airflow_class_name") or "")).lower() + "_"
    for key, raw in app_data.items():
        if key in _LEGACY_APP_DATA or key in ELYRA_NODE_PROPERTIES:
            continue
        name = key[len(prefix) :] if prefix != "_" and key.startswith(prefix) else key
        if name.startswith("elyra_dict_"):
            name = name[len("elyra_dict_") :]
        elif name.startswith("elyra_"):
            continue
        out[name] = read_value(raw)
    return out


def class_name_of(op: OpRef, app_data: dict[str, Any]) -> str:
    """The operator class a node names: in its op, else Elyra 2.x's elyra_airflow_class_name."""
    if op.class_name:
        return op.class_name
    value = app_data.get("elyra_airflow_class_name")
    return value if isinstance(value, str) and value.isidentifier() else ""
