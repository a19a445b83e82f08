"""Node properties -> BashOperator keyword arguments (``airflow.execution_mode: local-worker``).

The task runs the same runner invocation as a pod would, but on the Airflow worker itself, with the
interpreter ``$MLPIPE_RUNNER_PYTHON`` (default ``python3``) from the worker's environment. The
command is one shell line of ``shlex.quote``d arguments, the last one always quoted, so user text
never becomes shell syntax and the command never ends with ``.sh``/``.bash`` (BashOperator would
read it as a template file). User text still goes through ``ctx.tpl`` first (``{% raw %}``
protection); the compiler's own parameter references render to Jinja's ``tojson`` output, which
escapes ``'``, so they stay inside their single quotes. The environment (store endpoint, node
variables, parameters) goes to ``env=`` with ``append_env=True``: the worker's own environment,
credentials included, reaches the runner.
Kubernetes-only node properties cannot apply on a worker: each kind found gives one warning.
"""

from __future__ import annotations

import shlex
from typing import Any

from ..pipeline.model import Parameter
from ..runner.contract import MODULE
from .context import Context
from .emit import Call, Splat
from .kpo import (
    CP,
    ELYRA_DEFAULT_DESCRIPTIONS,
    _airflow_settings,
    _arguments,
    _env,
    _node_parameters,
    doc_text,
)
from .plan import Task

PYTHON_VAR = "MLPIPE_RUNNER_PYTHON"
DEFAULT_PYTHON = "python3"
SETTINGS = "TASK_SETTINGS"
TEMPLATE_EXT = (".sh", ".bash")  # BashOperator.template_ext

# Kubernetes-only properties: (kind, node property names, what it is)
K8S_ONLY = (
    ("image", ("runtime_image",), "runtime images"),
    (
        "resources",
        ("cpu", "memory", "cpu_limit", "memory_limit", "gpu"),
        "CPU, memory and GPU requests",
    ),
    ("volumes", ("mounted_volumes", "kubernetes_shared_mem_size"), "volumes and shared memory"),
    ("tolerations", ("kubernetes_tolerations",), "tolerations"),
    ("secrets", ("kubernetes_secrets",), "Kubernetes secrets"),
    (
        "pod-metadata",
        ("kubernetes_pod_labels", "kubernetes_pod_annotations"),
        "pod labels and annotations",
    ),
)


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


def _not_a_file(ctx: Context, value: str, task: Task) -> str:
    """BashOperator renders every string of its templated fields (env values too) that ends with
    '.sh' or '.bash' as a template *file* name; a {% raw %} block keeps such a value a value."""
    if not value.endswith(TEMPLATE_EXT):
        return value
    if "endraw" in value:
        ctx.error(
            "template-text",
            "An environment value ending with .sh or .bash that contains the word "
            "'endraw' cannot be protected from Airflow's template rendering; remove 'endraw'.",
            node=task.node,
            path=CP + "env_vars",
        )
        return value
    return "{% raw %}" + value + "{% endraw %}"


def _present(value: Any) -> bool:
    if value in (None, "", [], {}, False, 0):
        return False
    if isinstance(value, dict) and "size" in value:  # shared memory {"size": 0, "units": "G"}
        return _present(value.get("size"))
    return True


def _warn_k8s_only(ctx: Context, task: Task, props: dict[str, Any], extra: dict[str, Any]) -> None:
    warned = ctx.warned
    found = [
        (kind, what) for kind, keys, what in K8S_ONLY if any(_present(props.get(k)) for k in keys)
    ]
    if (extra.get("node_selector") or extra.get("service_account")) and "scheduling" not in warned:
        found.append(("scheduling", "node selectors and service accounts"))
    for kind, what in found:
        if kind in warned:
            continue
        warned.add(kind)
        ctx.warn(
            "local-worker",
            f"Execution mode 'local-worker' runs tasks on the Airflow worker, so "
            f"{what} (Kubernetes only) are ignored; first seen on this node.",
            node=task.node,
            kind=kind,
        )


def task_call(
    ctx: Context, task: Task, dag_id: str, params: list[Parameter], shared: set[str]
) -> Call:
    node = task.node
    props = ctx.pipeline.node_properties(node)
    extra = node.mlpipe
    kw: list[tuple[Any, Any]] = [("task_id", task.task_id)]
    if node.label != task.task_id:
        kw.append(("task_display_name", node.label))
    if node.description and node.description not in ELYRA_DEFAULT_DESCRIPTIONS:
        kw.append(("doc_md", doc_text(node.description)))
    used = _node_parameters(ctx, node, props, params)
    store_args = ctx.runner_store_args
    kw.append(
        ("bash_command", command(store_args, list(_arguments(ctx, task, dag_id, props, used))))
    )
    env = {k: _not_a_file(ctx, v, task) for k, v in _env(ctx, node, props, used).items()}
    if env:
        kw.append(("env", env))
    _warn_k8s_only(ctx, task, props, extra)
    kw += _airflow_settings(ctx, extra)
    kw.append((Splat(SETTINGS), None))
    return Call("BashOperator", kwargs=kw, multiline=True)
