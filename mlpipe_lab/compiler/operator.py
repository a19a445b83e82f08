"""Operator and KFP component tasks of a plan -> their calls in the DAG, and the imports they need.

Pure rendering (the planner checked everything, ``plan/components.py``): an operator task is
``<Class>(task_id=..., <its arguments>)``, every argument a literal; text in a templated field is
protected from Jinja like every other task's, and only the plan's run-time values become templates:
a pipeline parameter (``{{ params.x }}``) and the return value (XCom) of a parent operator
(``{{ ti.xcom_pull(task_ids='parent') }}``). A KFP component task is a KubernetesPodOperator that
runs the component's image, command and arguments.
"""

from __future__ import annotations

import keyword
import re
from typing import Any

from ..plan.model import CallableRef, Task
from ..plan.values import ItemCount, Join, ParamRef, RunId, XComRef
from . import delivery, kpo
from .context import RenderContext, template_of
from .dag import doc_text
from .emit import Call, Name, Splat

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
    if module == _EMAIL_3 and class_name == "EmailOperator":
        return module, _EMAIL_2
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


def aliases(tasks: list[Task], reserved: set[str]) -> dict[tuple[str, str], str]:
    """(module, class) -> the name the DAG file imports it as: the class name, unless another
    import or another class of the same name has it (then ``<Class>_2``, ...)."""
    out: dict[tuple[str, str], str] = {}
    used = set(reserved)

    def add(module: str, name: str) -> None:
        if (module, name) in out:
            return
        alias, n = name, 1
        while alias in used:
            n += 1
            alias = f"{name}_{n}"
        used.add(alias)
        out[(module, name)] = alias

    for t in tasks:
        if t.operator is not None:
            add(t.operator.module, t.operator.class_name)
        elif t.kind == "branch":
            add("airflow.providers.standard.operators.python", "BranchPythonOperator")
        if t.for_each is not None:  # its items task (compiler/mapping.py)
            add("airflow.providers.standard.operators.python", "PythonOperator")
    for t in tasks:  # functions given to operators (python_callable)
        for arg in t.operator.arguments if t.operator is not None else []:
            if isinstance(arg.value, CallableRef):
                add(arg.value.module, arg.value.name)
    return out


def operator_call(ctx: RenderContext, task: Task, imported: dict[tuple[str, str], str]) -> Call:
    """``imported``: (module, name) -> the name the module imports it as (:func:`aliases`)."""
    op = task.operator
    assert op is not None, "an operator task without its operator"
    alias = imported[(op.module, op.class_name)]
    kw: list[tuple[Any, Any]] = kpo.common(task)
    for arg in op.arguments:
        if isinstance(arg.value, CallableRef):
            kw.append((arg.name, Name(imported[(arg.value.module, arg.value.name)])))
            continue
        kw.append((arg.name, _value(ctx, arg.value, arg.templated, op.template_ext)))
    kw += kpo.airflow_settings(ctx, task)
    return Call(alias, kwargs=kw, multiline=True)


def _value(ctx: RenderContext, value: Any, templated: bool, exts: tuple[str, ...]) -> Any:
    """An argument's value: text in templated fields made to render as itself (nested in lists
    and dicts too, as Airflow renders them; a text ending in a template extension is not read as
    a file), run-time values as templates."""
    if isinstance(value, (ParamRef, XComRef, RunId, ItemCount, Join)):
        return ctx.value(value)
    if isinstance(value, str):
        if not templated:
            return value
        if exts and value.endswith(tuple(exts)):
            return "{% raw %}" + value + "{% endraw %}"
        return ctx.tpl(value)
    if isinstance(value, list):
        return [_value(ctx, v, templated, exts) for v in value]
    if isinstance(value, dict):
        return {k: _value(ctx, v, templated, exts) for k, v in value.items()}
    return value


def kfp_call(ctx: RenderContext, task: Task) -> Call:
    """A KFP component task: KubernetesPodOperator with the component's image and command; one
    that passes files (``task.delivery`` set) starts the runner, which runs that command."""
    kw = kpo.common(task)
    kw += kpo.image(ctx, task.image)
    if task.delivery:  # runner --kind command (store arguments in the RUNNER constant)
        kw.append(("cmds", Name(delivery.runner_name(ctx, task))))
    else:
        kw.append(("cmds", ctx.argv(task.command.program)))
    kw.append(("arguments", ctx.argv(task.command.args)))
    if task.env:
        kw.append(("env_vars", ctx.env(task.env)))
    secrets = kpo.secrets_of(ctx, task)
    if secrets is not None:
        kw.append(("secrets", secrets))
    if task.delivery:
        kw += delivery.task_kwargs(ctx, task)
    if task.resources is not None:
        kw.append(("container_resources", kpo._resources(ctx, task.resources)))
    if task.volumes:
        kw += kpo.volumes(ctx, task.volumes, task.mounts)
    kw.append(("labels", kpo.labels(ctx, task)))
    if task.annotations:
        kw.append(("annotations", {k: ctx.tpl(v) for k, v in task.annotations.items()}))
    if task.tolerations:
        ctx.uses.add("k8s")
        kw.append(("tolerations", [kpo._toleration(t) for t in task.tolerations]))
    kw += kpo.airflow_settings(ctx, task)
    kw.append((Splat("POD_SETTINGS"), None))
    return Call("KubernetesPodOperator", kwargs=kw, multiline=True)


__all__ = [
    "Name",
    "aliases",
    "doc_text",
    "import_lines",
    "import_modules",
    "kfp_call",
    "operator_call",
    "safe_module",
    "template_of",
]
