"""A branch task -> ``BranchPythonOperator(python_callable=mlpipe_branch(SPEC))``.

The callable is generic code the compiler copies into the DAG file from ``plan/branching.py``
(the local engine runs the same functions); the branch's rules are one literal value, its spec
(``Branch.spec``), so user text (values, labels) is data and never code or a template (a
callable is not a templated field)."""

from __future__ import annotations

import inspect
from typing import Any

from ..plan import branching
from ..plan.model import WORKER, Task
from .context import RenderContext
from .emit import Call, EmitError
from .kpo import airflow_settings, common

MODULE = "airflow.providers.standard.operators.python"  # Airflow 2.10: airflow.operators.python
CLASS = "BranchPythonOperator"
NAMES = {f.__name__ for f in branching.FUNCTIONS}


def functions() -> list[str]:
    """The evaluator's source lines for the DAG file (compiler-owned code)."""
    lines: list[str] = []
    for fn in branching.FUNCTIONS:
        lines += ["", ""] + inspect.getsource(fn).rstrip("\n").splitlines()
    return lines


def task_call(ctx: RenderContext, task: Task, imported: dict[tuple[str, str], str]) -> Call:
    if task.branch is None:
        raise EmitError(f"branch task {task.task_id} has no decision (a plan with errors)")
    # a result pulled from a worker's BashOperator is its last output line: JSON text
    spec: Any = task.branch.spec(task.task_id, parse=ctx.plan.executor == WORKER)
    kw: list[tuple[Any, Any]] = common(task)
    kw.append(("python_callable", Call("mlpipe_branch", spec)))
    kw += airflow_settings(ctx, task)
    return Call(imported[(MODULE, CLASS)], kwargs=kw, multiline=True)
