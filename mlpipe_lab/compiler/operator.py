"""Airflow operator nodes -> the operator's call in the DAG, and the imports it needs.

Arguments are literals made from the node's stored values (``components.values.literal``), so user
text never becomes code; text in a templated field is protected from Jinja like every other task's
(``ctx.tpl``), and only the compiler's own references become templates: a pipeline parameter
(``{{ params.x }}``) and, where Elyra allowed it, the return value (XCom) of a parent operator
(``{{ ti.xcom_pull(task_ids='parent') }}``). What cannot work is refused with the node and the
field: an unknown argument, a required one missing, a value of the wrong type, an XCom from a node
that pushes none, a class no catalog can import.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass, field
from typing import Any

from ..components.elyra import FILE, PARAMETER, REF, UNSET, VALUE, NodeValue
from ..components.model import NOT_LITERAL, Component, Param
from ..components.values import UNSET as LITERAL_UNSET
from ..components.values import ValueProblem, literal
from ..pipeline.model import Node, Parameter
from .context import Context
from .emit import Call
from .kpo import _airflow_settings, doc_text, param_ref

CP = "component_parameters/"
# Arguments every operator takes from BaseOperator that a node may set (others, such as retries
# or trigger_rule, are mlpipe task settings shared with every node kind).
BASE_ARGUMENTS: dict[str, Param] = {
    p.name: p
    for p in (
        Param("do_xcom_push", "boolean", has_default=True, default=True),
        Param("multiple_outputs", "boolean", has_default=True, default=False),
        Param("email", "string|array", nullable=True),
        Param("email_on_failure", "boolean", has_default=True, default=True),
        Param("email_on_retry", "boolean", has_default=True, default=True),
        Param("depends_on_past", "boolean", has_default=True, default=False),
        Param("wait_for_downstream", "boolean", has_default=True, default=False),
        Param("queue", "string"),
        Param("max_active_tis_per_dag", "integer", nullable=True),
    )
}
# Airflow 1 argument names Elyra's example operators used -> their names since Airflow 2.
RENAMED_ARGUMENTS = {"xcom_push": "do_xcom_push"}
# Airflow 1 arguments that no longer exist (passing them is an import error since Airflow 2).
REMOVED_ARGUMENTS = frozenset({"provide_context"})
# Airflow 1 operator classes whose successors have another name.
RENAMED_CLASSES = {"SimpleHttpOperator": "HttpOperator"}

# Modules that moved between Airflow 2 (core) and Airflow 3 (standard and smtp providers): a DAG for
# both imports the Airflow 3 location and falls back to the Airflow 2 one.
_STANDARD = re.compile(r"^airflow\.providers\.standard\.(operators|sensors)\.(\w+)$")
_CORE = re.compile(r"^airflow\.(operators|sensors)\.(\w+)$")
_CORE_SENSOR_RENAMES = {"date_time": "date_time", "time_sensor": "time", "time_delta": "time_delta"}
_EMAIL_3 = "airflow.providers.smtp.operators.smtp"
_EMAIL_2 = "airflow.operators.email"


def import_modules(module: str, class_name: str) -> tuple[str, str]:
    """(Airflow 3 module, Airflow 2.10 module) to import a class from; equal when it did not move."""
    match = _STANDARD.match(module)
    if match:
        return module, f"airflow.{match[1]}.{match[2]}"
    match = _CORE.match(module)
    if match and class_name == "EmailOperator" and match[2] == "email":
        return _EMAIL_3, module
    if match:
        return f"airflow.providers.standard.{match[1]}.{match[2]}", module
    return module, module


_DOTTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


def safe_module(module: str) -> bool:
    return bool(_DOTTED.match(module)) and not any(keyword.iskeyword(p) for p in module.split("."))


def import_lines(imports: dict[str, tuple[str, str]], target: str | None) -> list[str]:
    """``from <module> import <Class> [as <alias>]`` for each alias -> (module, class); with the
    Airflow 2 fallback in a try/except when the module moved (target None: both majors)."""
    lines: list[str] = []
    for alias, (module, name) in sorted(imports.items(), key=lambda i: (i[1], i[0])):
        new, old = import_modules(module, name)
        as_part = f" as {alias}" if alias != name else ""
        if target == "2":
            lines.append(f"from {old} import {name}{as_part}")
        elif target == "3" or new == old:
            lines.append(f"from {new} import {name}{as_part}")
        else:
            lines += [
                "try:",
                f"    from {new} import {name}{as_part}",
                "except ImportError:  # Airflow 2.10+",
                f"    from {old} import {name}{as_part}",
            ]
    return lines


@dataclass
class OperatorTask:
    """What the emitter needs of one operator node."""

    node: Node
    task_id: str
    component: Component  # the class the DAG imports (with its module)
    values: dict[str, NodeValue]
    alias: str  # the name the module imports the class as
    parents: dict[str, str] = field(default_factory=dict)  # parent node id -> task id
    xcom_parents: set[str] = field(default_factory=set)  # parents that push a return value


def operator_call(ctx: Context, op: OperatorTask, params: list[Parameter]) -> Call:
    node = op.node
    kw: list[tuple[str, Any]] = [("task_id", op.task_id)]
    if node.label != op.task_id:
        kw.append(("task_display_name", node.label))
    if node.description:
        kw.append(("doc_md", doc_text(node.description)))
    kw += operator_arguments(ctx, op, params)
    kw += _airflow_settings(ctx, node.mlpipe)
    return Call(op.alias, kwargs=kw, multiline=True)


def operator_arguments(
    ctx: Context, op: OperatorTask, params: list[Parameter]
) -> list[tuple[str, Any]]:
    """The operator's keyword arguments from the node's values; problems go to ``ctx``."""
    comp, node = op.component, op.node
    known = {p.name: p for p in comp.params}
    if comp.accepts_kwargs:
        for name, p in BASE_ARGUMENTS.items():
            known.setdefault(name, p)
    given: dict[str, tuple[str, NodeValue]] = {}  # argument -> (stored name, value)
    for stored, value in op.values.items():
        name = RENAMED_ARGUMENTS.get(stored, stored)
        if name in REMOVED_ARGUMENTS or stored in REMOVED_ARGUMENTS:
            if value.kind == VALUE and value.value not in (False, "", None):
                ctx.warn(
                    "operator-argument",
                    f"'{stored}' was removed in Airflow 2 (the context is always passed); "
                    "it is left out.",
                    node=node,
                    path=CP + stored,
                )
            continue
        if name not in known:
            if value.kind == UNSET or (value.kind == VALUE and value.value in ("", None)):
                continue  # an empty field Elyra kept for an argument the operator no longer has
            ctx.error(
                "operator-argument",
                f"{comp.name} has no argument '{stored}'.",
                node=node,
                path=CP + stored,
            )
            continue
        given[name] = (stored, value)
    out: list[tuple[str, Any]] = []
    param_names = {p.name for p in params}
    for name, p in known.items():
        stored, value = given.get(name, (name, NodeValue(UNSET)))
        path = CP + stored
        arg = _argument(ctx, op, p, value, path, param_names)
        if arg is _REFUSED:
            continue
        if arg is _MISSING:
            if p.required and name in {q.name for q in comp.params}:
                ctx.error(
                    "operator-argument",
                    f"{comp.name} needs '{name}'"
                    + (f" ({p.description})" if p.description else "")
                    + ".",
                    node=node,
                    path=path,
                )
            continue
        out.append((name, arg))
    return out


_MISSING = object()  # no value given
_REFUSED = object()  # a value given that cannot be used (the problem is reported)


def _argument(
    ctx: Context,
    op: OperatorTask,
    p: Param,
    value: NodeValue,
    path: str,
    param_names: set[str],
) -> Any:
    node, comp = op.node, op.component
    if value.kind == UNSET:
        return _MISSING
    if value.kind == PARAMETER:
        name = str(value.value)
        if name not in param_names:
            ctx.error(
                "operator-argument",
                f"'{p.name}' takes pipeline parameter '{name}', which the pipeline does not define.",
                node=node,
                path=path,
            )
            return _REFUSED
        if not p.templated:
            ctx.error(
                "operator-argument",
                f"'{p.name}' is not templated by {comp.name}, so it cannot take a pipeline "
                "parameter; give a value.",
                node=node,
                path=path,
            )
            return _REFUSED
        return "{{ " + param_ref(name) + " }}"
    if value.kind == REF:
        parent = op.parents.get(value.node_id)
        if parent is None:
            ctx.error(
                "operator-argument",
                f"'{p.name}' takes the output of a node that is not linked to this one; link it "
                "or choose another input.",
                node=node,
                path=path,
            )
            return _REFUSED
        if value.node_id not in op.xcom_parents:
            ctx.error(
                "operator-argument",
                f"'{p.name}' takes the return value of '{parent}', which pushes none (only "
                "operator nodes with do_xcom_push do).",
                node=node,
                path=path,
            )
            return _REFUSED
        if not p.templated:
            ctx.error(
                "operator-argument",
                f"'{p.name}' is not templated by {comp.name}, so it cannot take the output of "
                f"'{parent}'.",
                node=node,
                path=path,
            )
            return _REFUSED
        return "{{ ti.xcom_pull(task_ids=" + repr(parent) + ") }}"
    if value.kind == FILE:
        ctx.error(
            "operator-argument",
            f"'{p.name}' is read from a file, which mlpipe-lab does not do at export; paste the "
            "value into the field.",
            node=node,
            path=path,
        )
        return _REFUSED
    try:
        result = literal(p, value.value)
    except ValueProblem as exc:
        ctx.error("operator-argument", f"'{p.name}' {exc}.", node=node, path=path)
        return _REFUSED
    if result is LITERAL_UNSET or p.type == NOT_LITERAL:
        return _MISSING
    if p.templated:
        return _protect(ctx, node, path, result, comp.template_ext)
    return result


def _protect(ctx: Context, node: Node, path: str, value: Any, exts: tuple[str, ...]) -> Any:
    """Text in a templated field (nested in lists and dicts too, as Airflow renders them) made
    to render as itself; text ending in a template extension (".sh") is not read as a file."""
    if isinstance(value, str):
        if exts and value.endswith(tuple(exts)) and "endraw" not in value:
            return "{% raw %}" + value + "{% endraw %}"
        return ctx.tpl(value, node, path)
    if isinstance(value, list):
        return [_protect(ctx, node, path, v, exts) for v in value]
    if isinstance(value, dict):
        return {k: _protect(ctx, node, path, v, exts) for k, v in value.items()}
    return value
