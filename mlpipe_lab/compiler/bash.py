"""A planned worker task -> BashOperator keyword arguments (``airflow.execution_mode: local-worker``).

Node tasks run the self-contained runner zipapp that export and submit write beside the DAG file
(``mlpipe_runner/mlpipe-runner-1.pyz``, see ``runner/contract.py``), so nothing is installed on the
workers: the module constant ``RUNNER_ZIPAPP`` is its path next to the DAG file as the worker reads
it, passed to the task as ``$MLPIPE_DAG_RUNNER``; the module constant ``RUNNER`` is the shell that
starts it with ``$MLPIPE_RUNNER_PYTHON`` (default ``python3``), or says in one line what is
missing. Serve tasks start the same zipapp (``--kind serve``, see ``plan/serve.py``).

The runner arguments are ``shlex.quote``d, the last one always quoted, so user text never becomes
shell syntax and the command never ends with ``.sh``/``.bash`` (BashOperator would read it as a
template file). User text is protected from Jinja first (``{% raw %}``); the compiler's own
parameter references render to Jinja's ``tojson`` output, which escapes ``'``, so they stay
inside their single quotes. The environment (store endpoint, node variables, parameters) goes to
``env=`` with ``append_env=True``: the worker's own environment, credentials included, reaches
the task.
"""

from __future__ import annotations

import shlex
from typing import Any

from ..plan.model import Task
from ..runner.contract import (
    DAG_RUNNER_ENV,
    MODULE,
    PYTHON_ENV,
    WORKER_LAUNCH,
    WORKER_RUNNER_DIR,
    WORKER_ZIPAPP_NAME,
)
from .context import RenderContext
from .emit import Call, Concat, EmitError, Name, Splat
from .kpo import airflow_settings, common

PYTHON_VAR = PYTHON_ENV
DEFAULT_PYTHON = "python3"
SETTINGS = "TASK_SETTINGS"
RESULT_SETTINGS = "RESULT_TASK_SETTINGS"  # module constant: TASK_SETTINGS pushing the XCom
TEMPLATE_EXT = (".sh", ".bash")  # BashOperator.template_ext
RUNNER = "RUNNER"  # module constant: WORKER_LAUNCH
ZIPAPP = "RUNNER_ZIPAPP"  # module constant: the zipapp's path beside the DAG file
_ZIPAPP_REF = Name(ZIPAPP)  # one object, so that tasks' env entries compare equal (TASK_ENV)


def runner_constants() -> list[tuple[str, object]]:
    """The module constants of node tasks: the zipapp's path and the shell that starts it."""
    here = Call("os.path.dirname", Call("os.path.abspath", Name("__file__")))
    return [
        (ZIPAPP, Call("os.path.join", here, WORKER_RUNNER_DIR, WORKER_ZIPAPP_NAME)),
        (RUNNER, WORKER_LAUNCH),
    ]


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


def arguments(args: list[str]) -> str:
    """The runner's arguments for the end of a shell line, the last one always quoted."""
    words = [shlex.quote(a) for a in args[:-1]] + [sh_quote(a) for a in args[-1:]]
    return " ".join(words)


def task_call(ctx: RenderContext, task: Task) -> Call:
    program = task.command.program
    if len(program) != 3 or program[1] != "-m":
        raise EmitError(f"task {task.task_id} does not start a Python module")
    kw = common(task)
    shared, own = ctx.argv(task.command.shared), ctx.argv(task.command.args)
    env = {k: _not_a_file(ctx, v) for k, v in task.env.items()}
    # the zipapp beside the DAG file (serve tasks: its --kind serve)
    ctx.uses.add(ZIPAPP)
    kw.append(("bash_command", Concat(Name(RUNNER), " " + arguments(shared + own))))
    env[DAG_RUNNER_ENV] = _ZIPAPP_REF
    if env:
        kw.append(("env", env))
    if task.skip_exit_code is not None:  # BashOperator's own default too; said for the reader
        kw.append(("skip_on_exit_code", task.skip_exit_code))
    kw += airflow_settings(ctx, task)
    if task.returns_result:  # the runner prints the result as its last line (--xcom-stdout)
        ctx.uses.add(RESULT_SETTINGS)
        kw.append((Splat(RESULT_SETTINGS), None))
    else:
        kw.append((Splat(SETTINGS), None))
    return Call("BashOperator", kwargs=kw, multiline=True)


def result_settings() -> tuple[str, object]:
    """TASK_SETTINGS with the XCom push on (BashOperator pushes its last output line), for tasks
    that return a result; defined after TASK_SETTINGS has its shared settings."""
    return (RESULT_SETTINGS, {Splat(SETTINGS): None, "do_xcom_push": True})
