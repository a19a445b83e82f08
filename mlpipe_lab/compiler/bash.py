"""A planned worker task -> BashOperator keyword arguments (``airflow.execution_mode: local-worker``).

The task runs the same command as a pod would, but on the Airflow worker itself, with the
interpreter ``$MLPIPE_RUNNER_PYTHON`` (default ``python3``) from the worker's environment. The
command is one shell line of ``shlex.quote``d arguments, the last one always quoted, so user text
never becomes shell syntax and the command never ends with ``.sh``/``.bash`` (BashOperator would
read it as a template file). User text is protected from Jinja first (``{% raw %}``); the
compiler's own parameter references render to Jinja's ``tojson`` output, which escapes ``'``, so
they stay inside their single quotes. The environment (store endpoint, node variables,
parameters) goes to ``env=`` with ``append_env=True``: the worker's own environment, credentials
included, reaches the task.
"""

from __future__ import annotations

import shlex
from typing import Any

from ..plan.model import Task
from ..runner.contract import MODULE
from .context import RenderContext
from .emit import Call, EmitError, Splat
from .kpo import airflow_settings, common

PYTHON_VAR = "MLPIPE_RUNNER_PYTHON"
DEFAULT_PYTHON = "python3"
SETTINGS = "TASK_SETTINGS"
TEMPLATE_EXT = (".sh", ".bash")  # BashOperator.template_ext


def sh_quote(text: str) -> str:
    """Always single-quoted (shlex.quote leaves safe words such as ``x.sh`` bare)."""
    return "'" + text.replace("'", "'\"'\"'") + "'"


def command(store_args: list[str], task_args: list[str], module: str = MODULE) -> str:
    """``exec "${MLPIPE_RUNNER_PYTHON:-python3}" -m mlpipe_lab.runner ARGS``; the last argument is
    always quoted, so the command never ends with ``.sh``/``.bash``."""
    python = '"${' + PYTHON_VAR + ":-" + DEFAULT_PYTHON + '}"'
    args = store_args + task_args
    words = [shlex.quote(a) for a in args[:-1]] + [sh_quote(a) for a in args[-1:]]
    return " ".join(["exec", python, "-m", module] + words)


def _not_a_file(ctx: RenderContext, value: Any) -> str:
    """BashOperator renders every string of its templated fields (env values too) that ends with
    '.sh' or '.bash' as a template *file* name; a {% raw %} block keeps such a value a value."""
    text = ctx.value(value)
    if not (isinstance(value, str) and value.endswith(TEMPLATE_EXT)) or text != value:
        return text
    if "endraw" in value:  # the planner reports such text as an error
        raise EmitError("user text the planner should have refused reached the DAG")
    return "{% raw %}" + value + "{% endraw %}"


def task_call(ctx: RenderContext, task: Task) -> Call:
    program = task.command.program
    if len(program) != 3 or program[1] != "-m":
        raise EmitError(f"task {task.task_id} does not start a Python module")
    kw = common(task)
    kw.append(
        (
            "bash_command",
            command(ctx.argv(task.command.shared), ctx.argv(task.command.args), module=program[2]),
        )
    )
    if task.env:
        kw.append(("env", {k: _not_a_file(ctx, v) for k, v in task.env.items()}))
    if task.skip_exit_code is not None:  # BashOperator's own default too; said for the reader
        kw.append(("skip_on_exit_code", task.skip_exit_code))
    kw += airflow_settings(ctx, task)
    kw.append((Splat(SETTINGS), None))
    return Call("BashOperator", kwargs=kw, multiline=True)
