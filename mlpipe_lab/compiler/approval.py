"""Approval gate tasks of a plan -> Airflow 3.1+'s human-in-the-loop ``ApprovalOperator`` (the
standard provider's), and the import that makes the DAG file fail on Airflow 2 with our sentence.

The message is the operator's ``subject`` (a templated field): the user's text protected from Jinja,
the pipeline parameters it names as ``{{ params.x }}``. A timeout becomes ``execution_timeout``
(the provider turns it into the wait for a response) with the ``on_timeout`` outcome as the
operator's default option; without one the gate waits (``execution_timeout=None`` keeps the DAG's
default timeout off the gate).
"""

from __future__ import annotations

from typing import Any

from ..plan.approval import needs_airflow_3
from ..plan.model import APPROVE, Task
from . import kpo
from .context import RenderContext
from .emit import Call, literal

NAME = "ApprovalOperator"
MODULE = "airflow.providers.standard.operators.hitl"
OPTION = {APPROVE: "Approve"}  # else "Reject": the operator's two fixed options


def task_call(ctx: RenderContext, task: Task) -> Call:
    gate = task.approval
    assert gate is not None, "an approval task without its gate"
    ctx.uses.add(NAME)
    kw: list[tuple[Any, Any]] = kpo.common(task)
    kw.append(("subject", ctx.value(gate.message)))
    if gate.timeout is not None:
        kw.append(("defaults", OPTION.get(gate.on_timeout, "Reject")))
    kw += kpo.airflow_settings(ctx, task)  # execution_timeout: the gate's timeout
    if gate.timeout is None:
        kw.append(("execution_timeout", None))
    return Call(NAME, kwargs=kw, multiline=True)


def import_lines(tasks: list[Task]) -> list[str]:
    """The operator's import; on Airflow 2 (or 3.0) the file stops with the plan's sentence,
    naming the first gate."""
    first = next(t for t in tasks if t.approval is not None)
    return [
        "try:",
        f"    from {MODULE} import {NAME}",
        "except ImportError:  # Airflow 2, or 3.0: no human-in-the-loop operators",
        f"    raise ImportError({literal(needs_airflow_3(first.label))}) from None",
    ]
