"""An approval gate node (``mlpipe:approval``) -> its task (docs/control-flow.md).

The gate runs no process: on Airflow 3.1+ it is the standard provider's ``ApprovalOperator``, in a
local run the engine waits for a decision file the runs service writes. Its message is the user's
text; ``{{ params.NAME }}`` (or ``{{ params['NAME'] }}``) naming a pipeline parameter becomes that
parameter's value when the run starts, and everything else stays literal.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from .layout import Slot
from .model import APPROVAL, APPROVE, REJECT, Approval, Command, Task
from .planner import CP, read_airflow_settings
from .values import Join, ParamRef, Value, needs_raw

if TYPE_CHECKING:
    from .planner import Planner

# "{{ params.x }}", "{{ params['x'] }}", '{{ params["x"] }}'
_PARAM = re.compile(
    r"\{\{\s*params(?:\.([A-Za-z_][A-Za-z0-9_]*)|\[\s*(['\"])([^'\"]+)\2\s*\])\s*\}\}"
)
ON_TIMEOUT = (REJECT, APPROVE)
AIRFLOW_2 = "approval gates need Airflow 3.1 or newer (node '{label}')"


def needs_airflow_3(label: str) -> str:
    """The sentence the plan refuses an Airflow 2 configuration with, and the DAG file raises."""
    return AIRFLOW_2.format(label=label)


def default_message(label: str) -> str:
    """What a gate without a message asks: its label, unless that label is text the DAG could
    not show as itself (Jinja markers with 'endraw'), which the user never typed as a message."""
    if needs_raw(label) and "endraw" in label:
        return "Approve?"
    return f"Approve '{label}'?"


def approval_task(pl: Planner, slot: Slot) -> Task:
    node = slot.node
    props = pl.p.node_properties(node)
    task = Task(
        task_id=slot.task_id,
        node_id=node.id,
        label=node.label,
        kind=APPROVAL,
        command=Command([], [], []),
        display_name=node.label if node.label != slot.task_id else None,
        doc=node.description or None,
        upstream=slot.upstream,
    )
    read_airflow_settings(task, node.mlpipe)
    if pl.s.type == "airflow" and pl.s.airflow_version == "2":
        pl.error(
            "approval-airflow-2",
            needs_airflow_3(node.label)
            + f": runtime configuration '{pl.s.name}' is set to Airflow 2. Use an Airflow 3 "
            "configuration, or run the pipeline locally.",
            node=node,
            path="op",
        )
    message = props.get("message")
    message = message if isinstance(message, str) else ""
    value, params = _message(pl, node, message.strip() or default_message(node.label))
    timeout = props.get("timeout_seconds")
    if timeout is not None and not (
        isinstance(timeout, int) and not isinstance(timeout, bool) and timeout >= 1
    ):
        pl.error(
            "approval",
            f"timeout_seconds: {timeout!r} is not a whole number of seconds of at least 1.",
            node=node,
            path=CP + "timeout_seconds",
        )
        timeout = None
    on_timeout = props.get("on_timeout") or REJECT
    if on_timeout not in ON_TIMEOUT:
        pl.error(
            "approval",
            f"on_timeout: {on_timeout!r} is neither 'reject' nor 'approve'.",
            node=node,
            path=CP + "on_timeout",
        )
        on_timeout = REJECT
    if on_timeout == APPROVE and timeout is None:
        pl.warn(
            "approval",
            "on_timeout 'approve' applies only with a timeout; without one the gate waits until "
            "someone decides.",
            node=node,
            path=CP + "on_timeout",
        )
    task.approval = Approval(message=value, timeout=timeout, on_timeout=on_timeout)
    task.execution_timeout = timeout  # the gate's own timeout, never the DAG's default
    task.params = params
    return task


def _message(pl: Planner, node: Any, text: str) -> tuple[Value, list[str]]:
    """The message as text and parameter references; a parameter the pipeline does not define is
    an error (the text would otherwise show the marker, or Airflow fail to render it)."""
    defined = {p.name for p in pl.p.parameters}
    parts: list[Any] = []
    used: list[str] = []
    at = 0
    for match in _PARAM.finditer(text):
        name = match.group(1) or match.group(3)
        if name not in defined:
            pl.error(
                "parameter",
                f"The message uses parameter '{name}', which the pipeline does not define.",
                node=node,
                path=CP + "message",
            )
            continue  # stays literal text
        parts.append(text[at : match.start()])
        parts.append(ParamRef(name))
        used.append(name)
        at = match.end()
    parts.append(text[at:])
    for part in parts:  # literal text reaches a templated field: it must stay itself
        if isinstance(part, str) and part:
            pl.text(part, node, CP + "message")
    value = Join.of(*parts)
    if len(value.parts) == 1 and isinstance(value.parts[0], str):
        return value.parts[0], used
    return (value if value.parts else ""), list(dict.fromkeys(used))
