"""A fan-out task (``Task.for_each``) -> Airflow dynamic task mapping, on Airflow 2.10 and 3.x.

Two tasks per fan-out node:

``<task>__items``: ``PythonOperator(python_callable=mlpipe_items(SPEC))``
    Reads the list (a parameter from ``context["params"]``, or an upstream task's XCom result at
    its key) and returns each item's runner arguments (``plan/items.py``, copied into the DAG
    file). Why a task and not ``expand()`` over a templated value: ``expand()`` takes only a
    literal list or an XComArg, never a Jinja template, so a run-time list (a parameter the run
    may override, an upstream result) needs a task whose return value is the list; the same
    task on 2.10 and 3.x, and the list is checked (a list, at most 1,000 items) with a message.
The node's task: ``Operator.partial(...).expand(...)`` with ``max_active_tis_per_dagrun``
    Pods: ``KubernetesPodOperator.partial(cmds=[*RUNNER, <task args>], ...)
    .expand(arguments=<items>.output)``: the container command carries everything templated, and
    each mapped instance's ``arguments`` are its item's (Airflow does not render values that come
    from XCom; they are base64 and digits anyway, so rendering could not change them either).
    Workers: ``MlpipeItemBashOperator.partial(...).expand(item_args=<items>.output)``, a
    BashOperator defined in the DAG file whose ``item_args`` (not a templated field) are
    shell-quoted onto the end of the rendered command when the task executes; BashOperator's own
    ``env`` and ``bash_command`` stay as for any task.
"""

from __future__ import annotations

import inspect
from typing import Any

from ..plan import items
from ..plan.model import WORKER, Task
from .context import RenderContext
from .emit import Args, Call, EmitError, Method, Name, Splat

MODULE = "airflow.providers.standard.operators.python"  # Airflow 2.10: airflow.operators.python
CLASS = "PythonOperator"
ITEM_BASH = "MlpipeItemBashOperator"
NAMES = {f.__name__ for f in items.FUNCTIONS} | {ITEM_BASH}

# Compiler-owned code for worker fan-outs (never user text).
ITEM_BASH_SOURCE = [
    "",
    "",
    f"class {ITEM_BASH}(BashOperator):",
    '    """One item of a fan-out: its runner arguments (expanded from the items task\'s XCom, not',
    '    a templated field) are shell-quoted onto the end of the rendered command."""',
    "",
    "    def __init__(self, *, item_args, **kwargs):",
    "        super().__init__(**kwargs)",
    "        self.item_args = item_args",
    "",
    "    def execute(self, context):",
    "        import shlex",
    "",
    '        words = " ".join(shlex.quote(str(a)) for a in self.item_args)',
    '        self.bash_command = self.bash_command + " " + words',
    "        return super().execute(context)",
]


def functions(already: set[str]) -> list[str]:
    """The items functions' source lines for the DAG file, less those already copied."""
    lines: list[str] = []
    for fn in items.FUNCTIONS:
        if fn.__name__ not in already:
            lines += ["", ""] + inspect.getsource(fn).rstrip("\n").splitlines()
    return lines


def items_call(ctx: RenderContext, task: Task, imported: dict[tuple[str, str], str]) -> Call:
    fe = task.for_each
    if fe is None:
        raise EmitError(f"task {task.task_id} does not fan out")
    spec = items.spec(task.task_id, fe, parse=ctx.plan.executor == WORKER, label=task.label)
    kw: list[tuple[Any, Any]] = [("task_id", fe.items_task)]
    if task.display_name is not None:
        kw.append(("task_display_name", task.display_name + " (items)"))
    kw.append(("python_callable", Call("mlpipe_items", spec)))
    if task.trigger_rule:  # runs whenever the mapped task would
        kw.append(("trigger_rule", task.trigger_rule))
    return Call(imported[(MODULE, CLASS)], kwargs=kw, multiline=True)


def mapped(ctx: RenderContext, task: Task, call: Call, items_var: str) -> Method:
    """The node's ordinary call made a mapped one: ``.partial(...)`` + ``.expand(...)``."""
    fe = task.for_each
    assert fe is not None
    kw = list(call.kwargs)
    limit = ("max_active_tis_per_dagrun", fe.max_parallel)
    output = Name(items_var + ".output")
    if call.func == "BashOperator":
        return Method(
            Call(ITEM_BASH + ".partial", kwargs=[*kw[:1], limit, *kw[1:]], multiline=True),
            "expand",
            [("item_args", output)],
        )
    if call.func != "KubernetesPodOperator":
        raise EmitError(f"task {task.task_id} of kind {task.kind} cannot fan out")
    names = [k for k, _ in kw]
    if "cmds" not in names or "arguments" not in names:
        raise EmitError("a pod fan-out needs its own cmds (RenderContext.cmds_per_task)")
    runner = dict(kw)["cmds"]
    args = dict(kw)["arguments"]
    if not isinstance(runner, Name):
        raise EmitError("a pod fan-out's runner is a module constant")
    cmds = Args([Splat(runner.name), *args])
    kw = [(k, cmds if k == "cmds" else v) for k, v in kw if k != "arguments"]
    return Method(
        Call("KubernetesPodOperator.partial", kwargs=[*kw[:1], limit, *kw[1:]], multiline=True),
        "expand",
        [("arguments", output)],
    )


def aliases_needed(tasks: list[Task]) -> bool:
    return any(t.for_each is not None for t in tasks)


__all__ = ["CLASS", "ITEM_BASH_SOURCE", "MODULE", "NAMES", "functions", "items_call", "mapped"]
