"""Structural validation: the file's schema, links, nodes and files, each problem located by
pipeline, node, field and message. What the pipeline becomes for a runtime configuration (ids,
tasks, schedules, storage...) is checked by the planner: ``mlpipe_lab.plan.check`` runs both.

Pure apart from the optional ``files`` view (see files.py) used to check that files exist.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Collection, Iterable
from typing import Any

from ..schemas import quick_cached, quick_check, validator
from . import document
from .files import LocalFiles, PipelineFiles
from .model import (
    APPROVAL_OP,
    BRANCH_OP,
    CURRENT_VERSION,
    GENERIC_OPS,
    SERVE_OP,
    Node,
    Pipeline,
    normalise_entries,
)
from .problems import ERROR, WARNING, PipelineError, Problem
from .schedule import ScheduleError
from .schedule import parse as schedule_parse

# Names that usually hold credentials; their values belong in a Kubernetes Secret.
SECRET_NAME = re.compile(
    r"(PASS(WORD|WD)?|SECRET|TOKEN|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIAL|AUTH)",
    re.IGNORECASE,
)


# From this many nodes on, generated yes/no validators pay for their set-up time; jsonschema then
# only runs on the parts they reject, to produce the readable messages. Once their code is in the
# cache folder they are used for any size (loading them is faster than importing jsonschema).
QUICK_CHECK_NODES = 300


def validate(
    source_text_or_doc: str | dict[str, Any],
    *,
    source: str = "",
    files: PipelineFiles | LocalFiles | None = None,
    images: Collection[str] | None = None,
    pipeline: Pipeline | None = None,
) -> list[Problem]:
    """All problems of a pipeline. ``files``: the pipeline's files below its project root (a
    LocalFiles is the pipeline's own folder as the root; None = judge paths by their text only);
    ``images``: known runtime image references (None = unchecked); ``pipeline``: a view of this
    same document to reuse (export compiles with it afterwards)."""
    name_hint = source or "pipeline"
    if isinstance(source_text_or_doc, str):
        try:
            doc = document.parse(source_text_or_doc, pipeline=name_hint)
        except PipelineError as exc:
            return exc.problems
    else:
        doc = source_text_or_doc
    if pipeline is None or pipeline.doc is not doc or pipeline.source != source:
        pipeline = Pipeline(doc, source)
    return Validator(pipeline, files, images).run()


class Validator:
    def __init__(
        self,
        pipeline: Pipeline,
        files: PipelineFiles | LocalFiles | None,
        images: Collection[str] | None,
    ):
        self.p = pipeline
        self.files = files if isinstance(files, PipelineFiles) else PipelineFiles(files)
        self.images = set(images) if images is not None else None
        self.problems: list[Problem] = []
        self.name = pipeline.name
        self.quick = len(pipeline.nodes) >= QUICK_CHECK_NODES or quick_cached("pipeline-file")
        self.usable = True  # False: the file is too broken to look into (no plan can be made)

    def schema_errors(self, name: str, instance: Any, pointer: str = "") -> list:
        if self.quick:
            check = quick_check(name, pointer)
            if check is not None and check(instance):
                return []
        return list(validator(name, pointer).iter_errors(instance))

    def add(
        self,
        code: str,
        message: str,
        node: Node | None = None,
        path: str = "",
        severity: str = ERROR,
        **extra: Any,
    ) -> None:
        self.problems.append(
            Problem(
                code=code,
                message=message,
                severity=severity,
                pipeline=self.name,
                node_id=node.id if node else None,
                node_label=node.label if node else None,
                path=path,
                extra=extra,
            )
        )

    def run(self) -> list[Problem]:
        if not self._envelope():
            self.usable = False
            return self.problems
        self._pipeline_properties()
        self._links_and_cycles()
        for node_id, message in self.p.supernode_problems:
            self.problems.append(
                Problem(
                    code="supernode",
                    message=message,
                    severity=ERROR,
                    pipeline=self.p.name,
                    node_id=node_id,
                    path="subflow_ref",
                )
            )
        for node in self.p.nodes:
            self._node(node)
        return self.problems

    # -- the file as a whole -------------------------------------------------------------

    def _envelope(self) -> bool:
        """Schema of the pipeline-flow envelope; False when too broken to look further."""
        errors = sorted(self.schema_errors("pipeline-file", self.p.doc), key=lambda e: list(e.path))
        fatal = False
        for err in errors:
            parts = list(err.absolute_path)
            if len(parts) >= 4 and parts[2] == "app_data" and parts[3] in ("properties", "mlpipe"):
                continue  # reported with pipeline-relative paths by _pipeline_properties
            node = self._node_at(parts)
            if len(parts) <= 2:
                fatal = True
            self.add("schema", _plain(err), node=node, path=_pointer(parts))
        if fatal:
            return False
        version = self.p.version
        if version is not None and version > CURRENT_VERSION:
            self.add(
                "version",
                f"The pipeline was written by a newer Elyra (format version {version}); it is "
                f"read as version {CURRENT_VERSION}, so settings that version added are ignored.",
                path="app_data/version",
                severity=WARNING,
            )
        return True

    def _node_at(self, parts: list) -> Node | None:
        # pipelines/<i>/nodes/<j>/... -> the node, when it is in the primary pipeline
        if len(parts) >= 4 and parts[0] == "pipelines" and parts[2] == "nodes":
            pipelines = self.p.doc.get("pipelines") or []
            if (
                isinstance(parts[1], int)
                and parts[1] < len(pipelines)
                and pipelines[parts[1]] is self.p.primary
            ):
                idx = parts[3]
                for n in self.p.nodes:
                    if n.index == idx:
                        return n
        return None

    def _pipeline_properties(self) -> None:
        data = {k: self.p.app_data[k] for k in ("properties", "mlpipe") if k in self.p.app_data}
        if "pipeline_defaults" in self.p.properties:  # as read: older formats in today's format
            data["properties"] = {**self.p.properties, "pipeline_defaults": self.p.defaults}
        for err in self.schema_errors("pipeline-properties", data):
            path = self.p.stored_defaults_path(_pointer(_err_parts(err)))
            self.add("schema", _plain(err), path=path)
        self._secret_like_env(
            self.p.defaults.get("env_vars"), None, "properties/pipeline_defaults/env_vars"
        )
        params = self.p.parameters
        seen: set[str] = set()
        for i, param in enumerate(params):
            path = f"mlpipe/parameters/{i}"
            if param.name in seen:
                self.add(
                    "parameter", f"Parameter '{param.name}' is defined twice.", path=path + "/name"
                )
            seen.add(param.name)
            if param.default is not None and not _type_ok(param.type, param.default):
                self.add(
                    "parameter",
                    f"Parameter '{param.name}': the default {param.default!r} is not "
                    f"{_TYPE_WORDS.get(param.type, param.type)}; change the default or the type.",
                    path=path + "/default",
                )
            if param.required and param.default is None:
                self.add(
                    "parameter",
                    f"Parameter '{param.name}' is required but has no default; scheduled runs would fail.",
                    path=path + "/default",
                    severity=WARNING,
                )
        # a property of the file whatever the runtime (the plan checks it too, for the DAG)
        try:
            schedule_parse(self.p.mlpipe.get("schedule"))
        except ScheduleError as exc:
            self.add("schedule", exc.message, path="mlpipe/schedule")

    # -- structure -----------------------------------------------------------------------

    def _links_and_cycles(self) -> None:
        ids: dict[str, Node] = {}
        for node in self.p.nodes:
            if node.id in ids:
                self.add(
                    "duplicate-node-id",
                    f"Node id '{node.id}' is used by two nodes.",
                    node=node,
                    path="id",
                )
            ids[node.id] = node
        for node in self.p.nodes:
            for link in node.input_links():
                if link.source not in ids:
                    self.add(
                        "missing-link-target",
                        f"A link into this node comes from node '{link.source}', which does not exist.",
                        node=node,
                        path="inputs",
                    )
                elif link.source == node.id:
                    self.add("cycle", "The node is linked to itself.", node=node, path="inputs")
        for cycle in self.p.graph.cycles():
            if len(cycle) == 1:
                continue  # self links are reported above
            labels = [self.p.node_by_id[n].label for n in cycle]
            loop = " → ".join(labels + [labels[0]])
            self.add(
                "cycle",
                f"The links form a cycle: {loop}. Remove one link to break it.",
                node=self.p.node_by_id[cycle[0]],
                nodes=cycle,
            )

    # -- one node ------------------------------------------------------------------------

    def _node(self, node: Node) -> None:
        if node.type == "super_node":
            self.add(
                "unsupported-node",
                "Supernodes are not supported; expand the supernode in the editor before compiling.",
                node=node,
            )
            return
        if node.type != "execution_node":
            return  # binding/model nodes carry nothing to run
        if node.op == SERVE_OP:
            self._serve_node(node)
            return
        if node.op == BRANCH_OP:  # the schema here; rules, links and value_from: plan/flow.py
            data = {
                "label": node.app_data.get("label", ""),
                "component_parameters": node.parameters,
            }
            if not isinstance(data["label"], str):
                data["label"] = ""
            if "mlpipe" in node.app_data:
                data["mlpipe"] = node.app_data["mlpipe"]
            for err in self.schema_errors("node-properties", data, f"/$defs/{BRANCH_OP}"):
                self.add("schema", _plain(err), node=node, path=_pointer(_err_parts(err)))
            return
        if node.op == APPROVAL_OP:  # no file, no image: its properties only (the plan says more)
            data = {
                "label": node.app_data.get("label", ""),
                "component_parameters": node.parameters,
            }
            if "mlpipe" in node.app_data:
                data["mlpipe"] = node.app_data["mlpipe"]
            if not isinstance(data["label"], str):
                data["label"] = ""
            for err in self.schema_errors("node-properties", data, f"/$defs/{APPROVAL_OP}"):
                self.add("schema", _plain(err), node=node, path=_pointer(_err_parts(err)))
            return
        if node.is_component:
            return  # an operator or KFP component: the planner resolves and checks it
        if node.op not in GENERIC_OPS:
            self.add(
                "unsupported-node",
                "The node has no type (op); only notebook, Python, R script, Serve MLflow model "
                "and component nodes can run.",
                node=node,
                path="op",
            )
            return
        data = {"label": node.app_data.get("label", ""), "component_parameters": node.parameters}
        if "mlpipe" in node.app_data:
            data["mlpipe"] = node.app_data["mlpipe"]
        if not isinstance(data["label"], str):
            data["label"] = ""
        for err in self.schema_errors("node-properties", data, f"/$defs/{node.op}"):
            path = _pointer(_err_parts(err))
            if path == "component_parameters/filename" and err.validator == "pattern":
                continue  # said in plain words by _file_kind
            self.add("schema", _plain(err), node=node, path=node.stored_path(path))
        props = self.p.node_properties(node)
        self._runtime_image(node, props)
        self._file_kind(node)
        for problem in self.files.node(self.p, node).problems:
            self.add("file", problem.message, node=node, path=node.stored_path(problem.field))
        self._secret_like_env(
            node.parameters.get("env_vars"), node, "component_parameters/env_vars"
        )
        wanted = props.get("pipeline_parameters") or []
        defined = {p.name for p in self.p.parameters} if wanted else set()
        for i, name in enumerate(wanted):
            if name not in defined:
                self.add(
                    "parameter",
                    f"The node uses parameter '{name}', which the pipeline does not define.",
                    node=node,
                    path=f"component_parameters/pipeline_parameters/{i}",
                )
        for kind in ("kubernetes_secrets", "mounted_volumes"):
            for i, entry in enumerate(normalise_entries(kind, props.get(kind))):
                if kind == "kubernetes_secrets" and not (entry.get("name") and entry.get("key")):
                    self.add(
                        "schema",
                        f"Secret for '{entry.get('env_var', '')}' needs a secret name and key.",
                        node=node,
                        path=f"component_parameters/{kind}/{i}",
                    )
                if kind == "mounted_volumes" and not entry.get("pvc_name"):
                    self.add(
                        "schema",
                        f"Volume at '{entry.get('path', '')}' needs a PVC name.",
                        node=node,
                        path=f"component_parameters/{kind}/{i}",
                    )

    def _serve_node(self, node: Node) -> None:
        data = {"label": node.app_data.get("label", ""), "component_parameters": node.parameters}
        if "mlpipe" in node.app_data:
            data["mlpipe"] = node.app_data["mlpipe"]
        if not isinstance(data["label"], str):
            data["label"] = ""
        for err in self.schema_errors("node-properties", data, f"/$defs/{SERVE_OP}"):
            self.add("schema", _plain(err), node=node, path=_pointer(_err_parts(err)))
        props = self.p.node_properties(node)
        self._runtime_image(node, props)
        from ..serving.spec import problems as serve_problems

        for problem in serve_problems(props):
            code, message, field, severity = problem
            self.add(
                code, message, node=node, path=f"component_parameters/{field}", severity=severity
            )

    def _runtime_image(self, node: Node, props: dict[str, Any]) -> None:
        """An image not in the catalog. Whether a node needs an image at all depends on where it
        runs: the plan decides (``Planner.runtime_images``)."""
        image = props.get("runtime_image")
        if image and self.images is not None and image not in self.images:
            self.add(
                "runtime-image",
                f"Runtime image '{image}' is not in the runtime image catalog, so no pull policy or "
                "pull secret applies; add it to the catalog.",
                node=node,
                path="component_parameters/runtime_image",
                severity=WARNING,
            )

    def _file_kind(self, node: Node) -> None:
        """A node runs one kind of file: say so plainly when its file is of another kind."""
        name = node.filename.strip()
        if not name:
            return
        ext = posixpath.splitext(name)[1].lower()
        wanted = _NODE_FILE_KINDS[node.op]
        if ext in wanted[0]:
            return
        found = _FILE_KIND_NAMES.get(ext)
        node_kind = wanted[1]
        if found:
            fix = f"use a {found[1]} node for it, or choose {wanted[2]}"
            message = f"A {node_kind} node runs {wanted[2]}, but '{name}' is {found[0]}: {fix}."
        else:
            message = f"A {node_kind} node runs {wanted[2]}; '{name}' is not one ({wanted[3]})."
        self.add("file-kind", message, node=node, path="component_parameters/filename")

    def _secret_like_env(self, entries: Any, node: Node | None, base: str) -> None:
        for i, entry in enumerate(normalise_entries("env_vars", entries)):
            name = str(entry.get("env_var", ""))
            if SECRET_NAME.search(name) and str(entry.get("value", "") or "").strip():
                self.add(
                    "plain-secret",
                    f"Environment variable '{name}' looks like a secret but has a plain value, which "
                    "would be written into the DAG file; use a Kubernetes secret instead.",
                    node=node,
                    path=f"{base}/{i}/value",
                    severity=WARNING,
                    env_var=name,
                )


# Per generic node type: the file extensions it runs, and how to say it.
_NODE_FILE_KINDS = {
    "execute-notebook-node": ((".ipynb",), "notebook", "a Jupyter notebook", "a .ipynb file"),
    "execute-python-node": ((".py",), "Python script", "a Python script", "a .py file"),
    "execute-r-node": ((".r",), "R script", "an R script", "a .r or .R file"),
}
_FILE_KIND_NAMES = {
    ".ipynb": ("a notebook", "notebook"),
    ".py": ("a Python script", "Python script"),
    ".r": ("an R script", "R script"),
}


def _type_ok(kind: str, value: Any) -> bool:
    if kind == "string":
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return True


def _err_parts(err: Any) -> list[Any]:
    """Where an error belongs: a missing property's own field (so the form shows it there)."""
    parts = list(err.absolute_path)
    if err.validator == "required":
        missing = re.search(r"'([^']+)' is a required property", err.message)
        if missing:
            parts.append(missing.group(1))
    return parts


def _pointer(parts: Iterable[Any]) -> str:
    return "/".join(str(p) for p in parts)


# What a pattern of our schemas lets through, in words (a schema's ``x-error`` wins).
_PATTERN_WORDS = {
    "^[-._a-zA-Z][-._a-zA-Z0-9]*$": (
        "letters, digits, '_', '-' or '.', not starting with a digit (e.g. MY_SETTING)"
    ),
    "^[A-Za-z0-9_.-]{1,250}$": "letters, digits, '_', '-' or '.' (at most 250 characters)",
    "^[A-Za-z0-9_.-]{1,256}$": "letters, digits, '_', '-' or '.' (at most 256 characters)",
    "^[A-Za-z_][A-Za-z0-9_]{0,127}$": (
        "a Python-style name: letters, digits and '_', not starting with a digit (e.g. learning_rate)"
    ),
    "^[0-9]{4}-[0-9]{2}-[0-9]{2}$": "a date as YYYY-MM-DD (e.g. 2024-01-31)",
    "^[0-9]{1,12}$": "a version number (e.g. 3)",
    "^[A-Za-z0-9_-]{1,255}$": "letters, digits, '_' or '-' (e.g. champion)",
    "^[a-z]([-a-z0-9]*[a-z0-9])?$": (
        "lowercase letters, digits and '-', starting with a letter (e.g. iris-model)"
    ),
    "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$": "lowercase letters, digits and '-' (e.g. ml-team)",
    "^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$": (
        "a Kubernetes name: lowercase letters, digits, '-' and '.' (e.g. my-secret)"
    ),
    "^[-._a-zA-Z0-9]+$": "letters, digits, '_', '-' or '.'",
    "^/": "an absolute path, starting with '/' (e.g. /data)",
    "^https?://[^\\s]+$": "an http(s) URL (e.g. https://logger.example.com)",
    "^(https?|databricks|file|sqlite)://?[^\\s]*$": (
        "a tracking URI such as http://mlflow:5000, file:///mlruns or databricks://profile"
    ),
    "^[A-Za-z0-9.-]+(:[0-9]+)?$": "a registry host, optionally with a port (e.g. registry.example.com:5000)",
    "^[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*$": (
        "an image repository: lowercase letters, digits, '.', '_', '-', parts separated by '/'"
    ),
    "^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$": "an image tag: letters, digits, '_', '.' or '-' (e.g. 1.0)",
    "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$": (
        "a host name: lowercase letters, digits, '-' and '.' (e.g. iris.apps.example.com)"
    ),
    "^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$": (
        "a Kubernetes key, optionally with a prefix (e.g. nvidia.com/gpu or app)"
    ),
    "^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$": (
        "letters, digits, '-', '_' or '.', starting and ending with a letter or digit"
    ),
    "^([0-9]+(\\.[0-9]+)?|[0-9]+m)$": "a number of cores (e.g. 0.5, 2 or 500m)",
    "^[0-9]+(\\.[0-9]+)?(Ki|Mi|Gi|Ti|K|M|G|T)?$": "a quantity (e.g. 512Mi or 2Gi)",
}

_TYPE_WORDS = {
    "string": "text",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "array": "a list",
    "object": "a set of settings",
    "null": "nothing",
}


def _shown(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, str):
        return "an empty value" if not value else repr(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return "a list" if isinstance(value, list) else "a set of settings"
    return repr(value)


def _title(schema: Any, field: Any) -> str:
    title = schema.get("title") if isinstance(schema, dict) else None
    if title:
        return str(title)
    if field is None or isinstance(field, int):
        return "The value" if field is None else f"Entry {field + 1}"
    return f"'{field}'"


def _plain(err: Any) -> str:
    """jsonschema's message as a sentence that names the field and says what is expected."""
    field = err.absolute_path[-1] if err.absolute_path else None
    schema = err.schema if isinstance(err.schema, dict) else {}
    name = _title(schema, field)
    kind = err.validator
    wanted = err.validator_value
    if kind == "required":
        missing = re.search(r"'([^']+)' is a required property", err.message)
        key = missing.group(1) if missing else ""
        sub = (schema.get("properties") or {}).get(key) or {}
        what = sub.get("title") or f"'{key}'"
        hint = str(sub.get("description") or "").strip().rstrip(".")
        if hint[1:2].islower():
            hint = hint[:1].lower() + hint[1:]
        hint = f" ({hint})" if hint else ""
        return f"{what} is required: enter a value{hint}."
    if kind == "additionalProperties":
        return f"Unknown setting: {err.message.split('(')[-1].rstrip(')')}; remove it."
    if kind in ("enum", "const") or (
        kind == "oneOf"
        and isinstance(wanted, list)
        and all(isinstance(o, dict) and "const" in o for o in wanted)
    ):
        values = (
            [wanted]
            if kind == "const"
            else wanted
            if kind == "enum"
            else [o["const"] for o in wanted]
        )
        allowed = ", ".join(repr(v) for v in values)
        return f"{name}: {_shown(err.instance)} is not a choice here; choose one of {allowed}."
    if kind == "pattern":
        if schema.get("x-error"):
            return f"{name}: {_shown(err.instance)} {schema['x-error']}."
        words = _PATTERN_WORDS.get(wanted)
        if words:
            return f"{name}: {_shown(err.instance)} is not allowed here; use {words}."
        return f"{name}: {_shown(err.instance)} does not have the expected form (pattern {wanted})."
    if kind == "oneOf" and field in ("cpu", "cpu_limit", "memory", "memory_limit"):
        return (
            f"{name}: {_shown(err.instance)} is not a positive number or quantity "
            "(e.g. 0.5, 2, 512Mi)."
        )
    if kind == "type":
        kinds = wanted if isinstance(wanted, list) else [wanted]
        words = " or ".join(_TYPE_WORDS.get(str(k), str(k)) for k in kinds)
        if err.instance is None:
            return f"{name} is empty: enter {words}."
        return f"{name}: expected {words}, got {_shown(err.instance)}."
    if kind == "minimum":
        return f"{name} must be {wanted} or more (it is {_shown(err.instance)})."
    if kind == "maximum":
        return f"{name} must be {wanted} or less (it is {_shown(err.instance)})."
    if kind == "exclusiveMinimum":
        return f"{name} must be more than {wanted} (it is {_shown(err.instance)})."
    if kind == "exclusiveMaximum":
        return f"{name} must be less than {wanted} (it is {_shown(err.instance)})."
    if kind == "minLength":
        if err.instance == "":
            return f"{name} is empty: enter a value."
        return f"{name} must be at least {wanted} characters long."
    if kind == "maxLength":
        return f"{name} must be at most {wanted} characters long."
    if kind == "minItems":
        return f"{name} needs at least {wanted} entr{'y' if wanted == 1 else 'ies'}."
    if kind == "maxItems":
        return f"{name} allows at most {wanted} entr{'y' if wanted == 1 else 'ies'}."
    if kind == "uniqueItems":
        return f"{name} lists an entry twice; keep each once."
    return f"{name}: {err.message}."
